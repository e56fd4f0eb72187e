package eval

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mbq/testbed/world"
)

func writeBench(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "bench.jsonl")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadBenchValid(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "img"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "img", "a.png"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := `{"id": "1", "category": "counting", "image": "img/a.png", "question": "How many?", "options": ["1", "2", "3"], "answer": "C"}

{"id": "2", "category": "language", "image": null, "question": "3 + 4 = ?", "answer": "7"}
{"id": "3", "category": "caption", "image": "img/a.png", "question": "Describe the image.", "attributes": ["red star"]}
{"id": "4", "category": "my own", "question": "Say hi", "answer": "hi", "attributes": ["hi"]}
`
	items, err := LoadBench(writeBench(t, dir, body))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 4 {
		t.Fatalf("%d items", len(items))
	}
	want := []struct {
		kind  Kind
		line  int
		image string
	}{{MultipleChoice, 1, filepath.Join(dir, "img", "a.png")}, {Open, 3, ""}, {Caption, 4, filepath.Join(dir, "img", "a.png")}, {Caption, 5, ""}}
	for i, w := range want {
		if items[i].Kind() != w.kind || items[i].Line != w.line || items[i].Image != w.image {
			t.Errorf("item %d: kind %s line %d image %q, want %s %d %q", i, items[i].Kind(), items[i].Line, items[i].Image, w.kind, w.line, w.image)
		}
	}
	if p := items[0].Prompt(); p != "How many?\nA. 1\nB. 2\nC. 3\n"+world.MCSuffix {
		t.Errorf("MC prompt %q", p)
	}
	if p := items[1].Prompt(); p != "3 + 4 = ?\n"+world.OpenSuffix {
		t.Errorf("open prompt %q", p)
	}
	if p := items[2].Prompt(); p != "Describe the image." {
		t.Errorf("caption prompt %q", p)
	}
}

// TestLoadBenchWorld checks that a world benchmark loads, with prompts
// equal to the world's own.
func TestLoadBenchWorld(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := world.WriteDataset(dir, 5, 0, 28, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "bench.jsonl")
	items, err := LoadBench(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := world.ReadBench(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		q := world.Question{Category: r.Category, Question: r.Question, Options: r.Options, Answer: r.Answer, HasImage: r.Image != nil}
		it := items[i]
		if it.Prompt() != q.Prompt() || it.ID != r.ID || !reflect.DeepEqual(it.Attributes, r.Attributes) {
			t.Errorf("%s: prompt %q, want %q", r.ID, it.Prompt(), q.Prompt())
		}
		if (it.Image != "") != (r.Image != nil) {
			t.Errorf("%s: image %q vs %v", r.ID, it.Image, r.Image)
		}
	}
}

func TestLoadBenchErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.png"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := `{"id": "0", "category": "language", "question": "q", "answer": "a"}` + "\n"
	for _, c := range []struct {
		name, line string
		want       []string
	}{
		{"not json", `{"id": `, []string{"line 2", "incomplete JSON"}},
		{"garbage", `hello`, []string{"line 2", "invalid JSON"}},
		{"array", `[1, 2]`, []string{"line 2"}},
		{"two values", `{"id": "1", "category": "c", "question": "q", "answer": "a"} {}`, []string{"line 2", "more than one"}},
		{"unknown field", `{"id": "1", "category": "c", "question": "q", "answer": "a", "hint": "x"}`, []string{"line 2", `unknown field "hint"`}},
		{"wrong type", `{"id": 1, "category": "c", "question": "q", "answer": "a"}`, []string{"line 2", "field id", "number"}},
		{"options type", `{"id": "1", "category": "c", "question": "q", "options": "A", "answer": "A"}`, []string{"field options"}},
		{"missing id", `{"category": "c", "question": "q", "answer": "a"}`, []string{"line 2", "field id: missing"}},
		{"empty id", `{"id": " ", "category": "c", "question": "q", "answer": "a"}`, []string{"field id: empty"}},
		{"duplicate id", `{"id": "0", "category": "c", "question": "q", "answer": "a"}`, []string{"line 2", "field id", "line 1"}},
		{"missing category", `{"id": "1", "question": "q", "answer": "a"}`, []string{"field category: missing"}},
		{"spaced category", `{"id": "1", "category": "c ", "question": "q", "answer": "a"}`, []string{"field category"}},
		{"missing question", `{"id": "1", "category": "c", "answer": "a"}`, []string{"field question: missing"}},
		{"missing answer", `{"id": "1", "category": "c", "question": "q"}`, []string{"field answer: missing"}},
		{"empty answer", `{"id": "1", "category": "c", "question": "q", "answer": ""}`, []string{"field answer: empty"}},
		{"missing image", `{"id": "1", "category": "c", "image": "nope.png", "question": "q", "answer": "a"}`, []string{"line 2", "field image", "nope.png"}},
		{"image is a directory", `{"id": "1", "category": "c", "image": "sub", "question": "q", "answer": "a"}`, []string{"field image", "not a regular file"}},
		{"empty image", `{"id": "1", "category": "c", "image": "", "question": "q", "answer": "a"}`, []string{"field image: empty"}},
		{"letter out of range", `{"id": "1", "category": "c", "question": "q", "options": ["x", "y"], "answer": "C"}`, []string{"line 2", "field answer", `"C"`, "A, B"}},
		{"answer not a letter", `{"id": "1", "category": "c", "question": "q", "options": ["x", "y"], "answer": "x"}`, []string{"field answer"}},
		{"lower-case letter", `{"id": "1", "category": "c", "question": "q", "options": ["x", "y"], "answer": "a"}`, []string{"field answer"}},
		{"one option", `{"id": "1", "category": "c", "question": "q", "options": ["x"], "answer": "A"}`, []string{"field options", "at least 2"}},
		{"empty options", `{"id": "1", "category": "c", "question": "q", "options": [], "answer": "A"}`, []string{"field options"}},
		{"five options", `{"id": "1", "category": "c", "question": "q", "options": ["a", "b", "c", "d", "e"], "answer": "A"}`, []string{"field options", "at most 4"}},
		{"empty option", `{"id": "1", "category": "c", "question": "q", "options": ["a", " "], "answer": "A"}`, []string{"field options", "option 1 is empty"}},
		{"caption without attributes", `{"id": "1", "category": "caption", "question": "q", "answer": "a"}`, []string{"field attributes: missing"}},
		{"empty attributes", `{"id": "1", "category": "caption", "question": "q", "attributes": []}`, []string{"field attributes", "empty"}},
		{"attribute without words", `{"id": "1", "category": "caption", "question": "q", "attributes": ["red", "--"]}`, []string{"field attributes", "attribute 1"}},
		{"attributes with options", `{"id": "1", "category": "c", "question": "q", "options": ["a", "b"], "answer": "A", "attributes": ["a"]}`, []string{"field attributes", "options"}},
		{"invalid utf-8", "{\"id\": \"1\xff\", \"category\": \"c\", \"question\": \"q\", \"answer\": \"a\"}", []string{"line 2", "UTF-8"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeBench(t, dir, good+c.line+"\n")
			_, err := LoadBench(p)
			if err == nil {
				t.Fatalf("no error")
			}
			msg := err.Error()
			for _, w := range append([]string{p}, c.want...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	if _, err := LoadBench(writeBench(t, dir, "\n\n")); err == nil || !strings.Contains(err.Error(), "no questions") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := LoadBench(filepath.Join(dir, "absent.jsonl")); err == nil || !strings.Contains(err.Error(), "absent.jsonl") {
		t.Errorf("absent file: %v", err)
	}
}
