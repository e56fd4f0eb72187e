package main

import (
	"strings"
	"testing"
)

func TestBenchDecode(t *testing.T) {
	code, stdout, errs := run(t, "bench", "decode", "--hidden", "256", "--intermediate", "512", "--heads", "4", "--kv-heads", "2",
		"--layers", "1", "--ctx", "8", "--tokens", "1", "--rounds", "1")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	for _, want := range []string{"hidden 256", "fp32", "w4g128 int8", "w4g128 float", "w3g128 int8", "w3g128 float", "testbed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	code, _, errs = run(t, "bench", "decode", "--hidden", "200", "--model", "none")
	if code != 1 || !strings.Contains(errs, "multiples of --group") {
		t.Fatalf("bad shape: code %d, stderr %q", code, errs)
	}
}
