package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mbq/model/llavaonevision"
	"mbq/quantize"
	"mbq/testbed/world"
)

func TestQuantizeCommand(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "tiny")
	if err := llavaonevision.WriteTiny(ck, 2, llavaonevision.DefaultTiny); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if _, err := world.WriteDatasetOptions(data, world.DatasetOptions{Config: world.DefaultConfig(), Seed: 7, Calib: 3}); err != nil {
		t.Fatal(err)
	}
	calibFile := filepath.Join(data, "calib.json")
	out := filepath.Join(dir, "q")
	code, stdout, stderr := run(t, "quantize", "--model", ck, "--calib", calibFile, "--method", "mbq", "--wbits", "4",
		"--abits", "8", "--samples", "2", "--seed", "3", "--out", out)
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stderr, "2/2 blocks") || !strings.Contains(stderr, "wrote "+out) {
		t.Errorf("progress: %q", stderr)
	}
	if !strings.Contains(stdout, "sensitivities") || !strings.Contains(stdout, "loss before") {
		t.Errorf("summary:\n%s", stdout)
	}
	for _, f := range []string{"config.json", "model.safetensors", quantize.ScalesFile, quantize.ParamsFile, quantize.SensitivityFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	m, err := llavaonevision.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.ActBits() != 8 {
		t.Errorf("loaded ActBits %d, want 8", m.ActBits())
	}
	// generate runs the quantized model.
	if code, _, errs := run(t, "generate", "--model", out, "--prompt", "Describe the image.", "--max-new-tokens", "3"); code != 0 {
		t.Errorf("generate on the output: code %d, stderr %q", code, errs)
	}
	// Refuses to overwrite; usage errors.
	if code, _, errs := run(t, "quantize", "--model", ck, "--calib", calibFile, "--samples", "1", "--out", out, "--quiet"); code != 1 || !strings.Contains(errs, "not empty") {
		t.Errorf("overwrite: code %d, stderr %q", code, errs)
	}
	fresh := filepath.Join(dir, "fresh")
	for _, args := range [][]string{
		{"--model", ck, "--calib", calibFile},                                            // no --out
		{"--model", ck, "--calib", calibFile, "--calib-text", calibFile, "--out", fresh}, // both
		{"--model", ck, "--calib", calibFile, "--wbits", "9", "--out", fresh},
		{"--model", ck, "--calib", calibFile, "--abits", "12", "--out", fresh},
		{"--model", ck, "--calib", calibFile, "--method", "foo", "--out", fresh},
		{"--model", ck, "--calib", calibFile, "--balance", "sometimes", "--out", fresh},
		{"--model", ck, "--calib", calibFile, "--loss", "huber", "--out", fresh},
	} {
		if code, _, _ := run(t, append([]string{"quantize", "--quiet"}, args...)...); code != 1 {
			t.Errorf("%v: code %d, want 1", args, code)
		}
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Error("output written despite usage errors")
	}
}
