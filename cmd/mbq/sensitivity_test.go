package main

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mbq/model/llavaonevision"
	"mbq/sensitivity"
	"mbq/testbed/world"
)

func TestSensitivityCommand(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "tiny")
	o := llavaonevision.DefaultTiny
	o.TextLayers = 3
	if err := llavaonevision.WriteTiny(ck, 2, o); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if _, err := world.WriteDatasetOptions(data, world.DatasetOptions{Config: world.DefaultConfig(), Seed: 7, Calib: 5}); err != nil {
		t.Fatal(err)
	}
	calibFile := filepath.Join(data, "calib.json")
	jsonOut := filepath.Join(dir, "sens.json")
	pngOut := filepath.Join(dir, "sens.png")
	code, out, errs := run(t, "sensitivity", "--model", ck, "--calib", calibFile, "--samples", "3", "--seed", "1",
		"--json", jsonOut, "--png", pngOut)
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	if !strings.Contains(errs, "3/3 samples") {
		t.Errorf("no progress on stderr: %q", errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3+3 || !strings.Contains(lines[0], "attn g_v") || !strings.Contains(out, "samples 3 (3 with images)") {
		t.Errorf("table:\n%s", out)
	}
	res, err := sensitivity.ReadJSON(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Blocks) != 3 || res.Samples != 3 || res.Blocks[2].AttnRatio != 0 || res.Blocks[2].AttnClamped != res.AttnMedian {
		t.Errorf("json: %+v", res)
	}
	f, err := os.Open(pngOut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != sensitivity.PlotWidth || b.Dy() != sensitivity.PlotHeight {
		t.Errorf("png %v", b)
	}

	// Same seed, same table; --images points elsewhere after a move.
	moved := filepath.Join(dir, "moved.json")
	b, _ := os.ReadFile(calibFile)
	os.WriteFile(moved, b, 0o644)
	code, out2, errs := run(t, "sensitivity", "--model", ck, "--calib", moved, "--images", data, "--samples", "3", "--seed", "1", "--quiet")
	if code != 0 || out2 != out || errs != "" {
		t.Errorf("rerun with --images: code %d, stderr %q, same table %v", code, errs, out2 == out)
	}
	code, _, errs = run(t, "sensitivity", "--model", ck, "--calib", moved, "--quiet")
	if code != 1 || !strings.Contains(errs, "moved.json: record") || !strings.Contains(errs, "image \"img/") {
		t.Errorf("images missing: code %d, stderr %q", code, errs)
	}

	// Usage errors.
	if code, _, errs := run(t, "sensitivity", "--model", ck, "--calib", calibFile, "--samples", "0"); code != 1 || !strings.Contains(errs, "--samples") {
		t.Errorf("--samples 0: code %d, %q", code, errs)
	}
}
