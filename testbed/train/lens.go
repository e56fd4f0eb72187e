package train

import (
	"fmt"
	"strings"

	"mbq/hf/tokenizer"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/tensor"
)

// The answer lens. A multiple-choice answer is a content-addressed lookup
// in the last decoder block: the multiple-choice guide's head, at the row
// that predicts the letter, must find the option whose words match the
// answer. Its query is the hidden state entering the last block, so the
// answer has to be there already, in a form that matches the option's
// words. Measured on run19 (README, problem 14): the open form of the
// same image questions was answered (shape of an object named by its
// colour: 71%) while their multiple-choice form stayed at chance (26%),
// and the multiple choice of counting and of the language facts worked.
// With AnswerLensWeight > 0, at that row, the hidden state x entering the
// last block is read out through the final norm and the output embedding
// (a logit lens) and taught to name the correct option's first content
// word w:
//
//	L_lens = -AnswerLensWeight · log softmax(E · RMSNorm(x))[w]
//
// The norm's weight and the output embedding are applied as constants
// (they get no gradient from the lens; the output keeps its own loss), so
// the lens trains the blocks below the last one and the input side only.
// Evaluation and inference are unchanged.

// lensTarget finds, in a prepared multiple-choice answer turn (rows, as
// answerTurns gives them), the row that predicts the letter and the token
// of the correct option's first content word: the first token of the
// option's line that is not blank and not an article ("the red star" →
// "red"). ok is false when the turn is not a multiple-choice answer in
// the "\nX. option" layout or the option has no such token.
func lensTarget(tok *tokenizer.Tokenizer, in *model.Input, rows []int) (row, word int, ok bool) {
	row, keys, ok := mcGuide(tok, in, rows)
	if !ok {
		return 0, 0, false
	}
	for _, t := range keys {
		id := in.IDs[t]
		if holdsNewline(tok, id) {
			break
		}
		switch strings.ToLower(strings.TrimSpace(tok.Decode([]int{id}, false))) {
		case "", "the", "a", "an":
			continue
		}
		return row, id, true
	}
	return 0, 0, false
}

// lensGrad is the answer lens's gradient at the hidden states x ([T,
// hidden]) entering the last decoder block of m for the given rows and
// target words, each row's loss weighted by weight; it returns the
// gradient (nil without rows) and the weighted loss Σ weight·NLL.
func lensGrad(m *llavaonevision.Model, x *tensor.Tensor, rows, words []int, weight float32) (*tensor.Tensor, float64, error) {
	if len(rows) == 0 {
		return nil, 0, nil
	}
	H := m.Cfg.TextConfig.HiddenSize
	if len(x.Shape) != 2 || x.Shape[1] != H {
		return nil, 0, fmt.Errorf("answer lens: hidden states of shape %v, want [T %d]", x.Shape, H)
	}
	// Constant copies: same values, no gradient.
	norm := &nn.RMSNorm{W: nn.NewParam(m.Norm.W.Value), Eps: m.Norm.Eps}
	head := &nn.Linear{W: nn.NewParam(m.LMHead.W.Value)}
	sel, err := gatherRows(x, rows)
	if err != nil {
		return nil, 0, fmt.Errorf("answer lens: %w", err)
	}
	n := norm.Forward(sel)
	logits := head.Forward(n)
	dl := tensor.New(logits.Shape...)
	loss, _ := nn.CrossEntropySum(dl, logits, words, weight)
	dsel := norm.Backward(sel, head.Backward(n, dl))
	return scatterRows(dsel, rows, x.Shape[0]), float64(weight) * loss, nil
}

// gatherRows copies the given rows of x ([T, H]) into a [len(rows), H]
// tensor; a row outside x is an error.
func gatherRows(x *tensor.Tensor, rows []int) (*tensor.Tensor, error) {
	H := x.Shape[1]
	sel := tensor.New(len(rows), H)
	for i, r := range rows {
		if r < 0 || r >= x.Shape[0] {
			return nil, fmt.Errorf("row %d outside the %d hidden states", r, x.Shape[0])
		}
		copy(sel.Data[i*H:(i+1)*H], x.Data[r*H:(r+1)*H])
	}
	return sel, nil
}

// scatterRows is the gradient of gatherRows: a [T, H] tensor holding, at
// each of rows, the sum of d's rows gathered from it.
func scatterRows(d *tensor.Tensor, rows []int, T int) *tensor.Tensor {
	H := d.Shape[1]
	dx := tensor.New(T, H)
	for i, r := range rows {
		out := dx.Data[r*H : (r+1)*H]
		for j, v := range d.Data[i*H : (i+1)*H] {
			out[j] += v
		}
	}
	return dx
}
