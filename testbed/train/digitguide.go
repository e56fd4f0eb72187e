package train

import (
	"slices"

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
// each where its digits exist. The guided rows are the rows that predict the
// digits of an open answer, and the digit tokens of every option of a
// multiple-choice one, so that an option's digit can check itself against
// the operands before the last block picks the option.

// DigitGuideHeads are the query heads of the first decoder block that the
// digit guide teaches (not LetterGuideHead).
var DigitGuideHeads = [3]int{0, 2, 3}

// digitGuide finds, for question q answered in turn (answerTurns) whose
// user turn starts at lo, the digit guide's rows and keys per head
// (DigitGuideHeads order; keys[h][i] belongs to rows[h][i]). ok is false when q has an image, its subject is
// not all numbers, the operands are not found as the first runs of digit
// tokens after lo, or no row is guided.
func digitGuide(tok *tokenizer.Tokenizer, in *model.Input, q world.Question, lo int, turn []int) (rows [3][]int, keys [3][][]int, ok bool) {
	if q.HasImage || len(q.Subject) == 0 || len(q.Subject) > 2 || len(turn) == 0 {
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
	add := func(row, p int) {
		for h, ks := range [3][]int{at(ops[0], p), at(ops[1], p), append(at(ops[0], p-1), at(ops[1], p-1)...)} {
			if len(ks) > 0 {
				rows[h] = append(rows[h], row)
				keys[h] = append(keys[h], ks)
			}
		}
	}
	// guideNumber guides the rows of a number whose digit tokens are at
	// pos (most significant first): row(i) for digit i.
	guideNumber := func(pos []int, row func(i int) int) {
		for i := range pos {
			add(row(i), len(pos)-1-i)
		}
	}
	if q.MultipleChoice() {
		letters, dot, found := optionLabelIDs(tok)
		if !found {
			return rows, keys, false
		}
		for t := max(lo, 1); t+2 < end; t++ {
			if !slices.Contains(letters, in.IDs[t]) || in.IDs[t+1] != dot || !endsWithNewline(tok, in.IDs[t-1]) {
				continue
			}
			var pos []int
			for r := t + 2; r < end && !holdsNewline(tok, in.IDs[r]); r++ {
				if _, isd := digit(r); isd {
					pos = append(pos, r)
				}
			}
			guideNumber(pos, func(i int) int { return pos[i] })
		}
	} else if isNumber(q.Answer) {
		ans := guidedRows(turn) // the rows predicting the answer's tokens
		if len(ans) != len(q.Answer) {
			return rows, keys, false
		}
		for i, r := range ans {
			if d, isd := digit(r + 1); !isd || d != q.Answer[i] {
				return rows, keys, false
			}
		}
		guideNumber(ans, func(i int) int { return ans[i] })
	}
	for h := range rows {
		if len(rows[h]) > 0 {
			return rows, keys, true
		}
	}
	return rows, keys, false
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
