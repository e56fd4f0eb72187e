package world

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// hashTree maps every file under dir to its SHA-256.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeSmall(t *testing.T, dir string, seed uint64, workers int) Summary {
	t.Helper()
	sum, err := WriteDatasetOptions(dir, DatasetOptions{Config: DefaultConfig(), Seed: seed, Calib: 6, Bench: 42, Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestDatasetDeterministic(t *testing.T) {
	root := t.TempDir()
	a, b, c := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")
	writeSmall(t, a, 11, 1)
	writeSmall(t, b, 11, 4)
	writeSmall(t, c, 12, 2)
	ha, hb, hc := hashTree(t, a), hashTree(t, b), hashTree(t, c)
	if len(ha) < 40 {
		t.Fatalf("only %d files", len(ha))
	}
	for p, h := range ha {
		if hb[p] != h {
			t.Errorf("%s differs between two runs with the same seed", p)
		}
	}
	if len(ha) != len(hb) {
		t.Errorf("%d files vs %d", len(ha), len(hb))
	}
	for _, p := range []string{"calib.json", "bench.jsonl", "img/000000.png"} {
		if ha[p] == hc[p] {
			t.Errorf("%s is the same for seeds 11 and 12", p)
		}
	}
	// No temporary directories are left beside the datasets.
	ents, _ := os.ReadDir(root)
	if len(ents) != 3 {
		t.Errorf("entries beside the datasets: %v", ents)
	}
}

func TestDatasetContents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var last, total int
	sum, err := WriteDatasetOptions(dir, DatasetOptions{Config: DefaultConfig(), Seed: 5, Calib: 10, Bench: 1200,
		Progress: func(done, n int) {
			if done != last+1 {
				t.Errorf("progress %d after %d", done, last)
			}
			last, total = done, n
		}})
	if err != nil {
		t.Fatal(err)
	}
	if last != 1210 || total != 1210 {
		t.Errorf("progress ended at %d/%d", last, total)
	}
	recs, err := ReadBench(filepath.Join(dir, "bench.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1200 {
		t.Fatalf("%d questions", len(recs))
	}
	counts := map[string]int{}
	images := map[string]bool{}
	ids := map[string]bool{}
	letters := map[string]int{}
	for _, r := range recs {
		counts[r.Category]++
		if ids[r.ID] {
			t.Fatalf("id %s twice", r.ID)
		}
		ids[r.ID] = true
		if (r.Image == nil) != (r.Category == Language) {
			t.Fatalf("%s: %s question with image %v", r.ID, r.Category, r.Image)
		}
		if r.Image != nil {
			if images[*r.Image] {
				t.Fatalf("%s: image %s shared", r.ID, *r.Image)
			}
			images[*r.Image] = true
		}
		switch {
		case r.Category == CaptionCat:
			if len(r.Attributes) == 0 || len(r.Options) != 0 {
				t.Fatalf("%s: caption record %+v", r.ID, r)
			}
			for _, a := range r.Attributes {
				if !strings.Contains(r.Answer, a) {
					t.Fatalf("%s: reference caption lacks %q", r.ID, a)
				}
			}
		case r.Category == Text:
			if len(r.Options) != 0 {
				t.Fatalf("%s: text question with options", r.ID)
			}
		case len(r.Options) > 0:
			checkOptions(t, Question{Question: r.Question, Options: r.Options, Answer: r.Answer})
			letters[r.Answer]++
		}
	}
	for i, c := range Categories {
		if counts[c] < 150 || counts[c] < 1200/7 || counts[c] != sum.Bench[i] {
			t.Errorf("%s: %d questions (summary %d)", c, counts[c], sum.Bench[i])
		}
	}
	for _, l := range Letters {
		if letters[l] < 120 {
			t.Errorf("answer %s only %d times: %v", l, letters[l], letters)
		}
	}

	// calib.json in the ShareGPT4V layout, exactly.
	raw, err := os.ReadFile(filepath.Join(dir, "calib.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(`\u003c`)) {
		t.Error("calib.json escapes <image>")
	}
	var generic []map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for _, e := range generic {
		keys := make([]string, 0, len(e))
		for k := range e {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if strings.Join(keys, ",") != "conversations,id,image" {
			t.Fatalf("calib entry keys %v", keys)
		}
	}
	calib, err := ReadCalib(filepath.Join(dir, "calib.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(calib) != 10 {
		t.Fatalf("%d calibration pairs", len(calib))
	}
	for _, c := range calib {
		if images[c.Image] {
			t.Errorf("calibration image %s also in the benchmark", c.Image)
		}
		images[c.Image] = true
		conv := c.Conversations
		if len(conv) != 2 || conv[0].From != "human" || conv[0].Value != "<image>\nDescribe the image." || conv[1].From != "gpt" || len(conv[1].Value) < 40 {
			t.Fatalf("calib %s: conversations %+v", c.ID, conv)
		}
	}
	// Every image named exists, decodes, and nothing else is there.
	files, _ := os.ReadDir(filepath.Join(dir, "img"))
	if len(files) != len(images) || len(files) != sum.Images {
		t.Errorf("%d image files, %d named, summary %d", len(files), len(images), sum.Images)
	}
	f, err := os.Open(filepath.Join(dir, calib[0].Image))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 128 {
		t.Fatalf("decode %s: %v %v", calib[0].Image, err, img.Bounds())
	}
}

func TestDatasetRefusesToOverwrite(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	writeSmall(t, dir, 1, 0)
	before := hashTree(t, dir)
	opt := DatasetOptions{Config: DefaultConfig(), Seed: 2, Calib: 2, Bench: 7}
	if _, err := WriteDatasetOptions(dir, opt); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("overwrite without force: %v", err)
	}
	after := hashTree(t, dir)
	if len(after) != len(before) || after["calib.json"] != before["calib.json"] {
		t.Fatal("refused write changed the directory")
	}
	// Force replaces a previous dataset.
	opt.Force = true
	if _, err := WriteDatasetOptions(dir, opt); err != nil {
		t.Fatal(err)
	}
	if h := hashTree(t, dir); h["calib.json"] == before["calib.json"] || len(h) >= len(before) {
		t.Fatal("forced write did not replace the dataset")
	}
	// Force never removes a directory holding anything else.
	user := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(user, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteDatasetOptions(dir, opt); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("force over user data: %v", err)
	}
	if b, err := os.ReadFile(user); err != nil || string(b) != "mine" {
		t.Fatal("user file lost")
	}
	// A file in the way, and an empty directory.
	file := filepath.Join(root, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := WriteDatasetOptions(file, opt); err == nil {
		t.Fatal("wrote over a file")
	}
	empty := filepath.Join(root, "empty")
	os.Mkdir(empty, 0o755)
	if _, err := WriteDatasetOptions(empty, DatasetOptions{Config: DefaultConfig(), Seed: 2, Calib: 1, Bench: 7}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(root)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "data,empty,file" {
		t.Errorf("left behind: %v", names)
	}
}

func TestBenchCounts(t *testing.T) {
	for _, n := range []int{0, 7, 14, 1200, 1203} {
		c := BenchCounts(n)
		s := 0
		for _, k := range c {
			s += k
			if k < n/7 || k > n/7+1 {
				t.Errorf("BenchCounts(%d) = %v", n, c)
			}
		}
		if s != n {
			t.Errorf("BenchCounts(%d) sums to %d", n, s)
		}
	}
}
