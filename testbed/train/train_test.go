package train

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mbq/hf/image"
	"mbq/hf/tokenizer"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/testbed/world"
)

// tinyConfig is a configuration small enough for tests: 128 px images in
// 32 px patches (16 per tile), one 32-wide layer on each side.
func tinyConfig() Config {
	c := DefaultConfig()
	c.Sizes = Sizes{ImageSize: 128, PatchSize: 32,
		VisionHidden: 32, VisionIntermediate: 64, VisionLayers: 1, VisionHeads: 2,
		TextHidden: 32, TextIntermediate: 64, TextLayers: 2, Heads: 2, KVHeads: 1,
		VocabSize: 400, Tied: true}
	c.Steps, c.Batch, c.Warmup, c.LR = 4, 4, 1, 3e-3
	c.EvalEvery, c.HeldOut, c.CheckpointEvery = 2, 1, 0
	c.CorpusSize = 300
	c.TextSteps, c.TextBatch, c.TextLookupShare, c.TextLR = 0, 0, 0, 0
	c.ReferentGuideWeight = 0 // two decoder layers (TestGuideGradients has three)
	return c
}

func tinyModel(t *testing.T, c *Config) *llavaonevision.Model {
	t.Helper()
	tok, err := tokenizer.Train(corpus(c), tokenizer.TrainOptions{VocabSize: c.VocabSize, Special: Specials})
	if err != nil {
		t.Fatal(err)
	}
	mc, err := c.Sizes.ModelConfig(tok)
	if err != nil {
		t.Fatal(err)
	}
	proc, err := llavaonevision.Processor(c.ImageSize, mc.ImageGridPinpoints)
	if err != nil {
		t.Fatal(err)
	}
	m, err := llavaonevision.NewRandom(mc, tok, proc, c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	nn.AllocGrads(m.Params())
	return m
}

// A few AdamW steps on one fixed batch reduce its loss, with one worker
// and with two (which must agree closely).
func TestStepsReduceLoss(t *testing.T) {
	for _, workers := range []int{1, 2} {
		c := tinyConfig()
		c.Workers = workers
		m := tinyModel(t, &c)
		s, err := newStepper(m, nil, &c)
		if err != nil {
			t.Fatal(err)
		}
		opt := newAdamW(m.Params())
		var first, last float64
		for i := 0; i < 6; i++ {
			rec, err := s.step(1) // the same batch every time
			if err != nil {
				t.Fatal(err)
			}
			if rec.Tokens == 0 || rec.Seq <= rec.Tokens {
				t.Fatalf("tokens %d, sequence %d", rec.Tokens, rec.Seq)
			}
			if i == 0 {
				first = rec.Loss
			}
			last = rec.Loss
			opt.step(&c, 3e-3)
		}
		if !(last < first-0.1) {
			t.Errorf("workers %d: loss %.4f -> %.4f, want a decrease", workers, first, last)
		}
	}
}

// Training 4 steps equals training 2, stopping, resuming and training 2
// more, to the byte.
func TestResumeIsExact(t *testing.T) {
	c := tinyConfig()
	a := filepath.Join(t.TempDir(), "a")
	if _, err := Run(c, Options{Out: a}); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(t.TempDir(), "b")
	st, err := Run(c, Options{Out: b, StopAt: 2})
	if err != nil {
		t.Fatal(err)
	}
	if st.Step != 2 || st.Status != "interrupted" {
		t.Fatalf("stopped at step %d (%s), want 2 (interrupted)", st.Step, st.Status)
	}
	var log bytes.Buffer
	st, err = Run(Config{}, Options{Out: b, Resume: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if st.Step != 4 || st.Status != "done" || len(st.Loss) != 4 || len(st.Evals) != 2 {
		t.Fatalf("resumed: step %d (%s), %d losses, %d evals", st.Step, st.Status, len(st.Loss), len(st.Evals))
	}
	if !strings.Contains(log.String(), "resuming") {
		t.Errorf("log: %q", log.String())
	}
	sameCheckpoint(t, a, b, "between 4 steps and 2+2 steps")
	// The checkpoint and the best model load as HF checkpoints.
	for _, d := range []string{CheckpointDir, BestDir} {
		if _, err := llavaonevision.Load(filepath.Join(b, d)); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	// A fresh run refuses the directory.
	if _, err := Run(c, Options{Out: b}); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("fresh run over a checkpoint: %v", err)
	}
}

func TestStreamsAreDistinct(t *testing.T) {
	ds := []uint64{BenchDomain, trainDomain, heldOutDomain, corpusDomain}
	for i := range ds {
		for j := i + 1; j < len(ds); j++ {
			if ds[i] == ds[j] {
				t.Errorf("domains %d and %d are equal", i, j)
			}
		}
	}
	// Different steps and samples give different streams.
	if sampleRNG(1, 1, 0).Uint64() == sampleRNG(1, 2, 0).Uint64() || sampleRNG(1, 1, 0).Uint64() == sampleRNG(1, 1, 1).Uint64() {
		t.Error("sample streams collide")
	}
}

func TestLRSchedule(t *testing.T) {
	c := Config{LR: 1, MinLRFrac: 0.1, Warmup: 10, Steps: 110}
	for _, tc := range []struct {
		step int
		want float64
	}{{1, 0.1}, {10, 1}, {60, 0.55}, {110, 0.1}} {
		if got := lrAt(&c, tc.step); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("step %d: lr %g, want %g", tc.step, got, tc.want)
		}
	}
	// A text phase of its own cycle: peak 2 over steps 1..60, then peak 1
	// over the 110 steps after it, each with its 10-step warmup.
	c = Config{LR: 1, MinLRFrac: 0.1, Warmup: 10, Steps: 170, TextSteps: 60, TextLR: 2}
	for _, tc := range []struct {
		step int
		want float64
	}{{1, 0.2}, {10, 2}, {35, 1.1}, {60, 0.2}, {61, 0.1}, {70, 1}, {120, 0.55}, {170, 0.1}} {
		if got := lrAt(&c, tc.step); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("two cycles, step %d: lr %g, want %g", tc.step, got, tc.want)
		}
	}
	// Without TextLR the text phase shares the one schedule.
	c.TextLR = 0
	if got, want := lrAt(&c, 60), 0.1+0.9*0.5*(1+math.Cos(math.Pi*50/160)); math.Abs(got-want) > 1e-9 {
		t.Errorf("one schedule, step 60: lr %g, want %g", got, want)
	}
}

// TestSampleWeighting checks the default loss weighting: the batch loss and
// gradient are the means of the per-sample ones (each sample's loss the mean
// over its own answer tokens, its gradient weighted by its number of
// question turns), with one worker and with two, and token weighting
// differs from it.
func TestSampleWeighting(t *testing.T) {
	c := tinyConfig()
	c.Batch, c.Workers, c.ClipNorm = 4, 1, 0
	c.GuideWeight, c.ImageGuideWeight, c.GroundingGuideWeight = 0, 0, 0 // the reference below is the answer loss alone
	m := tinyModel(t, &c)
	params := m.Params()

	// Reference: each sample alone, its own mean loss, averaged by hand.
	var wantLoss float64
	wantGrad := make([][]float32, len(params))
	for i := range params {
		wantGrad[i] = make([]float32, len(params[i].Grad.Data))
	}
	multi := 0
	for i := 0; i < c.Batch; i++ {
		nn.ZeroGrads(params)
		in, ex, err := trainingInput(m, &c, 1, i)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.Questions) > 1 {
			multi++
		}
		res, err := m.LossAndGrad([]*model.Input{in}, &model.BackwardOptions{NLLScale: float32(len(ex.Questions))})
		if err != nil {
			t.Fatal(err)
		}
		wantLoss += res.Loss / float64(c.Batch)
		for k, p := range params {
			for j, g := range p.Grad.Data {
				wantGrad[k][j] += g / float32(c.Batch)
			}
		}
	}
	if multi == 0 {
		t.Fatal("no sample of several question turns in the batch")
	}
	for _, workers := range []int{1, 2} {
		cw := c
		cw.Workers = workers
		s, err := newStepper(m, nil, &cw)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := s.step(1)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(rec.Loss-wantLoss) > 1e-6*math.Abs(wantLoss) {
			t.Fatalf("workers %d: batch loss %.8f, mean of sample losses %.8f", workers, rec.Loss, wantLoss)
		}
		for k, p := range params {
			for j, g := range p.Grad.Data {
				if d := math.Abs(float64(g - wantGrad[k][j])); d > 1e-5*(1+math.Abs(float64(wantGrad[k][j]))) {
					t.Fatalf("workers %d: %s[%d] gradient %g, want %g", workers, p.Name, j, g, wantGrad[k][j])
				}
			}
		}
	}
	ct := c
	ct.TokenMean = true
	s, err := newStepper(m, nil, &ct)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.step(1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rec.Loss-wantLoss) < 1e-3 {
		t.Fatalf("token-weighted loss %.6f equals the sample-weighted one", rec.Loss)
	}
}

// TestVisionWarmup: a text-phase step with the vision warm-up gives the
// decoder exactly the gradient it gets without it, gives the vision tower,
// projector and auxiliary head a gradient of norm at most ClipNorm (none
// without the warm-up), and the same one with one worker as with two.
func TestVisionWarmup(t *testing.T) {
	c := tinyConfig()
	c.TextSteps, c.TextBatch, c.TextLookupShare, c.TextLR = 2, 3, 0.5, 1e-3
	c.AuxBalance, c.ClipNorm = true, 0.5
	m := tinyModel(t, &c)
	grads := func(vb, workers int, clip float64) (map[string][]float32, LossRecord) {
		cw := c
		cw.TextVisionBatch, cw.Workers, cw.ClipNorm = vb, workers, clip
		if err := cw.Validate(); err != nil {
			t.Fatal(err)
		}
		aux := newAuxHead(cw.TextHidden, cw.Seed)
		s, err := newStepper(m, aux, &cw)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := s.step(1)
		if err != nil {
			t.Fatal(err)
		}
		g := map[string][]float32{}
		for _, p := range s.params {
			g[p.Name] = slices.Clone(p.Grad.Data)
		}
		return g, rec
	}
	norm := func(g map[string][]float32) float64 {
		var ss float64
		for name, d := range g {
			if isVisionParam(name) {
				for _, v := range d {
					ss += float64(v) * float64(v)
				}
			}
		}
		return math.Sqrt(ss)
	}
	off, _ := grads(0, 1, c.ClipNorm)
	clipped, _ := grads(4, 1, c.ClipNorm)
	on, rec := grads(4, 1, 0)
	on2, rec2 := grads(4, 2, 0)
	if n := norm(off); n != 0 {
		t.Fatalf("text step without warm-up: vision gradient norm %g", n)
	}
	if n, nc := norm(on), norm(clipped); n <= c.ClipNorm || math.Abs(nc-c.ClipNorm) > 1e-4 {
		t.Fatalf("warm-up gradient norm %g unclipped, %g clipped to %g", n, nc, c.ClipNorm)
	}
	if rec.AuxLoss <= 0 || math.Abs(rec.AuxLoss-rec2.AuxLoss) > 1e-9*rec.AuxLoss {
		t.Fatalf("warm-up loss %g with one worker, %g with two", rec.AuxLoss, rec2.AuxLoss)
	}
	for name, d := range off {
		if !isVisionParam(name) && !slices.Equal(d, clipped[name]) {
			t.Fatalf("%s: decoder gradient changed by the warm-up", name)
		}
	}
	// Equal up to float32 summation order, per tensor.
	for name, d := range on {
		var diff, size float64
		for j, v := range d {
			diff = max(diff, math.Abs(float64(v-on2[name][j])))
			size = max(size, math.Abs(float64(v)))
		}
		if diff > 1e-4*size {
			t.Fatalf("%s: gradients differ by %g (largest %g) between one and two workers", name, diff, size)
		}
	}
}

// TestTokenizerWords: the default tokenizer spells every colour, shape and
// size word as one token both inside a sentence (" green") and at the
// start of an answer ("green"), and a sign code one character per token.
func TestTokenizerWords(t *testing.T) {
	c := DefaultConfig()
	tok, err := tokenizer.Train(corpus(&c), tokenizer.TrainOptions{VocabSize: c.VocabSize, Special: Specials})
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	words = append(words, world.Colors...)
	words = append(words, world.Shapes...)
	words = append(words, world.Sizes...)
	for _, w := range words {
		for _, s := range []string{w, " " + w} {
			if ids := tok.Encode(s); len(ids) != 1 {
				t.Errorf("%q: %d tokens", s, len(ids))
			}
		}
	}
	for _, code := range []string{"KQ3Z", "AV", "Y6AV", "ZZ"} {
		if ids := tok.Encode(code); len(ids) != len(code) {
			t.Errorf("%q: %d tokens, want one per character", code, len(ids))
		}
	}
}

// TestAnswerPrefix: with the default tokenizer, every answer turn of a
// training conversation follows the same token as an answer after the
// generation prompt (which evaluation and generation use). The chat
// template renders a past assistant turn as "<|im_start|>assistant \n" but
// the generation prompt as "<|im_start|>assistant\n"; a tokenizer that
// merges " \n" gave the two different last tokens, and a run trained on
// such conversations answered every open question of the held-out set (one
// turn, generation prompt) with a multiple-choice letter. It checks the
// template form (PromptTurns off: runs configured before it, calibration
// data); TestPromptTurns checks the generation-prompt form.
func TestAnswerPrefix(t *testing.T) {
	c := tinyConfig()
	d := DefaultConfig()
	c.CorpusSize, c.VocabSize, c.QATurns = d.CorpusSize, d.VocabSize, 4
	c.PromptTurns = false
	m := tinyModel(t, &c)
	checked := 0
	for i := range 30 {
		in, ex, err := trainingInput(m, &c, 5, i)
		if err != nil {
			t.Fatal(err)
		}
		var img *image.RGB
		if ex.Scene != nil {
			img = image.ToRGB(ex.Scene.Render())
		}
		gp, err := promptInput(m, ex.Questions[0], img)
		if err != nil {
			t.Fatal(err)
		}
		want := gp.IDs[len(gp.IDs)-1]
		for k, turn := range answerTurns(in) {
			if got := in.IDs[turn[0]]; got != want {
				g, w := m.Tok.Decode([]int{got}, false), m.Tok.Decode([]int{want}, false)
				t.Fatalf("sample %d turn %d: answer after %q, the generation prompt ends %q", i, k, g, w)
			}
			checked++
		}
	}
	if checked < 60 {
		t.Fatalf("only %d answer turns", checked)
	}
}

// TestPromptTurns checks that with PromptTurns every answer of a training
// conversation follows exactly the tokens evaluation puts before one
// ("<|im_end|>" of the user turn, then the generation prompt), that every
// question's answer is labelled in order, and that without it the chat
// template's own rendering ("assistant \n") is kept for old runs.
func TestPromptTurns(t *testing.T) {
	c := tinyConfig()
	d := DefaultConfig()
	c.CorpusSize, c.VocabSize, c.QATurns = d.CorpusSize, d.VocabSize, 4
	m := tinyModel(t, &c)
	for _, on := range []bool{true, false} {
		c.PromptTurns = on
		checkTurnForms(t, m, &c, 5, !on)
	}
}

// TestTemplateTurnsUntil checks that with PromptTurns and
// TemplateTurnsUntil the conversations of steps up to it keep the
// template's past-turn form and later ones take the generation prompt's,
// in the text phase and the main phase.
func TestTemplateTurnsUntil(t *testing.T) {
	c := tinyConfig()
	d := DefaultConfig()
	c.CorpusSize, c.VocabSize, c.QATurns = d.CorpusSize, d.VocabSize, 4
	c.TextSteps, c.TextBatch, c.Steps = 10, 4, 30
	c.PromptTurns = true
	m := tinyModel(t, &c)
	for _, until := range []int{0, 10, 20} {
		c.TemplateTurnsUntil = until
		for _, step := range []int{5, 10, 11, 15, 20, 21} {
			checkTurnForms(t, m, &c, step, step <= until)
		}
	}
	c.TemplateTurnsUntil = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "template_turns_until") {
		t.Fatalf("template_turns_until -1: err %v", err)
	}
}

// checkTurnForms checks every answer turn of 30 training samples of step:
// it follows the chat template's past-turn form ("<|im_end|>",
// "<|im_start|>", "assistant \n") if template, else the generation
// prompt's ("assistant\n"; one-question samples always), and is labelled
// with its question's target and "<|im_end|>". It fails if fewer than 10
// samples have several turns.
func checkTurnForms(t *testing.T, m *llavaonevision.Model, c *Config, step int, template bool) {
	t.Helper()
	eos, _ := m.Tok.TokenToID("<|im_end|>")
	start, _ := m.Tok.TokenToID("<|im_start|>")
	prompt := append([]int{eos, start}, m.Tok.Encode("assistant\n")...)
	old := append([]int{eos, start}, m.Tok.Encode("assistant \n")...)
	want := prompt
	if template {
		want = old
	}
	multi := 0
	for i := range 30 {
		in, ex, err := trainingInput(m, c.at(step), step, i) // as the trainer's step does
		if err != nil {
			t.Fatal(err)
		}
		turns := answerTurns(in)
		if len(turns) != len(ex.Questions) {
			t.Fatalf("step %d sample %d: %d answer turns, %d questions", step, i, len(turns), len(ex.Questions))
		}
		if len(turns) > 1 {
			multi++
		} else if template {
			continue // one question: rendered either way
		}
		for k, turn := range turns {
			s := turn[0] + 1 // rows predict the next position's label
			if s < len(want) || !slices.Equal(in.IDs[s-len(want):s], want) {
				t.Fatalf("step %d sample %d turn %d (template form %v): answer after %q, want %q", step, i, k, template,
					m.Tok.Decode(in.IDs[max(0, s-len(want)):s], false), m.Tok.Decode(want, false))
			}
			target := append(m.Tok.Encode(ex.Questions[k].Target()), eos)
			var got []int
			for _, r := range turn {
				got = append(got, in.Labels[r+1])
			}
			if !slices.Equal(got, target) {
				t.Fatalf("step %d sample %d turn %d: labels %v, want %v", step, i, k, got, target)
			}
		}
	}
	if multi < 10 {
		t.Fatalf("step %d: only %d multi-turn samples", step, multi)
	}
}

// TestTextPromptLoss checks that with TextPromptLoss a text-phase language
// sample labels every prompt and answer token with its own id and no image
// row, that letter drills keep answer-only labels,
// that the main phase still labels answers only, and that the answer rows
// the guides use do not change with it.
func TestTextPromptLoss(t *testing.T) {
	c := tinyConfig()
	c.TextSteps, c.TextBatch, c.TextLookupShare, c.TextLR = 2, 4, 0.5, 1e-3
	c.Steps = 4
	m := tinyModel(t, &c)
	drills, lmSamples := 0, 0
	for _, step := range []int{1, 3} {
		for i := range 12 {
			c.TextPromptLoss = false
			plain, _, err := trainingInput(m, &c, step, i)
			if err != nil {
				t.Fatal(err)
			}
			c.TextPromptLoss = true
			lm, ex, err := trainingInput(m, &c, step, i)
			if err != nil {
				t.Fatal(err)
			}
			lmStep := step <= c.TextSteps && ex.Questions[0].Kind != world.LookupKind
			if ex.Questions[0].Kind == world.LookupKind {
				drills++
			} else if lmStep {
				lmSamples++
			}
			if !slices.Equal(plain.IDs, lm.IDs) || !slices.Equal(answerRows(plain), answerRows(lm)) {
				t.Fatalf("step %d sample %d: ids or answer rows differ with the prompt loss", step, i)
			}
			labelled := 0
			for p, md := range lm.Modality {
				want := nn.IgnoreIndex
				switch {
				case md == model.Answer, md == model.Prompt && lmStep:
					want = lm.IDs[p]
				}
				if md == model.Answer && plain.Labels[p] != lm.IDs[p] {
					t.Fatalf("step %d sample %d: answer position %d unlabelled without the prompt loss", step, i, p)
				}
				if md != model.Answer && plain.Labels[p] != nn.IgnoreIndex {
					t.Fatalf("step %d sample %d: %v position %d labelled without the prompt loss", step, i, md, p)
				}
				if lm.Labels[p] != want {
					t.Fatalf("step %d sample %d: %v position %d label %d, want %d", step, i, md, p, lm.Labels[p], want)
				}
				if lm.Labels[p] != nn.IgnoreIndex {
					labelled++
				}
			}
			if lmStep && labelled < 3*len(answerRows(lm)) {
				t.Fatalf("step %d sample %d: only %d labels for %d answer tokens", step, i, labelled, len(answerRows(lm)))
			}
		}
	}
	if drills == 0 || lmSamples == 0 {
		t.Fatalf("%d drills, %d language samples in the text phase: both cases must be checked", drills, lmSamples)
	}
}
