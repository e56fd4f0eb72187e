package main

import (
	"bytes"
	stdimage "image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mbq/model/llavaonevision"
)

func TestGenerateCommand(t *testing.T) {
	dir := t.TempDir()
	ck := filepath.Join(dir, "tiny")
	if err := llavaonevision.WriteTiny(ck, 1, llavaonevision.TinyOptions{Std: 0.5}); err != nil {
		t.Fatal(err)
	}
	img := stdimage.NewRGBA(stdimage.Rect(0, 0, 24, 18))
	for y := range 18 {
		for x := range 24 {
			img.Set(x, y, color.RGBA{uint8(10 * x), uint8(12 * y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	imgPath := filepath.Join(dir, "in.png")
	if err := os.WriteFile(imgPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := mainArgs(append([]string{"generate"}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}
	args := []string{"--model", ck, "--image", imgPath, "--prompt", "Describe the image.", "--max-new-tokens", "6"}
	out1, errs, code := run(args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.HasSuffix(out1, "\n") {
		t.Errorf("output %q", out1)
	}
	out2, _, _ := run(args...)
	if out1 != out2 {
		t.Errorf("greedy output differs between runs: %q vs %q", out1, out2)
	}
	if _, _, code := run(append(args, "--temperature", "1", "--seed", "3")...); code != 0 {
		t.Error("sampling failed")
	}
	if _, _, code := run("--model", ck, "--prompt", "Hi"); code != 0 {
		t.Error("text-only prompt failed")
	}
	if _, errs, code := run("--model", filepath.Join(dir, "nope"), "--prompt", "x"); code == 0 || errs == "" {
		t.Error("missing checkpoint: no error")
	}
	if _, _, code := run("--model", ck); code == 0 {
		t.Error("missing --prompt: no usage error")
	}
}

func TestTinyCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tiny")
	code, out, errs := run(t, "tiny", "--out", dir, "--seed", "3")
	if code != 0 || !strings.Contains(out, "wrote a tiny random checkpoint") {
		t.Fatalf("tiny: code %d, out %q, stderr %q", code, out, errs)
	}
	code, out, errs = run(t, "inspect", "--tensors=false", dir)
	if code != 0 || !strings.Contains(out, "LlavaOnevisionForConditionalGeneration") || !strings.Contains(out, "feature layer -1") {
		t.Fatalf("inspect tiny: code %d, out %q, stderr %q", code, out, errs)
	}
	code, _, errs = run(t, "tiny", "--out", dir)
	if code != 1 || !strings.Contains(errs, "not empty") {
		t.Fatalf("tiny over an existing checkpoint: code %d, stderr %q", code, errs)
	}
}
