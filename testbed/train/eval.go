package train

import (
	"fmt"
	"math"
	"sort"

	"mbq/hf/image"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/testbed/world"
)

// heldOutItem is one prepared held-out question: the generation prompt
// followed by the answer.
type heldOutItem struct {
	cat     string
	mc      bool
	caption bool
	in      *model.Input
	start   int   // first answer position
	letters []int // option-letter token ids (multiple choice)
	answer  int   // index of the right letter
}

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
// held-out seed and prepares them.
func buildHeldOut(m *llavaonevision.Model, cfg world.Config, perCat int) ([]heldOutItem, error) {
	var items []heldOutItem
	var letters []int
	for _, l := range world.Letters {
		ids := m.Tok.Encode(l)
		if len(ids) != 1 {
			return nil, fmt.Errorf("held-out: option letter %q is %d tokens, want 1", l, len(ids))
		}
		letters = append(letters, ids[0])
	}
	for ci, cat := range world.Categories {
		for j := 0; j < perCat; j++ {
			rng := streamRNG(HeldOutSeed, heldOutDomain, uint64(ci)<<32|uint64(j))
			var q world.Question
			var img *image.RGB
			if cat == world.Language {
				q = world.LanguageQuestion(rng)
			} else {
				for {
					var s *world.Scene
					if cat == world.Text {
						// Text questions need a sign: draw until one has it.
						s = world.NewScene(rng, cfg)
						if s.Sign == nil {
							continue
						}
					} else {
						s = world.NewScene(rng, cfg)
					}
					var ok bool
					if q, ok = s.Question(rng, cat); ok {
						img = image.ToRGB(s.Render())
						break
					}
				}
			}
			in, err := promptInput(m, q, img)
			if err != nil {
				return nil, fmt.Errorf("held-out %s %d: %w", cat, j, err)
			}
			in, start, err := appendAnswer(m, in, q.Target())
			if err != nil {
				return nil, err
			}
			it := heldOutItem{cat: cat, mc: q.MultipleChoice(), caption: cat == world.CaptionCat, in: in, start: start}
			if it.mc {
				it.letters = letters[:len(q.Options)]
				for k, l := range world.Letters {
					if l == q.Answer {
						it.answer = k
					}
				}
			}
			items = append(items, it)
		}
	}
	return items, nil
}

// evaluate scores the held-out items, batch at a time.
func evaluate(m *llavaonevision.Model, items []heldOutItem, batch int) (*EvalResult, error) {
	type acc struct {
		nll            float64
		tokens         int
		n, right, with int
	}
	per := map[string]*acc{}
	mcN, mcRight := 0, 0
	for lo := 0; lo < len(items); lo += batch {
		hi := min(len(items), lo+batch)
		ins := make([]*model.Input, 0, hi-lo)
		for _, it := range items[lo:hi] {
			ins = append(ins, it.in)
		}
		outs, err := m.Forward(ins, nil)
		if err != nil {
			return nil, fmt.Errorf("held-out: %w", err)
		}
		for k, it := range items[lo:hi] {
			a := per[it.cat]
			if a == nil {
				a = &acc{}
				per[it.cat] = a
			}
			a.n++
			lg := outs[k].Logits
			V := lg.Cols()
			allArgmax := true
			for t := it.start; t < len(it.in.IDs); t++ {
				row := lg.Data[(t-1)*V : t*V]
				lp, am := logSoftmaxAt(row, it.in.IDs[t])
				a.nll -= lp
				a.tokens++
				if am != it.in.IDs[t] {
					allArgmax = false
				}
			}
			switch {
			case it.caption:
			case it.mc:
				row := lg.Data[(it.start-1)*V : it.start*V]
				best := 0
				for j, id := range it.letters {
					if row[id] > row[it.letters[best]] {
						best = j
					}
				}
				a.with++
				mcN++
				if best == it.answer {
					a.right++
					mcRight++
				}
			default:
				a.with++
				if allArgmax {
					a.right++
				}
			}
		}
	}
	r := &EvalResult{PerCategory: map[string]CategoryMetrics{}}
	cats := make([]string, 0, len(per))
	for c := range per {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	nAcc := 0
	for _, c := range cats {
		a := per[c]
		cm := CategoryMetrics{N: a.n, NLL: a.nll / float64(max(1, a.tokens)), Accuracy: -1}
		if a.with > 0 {
			cm.Accuracy = float64(a.right) / float64(a.with)
			r.Accuracy += cm.Accuracy
			nAcc++
		}
		r.NLL += cm.NLL
		r.PerCategory[c] = cm
	}
	if len(cats) > 0 {
		r.NLL /= float64(len(cats))
	}
	if nAcc > 0 {
		r.Accuracy /= float64(nAcc)
	}
	if mcN > 0 {
		r.MCAccuracy = float64(mcRight) / float64(mcN)
	}
	return r, nil
}

// logSoftmaxAt returns log softmax(row)[id] and the argmax of row.
func logSoftmaxAt(row []float32, id int) (float64, int) {
	mx, am := row[0], 0
	for j, v := range row {
		if v > mx {
			mx, am = v, j
		}
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v - mx))
	}
	return float64(row[id]-mx) - math.Log(s), am
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
