package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mbq/testbed/world"
)

func TestTestbedData(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, errs := run(t, "testbed", "data", "--out", dir, "--seed", "3", "--calib", "4", "--bench", "14", "--size", "64")
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	if !strings.Contains(errs, "18/18 items (100%)") {
		t.Errorf("no progress on stderr: %q", errs)
	}
	for _, c := range world.Categories {
		if !strings.Contains(out, c) {
			t.Errorf("summary lacks %s: %q", c, out)
		}
	}
	recs, err := world.ReadBench(filepath.Join(dir, "bench.jsonl"))
	if err != nil || len(recs) != 14 {
		t.Fatalf("bench: %d records, %v", len(recs), err)
	}
	calib, err := world.ReadCalib(filepath.Join(dir, "calib.json"))
	if err != nil || len(calib) != 4 {
		t.Fatalf("calib: %d records, %v", len(calib), err)
	}
	first, err := os.ReadFile(filepath.Join(dir, "bench.jsonl"))
	if err != nil {
		t.Fatal(err)
	}

	// A second run refuses the non-empty directory ...
	code, _, errs = run(t, "testbed", "data", "--out", dir, "--seed", "4", "--calib", "4", "--bench", "14")
	if code != 1 || !strings.Contains(errs, "not empty") {
		t.Fatalf("overwrite: code %d, stderr %q", code, errs)
	}
	// ... unless forced, and the same seed gives the same files.
	code, _, errs = run(t, "testbed", "data", "--out", dir, "--seed", "3", "--calib", "4", "--bench", "14", "--size", "64", "--force")
	if code != 0 {
		t.Fatalf("force: code %d, stderr %q", code, errs)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "bench.jsonl"))
	if string(again) != string(first) {
		t.Error("same seed, different bench.jsonl")
	}
}

func TestTestbedUsage(t *testing.T) {
	for _, args := range [][]string{
		{"testbed"},
		{"testbed", "frobnicate"},
		{"testbed", "data"},
		{"testbed", "data", "--out", t.TempDir() + "/x", "--size", "20"},
		{"testbed", "data", "--out", t.TempDir() + "/x", "--countries", "3"},
	} {
		if code, _, _ := run(t, args...); code == 0 {
			t.Errorf("%q: code 0", args)
		}
	}
	if _, _, errs := run(t, "testbed", "data", "--out", t.TempDir()+"/x", "--creatures", "5000"); !strings.Contains(errs, "--creatures 5000") {
		t.Errorf("--creatures 5000: error %q does not name the flag", errs)
	}
	if code, out, _ := run(t, "testbed", "help"); code != 0 || !strings.Contains(out, "data") {
		t.Errorf("testbed help: %d %q", code, out)
	}
}
