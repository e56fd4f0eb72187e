package llavaonevision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mbq/model"
)

func logitsOf(t *testing.T, m *Model) []float32 {
	t.Helper()
	in, err := m.Prepare(captionSample(testImage(20, 16, 3), "Describe the image.", "a red circle"), false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward([]*model.Input{in}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Logits.Data
}

func TestSaveRoundTrip(t *testing.T) {
	for _, tied := range []bool{false, true} {
		m := tinyModel(t, 7, TinyOptions{Tied: tied})
		want := logitsOf(t, m)
		dir := filepath.Join(t.TempDir(), "saved")
		if err := m.Save(dir, SaveOptions{Extra: map[string][]byte{"trainer_state.json": []byte("{}\n")}}); err != nil {
			t.Fatal(err)
		}
		for _, f := range append(modelFiles, "trainer_state.json") {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("tied %v: %v", tied, err)
			}
		}
		m2, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m2.Tied != m.Tied {
			t.Errorf("tied %v: reloaded Tied %v", tied, m2.Tied)
		}
		got := logitsOf(t, m2)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("tied %v: logit %d: %g after save/load, %g before", tied, i, got[i], want[i])
			}
		}
		if len(m2.StopIDs) == 0 || m2.Special["eos_token"] != "<|im_end|>" {
			t.Errorf("tied %v: stop ids %v, special %v", tied, m2.StopIDs, m2.Special)
		}
		// Saving again replaces the directory.
		if err := m2.Save(dir, SaveOptions{BF16: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSaveRefusesForeignDir(t *testing.T) {
	m := tinyModel(t, 7, TinyOptions{})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := m.Save(dir, SaveOptions{})
	if err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("err %v, want a refusal naming notes.txt", err)
	}
}

func TestNewRandomAndReplica(t *testing.T) {
	src := tinyModel(t, 7, TinyOptions{})
	m, err := NewRandom(src.Cfg, src.Tok, src.Proc, 11)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		switch {
		case strings.Contains(p.Name, "norm") && strings.HasSuffix(p.Name, ".weight"):
			if p.Value.Data[0] != 1 {
				t.Errorf("%s: %g, want 1", p.Name, p.Value.Data[0])
			}
		case strings.HasSuffix(p.Name, ".bias"):
			if p.Value.Data[0] != 0 {
				t.Errorf("%s: %g, want 0", p.Name, p.Value.Data[0])
			}
		}
	}
	want := logitsOf(t, m)
	dir := filepath.Join(t.TempDir(), "m")
	if err := m.Save(dir, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := logitsOf(t, m2)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d: %g after save/load, %g before", i, got[i], want[i])
		}
	}
	r, err := m.Replica()
	if err != nil {
		t.Fatal(err)
	}
	if r.Params()[0].Value != m.Params()[0].Value {
		t.Error("replica does not share values")
	}
	got = logitsOf(t, r)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("replica logit %d: %g, want %g", i, got[i], want[i])
		}
	}
}
