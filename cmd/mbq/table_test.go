package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mbq/model/llavaonevision"
	"mbq/papertable"
	"mbq/testbed/world"
)

// tableFixture writes a tiny random checkpoint and a tiny data set.
func tableFixture(t *testing.T) (ck, calibFile, bench string) {
	t.Helper()
	dir := t.TempDir()
	ck = filepath.Join(dir, "tiny")
	if err := llavaonevision.WriteTiny(ck, 5, llavaonevision.DefaultTiny); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if _, err := world.WriteDatasetOptions(data, world.DatasetOptions{Config: world.DefaultConfig(), Seed: 11, Calib: 3, Bench: 14}); err != nil {
		t.Fatal(err)
	}
	return ck, filepath.Join(data, "calib.json"), filepath.Join(data, "bench.jsonl")
}

func TestTableQuickAndResume(t *testing.T) {
	ck, calibFile, bench := tableFixture(t)
	out := t.TempDir()
	work := filepath.Join(out, "work")
	md, js := filepath.Join(out, "t.md"), filepath.Join(out, "t.json")
	old := tableNow
	tableNow = func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }
	defer func() { tableNow = old }()
	args := []string{"table", "--quick", "--model", ck, "--calib", calibFile, "--bench", bench, "--work", work,
		"--rows", "^t2-w3a16-(rtn|mbq)$|^t2-w4a8-sq$", "--group", "16", "--samples", "2", "--text-block-len", "32",
		"--limit", "1", "--max-new-tokens", "4", "--max-caption-tokens", "4", "--json", js, "--markdown", md}
	code, stdout, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("code %d, stderr %s", code, stderr)
	}
	banner := "QUICK MODE: 2 samples, 1 questions per category — not the reported numbers"
	if !strings.HasPrefix(stdout, banner) {
		t.Errorf("stdout does not start with the banner:\n%s", stdout)
	}
	for _, want := range []string{"Table 2 — W3A16 g16", "RTN", "MBQ", "SQ", "quantization bites", "MBQ wins/ties/losses"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "[4/4] t2-w4a8-sq") {
		t.Errorf("progress lines:\n%s", stderr)
	}
	mdb, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	mds := string(mdb)
	for _, want := range []string{"> **" + banner + "**", "Command: `mbq table --quick", "(2025-06-01 12:00 UTC)",
		"### Table 2 — W3A16 g16", "| MBQ | image-caption |", "| SQ | text |", "→ quantization bites: ", "### MBQ against each baseline"} {
		if !strings.Contains(mds, want) {
			t.Errorf("markdown lacks %q:\n%s", want, mds)
		}
	}
	var tab papertable.Table
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tab); err != nil {
		t.Fatal(err)
	}
	if !tab.Quick || len(tab.Rows) != 4 || tab.Stats.Quantized != 3 || tab.Stats.Evaluated != 4 || tab.Stats.Cached != 0 {
		t.Fatalf("json: quick %v, %d rows, stats %+v", tab.Quick, len(tab.Rows), tab.Stats)
	}
	if tab.Rows[1].Row.Group != 16 || tab.Rows[1].Samples != 2 || len(tab.Rows[1].Categories) == 0 {
		t.Errorf("row 1: %+v", tab.Rows[1])
	}
	if tab.Rows[2].Ratios == nil {
		t.Errorf("MBQ row has no ratios")
	}
	// Quantized models are removed; cache files and the text corpus stay.
	if ents, _ := os.ReadDir(filepath.Join(work, "models")); len(ents) != 0 {
		t.Errorf("models left behind: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(work, "rows")); len(ents) != 4 {
		t.Errorf("%d cache files, want 4", len(ents))
	}
	// No temporary files beside the outputs.
	if ents, _ := os.ReadDir(out); len(ents) != 3 {
		t.Errorf("output dir: %v", ents)
	}

	// Resume: same work dir, nothing is quantized or evaluated again.
	code, stdout2, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("rerun: code %d, stderr %s", code, stderr)
	}
	b, _ = os.ReadFile(js)
	var tab2 papertable.Table
	if err := json.Unmarshal(b, &tab2); err != nil {
		t.Fatal(err)
	}
	if tab2.Stats.Quantized != 0 || tab2.Stats.Evaluated != 0 || tab2.Stats.Cached != 4 {
		t.Errorf("rerun stats %+v, want everything cached", tab2.Stats)
	}
	for i := range tab.Rows {
		if tab.Rows[i].Average != tab2.Rows[i].Average || tab.Rows[i].NLL != tab2.Rows[i].NLL || !tab2.Rows[i].Cached {
			t.Errorf("row %d: %+v vs cached %+v", i, tab.Rows[i], tab2.Rows[i])
		}
	}
	if !strings.Contains(stdout2, "(cached)") {
		t.Errorf("rerun output does not say cached:\n%s", stdout2)
	}

	// A different sample count is a different key: everything but FP reruns.
	// --fresh recomputes even FP.
	code, _, stderr = run(t, append(args[:len(args):len(args)], "--fresh", "--rows", "^fp$", "--json", js)...)
	if code != 0 {
		t.Fatalf("fresh: code %d, stderr %s", code, stderr)
	}
	b, _ = os.ReadFile(js)
	var tab3 papertable.Table
	if err := json.Unmarshal(b, &tab3); err != nil {
		t.Fatal(err)
	}
	if tab3.Stats.Evaluated != 1 || tab3.Stats.Cached != 0 || len(tab3.Rows) != 1 || tab3.Rows[0].NLL != tab.Rows[0].NLL {
		t.Errorf("fresh FP: stats %+v rows %d", tab3.Stats, len(tab3.Rows))
	}
}

func TestTableListAndErrors(t *testing.T) {
	code, stdout, _ := run(t, "table", "--list")
	if code != 0 || strings.Count(stdout, "\n") != len(papertable.Rows()) || !strings.Contains(stdout, "stress-w4a4-mbq") {
		t.Fatalf("list: code %d\n%s", code, stdout)
	}
	code, stdout, _ = run(t, "table", "--list", "--quick")
	if code != 0 || strings.Contains(stdout, "t11-") || !strings.Contains(stdout, "t2-w4a8-mbq") {
		t.Fatalf("quick list: code %d\n%s", code, stdout)
	}
	for _, args := range [][]string{
		{"--rows", "("},
		{"--rows", "nothing-matches-this"},
		{"--samples", "0"},
		{"--limit", "-1"},
		{"--model", "x"}, // no --calib, --bench and no default
		{"extra"},
	} {
		if code, _, _ := run(t, append([]string{"table", "--quiet"}, args...)...); code != 1 {
			t.Errorf("%v: code %d, want 1", args, code)
		}
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine("table", []string{"--rows", "^t2-(rtn|mbq)$", "--quick", "it's"})
	want := `mbq table --rows '^t2-(rtn|mbq)$' --quick 'it'\''s'`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
