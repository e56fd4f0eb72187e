package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"mbq/eval"
	"mbq/testbed/world"
)

// drillsFile is a benchmark file of 200 letter drills (world.LookupQuestion,
// from their own stream of the held-out seed) for watching a training run
// learn multiple-choice binding:
//
//	mbq eval --model OUT/checkpoint --bench testbed/train/testdata/lookup-drills.jsonl
//
// Chance is 25%; a model that binds letters scores near 100%.
const drillsFile = "testdata/lookup-drills.jsonl"

const drillDomain uint64 = 0x6c6f6f6b_75702d2d // "lookup--"

func drillRecords() []world.BenchRecord {
	var out []world.BenchRecord
	for j := 0; j < 200; j++ {
		q := world.LookupQuestion(streamRNG(HeldOutSeed, drillDomain, uint64(j)), world.FactTable())
		out = append(out, world.BenchRecord{ID: fmt.Sprintf("drill-%03d", j), Category: "lookup",
			Question: q.Question, Options: q.Options, Answer: q.Answer})
	}
	return out
}

// TestDrillsFile: the committed drill file is what the generator gives
// (UPDATE_DRILLS=1 rewrites it) and loads as a benchmark.
func TestDrillsFile(t *testing.T) {
	var b bytes.Buffer
	for _, r := range drillRecords() {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	if os.Getenv("UPDATE_DRILLS") != "" {
		if err := os.WriteFile(drillsFile, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(drillsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatalf("%s differs from the generator (UPDATE_DRILLS=1 rewrites it)", drillsFile)
	}
	items, err := eval.LoadBench(filepath.FromSlash(drillsFile))
	if err != nil {
		t.Fatal(err)
	}
	letters := map[string]int{}
	for _, it := range items {
		if it.Kind() != eval.MultipleChoice || it.HasImage() {
			t.Fatalf("%s: kind %s, image %v", it.ID, it.Kind(), it.HasImage())
		}
		letters[it.Answer]++
	}
	if len(items) != 200 || len(letters) != 4 {
		t.Fatalf("%d items, answer letters %v", len(items), letters)
	}
}
