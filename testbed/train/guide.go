package train

import (
	"image"
	"slices"
	"strings"

	"mbq/hf/tokenizer"
	"mbq/model"
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
	ids, dot, ok := optionLabelIDs(tok)
	if !ok {
		return 0, nil, false
	}
	letter := slices.Index(ids, in.IDs[a])
	if letter < 0 {
		return 0, nil, false
	}
	endsLine := func(t int) bool { return endsWithNewline(tok, t) }
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
		if holdsNewline(tok, in.IDs[t]) {
			break
		}
	}
	if len(keys) < 2 { // content and newline
		return 0, nil, false
	}
	return a - 1, keys, true
}

// optionLabelIDs are the token ids of the option letters (in
// world.Letters order) and of the "." that follows each; ok is false when
// the tokenizer lacks one of them.
func optionLabelIDs(tok *tokenizer.Tokenizer) (letters []int, dot int, ok bool) {
	for _, l := range world.Letters {
		id, found := tok.TokenToID(l)
		if !found {
			return nil, 0, false
		}
		letters = append(letters, id)
	}
	dot, ok = tok.TokenToID(".")
	return letters, dot, ok
}

// endsWithNewline and holdsNewline report whether token id ends with or
// contains a newline ("Ċ" in byte-level BPE's alphabet).
func endsWithNewline(tok *tokenizer.Tokenizer, id int) bool {
	s, _ := tok.IDToToken(id)
	return strings.HasSuffix(s, "Ċ")
}

func holdsNewline(tok *tokenizer.Tokenizer, id int) bool {
	s, _ := tok.IDToToken(id)
	return strings.Contains(s, "Ċ")
}

// The option-letter guide. The multiple-choice guide's head reads the
// letter from the correct option's words, but a word of an option knows
// its letter only if an earlier head has copied it there: the letter sits
// two or more tokens before it ("\nC. red"). That copy is the first half
// of an induction-like circuit, which left alone forms after a long,
// seed-dependent plateau (run14's text phase: the multiple-choice head put
// 44% of its mass on the right line while the letters stayed at chance).
// With LetterGuideWeight > 0, query head LetterGuideHead of the first
// decoder block is taught, at every token of every option of a
// multiple-choice question (the tokens after "X." through the line's
// newline), to look at that option's letter,
//
//	L_letter = -LetterGuideWeight/|rows| · Σ_rows log P[row, letter(row)]

// LetterGuideHead is the query head of the first decoder block that is
// guided to the option letters (not a head of the referent guide, which
// shares the first block with a three-layer decoder).
const LetterGuideHead = 1

// letterGuide finds, in the user turn of a multiple-choice question that
// lies between position lo and the answer rows, the tokens of every
// option line ("\nX. words\n": the tokens after the ".", through the one
// holding the newline) and, for each, the position of its letter. ok is
// false when no option line is found.
func letterGuide(tok *tokenizer.Tokenizer, in *model.Input, lo int, turn []int) (rows []int, keys [][]int, ok bool) {
	letters, dot, ok := optionLabelIDs(tok)
	if len(turn) == 0 || !ok {
		return nil, nil, false
	}
	end := turn[0] // the answer's first row: the prompt ends here
	for t := max(lo, 1); t+2 < end; t++ {
		if !slices.Contains(letters, in.IDs[t]) || in.IDs[t+1] != dot || !endsWithNewline(tok, in.IDs[t-1]) {
			continue
		}
		for r := t + 2; r < end; r++ {
			rows = append(rows, r)
			keys = append(keys, []int{t})
			if holdsNewline(tok, in.IDs[r]) {
				break
			}
		}
	}
	return rows, keys, len(rows) > 0
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
// so the last block can match what was found against the options. With
// Config.ImageGuideHeads several heads are taught, each with the same
// weight; two heads split a question about two named objects between them
// (imageGuideQuestion).

// ImageGuideHead is the query head of the second-to-last decoder block
// that is guided to the image.
const ImageGuideHead = 0

// imageGuideQuestion is q as the image guide's i-th head
// (Config.imageGuideHeads) sees it: with two heads, a question about two
// named objects (world.PairKinds) keeps only the i-th named object's cell
// in its focus; any other question, or one head, keeps q whole.
func imageGuideQuestion(c *Config, q world.Question, i int) world.Question {
	if len(c.imageGuideHeads()) == 2 && world.PairKinds[q.Kind] && len(q.Focus) == 2 {
		q.Focus = q.Focus[i : i+1]
	}
	return q
}

// imageGuide finds the rows of an answer turn (answerTurns) that are
// guided (guidedRows) and the positions of the image tokens whose patch
// centre lies in one of the focus cells (imagePositions). ok is false
// without a focus or when the image tokens are not laid out that way.
func imageGuide(in *model.Input, imageToken int, focus, turn []int, c *Config) (rows, keys []int, ok bool) {
	pos, ok := imagePositions(in, imageToken, c)
	if !ok {
		return nil, nil, false
	}
	keys = focusKeys(pos, focus, c)
	rows = guidedRows(turn)
	if len(keys) == 0 || len(rows) == 0 {
		return nil, nil, false
	}
	return rows, keys, true
}

// focusKeys are the positions, in increasing order, of the image tokens
// whose patch centre lies in one of the focus cells, given the sample's
// imagePositions; nil without a focus.
func focusKeys(pos, focus []int, c *Config) []int {
	if len(focus) == 0 {
		return nil
	}
	side := c.ImageSize / c.PatchSize
	var keys []int
	for pr := range side {
		for pc := range side {
			r, col := patchCell(pr, pc, c.PatchSize, c.World.Size, c.World.Grid)
			if slices.Contains(focus, r*c.World.Grid+col) {
				keys = append(keys, patchTokens(pos, side, pr, pc)...)
			}
		}
	}
	slices.Sort(keys)
	return keys
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

// answerRows are the rows whose next token is an answer token (position t
// predicts position t+1), in order. They are found by modality, not by
// label: with TextPromptLoss prompt tokens are labelled too.
func answerRows(in *model.Input) []int {
	var rows []int
	for t := 1; t < len(in.Modality); t++ {
		if in.Modality[t] == model.Answer {
			rows = append(rows, t-1)
		}
	}
	return rows
}

// turnStart is the first position after answer turn k-1 (0 for k = 0): the
// user turn of question k lies between it and turns[k].
func turnStart(turns [][]int, k int) int {
	if k == 0 {
		return 0
	}
	prev := turns[k-1]
	return prev[len(prev)-1] + 1
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

// The referent guide. The image guide's query at an answer row must already
// know what the question refers to ("the large star", "the object in the
// second row, third column"), and those words sit in the question, dozens
// of tokens back and after earlier turns of the conversation. For every
// image question whose text names colours, shapes, sizes or grid positions,
// query heads ReferentGuideHeads of the third-to-last decoder block are
// taught, at each guided answer row, to look at those words of the current
// question: the first head at the row reference (its ordinal and "row"),
// the second at the column reference, both at the attribute words, so the
// two heads together carry the referent with its row/column order,
//
//	L_ref = -ReferentGuideWeight/(H·|rows|) · Σ_rows Σ_h log Σ_{j ∈ words_h} P_h[row, j]
//
// over the H (1 or 2) heads that have words.

// ReferentGuideHeads are the query heads of the third-to-last decoder block
// guided to the row and to the column reference; they use different
// key/value heads under the testbed's grouped-query attention (4 query, 2
// key/value heads).
var ReferentGuideHeads = [2]int{0, 2}

// referentSpans are the byte spans [start, end) of the referent words of a
// question, for the row head (spans[0]) and the column head (spans[1]):
// colours, shapes (singular or plural) and sizes go to both; an ordinal
// followed by "row" goes, with that word, to the row head; one followed by
// "column", with it, to the column head; any other ordinal to both.
func referentSpans(question string) (spans [2][][2]int) {
	words := letterWords(question)
	both := func(w span) {
		spans[0] = append(spans[0], [2]int{w.s, w.e})
		spans[1] = append(spans[1], [2]int{w.s, w.e})
	}
	for i, w := range words {
		switch {
		case world.IsAttributeWord(w.w):
			both(w)
		case world.IsOrdinal(w.w):
			next := ""
			if i+1 < len(words) {
				next = words[i+1].w
			}
			switch next {
			case "row":
				spans[0] = append(spans[0], [2]int{w.s, w.e}, [2]int{words[i+1].s, words[i+1].e})
			case "column":
				spans[1] = append(spans[1], [2]int{w.s, w.e}, [2]int{words[i+1].s, words[i+1].e})
			default:
				both(w)
			}
		}
	}
	return spans
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// referentGuide finds, for an image question answered in turn, the guided
// rows and the positions of the question's referent words for each of the
// two heads (referentSpans): the question's tokens are found as the last
// run of tok.Encode(q.Question) before the turn (its last token matched as
// a prefix), and a token is a key of a
// head when its bytes overlap one of that head's spans. ok is false for a
// question without an image (unless text: then the referent words are
// both heads' world.Question.SubjectSpans) or without referent
// words, or when the question's tokens are not found. A head without referent words (the
// column head of "the second row") has no keys and is not guided.
func referentGuide(tok *tokenizer.Tokenizer, in *model.Input, q world.Question, turn []int, text bool) (rows []int, keys [2][]int, ok bool) {
	if !q.HasImage && !text || len(turn) == 0 {
		return nil, keys, false
	}
	var spans [2][][2]int
	if q.HasImage {
		spans = referentSpans(q.Question)
	} else {
		s := q.SubjectSpans()
		spans = [2][][2]int{s, s}
	}
	if len(spans[0]) == 0 && len(spans[1]) == 0 {
		return nil, keys, false
	}
	p, toks, ok := questionTokens(tok, in, q.Question, turn)
	if !ok {
		return nil, keys, false
	}
	for j, tb := range toks {
		for h := range spans {
			for _, sp := range spans[h] {
				if tb[0] < sp[1] && sp[0] < tb[1] {
					keys[h] = append(keys[h], p+j)
					break
				}
			}
		}
	}
	if len(keys[0]) == 0 && len(keys[1]) == 0 {
		return nil, [2][]int{}, false
	}
	return guidedRows(turn), keys, true
}

// questionTokens finds the question's tokens in a prepared sample as the
// last run of tok.Encode(question) before the answer turn (its last token
// matched as a prefix: byte-level BPE merges "?" with the "\n" that follows
// it in the prompt). p is the position of the first token; toks[j] is the
// byte span [start, end) of token p+j in question. ok is false when the
// question is not found.
func questionTokens(tok *tokenizer.Tokenizer, in *model.Input, question string, turn []int) (p int, toks [][2]int, ok bool) {
	qids := tok.Encode(question)
	n := len(qids)
	if n == 0 || len(turn) == 0 {
		return 0, nil, false
	}
	lastText := tok.Decode(qids[n-1:], false)
	p = -1
	for t := turn[0] - n; t >= 0; t-- {
		if slices.Equal(in.IDs[t:t+n-1], qids[:n-1]) && strings.HasPrefix(tok.Decode(in.IDs[t+n-1:t+n], false), lastText) {
			p = t
			break
		}
	}
	if p < 0 {
		return 0, nil, false
	}
	off := 0
	for _, id := range qids {
		end := off + len(tok.Decode([]int{id}, false))
		toks = append(toks, [2]int{off, end})
		off = end
	}
	return p, toks, true
}

// The grounding guide. The image guide's head must match what the answer
// row knows of the referent ("star", carried from the question by the
// referent guide's heads) against what each image row shows; measured on
// runs 10 and 11 at steps 2300 and 3400, it found the objects but put
// equal mass on each (-log mass on the target ln 2, ln 4, ln 6 for 2, 4, 6
// objects) whether the referent was named by colour or by shape: the
// word-to-patch match never formed from the answer rows' chained signal.
// The grounding guide teaches that match where the query is the word
// itself: for every colour, shape or size word of an image question, the
// row of the word's last token is taught, at head ImageGuideHead of the
// second-to-last block, to look at the image tokens of the objects that
// have that attribute (world.Object.Has),
//
//	L_ground = -GroundingGuideWeight/|words| · Σ_words log Σ_{j ∈ patches(word)} P[row(word), j]
//
// over the words that some object of the scene has. With
// GroundingPositions the words "row" and "column" of "the third row" / "the
// first column" are guided too, each to every image token of that line's
// cells (objects or background): the image rows carry their cell (the
// auxiliary objective's row and column classes), and this teaches the
// match from the words that name a cell, which spatial questions need.

// groundingGuide finds, for an image question answered in turn, the rows
// of the question's attribute words (the last token of each) and for each
// the image tokens of the scene's objects that have the attribute. ok is
// false for a question without an image, a scene or such words, or when
// the question's tokens are not found.
func groundingGuide(tok *tokenizer.Tokenizer, in *model.Input, imageToken int, s *world.Scene, q world.Question, turn []int, c *Config) (rows []int, keys [][]int, ok bool) {
	if !q.HasImage || s == nil {
		return nil, nil, false
	}
	words := attributeWords(q.Question)
	var lines []span // with GroundingPositions: "row"/"column" words naming a line
	var cells [][]int
	if c.GroundingPositions {
		lines, cells = lineWords(q.Question, c.World.Grid)
	}
	if len(words) == 0 && len(lines) == 0 {
		return nil, nil, false
	}
	pos, ok := imagePositions(in, imageToken, c)
	if !ok {
		return nil, nil, false
	}
	p, toks, ok := questionTokens(tok, in, q.Question, turn)
	if !ok {
		return nil, nil, false
	}
	lastToken := func(w span) int {
		last := -1
		for j, tb := range toks {
			if tb[0] < w.e && w.s < tb[1] {
				last = j
			}
		}
		return last
	}
	for _, w := range words {
		last := lastToken(w)
		if last < 0 {
			continue
		}
		ks := focusKeys(pos, s.CellsWith(w.w), c)
		if len(ks) == 0 {
			continue
		}
		rows, keys = append(rows, p+last), append(keys, ks)
	}
	for i, w := range lines {
		if last := lastToken(w); last >= 0 {
			rows, keys = append(rows, p+last), append(keys, focusKeys(pos, cells[i], c))
		}
	}
	return rows, keys, len(rows) > 0
}

// lineWords are the words "row" and "column" of text that follow an
// ordinal naming a line of a grid of the given size ("the third row"),
// and for each the cells of that line (row-major cell indices).
func lineWords(text string, grid int) (words []span, cells [][]int) {
	ws := letterWords(text)
	for i := 1; i < len(ws); i++ {
		k := world.OrdinalIndex(ws[i-1].w)
		if k < 0 || k >= grid || (ws[i].w != "row" && ws[i].w != "column") {
			continue
		}
		line := make([]int, grid)
		for j := range line {
			if ws[i].w == "row" {
				line[j] = k*grid + j
			} else {
				line[j] = j*grid + k
			}
		}
		words, cells = append(words, ws[i]), append(cells, line)
	}
	return words, cells
}

// span is a lower-cased word of a text and its byte span [s, e).
type span struct {
	s, e int
	w    string
}

// attributeWords are the colour, shape and size words of text
// (world.IsAttributeWord).
func attributeWords(text string) []span {
	var out []span
	for _, w := range letterWords(text) {
		if world.IsAttributeWord(w.w) {
			out = append(out, w)
		}
	}
	return out
}

// letterWords splits text into its runs of ASCII letters, lower-cased.
func letterWords(text string) []span {
	var words []span
	for i := 0; i < len(text); {
		if !isLetter(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isLetter(text[j]) {
			j++
		}
		words = append(words, span{i, j, strings.ToLower(text[i:j])})
		i = j
	}
	return words
}
