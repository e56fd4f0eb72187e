package embedded

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"mbq/eval"
	"mbq/model"
	_ "mbq/model/llavaonevision"
)

func TestModelDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, err := ModelDir()
	if err != nil {
		t.Fatal(err)
	}
	files := ModelFiles()
	for _, want := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "preprocessor_config.json"} {
		b, err := os.ReadFile(filepath.Join(dir, want))
		if err != nil {
			t.Fatalf("%s: %v (embedded: %v)", want, err, files)
		}
		emb, _ := modelFS.ReadFile("model/" + want)
		if !bytes.Equal(b, emb) {
			t.Fatalf("%s differs from the embedded copy", want)
		}
	}
	again, err := ModelDir()
	if err != nil || again != dir {
		t.Fatalf("second ModelDir = %q, %v; want %q", again, err, dir)
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatalf("embedded testbed model does not load: %v", err)
	}
	if m.NumBlocks() < 4 {
		t.Fatalf("testbed model has %d blocks", m.NumBlocks())
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".tmp-*"))
	if len(leftovers) != 0 {
		t.Fatalf("temporary directories left: %v", leftovers)
	}
}

func TestDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 1200 questions and their images")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	bench, err := BenchPath()
	if err != nil {
		t.Fatal(err)
	}
	items, err := eval.LoadBench(bench)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != DataBench {
		t.Fatalf("%d benchmark items, want %d", len(items), DataBench)
	}
	calib, err := CalibPath()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(calib); err != nil {
		t.Fatal(err)
	}
}
