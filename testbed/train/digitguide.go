package train

import (
	"mbq/hf/tokenizer"
	"mbq/model"
	"mbq/testbed/world"
)

// The digit guide. Two-digit arithmetic asks, at the row that writes a
// digit of the result, for the operands' digits of the same place and of
// the place below it (the carry or the borrow). Left to the answer loss the
// recipe's decoder did not find them: trained on addition alone, 44,000
// questions, it answered 5–13% of unseen sums (the README, problem 12).
// With DigitGuideWeight > 0, for every question without an image whose
// subject words are numbers (world.Question.Subject: the operands of a
// sum, a difference or a product, the number of "what number comes
// after"), three query heads of the first decoder block are taught, at each
// guided row whose digit has place p (0: units),
//
//	head DigitGuideHeads[0] → the first operand's digit of place p,
//	head DigitGuideHeads[1] → the second operand's digit of place p,
//	head DigitGuideHeads[2] → both operands' digits of place p-1,
//
//	L_digit = -DigitGuideWeight/|rows_h| · Σ_h Σ_{rows_h} log Σ_{j ∈ keys} P_h[row, j]
//
// each where its digits exist, at the rows that predict the digits of an
// open answer. The first block sees no context yet, so the heads find the
// digits by their distance alone, which from an answer row is fixed for
// each phrasing of a question (the prompt after it never changes). Multiple-choice
// options are not guided: from an option's digit the distance to the
// operands depends on the option's line, and the place of its digit on
// digits not yet seen ("10" of "103" or "109"). Guided there too, the
// guide's loss stalled at 0.62 and open sums reached 16% after 1,250 steps
// of the probe; open answers alone, 0.10 and 36% after 500.

// DigitGuideHeads are the query heads of the first decoder block that the
// digit guide teaches (not LetterGuideHead).
var DigitGuideHeads = [3]int{0, 2, 3}

// digitGuide finds, for question q answered in turn (answerTurns) whose
// user turn starts at lo, the digit guide's rows and keys per head
// (DigitGuideHeads order; keys[h][i] belongs to rows[h][i]). ok is false
// when q has an image or options, its subject is not all numbers, its
// answer is not a number spelled one digit per token, or the operands are
// not the first runs of digit tokens after lo.
func digitGuide(tok *tokenizer.Tokenizer, in *model.Input, q world.Question, lo int, turn []int) (rows [3][]int, keys [3][][]int, ok bool) {
	if q.HasImage || q.MultipleChoice() || !isNumber(q.Answer) || len(q.Subject) == 0 || len(q.Subject) > 2 || len(turn) == 0 {
		return rows, keys, false
	}
	for _, w := range q.Subject {
		if !isNumber(w) {
			return rows, keys, false
		}
	}
	end := turn[0] // the prompt ends here
	digit := func(t int) (byte, bool) {
		s := tok.Decode(in.IDs[t:t+1], false)
		if len(s) != 1 || !isNumber(s) {
			return 0, false
		}
		return s[0], true
	}
	// The operands: the first runs of digit tokens of the user turn.
	var ops [2][]int // positions, most significant digit first
	t := lo
	for k := range q.Subject {
		for t < end {
			if _, isd := digit(t); isd {
				break
			}
			t++
		}
		var text []byte
		for ; t < end; t++ {
			d, isd := digit(t)
			if !isd {
				break
			}
			ops[k] = append(ops[k], t)
			text = append(text, d)
		}
		if string(text) != q.Subject[k] {
			return rows, keys, false
		}
	}
	at := func(op []int, p int) []int {
		if p < 0 || p >= len(op) {
			return nil
		}
		return []int{op[len(op)-1-p]}
	}
	ans := guidedRows(turn) // the rows predicting the answer's tokens
	if len(ans) != len(q.Answer) {
		return rows, keys, false
	}
	for i, r := range ans {
		if d, isd := digit(r + 1); !isd || d != q.Answer[i] {
			return rows, keys, false
		}
	}
	for i, r := range ans {
		p := len(ans) - 1 - i
		for h, ks := range [3][]int{at(ops[0], p), at(ops[1], p), append(at(ops[0], p-1), at(ops[1], p-1)...)} {
			if len(ks) > 0 {
				rows[h] = append(rows[h], r)
				keys[h] = append(keys[h], ks)
			}
		}
	}
	return rows, keys, true // head 0 guides at least the units row
}

// isNumber reports whether s is a non-empty run of decimal digits.
func isNumber(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
