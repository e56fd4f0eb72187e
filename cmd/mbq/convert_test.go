package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mbq/model/llavaonevision"
	"mbq/safetensors"
)

func TestConvertBF16(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := llavaonevision.WriteTiny(src, 5, llavaonevision.DefaultTiny); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	code, out, errs := run(t, "convert", "--model", src, "--out", dst)
	if code != 0 || !strings.Contains(out, "bf16") {
		t.Fatalf("convert: code %d, out %q, stderr %q", code, out, errs)
	}
	a, err := safetensors.OpenCheckpoint(src)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := safetensors.OpenCheckpoint(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(a.Names()) != len(b.Names()) {
		t.Fatalf("%d tensors in, %d out", len(a.Names()), len(b.Names()))
	}
	for _, n := range a.Names() {
		info, _ := b.Info(n)
		if info.DType != safetensors.DType("BF16") {
			t.Fatalf("%s: dtype %s, want BF16", n, info.DType)
		}
		x, _ := a.Float32(n)
		y, _ := b.Float32(n)
		for i := range x {
			if d := x[i] - y[i]; d > 0.01*abs32(x[i])+1e-30 || -d > 0.01*abs32(x[i])+1e-30 {
				t.Fatalf("%s[%d]: %g -> %g", n, i, x[i], y[i])
			}
		}
	}
	code, _, errs = run(t, "convert", "--model", src, "--out", dst)
	if code != 1 || !strings.Contains(errs, "not empty") {
		t.Fatalf("convert over existing output: code %d, stderr %q", code, errs)
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

func TestConvertRecordsDtype(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := llavaonevision.WriteTiny(src, 6, llavaonevision.DefaultTiny); err != nil {
		t.Fatal(err)
	}
	for _, dt := range []struct{ flag, want string }{{"bf16", `"torch_dtype": "bfloat16"`}, {"f32", `"torch_dtype": "float32"`}} {
		dst := filepath.Join(t.TempDir(), dt.flag)
		if code, _, errs := run(t, "convert", "--model", src, "--out", dst, "--dtype", dt.flag); code != 0 {
			t.Fatalf("convert --dtype %s: %s", dt.flag, errs)
		}
		b, err := os.ReadFile(filepath.Join(dst, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), dt.want) {
			t.Errorf("--dtype %s: config.json lacks %s", dt.flag, dt.want)
		}
	}
}
