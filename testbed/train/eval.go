package train

import (
	"fmt"

	"mbq/eval"
	"mbq/hf/image"
	"mbq/model/llavaonevision"
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
				q = world.LanguageQuestion(rng)
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
	return s
}
