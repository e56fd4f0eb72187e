package train

import (
	"math/rand/v2"
	"testing"

	"mbq/model"
	"mbq/testbed/world"
)

// TestMCGuide: the guided row is the one whose next token is the answer
// letter, and the keys are exactly the correct option's text and its
// newline, in both renderings of a sample (generation prompt + answer, and
// the whole conversation); open questions are not guided.
func TestMCGuide(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	q := world.Question{Question: "Which option says mapox?", Options: []string{"gleveex", "large red cube", "mapox", "7"}, Answer: "C"}
	pa, err := promptInput(m, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	pa, _, err = appendAnswer(m, pa, q.Target())
	if err != nil {
		t.Fatal(err)
	}
	full, err := m.Prepare(conversation(q, nil, true), false)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]*model.Input{"prompt+answer": pa, "conversation": full} {
		for _, ans := range []string{"A", "B", "C", "D"} {
			in := *in
			in.IDs = append([]int(nil), in.IDs...)
			a := 0
			for a < len(in.Labels) && in.Labels[a] < 0 {
				a++
			}
			id, _ := m.Tok.TokenToID(ans)
			in.IDs[a] = id
			in.Labels = append([]int(nil), in.Labels...)
			in.Labels[a] = id
			row, keys, ok := mcGuide(m.Tok, &in)
			if !ok {
				t.Fatalf("%s, answer %s: not guided", name, ans)
			}
			if row != a-1 {
				t.Errorf("%s: row %d, want %d", name, row, a-1)
			}
			k := int(ans[0] - 'A')
			ids := in.IDs[keys[0] : keys[len(keys)-1]+1]
			if got, want := m.Tok.Decode(ids, false), " "+q.Options[k]+"\n"; got != want {
				t.Errorf("%s, answer %s: keys decode to %q, want %q", name, ans, got, want)
			}
		}
	}
	open := world.Question{Question: "What colour is the cube?", Answer: "red"}
	in, err := m.Prepare(conversation(open, nil, true), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := mcGuide(m.Tok, in); ok {
		t.Error("open question guided")
	}
	// Every multiple-choice training sample of the world is guided.
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for i := 0; i < 200; i++ {
		s := world.LookupQuestion(rng)
		in, err := promptInput(m, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if in, _, err = appendAnswer(m, in, s.Target()); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := mcGuide(m.Tok, in); ok {
			n++
		}
	}
	if n != 200 {
		t.Errorf("%d of 200 drills guided", n)
	}
	// And every multiple-choice training sample, with or without image.
	mc, guided := 0, 0
	for i := 0; i < 120; i++ {
		s := world.TrainingSample(sampleRNG(c.Seed, 7, i), c.worldAt(7))
		in, _, err := trainingInput(m, &c, 7, i)
		if err != nil {
			t.Fatal(err)
		}
		_, _, ok := mcGuide(m.Tok, in)
		if s.Question.MultipleChoice() {
			mc++
			if ok {
				guided++
			}
		} else if ok {
			t.Errorf("sample %d (%s) is not multiple choice but guided", i, s.Question.Kind)
		}
	}
	if mc < 20 || guided != mc {
		t.Errorf("%d of %d multiple-choice training samples guided", guided, mc)
	}
}
