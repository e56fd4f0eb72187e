package eval

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mbq/testbed/world"
)

func TestExactMatch(t *testing.T) {
	for _, c := range []struct {
		gen, ref string
		want     bool
	}{
		{"red", "red", true},
		{"  Red.", "red", true},
		{"The red", "red", true},
		{"a  blue   circle!", "blue circle", true},
		{"6915", "6915", true},
		{"69 15", "6915", false},
		{"reddish", "red", false},
		{"", "red", false},
		{"red red", "red", false},
		{"yes", "no", false},
	} {
		if got := ExactMatch(c.gen, c.ref); got != c.want {
			t.Errorf("ExactMatch(%q, %q) = %v, want %v", c.gen, c.ref, got, c.want)
		}
	}
}

func TestAttributeRecall(t *testing.T) {
	attrs := []string{"large red star", "second row, third column", "AB12"}
	for _, c := range []struct {
		text  string
		want  float64
		found []bool
	}{
		{"A large red star sits in the second row, third column. The sign says AB12.", 1, []bool{true, true, true}},
		{"A LARGE RED STAR in the second row third column; sign: ab12", 1, []bool{true, true, true}},
		{"a large red starfish in the second row, third columns", 0, []bool{false, false, false}},
		{"a large, dark red star; sign AB123", 0, []bool{false, false, false}},
		{"There is a large red star.", 1.0 / 3, []bool{true, false, false}},
		{"second\nrow,   third column and AB12", 2.0 / 3, []bool{false, true, true}},
		{"", 0, []bool{false, false, false}},
	} {
		got, found := AttributeRecall(c.text, attrs)
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("AttributeRecall(%q) = %v, want %v", c.text, got, c.want)
		}
		for i := range found {
			if found[i] != c.found[i] {
				t.Errorf("AttributeRecall(%q): found %v, want %v", c.text, found, c.found)
				break
			}
		}
	}
	if got, _ := AttributeRecall("anything", nil); got != 0 {
		t.Errorf("no attributes: %v", got)
	}
}

func TestClassify(t *testing.T) {
	loop := func(unit []int, n int) []int {
		var out []int
		for len(out) < n {
			out = append(out, unit...)
		}
		return out[:n]
	}
	for _, c := range []struct {
		name string
		g    Generated
		want string
	}{
		{"empty", Generated{Text: ""}, NoOutput},
		{"blank", Generated{Text: " \n\t "}, NoOutput},
		{"punctuation only", Generated{Text: "..."}, NoOutput},
		{"short answer", Generated{Text: "red"}, ""},
		{"number", Generated{Text: "6915"}, ""},
		{"sentence", Generated{Text: "There is a large red star in the first row, second column."}, ""},
		{"symbols", Generated{Text: "#$@^ ~~|| {}<> ab"}, RandomSymbols},
		{"replacement chars", Generated{Text: "a\ufffd\ufffdb\ufffd"}, RandomSymbols},
		{"invalid utf-8", Generated{Text: "ab\xff\xfe\xfd"}, RandomSymbols},
		{"few symbols", Generated{Text: "a red star (large) at 50% - yes!"}, ""},
		{"one symbol in a word", Generated{Text: "red#"}, ""},
		{"word loop", Generated{Text: "red red red red red red red red red"}, Repetition},
		{"8 words only", Generated{Text: "red red red red red red red red"}, ""},
		{"phrase loop", Generated{Text: "There is the blue star the blue star the blue star"}, Repetition},
		{"two copies", Generated{Text: "the blue star and the blue star and then more words"}, ""},
		{"loop after text", Generated{Text: "A small star. in the first row in the first row in the first row"}, Repetition},
		{"token loop at limit", Generated{Text: "abababababababab", Tokens: loop([]int{7, 8}, 16), HitLimit: true}, Repetition},
		{"token loop, stopped", Generated{Text: "abababababababab", Tokens: loop([]int{7, 8}, 16)}, ""},
		{"token loop too short", Generated{Text: "ababab", Tokens: loop([]int{7, 8}, 10), HitLimit: true}, ""},
		{"limit without loop", Generated{Text: "abcdefghijklmn", Tokens: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, HitLimit: true}, ""},
		{"loop then prefix", Generated{Text: "x", Tokens: append([]int{1, 2, 3, 4}, loop([]int{5, 6, 7}, 12)...), HitLimit: true}, Repetition},
		{"symbols beat repetition", Generated{Text: "a ### ### ### ### ### ### ### ### ### ###"}, RandomSymbols},
	} {
		if got := Classify(c.g); got != c.want {
			t.Errorf("%s: Classify(%q) = %q, want %q", c.name, c.g.Text, got, c.want)
		}
	}
}

// TestReferencesPass checks that no reference answer of a generated
// benchmark is a failure and that every caption recalls all its attributes.
func TestReferencesPass(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := world.WriteDataset(dir, 11, 0, 140, nil); err != nil {
		t.Fatal(err)
	}
	items, err := LoadBench(filepath.Join(dir, "bench.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Kind() == MultipleChoice {
			continue
		}
		if f := Classify(Generated{Text: it.Answer}); f != "" {
			t.Errorf("%s: reference %q classified %s", it.ID, it.Answer, f)
		}
		if it.Kind() == Caption {
			if r, _ := AttributeRecall(it.Answer, it.Attributes); r != 1 {
				t.Errorf("%s: reference caption recalls %v of %q", it.ID, r, strings.Join(it.Attributes, "; "))
			}
		} else if !ExactMatch(it.Answer, it.Answer) {
			t.Errorf("%s: answer does not match itself", it.ID)
		}
	}
}

// TestMultipleChoiceByCategory: a category mixing multiple-choice and
// open-ended items reports the accuracy of its multiple-choice items alone
// beside the mixed one; a category without them has none; the table
// shows both.
func TestMultipleChoiceByCategory(t *testing.T) {
	mc, open := MultipleChoice, Open
	items := []Item{{Category: "perception"}, {Category: "perception"}, {Category: "perception"}, {Category: "perception"}, {Category: "text"}, {Category: "counting"}}
	results := []ItemResult{
		{Category: "perception", Kind: mc, Scored: true, Correct: true, Score: 1},
		{Category: "perception", Kind: mc, Scored: true},
		{Category: "perception", Kind: open, Scored: true, Correct: true, Score: 1},
		{Category: "perception", Kind: open, Scored: true, Correct: true, Score: 1},
		{Category: "text", Kind: open, Scored: true, Correct: true, Score: 1},
		{Category: "counting", Kind: mc, Scored: true},
	}
	rep := summarize(items, results)
	if got := rep.Categories["perception"]; got != 75 {
		t.Errorf("perception accuracy %g, want 75", got)
	}
	if got, n := rep.MultipleChoice["perception"], rep.MultipleChoiceCounts["perception"]; got != 50 || n != 2 {
		t.Errorf("perception multiple choice %g%% of %d, want 50%% of 2", got, n)
	}
	if got, ok := rep.MultipleChoice["counting"]; !ok || got != 0 {
		t.Errorf("counting multiple choice %g (%v), want 0", got, ok)
	}
	if _, ok := rep.MultipleChoice["text"]; ok {
		t.Error("text has no multiple-choice items but a multiple-choice accuracy")
	}
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.Contains(lines[0], "mc_accuracy") {
		t.Errorf("header %q", lines[0])
	}
	for _, want := range [][]string{{"perception", "4", "75.0%", "2", "50.0%"}, {"text", "1", "100.0%", "0", "-"}} {
		found := false
		for _, l := range lines {
			f := strings.Fields(l)
			found = found || (len(f) >= 5 && slices.Equal(f[:5], want))
		}
		if !found {
			t.Errorf("no row %v in\n%s", want, b.String())
		}
	}
}
