package model_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mbq/hf/config"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/tensor"
)

type fakeConfig struct{}

func (fakeConfig) Architecture() string { return "FakeVLMForTest" }
func (fakeConfig) ModelType() string    { return "fake_vlm_for_test" }

func TestLoadUnsupported(t *testing.T) {
	config.Register("FakeVLMForTest", "", func([]byte, string) (config.Config, error) { return fakeConfig{}, nil })
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures": ["FakeVLMForTest"]}`), 0o644)
	_, err := model.Load(dir)
	if !errors.Is(err, model.ErrUnsupported) || !strings.Contains(err.Error(), config.ArchLlavaOnevision) {
		t.Fatalf("err = %v", err)
	}
	// A real tiny checkpoint loads through the registry.
	tiny := filepath.Join(dir, "tiny")
	if err := llavaonevision.WriteTiny(tiny, 1, llavaonevision.TinyOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(tiny)
	if err != nil {
		t.Fatal(err)
	}
	if m.Architecture() != config.ArchLlavaOnevision || m.NumBlocks() != 2 || len(m.Block(0).Linears()) != 7 {
		t.Errorf("loaded %s with %d blocks", m.Architecture(), m.NumBlocks())
	}
}

func TestMeanAbs(t *testing.T) {
	g, _ := tensor.FromData([]float32{1, -1, 2, 2, -3, 3, 5, 5}, 4, 2)
	mean, rows := model.MeanAbs(g, []model.Modality{model.Vision, model.Answer, model.Answer, model.Prompt})
	if rows != [3]int{1, 1, 2} || mean[model.Vision] != 1 || mean[model.Answer] != 2.5 || mean[model.Prompt] != 5 {
		t.Errorf("mean %v rows %v", mean, rows)
	}
}
