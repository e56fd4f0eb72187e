package train

import (
	"bytes"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/tensor"
	"mbq/testbed/world"
)

// TestLensTarget: the lens row is the multiple-choice guide's (the one
// predicting the letter) and the word is the first token of the correct
// option's first content word, articles skipped; open questions have none.
func TestLensTarget(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	q := world.Question{Question: "Which object is above the blue cube?", Options: []string{"the red star", "mapox", "an orange heart", "7"}}
	want := []string{"red", "mapox", "orange", "7"}
	for k, ans := range []string{"A", "B", "C", "D"} {
		q.Answer = ans
		in, err := m.Prepare(conversation(q, nil, true), false)
		if err != nil {
			t.Fatal(err)
		}
		turn := answerTurns(in)[0]
		row, word, ok := lensTarget(m.Tok, in, turn)
		if !ok {
			t.Fatalf("answer %s: no lens target", ans)
		}
		if row != turn[0] {
			t.Errorf("answer %s: row %d, want %d (the row predicting the letter)", ans, row, turn[0])
		}
		got := strings.TrimSpace(m.Tok.Decode([]int{word}, false))
		if got == "" || !strings.HasPrefix(want[k], got) {
			t.Errorf("answer %s: word %q, want the first token of %q", ans, got, want[k])
		}
	}
	open := world.Question{Question: "What colour is the cube?", Answer: "red"}
	in, err := m.Prepare(conversation(open, nil, true), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := lensTarget(m.Tok, in, answerTurns(in)[0]); ok {
		t.Error("open question has a lens target")
	}
}

// TestLensGradFD: lensGrad's loss is weight · Σ NLL of the words read out
// of the given rows through the final norm and the output embedding, its
// gradient matches central finite differences in x, rows not named get
// none, and the norm and the embedding get no gradient.
func TestLensGradFD(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	nn.ZeroGrads(m.Params())
	H := c.TextHidden
	rng := rand.New(rand.NewPCG(3, 9))
	x := tensor.New(7, H)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	rows, words := []int{1, 4, 6}, []int{5, 17, 5}
	const w = 0.7
	loss := func() float64 {
		norm := nn.RMSNorm{W: m.Norm.W, Eps: m.Norm.Eps}
		var sum float64
		for i, r := range rows {
			row := tensor.New(1, H)
			copy(row.Data, x.Data[r*H:(r+1)*H])
			logits := m.LMHead.Forward(norm.Forward(row))
			l, _ := nn.CrossEntropySum(nil, logits, []int{words[i]}, 1)
			sum += w * l
		}
		return sum
	}
	d, l, err := lensGrad(m, x, rows, words, w)
	if err != nil {
		t.Fatal(err)
	}
	if want := loss(); math.Abs(l-want) > 1e-5*want {
		t.Fatalf("loss %g, want %g", l, want)
	}
	if rel := rowGradError(t, x, d, rows, loss); rel > 1e-3 {
		t.Errorf("relative error %g", rel)
	}
	for _, p := range []*nn.Param{m.Norm.W, m.LMHead.W} {
		for _, g := range p.Grad.Data {
			if g != 0 {
				t.Fatal("the lens gave the final norm or the output embedding a gradient")
			}
		}
	}
	if _, _, err := lensGrad(m, tensor.New(3, H+1), []int{0}, []int{1}, w); err == nil {
		t.Error("wrong width accepted")
	}
	if _, _, err := lensGrad(m, x, []int{7}, []int{1}, w); err == nil {
		t.Error("row outside the hidden states accepted")
	}
}

// TestLensGradients: through the trainer, the lens adds a loss and changes
// the gradients of the blocks below the last one only (the last block,
// the final norm and the answer loss are untouched).
func TestLensGradients(t *testing.T) {
	c := tinyConfig()
	c.TextLayers, c.Heads, c.KVHeads = 3, 4, 2
	c.GuideWeight, c.ImageGuideWeight, c.AuxWeight = 0, 0, 0
	c.QATurns = 3
	c.World.LookupShare = 0.5
	m := tinyModel(t, &c)
	batch, exs := trainingBatch(t, m, &c, 2, 8)
	mc := 0
	for _, ex := range exs {
		for _, q := range ex.Questions {
			if q.MultipleChoice() {
				mc++
			}
		}
	}
	if mc == 0 {
		t.Fatal("no multiple-choice question in the batch")
	}
	run := func(w float64) (*lossResult, map[string][]float32) {
		cw := c
		cw.AnswerLensWeight = w
		return gradsWith(t, m, batch, exs, &cw)
	}
	off, g0 := run(0)
	on, g1 := run(0.5)
	if off.guides[lensLoss] != 0 || on.guides[lensLoss] <= 0 {
		t.Fatalf("lens loss off %g, on %g", off.guides[lensLoss], on.guides[lensLoss])
	}
	if on.Loss != off.Loss {
		t.Fatalf("answer loss %g with the lens, %g without", on.Loss, off.Loss)
	}
	changedBelow := false
	for name, a := range g0 {
		if slices.Equal(a, g1[name]) {
			continue
		}
		if strings.Contains(name, "layers.2.") || name == "language_model.model.norm.weight" {
			t.Errorf("%s: gradient changed by the lens", name)
		}
		changedBelow = changedBelow || strings.Contains(name, "layers.1.") || strings.Contains(name, "layers.0.")
	}
	if !changedBelow {
		t.Error("the lens changed no gradient of the blocks below the last")
	}
	bad := c
	bad.AnswerLensWeight = -1
	if err := bad.Validate(); err == nil {
		t.Error("negative lens weight accepted")
	}
}

// TestInit: a run started from a checkpoint (Config.Init) takes its
// tokenizer and weights (with a vanishing learning rate the weights after
// a step are the checkpoint's); a checkpoint of other sizes is refused,
// naming its config.json and the field.
func TestInit(t *testing.T) {
	c := tinyConfig()
	a := filepath.Join(t.TempDir(), "a")
	if _, err := Run(c, Options{Out: a}); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(a, BestDir)
	d := c
	d.Init, d.Seed, d.Steps, d.LR, d.EvalEvery = src, 7, 1, 1e-12, 0
	b := filepath.Join(t.TempDir(), "b")
	var log bytes.Buffer
	if _, err := Run(d, Options{Out: b, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "weights and tokenizer from "+src) {
		t.Errorf("log: %q", log.String())
	}
	sameFiles(t, src, filepath.Join(b, CheckpointDir), "from the init checkpoint's", "tokenizer.json")
	ma, err := llavaonevision.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := llavaonevision.Load(filepath.Join(b, CheckpointDir))
	if err != nil {
		t.Fatal(err)
	}
	pb := map[string][]float32{}
	for _, p := range mb.Params() {
		pb[p.Name] = p.Value.Data
	}
	for _, p := range ma.Params() {
		q := pb[p.Name]
		if len(q) != len(p.Value.Data) {
			t.Fatalf("%s: %d values after init, %d before", p.Name, len(q), len(p.Value.Data))
		}
		for i, v := range p.Value.Data {
			if math.Abs(float64(v-q[i])) > 1e-6 {
				t.Fatalf("%s[%d]: %g after a step from the checkpoint's %g", p.Name, i, q[i], v)
			}
		}
	}
	e := d
	e.TextHidden = 64
	_, err = Run(e, Options{Out: filepath.Join(t.TempDir(), "c")})
	if err == nil || !strings.Contains(err.Error(), "config.json") || !strings.Contains(err.Error(), "text_config.hidden_size") {
		t.Errorf("init of other sizes: %v", err)
	}
	e = d
	e.Tied = false
	_, err = Run(e, Options{Out: filepath.Join(t.TempDir(), "d")})
	if err == nil || !strings.Contains(err.Error(), "config.json") || !strings.Contains(err.Error(), "tie_word_embeddings") {
		t.Errorf("init with other tying: %v", err)
	}
}
