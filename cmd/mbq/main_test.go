package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mbq/safetensors"
)

// run invokes the command line in-process and returns exit code, stdout, stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := mainArgs(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpAndUnknown(t *testing.T) {
	code, out, _ := run(t, "help")
	if code != 0 || !strings.Contains(out, "inspect") || !strings.Contains(out, "bench") {
		t.Fatalf("help: code %d, out %q", code, out)
	}
	code, _, errs := run(t, "frobnicate")
	if code != 2 || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Fatalf("unknown: code %d, stderr %q", code, errs)
	}
	code, _, errs = run(t, "inspect", "--no-such-flag")
	if code != 1 || !strings.Contains(errs, "no-such-flag") {
		t.Fatalf("bad flag: code %d, stderr %q", code, errs)
	}
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), []safetensors.Tensor{
		safetensors.F32Tensor("a.weight", []int{2, 3}, make([]float32, 6)),
		safetensors.BF16Tensor("b.weight", []int{4}, make([]float32, 4)),
	}, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "inspect", dir)
	if code != 0 {
		t.Fatalf("inspect: code %d, stderr %q", code, errs)
	}
	for _, want := range []string{"2 tensors, 10 parameters", "F32    6 parameters", "BF16   4 parameters", "a.weight", "[2 3]"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	// A truncated file is an error naming the file, not a panic.
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = run(t, "inspect", bad)
	if code != 1 || !strings.Contains(errs, "bad.safetensors") {
		t.Fatalf("inspect bad file: code %d, stderr %q", code, errs)
	}
}

func TestPreprocess(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "preprocessor_config.json")
	if err := os.WriteFile(cfg, []byte(`{"image_processor_type":"LlavaOnevisionImageProcessor","size":{"height":28,"width":28},"resample":3,
"image_mean":[0.5,0.5,0.5],"image_std":[0.5,0.5,0.5],"do_rescale":true,"rescale_factor":0.00392156862745098,"do_normalize":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join("..", "..", "hf", "image", "testdata", "in", "noise_200x150.png")
	code, out, errs := run(t, "preprocess", "--config", cfg, "--image", img, "--patch", "14")
	if code != 0 || !strings.Contains(out, "pixel_values [3 28 28]") || !strings.Contains(out, "patches [4 588]") {
		t.Fatalf("preprocess: code %d, out %q, stderr %q", code, out, errs)
	}
	code, _, errs = run(t, "preprocess", "--config", cfg, "--image", "missing.png")
	if code != 1 || !strings.Contains(errs, "missing.png") {
		t.Fatalf("preprocess missing image: code %d, stderr %q", code, errs)
	}
}

func TestBenchGEMM(t *testing.T) {
	code, out, errs := run(t, "bench", "gemm", "--shapes", "8x9x10", "--time", "1ms")
	if code != 0 || !strings.Contains(out, "8x9x10") || !strings.Contains(out, "ref") {
		t.Fatalf("bench gemm: code %d, out %q, stderr %q", code, out, errs)
	}
	code, _, errs = run(t, "bench", "gemm", "--shapes", "8x9")
	if code != 1 || !strings.Contains(errs, "MxKxN") {
		t.Fatalf("bad shape: code %d, stderr %q", code, errs)
	}
}
