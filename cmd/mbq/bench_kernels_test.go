package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchKernels(t *testing.T) {
	out := filepath.Join(t.TempDir(), "k.json")
	code, stdout, errs := run(t, "bench", "kernels", "--shapes", "256x40", "--time", "1ms", "--copy-mb", "1", "--json", out)
	if code != 0 || !strings.Contains(stdout, "256x40") {
		t.Fatalf("bench kernels: code %d, out %q, stderr %q", code, stdout, errs)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rows []kernelRow
	if err := json.Unmarshal(b, &rows); err != nil || len(rows) != 1 || rows[0].Ms["w3"] <= 0 || rows[0].SpeedUp["f32"] != 1 {
		t.Fatalf("json: %v %+v", err, rows)
	}
	code, _, errs = run(t, "bench", "kernels", "--shapes", "100x40")
	if code != 1 || !strings.Contains(errs, "multiple of 128") {
		t.Fatalf("bad shape: code %d, stderr %q", code, errs)
	}
}
