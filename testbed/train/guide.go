package train

import (
	"image"
	"slices"
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

// mcGuide finds, in a prepared multiple-choice sample whose answer turn
// has the given rows (answerTurns), the row whose next token is the answer
// letter and the token positions of the correct option's line. ok is false
// when the turn is not a multiple-choice answer or the tokens do not show
// the "\nX. option" layout (then it is not guided).
func mcGuide(tok *tokenizer.Tokenizer, in *model.Input, rows []int) (row int, keys []int, ok bool) {
	if len(rows) == 0 {
		return 0, nil, false
	}
	a := rows[0] + 1 // the first answer token
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

// The image guide. The same supervision for the other lookup a question
// needs: for every image question with a focus (world.Question.Focus: the
// objects or the sign the answer depends on), query head ImageGuideHead of
// the second-to-last decoder block is taught, at each row that predicts an
// answer token (the end-of-turn token excepted), to look at the image
// tokens of the focus cells,
//
//	L_image = -ImageGuideWeight/|rows| · Σ_rows log Σ_{j ∈ focus patches} P[row, j]
//
// so the last block can match what was found against the options.

// ImageGuideHead is the query head of the second-to-last decoder block
// that is guided to the image.
const ImageGuideHead = 0

// imageGuide finds the rows of an answer turn (answerTurns) that are
// guided (guidedRows) and the positions of the image tokens whose patch
// centre lies in one of the focus cells (imagePositions). ok is false
// without a focus or when the image tokens are not laid out that way.
func imageGuide(in *model.Input, imageToken int, focus, turn []int, c *Config) (rows, keys []int, ok bool) {
	if len(focus) == 0 {
		return nil, nil, false
	}
	pos, ok := imagePositions(in, imageToken, c)
	if !ok {
		return nil, nil, false
	}
	side := c.ImageSize / c.PatchSize
	for pr := range side {
		for pc := range side {
			r, col := patchCell(pr, pc, c.PatchSize, c.World.Size, c.World.Grid)
			if slices.Contains(focus, r*c.World.Grid+col) {
				keys = append(keys, patchTokens(pos, side, pr, pc)...)
			}
		}
	}
	rows = guidedRows(turn)
	if len(keys) == 0 || len(rows) == 0 {
		return nil, nil, false
	}
	slices.Sort(keys)
	return rows, keys, true
}

// imagePositions are the positions of the image tokens of a sample with one
// image, in the testbed's packing: the base tile's side² rows, then the grid
// tile (the same image, the image being one tile) row by row with an
// image_newline after each row. ok is false for any other layout.
func imagePositions(in *model.Input, imageToken int, c *Config) ([]int, bool) {
	var pos []int
	for t, id := range in.IDs {
		if id == imageToken {
			pos = append(pos, t)
		}
	}
	side := c.ImageSize / c.PatchSize
	return pos, len(pos) == side*side+side*(side+1)
}

// patchTokens are the positions of patch (pr, pc) in both tiles, given
// imagePositions' pos.
func patchTokens(pos []int, side, pr, pc int) []int {
	return []int{pos[pr*side+pc], pos[side*side+pr*(side+1)+pc]}
}

// guidedRows are the rows of an answer turn that the image guides teach:
// all but the one predicting the end of turn (a one-row turn keeps it).
func guidedRows(turn []int) []int {
	if len(turn) > 1 {
		return turn[:len(turn)-1]
	}
	return turn
}

// The reading guide. For a question answered by reading the sign
// (world.Question.Glyphs), the image guide is made exact: the row that
// predicts an answer token is taught to look at the image tokens of the
// patches holding the glyph centres of the characters that token spells
// (the patches whose character slots the auxiliary head labels with them),
// so the sign is read glyph by glyph, in order, with the same loss and
// weight as the image guide.

// signGuide finds, for a reading question answered in turn, the guided rows
// and for each its keys. ok is false when the question is not a reading
// one, the scene has no sign, or the turn's tokens do not spell the answer.
func signGuide(tok *tokenizer.Tokenizer, in *model.Input, imageToken int, s *world.Scene, q world.Question, turn []int, c *Config) (rows []int, keys [][]int, ok bool) {
	if len(q.Glyphs) == 0 || s == nil || s.Sign == nil {
		return nil, nil, false
	}
	pos, ok := imagePositions(in, imageToken, c)
	if !ok {
		return nil, nil, false
	}
	glyphs := s.SignGlyphs()
	side := c.ImageSize / c.PatchSize
	rows = guidedRows(turn)
	var spelled strings.Builder
	for _, r := range rows {
		a := spelled.Len()
		spelled.WriteString(tok.Decode(in.IDs[r+1:r+2], false))
		if !strings.HasPrefix(q.Answer, spelled.String()) {
			return nil, nil, false
		}
		var ks []int
		for _, g := range q.Glyphs[a:spelled.Len()] {
			if g < 0 || g >= len(glyphs) {
				return nil, nil, false
			}
			pr, pc := glyphPatch(glyphs[g], c.PatchSize, side)
			ks = append(ks, patchTokens(pos, side, pr, pc)...)
		}
		slices.Sort(ks)
		keys = append(keys, slices.Compact(ks))
	}
	if spelled.String() != q.Answer || len(rows) == 0 {
		return nil, nil, false
	}
	return rows, keys, true
}

// turnImageGuide is the image guide of one answer turn: the reading guide
// (signGuide) where it applies, else every guided row on the focus cells
// (imageGuide). keys[i] belongs to rows[i].
func turnImageGuide(tok *tokenizer.Tokenizer, in *model.Input, imageToken int, s *world.Scene, q world.Question, turn []int, c *Config) (rows []int, keys [][]int, ok bool) {
	if rows, keys, ok := signGuide(tok, in, imageToken, s, q, turn, c); ok {
		return rows, keys, true
	}
	rows, focus, ok := imageGuide(in, imageToken, q.Focus, turn, c)
	if !ok {
		return nil, nil, false
	}
	keys = make([][]int, len(rows))
	for i := range keys {
		keys[i] = focus
	}
	return rows, keys, true
}

// answerRows are the rows whose next token is labelled (position t
// predicts Labels[t+1]), in order.
func answerRows(in *model.Input) []int {
	var rows []int
	for t := 1; t < len(in.Labels); t++ {
		if in.Labels[t] != nn.IgnoreIndex {
			rows = append(rows, t-1)
		}
	}
	return rows
}

// answerTurns splits answerRows into the runs of consecutive rows, one per
// assistant turn.
func answerTurns(in *model.Input) [][]int {
	var turns [][]int
	for _, r := range answerRows(in) {
		if n := len(turns); n > 0 && turns[n-1][len(turns[n-1])-1] == r-1 {
			turns[n-1] = append(turns[n-1], r)
			continue
		}
		turns = append(turns, []int{r})
	}
	return turns
}

// glyphPatch is the patch (row, column) of a tile of side x side patches
// holding the centre of glyph box b; the auxiliary labels and the reading
// guide both place glyphs with it.
func glyphPatch(b image.Rectangle, patch, side int) (pr, pc int) {
	cy, cx := (b.Min.Y+b.Max.Y)/2, (b.Min.X+b.Max.X)/2
	return min(cy/patch, side-1), min(cx/patch, side-1)
}

// patchCell is the grid cell (row, column) holding the centre of patch
// (pr, pc) of an image of size pixels on a grid x grid layout; the
// auxiliary labels and the image guide both place patches with it.
func patchCell(pr, pc, patch, size, grid int) (row, col int) {
	cell := size / grid
	cy, cx := pr*patch+patch/2, pc*patch+patch/2
	return min(cy/cell, grid-1), min(cx/cell, grid-1)
}
