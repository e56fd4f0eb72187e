package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mbq/testbed/train"
)

func TestTestbedProbe(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run")
	if code, _, stderr := run(t, append([]string{"testbed", "train", "--out", out}, tinyTrainFlags...)...); code != 0 {
		t.Fatalf("train: code %d, stderr %q", code, stderr)
	}
	js := filepath.Join(dir, "probe.json")
	code, stdout, stderr := run(t, "testbed", "probe", "--model", filepath.Join(out, "checkpoint"), "--samples", "400", "--json", js, "--quiet")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"linear probes of the grid cell", "named cell", "option mass"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	data, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var d train.Diagnosis
	if err := json.Unmarshal(data, &d); err != nil || d.Samples != 400 || len(d.ImageCells) != 3 || len(d.Kinds) == 0 {
		t.Errorf("json: %v, %+v", err, d)
	}

	if code, _, stderr := run(t, "testbed", "probe", "--samples", "10"); code == 0 || !strings.Contains(stderr, "--samples") {
		t.Errorf("--samples 10: code %d, stderr %q", code, stderr)
	}
	tiny := filepath.Join(dir, "tiny")
	if code, _, stderr := run(t, "tiny", "--out", tiny); code != 0 {
		t.Fatalf("tiny: %q", stderr)
	}
	if code, _, stderr := run(t, "testbed", "probe", "--model", tiny, "--quiet"); code == 0 || !strings.Contains(stderr, "image_size") {
		t.Errorf("a model without the testbed layout: code %d, stderr %q", code, stderr)
	}
}
