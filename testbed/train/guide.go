package train

import (
	"strings"

	"mbq/hf/tokenizer"
	"mbq/model"
	"mbq/nn"
	"mbq/testbed/world"
)

// Supervised attention for the multiple-choice letter binding.
//
// A multiple-choice answer needs a content-addressed lookup: at the row that
// predicts the letter, find the option line whose content matches the
// answer and read off the letter written before it. Left to the answer loss
// alone this circuit forms only after a long, seed-dependent plateau (the
// README's testbed section has the measurements). With GuideWeight > 0 each
// multiple-choice sample adds, for query head GuideHead of the last decoder
// block,
//
//	L_guide = -GuideWeight · log Σ_{j ∈ line} P[row, j]
//
// where row predicts the letter and line holds the tokens of the correct
// option after its "X." label, through the line's newline: the attention
// is taught where to look, the value and output paths (which letter to
// emit) still learn from the answer loss. Evaluation and inference are
// unchanged; the loss is a training aid like the auxiliary image head.

// GuideHead is the query head of the last decoder block that is guided.
const GuideHead = 0

// mcGuide finds, in a prepared multiple-choice sample, the row whose next
// token is the answer letter and the token positions of the correct
// option's line. ok is false when the sample is not multiple choice or its
// tokens do not show the "\nX. option" layout (then it is not guided).
func mcGuide(tok *tokenizer.Tokenizer, in *model.Input) (row int, keys []int, ok bool) {
	a := -1
	for t, l := range in.Labels {
		if l != nn.IgnoreIndex {
			a = t
			break
		}
	}
	if a < 1 {
		return 0, nil, false
	}
	letter := -1
	ids := make([]int, len(world.Letters))
	for k, l := range world.Letters {
		id, found := tok.TokenToID(l)
		if !found {
			return 0, nil, false
		}
		ids[k] = id
		if in.IDs[a] == id {
			letter = k
		}
	}
	dot, found := tok.TokenToID(".")
	if letter < 0 || !found {
		return 0, nil, false
	}
	endsLine := func(t int) bool {
		s, _ := tok.IDToToken(t)
		return strings.HasSuffix(s, "Ċ") // byte-level BPE's newline
	}
	// The last "\n<letter>." before the answer labels the correct option.
	p := -1
	for t := a - 2; t >= 1; t-- {
		if in.IDs[t] == ids[letter] && in.IDs[t+1] == dot && endsLine(in.IDs[t-1]) {
			p = t
			break
		}
	}
	if p < 0 {
		return 0, nil, false
	}
	for t := p + 2; t < a; t++ {
		keys = append(keys, t)
		if s, _ := tok.IDToToken(in.IDs[t]); strings.Contains(s, "Ċ") {
			break
		}
	}
	if len(keys) < 2 { // content and newline
		return 0, nil, false
	}
	return a - 1, keys, true
}
