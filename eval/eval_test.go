package eval

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"mbq/hf/chat"
	"mbq/hf/image"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/tensor"
	"mbq/testbed/world"
)

var fixtureRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mbq-eval-test-")
	if err != nil {
		panic(err)
	}
	fixtureRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	tinyOnce  sync.Once
	tinyDir   string
	benchPath string
	tinyErr   error
)

// fixture writes, once per test binary, a tiny random checkpoint and a
// small world benchmark (3 questions per category).
func fixture(t *testing.T) (*llavaonevision.Model, string) {
	t.Helper()
	tinyOnce.Do(func() {
		dir := fixtureRoot
		tinyDir = filepath.Join(dir, "model")
		if tinyErr = llavaonevision.WriteTiny(tinyDir, 3, llavaonevision.DefaultTiny); tinyErr != nil {
			return
		}
		data := filepath.Join(dir, "data")
		if tinyErr = world.WriteDataset(data, 9, 0, 21, nil); tinyErr != nil {
			return
		}
		benchPath = filepath.Join(data, "bench.jsonl")
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	m, err := llavaonevision.Load(tinyDir)
	if err != nil {
		t.Fatal(err)
	}
	return m, benchPath
}

// TestMultipleChoiceByHand recomputes every option's log-probability with
// a separate forward over prompt + letter (teacher forcing) and every
// item's NLL with LossAndGrad.
func TestMultipleChoiceByHand(t *testing.T) {
	m, path := fixture(t)
	items, err := LoadBench(path)
	if err != nil {
		t.Fatal(err)
	}
	var mc []Item
	for _, it := range items {
		if it.Kind() == MultipleChoice {
			mc = append(mc, it)
		}
	}
	if len(mc) < 4 {
		t.Fatalf("only %d multiple-choice items", len(mc))
	}
	rep, err := Evaluate(m, mc, Options{BatchSize: 3, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ev := &evaluator{m: m}
	for i, it := range mc {
		r := rep.Items[i]
		img, err := ev.image(&it)
		if err != nil {
			t.Fatal(err)
		}
		var parts []chat.Part
		if img != nil {
			parts = append(parts, chat.ImagePart())
		}
		parts = append(parts, chat.TextPart(it.Prompt()))
		s := model.Sample{Messages: []chat.Message{chat.Parts("user", parts...)}}
		if img != nil {
			s.Images = append(s.Images, img)
		}
		ctx, err := m.Prepare(s, true)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(ctx.Text, "<|im_start|>assistant\n") || !strings.Contains(ctx.Text, it.Prompt()) {
			t.Fatalf("%s: prompt %q", it.ID, ctx.Text)
		}
		best, bestLP := -1, math.Inf(-1)
		for o := range it.Options {
			letter := m.Tok.Encode(world.Letters[o])
			full := extend(ctx, letter, false)
			outs, err := m.Forward([]*model.Input{full}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var lp float64
			for j, id := range letter {
				lp += logSoftmaxAt(logitsRow(outs[0], ctx.Len()-1+j), id)
			}
			if math.Abs(lp-r.OptionLogProbs[o]) > 1e-4 {
				t.Errorf("%s option %d: log-prob %v, by hand %v", it.ID, o, r.OptionLogProbs[o], lp)
			}
			if lp > bestLP {
				best, bestLP = o, lp
			}
		}
		if r.Prediction != world.Letters[best] || r.Correct != (r.Prediction == it.Answer) {
			t.Errorf("%s: predicted %s (correct %v), by hand %s (answer %s)", it.ID, r.Prediction, r.Correct, world.Letters[best], it.Answer)
		}
		// The NLL: context, letter and end of turn, as the trainer lays
		// them out, through LossAndGrad.
		eos, ok := m.Tok.TokenToID("<|im_end|>")
		if !ok {
			t.Fatal("no <|im_end|>")
		}
		ref := extend(ctx, append(m.Tok.Encode(it.Answer), eos), true)
		lr, err := m.LossAndGrad([]*model.Input{ref}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(lr.Loss-r.NLL) > 1e-4 || lr.Tokens != r.Tokens || r.Tokens != 2 {
			t.Errorf("%s: NLL %v over %d tokens, LossAndGrad %v over %d", it.ID, r.NLL, r.Tokens, lr.Loss, lr.Tokens)
		}
	}
	// Answer tokens of open-ended and caption items are the tokenizer's
	// followed by the end of turn.
	eos, _ := m.Tok.TokenToID("<|im_end|>")
	for _, it := range items {
		if it.Kind() == MultipleChoice {
			continue
		}
		got, err := answerTokens(m, it.Answer)
		if err != nil {
			t.Fatal(err)
		}
		if want := append(m.Tok.Encode(it.Answer), eos); !slices.Equal(got, want) {
			t.Errorf("%s: answer tokens %v, want %v", it.ID, got, want)
		}
	}
}

// TestEvaluateDeterministic runs the whole benchmark with one and two
// workers and different batch sizes: the reports must agree.
func TestEvaluateDeterministic(t *testing.T) {
	m, path := fixture(t)
	var prog bytes.Buffer
	a, err := EvaluateFile(m, path, Options{Workers: 1, MaxCaptionTokens: 48, Progress: &prog})
	if err != nil {
		t.Fatal(err)
	}
	b, err := EvaluateFile(m, path, Options{Workers: 2, MaxCaptionTokens: 48})
	if err != nil {
		t.Fatal(err)
	}
	ja, _ := a.MarshalIndent()
	jb, _ := b.MarshalIndent()
	if !bytes.Equal(ja, jb) {
		t.Errorf("reports differ between 1 and 2 workers")
	}
	if !strings.Contains(prog.String(), "21/21 questions") {
		t.Errorf("progress: %q", prog.String())
	}
	for _, c := range world.Categories {
		if _, ok := a.Categories[c]; !ok || a.Counts[c] != 3 {
			t.Errorf("category %s: accuracy present %v, count %d", c, ok, a.Counts[c])
		}
		if _, ok := a.NLLByCategory[c]; !ok {
			t.Errorf("category %s: no NLL", c)
		}
	}
	if a.Generated == 0 {
		t.Errorf("generated %d", a.Generated)
	}
	if a.NLL <= 0 || a.AnswerTokens == 0 || math.IsNaN(a.Average) {
		t.Errorf("nll %v over %d tokens, average %v", a.NLL, a.AnswerTokens, a.Average)
	}
	for _, r := range a.Items {
		if r.Kind == Caption && !r.HitLimit && !r.ImageToken && r.Failure == "" && r.Prediction == "" {
			t.Errorf("%s: empty caption without failure", r.ID)
		}
	}
	// Limit keeps the first n per category; NoGenerate scores only MC.
	c, err := EvaluateFile(m, path, Options{Limit: 1, NoGenerate: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Items) != len(world.Categories) || c.Generated != 0 {
		t.Errorf("limit 1: %d items, %d generated", len(c.Items), c.Generated)
	}
	if _, ok := c.Categories[world.CaptionCat]; ok {
		t.Errorf("NoGenerate scored captions")
	}
	if _, ok := c.NLLByCategory[world.CaptionCat]; !ok {
		t.Errorf("NoGenerate lost the caption NLL")
	}
}

// fakeVLM spells every byte b of the rendered text as the two tokens
// [b, 256]: the option letters are then two tokens, exercising teacher
// forcing. Its logits are a fixed function of the token and position.
type fakeVLM struct {
	model.VLM
}

const fakeVocab = 300

func (fakeVLM) Prepare(s model.Sample, gen bool) (*model.Input, error) {
	in := &model.Input{}
	add := func(text string, mod model.Modality) {
		for _, b := range []byte(text) {
			for _, id := range []int{int(b), 256} {
				in.IDs = append(in.IDs, id)
				in.Modality = append(in.Modality, mod)
				l := model.IgnoreIndex
				if mod == model.Answer {
					l = id
				}
				in.Labels = append(in.Labels, l)
			}
		}
	}
	for _, msg := range s.Messages {
		text := msg.Text
		for _, p := range msg.Parts {
			text += p.Text
		}
		if msg.Role == "assistant" {
			add("\n>", model.Prompt)
			add(text+"$", model.Answer)
		} else {
			add("u:"+text, model.Prompt)
		}
	}
	if gen {
		add("\n>", model.Prompt)
	}
	return in, nil
}

func fakeLogit(id, pos, v int) float32 {
	return float32(math.Sin(float64(id*7+v*3+pos) * 0.37))
}

func (fakeVLM) Forward(batch []*model.Input, _ *model.ForwardOptions) ([]*model.Output, error) {
	var outs []*model.Output
	for _, in := range batch {
		l := tensor.New(in.Len(), fakeVocab)
		for t, id := range in.IDs {
			for v := range fakeVocab {
				l.Data[t*fakeVocab+v] = fakeLogit(id, t, v)
			}
		}
		outs = append(outs, &model.Output{Logits: l, Modality: in.Modality})
	}
	return outs, nil
}

func TestMultiTokenLetters(t *testing.T) {
	m := fakeVLM{}
	items := []Item{
		{ID: "a", Category: "x", Question: "pick", Options: []string{"p", "q", "r", "s"}, Answer: "C"},
		{ID: "b", Category: "x", Question: "again", Options: []string{"p", "q"}, Answer: "A"},
	}
	rep, err := Evaluate(m, items, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range items {
		ctx, _ := m.Prepare(model.Sample{Messages: []chat.Message{chat.Text("user", it.Prompt())}}, true)
		n := ctx.Len()
		best, bestLP := -1, math.Inf(-1)
		for o := range it.Options {
			letter := int(world.Letters[o][0])
			row := make([]float32, fakeVocab)
			for v := range row {
				row[v] = fakeLogit(ctx.IDs[n-1], n-1, v)
			}
			lp := logSoftmaxAt(row, letter)
			for v := range row {
				row[v] = fakeLogit(letter, n, v)
			}
			lp += logSoftmaxAt(row, 256)
			if got := rep.Items[i].OptionLogProbs[o]; math.Abs(got-lp) > 1e-9 {
				t.Errorf("%s option %d: %v, want %v", it.ID, o, got, lp)
			}
			if lp > bestLP {
				best, bestLP = o, lp
			}
		}
		if rep.Items[i].Prediction != world.Letters[best] {
			t.Errorf("%s: predicted %s, want %s", it.ID, rep.Items[i].Prediction, world.Letters[best])
		}
		// Answer tokens: letter (2) and "$" (2).
		if rep.Items[i].Tokens != 4 {
			t.Errorf("%s: %d answer tokens", it.ID, rep.Items[i].Tokens)
		}
	}
	if _, ok := rep.Categories["x"]; !ok || rep.CategoryOrder[0] != "x" {
		t.Errorf("categories %v, order %v", rep.Categories, rep.CategoryOrder)
	}
}

func TestEvaluateRejectsBadItems(t *testing.T) {
	m := fakeVLM{}
	for _, it := range []Item{
		{ID: "a", Category: "x", Question: "q", Options: []string{"p", "q"}, Answer: "C"},
		{ID: "a", Category: "x", Question: "q"},
		{Category: "x", Question: "q", Answer: "a"},
	} {
		if _, err := Evaluate(m, []Item{it}, Options{}); err == nil {
			t.Errorf("%+v: no error", it)
		}
	}
	if _, err := Evaluate(m, nil, Options{}); err == nil {
		t.Errorf("no items: no error")
	}
}

// TestGreedyMatches: the teacher-forced open-ended score is "every
// labelled token is the argmax of the position predicting it".
func TestGreedyMatches(t *testing.T) {
	in := &model.Input{IDs: []int{1, 2, 5, 7}, Labels: []int{model.IgnoreIndex, model.IgnoreIndex, 5, 7}}
	lg := tensor.New(4, 8)
	lg.Data[1*8+5] = 2 // position 1 predicts label 5
	lg.Data[2*8+7] = 1 // position 2 predicts label 7
	lg.Data[0*8+3] = 9 // unlabelled position: ignored
	out := &model.Output{Logits: lg}
	if !greedyMatches(in, out) {
		t.Fatal("argmax answer not matched")
	}
	lg.Data[2*8+6] = 1.5
	if greedyMatches(in, out) {
		t.Fatal("a wrong argmax matched")
	}
}

// TestPixelsAndTeacherForced: items holding their image in memory score
// exactly as the same items reading it from the file; TeacherForced
// scores open-ended items without generating (consistent with their NLL:
// a correct item has every token the argmax) and leaves captions unscored.
func TestPixelsAndTeacherForced(t *testing.T) {
	m, path := fixture(t)
	items, err := LoadBench(path)
	if err != nil {
		t.Fatal(err)
	}
	mem := slices.Clone(items)
	for i := range mem {
		if mem[i].Image != "" {
			img, err := image.DecodeFile(mem[i].Image)
			if err != nil {
				t.Fatal(err)
			}
			mem[i].Image, mem[i].Pixels = "", img
		}
	}
	a, err := Evaluate(m, items, Options{NoGenerate: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(m, mem, Options{NoGenerate: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.NLL != b.NLL || a.Average != b.Average {
		t.Fatalf("file images: nll %v avg %v; in-memory: nll %v avg %v", a.NLL, a.Average, b.NLL, b.Average)
	}
	c, err := Evaluate(m, mem, Options{TeacherForced: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.Generated != 0 || c.NLL != a.NLL {
		t.Fatalf("teacher-forced: %d generated, nll %v (want %v)", c.Generated, c.NLL, a.NLL)
	}
	if _, ok := c.Categories[world.CaptionCat]; ok {
		t.Error("teacher-forced run scored captions")
	}
	open := 0
	for _, r := range c.Items {
		if r.Kind == Open {
			open++
			if !r.Scored {
				t.Errorf("%s: open item unscored", r.ID)
			}
		}
	}
	if open == 0 {
		t.Fatal("fixture has no open-ended items")
	}
}
