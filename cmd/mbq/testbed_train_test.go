package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mbq/model"
)

var tinyTrainFlags = []string{"--steps", "2", "--batch", "2", "--text-steps", "1", "--text-batch", "3", "--eval-every", "1", "--held-out", "1",
	"--corpus", "200", "--vocab", "400", "--patch", "32",
	"--vision-hidden", "32", "--vision-intermediate", "64", "--vision-layers", "1", "--vision-heads", "2",
	"--hidden", "32", "--intermediate", "64", "--layers", "3", "--heads", "4", "--kv-heads", "2", "--text-vision-batch", "4"}

func TestTestbedTrain(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := run(t, append([]string{"testbed", "train", "--out", out, "--countries", "40"}, tinyTrainFlags...)...)
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if state, err := os.ReadFile(filepath.Join(out, "checkpoint", "trainer_state.json")); err != nil || !regexp.MustCompile(`"Countries":\s*40\b`).Match(state) {
		t.Errorf("trainer_state.json does not keep --countries 40 (%v)", err)
	}
	if !strings.Contains(stdout, "step 2/2 (done)") {
		t.Errorf("stdout %q", stdout)
	}
	for _, want := range []string{"tokenizer:", "held-out step 1", "train: "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q: %q", want, stderr)
		}
	}
	if _, err := model.Load(filepath.Join(out, "checkpoint")); err != nil {
		t.Fatal(err)
	}
	// Without --resume the checkpoint directory is refused ...
	if code, _, stderr := run(t, append([]string{"testbed", "train", "--out", out}, tinyTrainFlags...)...); code != 1 || !strings.Contains(stderr, "resume") {
		t.Errorf("rerun: code %d, stderr %q", code, stderr)
	}
	// ... resume may extend the steps but not change the model ...
	if code, _, stderr := run(t, "testbed", "train", "--out", out, "--resume", "--hidden", "64"); code != 1 || !strings.Contains(stderr, "--hidden") {
		t.Errorf("resume with a size flag: code %d, stderr %q", code, stderr)
	}
	// (the held-out evaluation of a quantized copy is reporting, so resume may ask for it;
	// --stop-at ends it early with a checkpoint, the schedule still that of --steps)
	code, stdout, stderr = run(t, "testbed", "train", "--out", out, "--resume", "--steps", "4", "--stop-at", "3", "--eval-quant-bits", "3")
	if code != 0 || !strings.Contains(stdout, "step 3/4 (interrupted)") || !strings.Contains(stderr, "RTN: nll") {
		t.Errorf("resume: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "testbed", "train", "--out", out, "--resume")
	if code != 0 || !strings.Contains(stdout, "step 4/4 (done)") {
		t.Errorf("resume after --stop-at: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, _, stderr := run(t, "testbed", "train", "--out", out, "--resume", "--stop-at", "-1"); code == 0 || !strings.Contains(stderr, "--stop-at") {
		t.Errorf("--stop-at -1: code %d, stderr %q", code, stderr)
	}
	// ... and a directory holding something else is never written to.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, append([]string{"testbed", "train", "--out", other}, tinyTrainFlags...)...); code != 1 || !strings.Contains(stderr, "not empty") {
		t.Errorf("foreign dir: code %d, stderr %q", code, stderr)
	}
	if code, _, _ := run(t, "testbed", "train"); code == 0 {
		t.Error("no --out: code 0")
	}
}
