package train

import (
	"fmt"
	"slices"
	"strings"

	"mbq/eval"
	"mbq/hf/image"
	"mbq/model/llavaonevision"
	"mbq/quant"
	"mbq/testbed/world"
)

// CategoryMetrics are the held-out scores of one category.
type CategoryMetrics struct {
	N int `json:"n"`
	// NLL is the mean negative log-likelihood per answer token (the
	// end-of-turn token included), averaged over the category's tokens.
	NLL float64 `json:"nll"`
	// Accuracy: multiple choice, the option letter with the highest
	// log-likelihood after the generation prompt; open-ended, every answer
	// token the argmax under teacher forcing (= greedy exact match).
	// Captions have no accuracy (-1).
	Accuracy float64 `json:"accuracy"`
}

// EvalResult is one held-out evaluation.
type EvalResult struct {
	Step        int                        `json:"step"`
	NLL         float64                    `json:"nll"`      // mean over categories
	Accuracy    float64                    `json:"accuracy"` // mean over categories with an accuracy
	MCAccuracy  float64                    `json:"mc_accuracy"`
	PerCategory map[string]CategoryMetrics `json:"per_category"`
	// Quant is the same evaluation with the decoder's weights quantized
	// (Options.EvalQuantBits), or nil.
	Quant *QuantEval `json:"quant,omitempty"`
}

// QuantEval is a held-out evaluation of the model with every decoder linear
// round-to-nearest quantized: whether quantization bites, issue 4's second
// gate, followed through training.
type QuantEval struct {
	Spec string `json:"spec"` // the weight spec(s), e.g. "w3g128"
	EvalResult
}

// evalQuantGroup is the group size of the held-out quantized evaluation,
// the paper's W3A16 g128.
const evalQuantGroup = 128

// evalQuantSpec is the weight spec for a matrix of cols input channels:
// asymmetric, bits wide, groups of 128 input channels, or one group per
// output channel when cols is not a multiple of 128.
func evalQuantSpec(bits, cols int) quant.WeightSpec {
	s := quant.WeightSpec{Bits: bits, Group: evalQuantGroup}
	if cols%evalQuantGroup != 0 {
		s.Group = 0
	}
	return s
}

// evaluateQuantized scores items as evaluate does with every decoder linear's
// weight replaced by W = Dequantize(Quantize(W)) under evalQuantSpec (RTN,
// package quant), then puts the full-precision weights back bit for bit,
// also on failure.
func evaluateQuantized(m *llavaonevision.Model, items []eval.Item, bits int) (*QuantEval, error) {
	ls := m.DecoderLinears()
	saved := make([][]float32, len(ls))
	defer func() {
		for i, w := range saved {
			if w != nil {
				copy(ls[i].W.Value.Data, w)
			}
		}
	}()
	var specs []string
	for i, l := range ls {
		if l.W == nil {
			return nil, fmt.Errorf("held-out quantized: %s holds packed weights", l.Name)
		}
		spec := evalQuantSpec(bits, l.In())
		if name := spec.String(); !slices.Contains(specs, name) {
			specs = append(specs, name)
		}
		saved[i] = append([]float32(nil), l.W.Value.Data...)
		if err := quant.FakeQuant(l.W.Value.Data, l.Out(), l.In(), spec); err != nil {
			return nil, fmt.Errorf("held-out quantized: %s: %w", l.Name, err)
		}
	}
	r, err := evaluate(m, items, heldOutBatch)
	if err != nil {
		return nil, err
	}
	return &QuantEval{Spec: strings.Join(specs, "+"), EvalResult: *r}, nil
}

// buildHeldOut draws perCat questions of each category from the reserved
// held-out seed, as benchmark items holding their images in memory.
func buildHeldOut(cfg world.Config, perCat int) []eval.Item {
	var items []eval.Item
	for ci, cat := range world.Categories {
		for j := 0; j < perCat; j++ {
			rng := streamRNG(HeldOutSeed, heldOutDomain, uint64(ci)<<32|uint64(j))
			var q world.Question
			var img *image.RGB
			if cat == world.Language {
				q = world.LanguageQuestion(rng, cfg.Facts())
			} else {
				for {
					s := world.NewScene(rng, cfg)
					if cat == world.Text && s.Sign == nil {
						continue // text questions need a sign
					}
					var ok bool
					if q, ok = s.Question(rng, cat); ok {
						img = image.ToRGB(s.Render())
						break
					}
				}
			}
			items = append(items, eval.Item{ID: fmt.Sprintf("held-out-%s-%d", cat, j), Category: cat,
				Pixels: img, Question: q.Question, Options: q.Options, Answer: q.Answer, Attributes: q.Attributes})
		}
	}
	return items
}

// heldOutBatch is the number of held-out questions scored per forward pass.
const heldOutBatch = 8

// evaluate scores the held-out items with package eval: multiple choice
// by option-letter log-likelihood, open-ended answers teacher-forced
// (right when greedy decoding would give the reference exactly), captions
// by their NLL only.
func evaluate(m *llavaonevision.Model, items []eval.Item, batch int) (*EvalResult, error) {
	rep, err := eval.Evaluate(m, items, eval.Options{TeacherForced: true, BatchSize: batch})
	if err != nil {
		return nil, fmt.Errorf("held-out: %w", err)
	}
	r := &EvalResult{PerCategory: map[string]CategoryMetrics{}}
	nAcc := 0
	for _, c := range rep.CategoryOrder {
		cm := CategoryMetrics{N: rep.Counts[c], NLL: rep.NLLByCategory[c], Accuracy: -1}
		if a, ok := rep.Categories[c]; ok {
			cm.Accuracy = a / 100
			r.Accuracy += cm.Accuracy
			nAcc++
		}
		r.NLL += cm.NLL
		r.PerCategory[c] = cm
	}
	if n := len(rep.CategoryOrder); n > 0 {
		r.NLL /= float64(n)
	}
	if nAcc > 0 {
		r.Accuracy /= float64(nAcc)
	}
	mcN, mcRight := 0, 0
	for _, it := range rep.Items {
		if it.Kind == eval.MultipleChoice {
			mcN++
			if it.Correct {
				mcRight++
			}
		}
	}
	if mcN > 0 {
		r.MCAccuracy = float64(mcRight) / float64(mcN)
	}
	return r, nil
}

// String is a one-line summary followed by the categories.
func (r *EvalResult) String() string {
	s := fmt.Sprintf("held-out step %d: nll %.4f  accuracy %.3f  mc %.3f |", r.Step, r.NLL, r.Accuracy, r.MCAccuracy)
	for _, c := range world.Categories {
		cm, ok := r.PerCategory[c]
		if !ok {
			continue
		}
		if cm.Accuracy >= 0 {
			s += fmt.Sprintf(" %s %.2f/%.3f", c, cm.Accuracy, cm.NLL)
		} else {
			s += fmt.Sprintf(" %s -/%.3f", c, cm.NLL)
		}
	}
	if q := r.Quant; q != nil {
		s += fmt.Sprintf(" || %s RTN: nll %.4f (%+.1f%%) accuracy %.3f mc %.3f", q.Spec, q.NLL, 100*(q.NLL/r.NLL-1), q.Accuracy, q.MCAccuracy)
	}
	return s
}
