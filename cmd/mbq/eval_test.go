package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mbq/model/llavaonevision"
	"mbq/testbed/world"
)

func TestEval(t *testing.T) {
	root := t.TempDir()
	modelDir := filepath.Join(root, "model")
	if err := llavaonevision.WriteTiny(modelDir, 5, llavaonevision.DefaultTiny); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(root, "data")
	if err := world.WriteDataset(data, 2, 0, 14, nil); err != nil {
		t.Fatal(err)
	}
	bench := filepath.Join(data, "bench.jsonl")

	var reports [][]byte
	for i := range 2 {
		out := filepath.Join(root, "report"+string(rune('0'+i))+".json")
		code, stdout, stderr := run(t, "eval", "--model", modelDir, "--bench", bench, "--json", out, "--max-caption-tokens", "40")
		if code != 0 {
			t.Fatalf("code %d, stderr %q", code, stderr)
		}
		for _, c := range append(world.Categories, "average", "answer-token NLL") {
			if !strings.Contains(stdout, c) {
				t.Errorf("table lacks %q:\n%s", c, stdout)
			}
		}
		if !strings.Contains(stderr, "14/14 questions") {
			t.Errorf("no progress on stderr: %q", stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, b)
	}
	if !bytes.Equal(reports[0], reports[1]) {
		t.Errorf("two runs gave different JSON")
	}
	var rep struct {
		Categories map[string]float64 `json:"categories"`
		Average    *float64           `json:"average"`
		NLL        *float64           `json:"nll"`
		Failures   map[string]int     `json:"failures"`
		Items      []struct {
			ID         string `json:"id"`
			Prediction string `json:"prediction"`
		} `json:"items"`
	}
	if err := json.Unmarshal(reports[0], &rep); err != nil {
		t.Fatal(err)
	}
	for _, c := range world.Categories {
		if v, ok := rep.Categories[c]; !ok || v < 0 || v > 100 {
			t.Errorf("category %s: %v %v", c, v, ok)
		}
	}
	if rep.Average == nil || rep.NLL == nil || *rep.NLL <= 0 || len(rep.Items) != 14 {
		t.Errorf("average %v, nll %v, %d items", rep.Average, rep.NLL, len(rep.Items))
	}
	for _, f := range []string{"no_output", "repetition", "random_symbols"} {
		if _, ok := rep.Failures[f]; !ok {
			t.Errorf("failures lack %s: %v", f, rep.Failures)
		}
	}
	if !bytes.HasPrefix(reports[0], []byte("{\n \"categories\"")) {
		t.Errorf("report does not start with categories: %.40q", reports[0])
	}
	// No temporary files are left beside the report.
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("left %s", e.Name())
		}
	}

	// --limit and --quiet.
	code, stdout, stderr := run(t, "eval", "--model", modelDir, "--bench", bench, "--limit", "1", "--quiet", "--max-caption-tokens", "8")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "average") {
		t.Errorf("limit: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestEvalErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"id": "1", "category": "c", "question": "q", "options": ["a", "b"], "answer": "E"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", dir, "--bench", bad}, "line 1: field answer"},
		{[]string{"eval", "--model", dir, "--bench", filepath.Join(dir, "none.jsonl")}, "none.jsonl"},
		{[]string{"eval", "--model", dir, "--bench", bad, "--limit", "-1"}, "--limit"},
	} {
		code, _, stderr := run(t, c.args...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: code %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}
