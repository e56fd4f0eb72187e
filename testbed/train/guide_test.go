package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/tensor"
	"mbq/testbed/world"
)

// TestMCGuide: the guided row is the one whose next token is the answer
// letter, and the keys are exactly the correct option's text and its
// newline, in both renderings of a sample (generation prompt + answer, and
// the whole conversation); open questions are not guided.
func TestMCGuide(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	q := world.Question{Question: "Which option says mapox?", Options: []string{"gleveex", "large red cube", "mapox", "7"}, Answer: "C"}
	pa, err := promptInput(m, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	pa, _, err = appendAnswer(m, pa, q.Target())
	if err != nil {
		t.Fatal(err)
	}
	full, err := m.Prepare(conversation(q, nil, true), false)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]*model.Input{"prompt+answer": pa, "conversation": full} {
		for _, ans := range []string{"A", "B", "C", "D"} {
			in := *in
			in.IDs = append([]int(nil), in.IDs...)
			a := 0
			for a < len(in.Labels) && in.Labels[a] < 0 {
				a++
			}
			id, _ := m.Tok.TokenToID(ans)
			in.IDs[a] = id
			in.Labels = append([]int(nil), in.Labels...)
			in.Labels[a] = id
			row, keys, ok := mcGuide(m.Tok, &in, answerTurns(&in)[0])
			if !ok {
				t.Fatalf("%s, answer %s: not guided", name, ans)
			}
			if row != a-1 {
				t.Errorf("%s: row %d, want %d", name, row, a-1)
			}
			k := int(ans[0] - 'A')
			ids := in.IDs[keys[0] : keys[len(keys)-1]+1]
			if got, want := m.Tok.Decode(ids, false), " "+q.Options[k]+"\n"; got != want {
				t.Errorf("%s, answer %s: keys decode to %q, want %q", name, ans, got, want)
			}
		}
	}
	open := world.Question{Question: "What colour is the cube?", Answer: "red"}
	in, err := m.Prepare(conversation(open, nil, true), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := mcGuide(m.Tok, in, answerTurns(in)[0]); ok {
		t.Error("open question guided")
	}
	// Every multiple-choice training sample of the world is guided.
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for i := 0; i < 200; i++ {
		s := world.LookupQuestion(rng, world.FactTable())
		in, err := promptInput(m, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if in, _, err = appendAnswer(m, in, s.Target()); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := mcGuide(m.Tok, in, answerTurns(in)[0]); ok {
			n++
		}
	}
	if n != 200 {
		t.Errorf("%d of 200 drills guided", n)
	}
	// And every multiple-choice turn of the training samples, with or
	// without image, one turn or several: each guided row predicts its own
	// turn's letter and its keys are that turn's correct option.
	for _, turns := range []int{1, 4} {
		c.QATurns = turns
		mc, guided, multi := 0, 0, 0
		for i := 0; i < 120; i++ {
			in, ex, err := trainingInput(m, &c, 7, i)
			if err != nil {
				t.Fatal(err)
			}
			rows := answerTurns(in)
			if len(rows) != len(ex.Questions) {
				t.Fatalf("sample %d: %d answer turns, %d questions", i, len(rows), len(ex.Questions))
			}
			if len(rows) > 1 {
				multi++
				if k := ex.Questions[0]; k.Kind == world.LookupKind || k.Category == world.CaptionCat {
					t.Errorf("sample %d: a %s sample with %d turns (drills and captions stay single)", i, k.Kind, len(rows))
				}
			}
			for k, q := range ex.Questions {
				row, keys, ok := mcGuide(m.Tok, in, rows[k])
				if !q.MultipleChoice() {
					if ok {
						t.Errorf("sample %d turn %d (%s) is not multiple choice but guided", i, k, q.Kind)
					}
					continue
				}
				mc++
				if !ok {
					continue
				}
				guided++
				if got := m.Tok.Decode(in.IDs[row+1:row+2], false); got != q.Answer {
					t.Errorf("sample %d turn %d: guided row predicts %q, answer %q", i, k, got, q.Answer)
				}
				if got, want := m.Tok.Decode(in.IDs[keys[0]:keys[len(keys)-1]+1], false), " "+q.Correct()+"\n"; got != want {
					t.Errorf("sample %d turn %d: keys decode to %q, want %q", i, k, got, want)
				}
			}
		}
		if mc < 20 || guided != mc {
			t.Errorf("%d turns: %d of %d multiple-choice turns guided", turns, guided, mc)
		}
		if turns > 1 && multi < 40 {
			t.Errorf("%d turns: only %d of 120 samples have several", turns, multi)
		}
	}
}

// TestImageGuide: the image guide's keys are the image tokens of the focus
// cells in both tiles, as the model packs them — checked on the decoder's
// input rows: the rows taken for image_newline hold that vector, and the
// base tile's row of a patch equals the grid tile's (the image is one tile,
// so both tiles are the same picture) — and its rows predict the answer.
func TestImageGuide(t *testing.T) {
	c := tinyConfig()
	c.TextLayers = 2
	c.QATurns = 1 // TestImageGuideTurns has several
	m := tinyModel(t, &c)
	side := c.ImageSize / c.PatchSize
	H := c.TextHidden
	// Equal up to float32 rounding: a BLAS may sum the two tiles' GEMM
	// rows in different orders.
	near := func(a, b []float32) bool {
		var d, n float64
		for i := range a {
			d = max(d, math.Abs(float64(a[i]-b[i])))
			n = max(n, math.Abs(float64(b[i])))
		}
		return d <= 1e-5*max(n, 1e-3)
	}
	checked := 0
	for i := 0; i < 60 && checked < 6; i++ {
		in, ws, err := trainingInput(m, &c, 3, i)
		if err != nil {
			t.Fatal(err)
		}
		q := ws.Questions[0]
		rows, keys, ok := imageGuide(in, m.Cfg.ImageTokenIndex, q.Focus, answerTurns(in)[0], &c)
		if ws.Scene == nil || len(q.Focus) == 0 {
			if ok {
				t.Fatalf("sample %d (%s): guided without a focus", i, q.Kind)
			}
			continue
		}
		if !ok {
			t.Fatalf("sample %d (%s): focus %v not guided", i, q.Kind, q.Focus)
		}
		checked++
		hs, err := m.DecoderInputs([]*model.Input{in})
		if err != nil {
			t.Fatal(err)
		}
		h := hs[0].Data
		pos := tokenPositions(in, m.Cfg.ImageTokenIndex)
		row := func(t int) []float32 { return h[t*H : (t+1)*H] }
		for pr := range side {
			nl := pos[side*side+pr*(side+1)+side]
			if !near(row(nl), m.Newline.Value.Data) {
				t.Fatalf("sample %d: position %d is not image_newline", i, nl)
			}
			for pc := range side {
				b, g := pos[pr*side+pc], pos[side*side+pr*(side+1)+pc]
				if !near(row(b), row(g)) {
					t.Fatalf("sample %d: patch (%d,%d): base row %d differs from grid row %d", i, pr, pc, b, g)
				}
			}
		}
		// side == grid here: one patch per cell, two tiles.
		if side != c.World.Grid || len(keys) != 2*len(q.Focus) {
			t.Fatalf("sample %d: %d keys for focus %v", i, len(keys), q.Focus)
		}
		for _, f := range q.Focus {
			pr, pc := f/c.World.Grid, f%c.World.Grid
			if !slices.Contains(keys, pos[pr*side+pc]) || !slices.Contains(keys, pos[side*side+pr*(side+1)+pc]) {
				t.Fatalf("sample %d: focus cell %d missing from keys %v", i, f, keys)
			}
		}
		// The rows predict the answer tokens, not the end of turn.
		var want []int
		for t2 := 1; t2 < len(in.Labels); t2++ {
			if in.Labels[t2] >= 0 {
				want = append(want, t2-1)
			}
		}
		if !slices.Equal(rows, want[:max(1, len(want)-1)]) {
			t.Fatalf("sample %d: rows %v, labelled rows %v", i, rows, want)
		}
		if q.MultipleChoice() && len(rows) != 1 {
			t.Fatalf("sample %d: multiple choice with %d rows", i, len(rows))
		}
	}
	if checked < 6 {
		t.Fatalf("only %d samples with a focus", checked)
	}
}

// TestImageGuideTurns: in a conversation of several questions each turn's
// guided rows are its own answer rows (not the end of turn) and its keys
// its own focus cells.
func TestImageGuideTurns(t *testing.T) {
	c := tinyConfig()
	c.QATurns = 5
	m := tinyModel(t, &c)
	checked := 0
	for i := 0; i < 40; i++ {
		in, ex, err := trainingInput(m, &c, 5, i)
		if err != nil {
			t.Fatal(err)
		}
		turns := answerTurns(in)
		if ex.Scene == nil || len(turns) < 2 {
			continue
		}
		for k, q := range ex.Questions {
			rows, keys, ok := imageGuide(in, m.Cfg.ImageTokenIndex, q.Focus, turns[k], &c)
			if len(q.Focus) == 0 {
				if ok {
					t.Fatalf("sample %d turn %d: guided without a focus", i, k)
				}
				continue
			}
			if !ok {
				t.Fatalf("sample %d turn %d (%s): not guided", i, k, q.Kind)
			}
			checked++
			if got := m.Tok.Decode(in.IDs[rows[0]+1:rows[len(rows)-1]+2], false); got != q.Target() {
				t.Errorf("sample %d turn %d: rows predict %q, answer %q", i, k, got, q.Target())
			}
			_, want, _ := imageGuide(in, m.Cfg.ImageTokenIndex, q.Focus, turns[0], &c)
			if !slices.Equal(keys, want) || len(keys) == 0 {
				t.Errorf("sample %d turn %d: keys %v, want %v", i, k, keys, want)
			}
			// turnImageGuide: the reading guide for reading questions,
			// else these rows and keys.
			trows, tkeys, ok := turnImageGuide(m.Tok, in, m.Cfg.ImageTokenIndex, ex.Scene, q, turns[k], &c)
			srows, skeys, reading := signGuide(m.Tok, in, m.Cfg.ImageTokenIndex, ex.Scene, q, turns[k], &c)
			if !ok || reading && (!slices.Equal(trows, srows) || fmt.Sprint(tkeys) != fmt.Sprint(skeys)) {
				t.Errorf("sample %d turn %d: turnImageGuide %v %v, reading guide %v %v", i, k, trows, tkeys, srows, skeys)
			}
			if !reading {
				if !slices.Equal(trows, rows) || len(tkeys) != len(rows) {
					t.Errorf("sample %d turn %d: turnImageGuide rows %v, want %v", i, k, trows, rows)
				}
				for _, tk := range tkeys {
					if !slices.Equal(tk, keys) {
						t.Errorf("sample %d turn %d: turnImageGuide keys %v, want %v", i, k, tk, keys)
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d turns with a focus", checked)
	}
}

// TestSignGuide: for reading questions, in one-question samples and in
// conversations, the guided rows' tokens spell the answer, and each row's
// keys are image tokens (both tiles) of patches whose character slots hold
// exactly the characters that row's token spells; other questions are not
// guided this way.
func TestSignGuide(t *testing.T) {
	c := tinyConfig()
	c.PatchSize = 16 // 8x8 patches: glyphs do not all share one patch
	m := tinyModel(t, &c)
	side := c.ImageSize / c.PatchSize
	checked, other := 0, 0
	for _, turns := range []int{1, 5} {
		c.QATurns = turns
		for i := 0; i < 400 && checked < 30*turns; i++ {
			in, ex, err := trainingInput(m, &c, 9, i)
			if err != nil {
				t.Fatal(err)
			}
			turnRows := answerTurns(in)
			for k, q := range ex.Questions {
				rows, keys, ok := signGuide(m.Tok, in, m.Cfg.ImageTokenIndex, ex.Scene, q, turnRows[k], &c)
				if q.Glyphs == nil {
					if ok {
						t.Fatalf("sample %d: %s guided as reading", i, q.Kind)
					}
					other++
					continue
				}
				if !ok {
					t.Fatalf("sample %d turn %d: %s %q not guided", i, k, q.Kind, q.Answer)
				}
				checked++
				labels := sceneLabels(ex.Scene, side, c.PatchSize)
				pos, _ := imagePositions(in, m.Cfg.ImageTokenIndex, &c)
				var spelled string
				for j, r := range rows {
					piece := m.Tok.Decode(in.IDs[r+1:r+2], false)
					spelled += piece
					var read []byte
					for _, key := range keys[j] {
						p := slices.Index(pos, key)
						if p < 0 {
							t.Fatalf("key %d is not an image token", key)
						}
						if p >= side*side { // grid tile: row-major with a newline per row
							p -= side * side
							p = p/(side+1)*side + p%(side+1)
						}
						for _, s := range []int{labels[p].left, labels[p].right} {
							if s > 0 && strings.ContainsRune(piece, rune(auxCharset[s-1])) {
								read = append(read, auxCharset[s-1])
							}
						}
					}
					if len(keys[j]) == 0 || len(keys[j])%2 != 0 {
						t.Fatalf("sample %d: row %d keys %v (both tiles of each patch)", i, r, keys[j])
					}
					for _, ch := range []byte(piece) {
						if !slices.Contains(read, ch) {
							t.Fatalf("sample %d: token %q: its keys' patches show %q", i, piece, read)
						}
					}
				}
				if spelled != q.Answer {
					t.Fatalf("sample %d: rows spell %q, answer %q", i, spelled, q.Answer)
				}
			}
		}
	}
	if checked < 30 || other == 0 {
		t.Fatalf("%d reading turns checked, %d others", checked, other)
	}
}

// TestOpenShare: with OpenShare 1 every multiple-choice question that has
// an open form is asked open-ended, its correct option the labelled answer;
// with 0 none is.
func TestOpenShare(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	for _, share := range []float64{0, 1} {
		c.OpenShare = share
		open, mc := 0, 0
		for i := 0; i < 80; i++ {
			in, ex, err := trainingInput(m, &c, 11, i)
			if err != nil {
				t.Fatal(err)
			}
			turns := answerTurns(in)
			for k, q := range ex.Questions {
				if got := m.Tok.Decode(in.IDs[turns[k][0]+1:turns[k][len(turns[k])-1]+1], false); got != q.Target() {
					t.Fatalf("sample %d turn %d: labelled answer %q, question's %q", i, k, got, q.Target())
				}
				_, canOpen := q.AsOpen()
				switch {
				case q.MultipleChoice() && canOpen:
					mc++
				case !q.MultipleChoice() && q.Category != world.CaptionCat:
					open++
				}
			}
		}
		if share == 1 && mc != 0 || share == 0 && mc == 0 || open == 0 {
			t.Errorf("open share %g: %d multiple-choice questions with an open form, %d open", share, mc, open)
		}
	}
}

// TestReferentSpans: hand-worked questions; each head's spans as words.
func TestReferentSpans(t *testing.T) {
	words := func(q string, sp [][2]int) string {
		var w []string
		for _, s := range sp {
			w = append(w, q[s[0]:s[1]])
		}
		return strings.Join(w, " ")
	}
	for _, tc := range []struct{ q, row, col string }{
		{"What colour is the large star in the second row, third column?", "large star second row", "large star third column"},
		{"How many triangles are there?", "triangles", "triangles"},
		{"Which shape is the red object?", "red", "red"},
		{"Is the blue circle left of the small cross?", "blue circle small cross", "blue circle small cross"},
		{"Which colour is the shape in the fourth row, first column?", "fourth row", "first column"},
		{"What does the sign say?", "", ""},
		{"Rows: Second row?", "Second row", ""},
	} {
		sp := referentSpans(tc.q)
		if got := words(tc.q, sp[0]); got != tc.row {
			t.Errorf("%q: row head %q, want %q", tc.q, got, tc.row)
		}
		if got := words(tc.q, sp[1]); got != tc.col {
			t.Errorf("%q: column head %q, want %q", tc.q, got, tc.col)
		}
	}
}

// TestReferentGuide: in conversations of one and of several turns, every
// image question with referent words is guided at its own answer rows,
// each head's keys are tokens of that turn's question (after the previous
// turn's answer) and spell exactly the head's referent words; questions
// without an image are guided only with text set, both heads at their
// subject words.
func TestReferentGuide(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	checked, positional, texts := 0, 0, 0
	// letters keeps the letters and digits of s, lower-cased.
	letters := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return unicode.ToLower(r)
			}
			return -1
		}, s)
	}
	for _, tc := range []struct {
		turns int
		text  bool
	}{{1, false}, {5, false}, {5, true}} {
		c.QATurns = tc.turns
		for i := 0; i < 60; i++ {
			in, ex, err := trainingInput(m, &c, 11, i)
			if err != nil {
				t.Fatal(err)
			}
			turnRows := answerTurns(in)
			for k, q := range ex.Questions {
				rows, keys, ok := referentGuide(m.Tok, in, q, turnRows[k], tc.text)
				sp := referentSpans(q.Question)
				if !q.HasImage {
					sp = [2][][2]int{}
					if tc.text {
						s := q.SubjectSpans()
						if len(s) != len(q.Subject) {
							t.Fatalf("%s %q: subject %q found as %v", q.Kind, q.Question, q.Subject, s)
						}
						sp = [2][][2]int{s, s}
						texts++
					}
				}
				if !guidedAsWanted(t, i, k, q, ok, len(sp[0])+len(sp[1]) > 0) {
					continue
				}
				checked++
				if !slices.Equal(rows, guidedRows(turnRows[k])) {
					t.Fatalf("sample %d turn %d: rows %v, want %v", i, k, rows, guidedRows(turnRows[k]))
				}
				lo := turnStart(turnRows, k)
				for h := range keys {
					var got, want []string
					for _, key := range keys[h] {
						if key <= lo || key >= turnRows[k][0] {
							t.Fatalf("sample %d turn %d head %d: key %d outside the question (%d, %d)", i, k, h, key, lo, turnRows[k][0])
						}
						got = append(got, strings.ToLower(strings.TrimSpace(m.Tok.Decode(in.IDs[key:key+1], false))))
					}
					for _, s := range sp[h] {
						want = append(want, strings.ToLower(q.Question[s[0]:s[1]]))
					}
					// Tokens may split a word or carry its leading space
					// or a quote: compare the letters and digits.
					if g, w := letters(strings.Join(got, "")), letters(strings.Join(want, "")); g != w {
						t.Fatalf("sample %d turn %d head %d: %q: keys spell %q, want %q", i, k, h, q.Question, g, w)
					}
				}
				if !slices.Equal(keys[0], keys[1]) {
					positional++
				}
			}
		}
	}
	if checked < 40 || positional < 5 || texts < 20 {
		t.Fatalf("checked %d guided questions, %d with a row/column reference, %d without an image", checked, positional, texts)
	}
}

// TestGuideGradients: the referent guide (third-to-last block), the
// grounding guide (second-to-last) and the letter guide (first) change only the attention probabilities
// of their block: the answer loss and every gradient of the other decoder
// blocks and of that block's value path are unchanged, its query and key
// projections get extra gradient, and its loss is reported.
func TestGuideGradients(t *testing.T) {
	for _, tc := range []struct {
		name     string
		block    int // of three
		set      func(*Config, float64)
		loss     func(*lossResult) float64
		language bool // samples: language questions only (arithmetic among them)
	}{
		{"referent", 0, func(c *Config, w float64) { c.ReferentGuideWeight = w }, func(r *lossResult) float64 { return r.guides[refGuideLoss] }, false},
		{"grounding", 1, func(c *Config, w float64) { c.GroundingGuideWeight = w }, func(r *lossResult) float64 { return r.guides[groundGuideLoss] }, false},
		{"letter", 0, func(c *Config, w float64) { c.LetterGuideWeight = w }, func(r *lossResult) float64 { return r.guides[letterGuideLoss] }, false},
		{"digit", 0, func(c *Config, w float64) { c.DigitGuideWeight = w }, func(r *lossResult) float64 { return r.guides[digitGuideLoss] }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tinyConfig()
			c.TextLayers, c.Heads, c.KVHeads = 3, 4, 2
			c.GuideWeight, c.ImageGuideWeight, c.AuxWeight = 0, 0, 0
			c.QATurns = 3
			if tc.language {
				c.World.LanguageShare, c.World.CaptionShare, c.World.LookupShare = 1, 0, 0
			}
			m := tinyModel(t, &c)
			batch, exs := trainingBatch(t, m, &c, 2, 6)
			run := func(w float64) (*lossResult, map[string][]float32) {
				cw := c
				tc.set(&cw, w)
				return gradsWith(t, m, batch, exs, &cw)
			}
			off, g0 := run(0)
			on, g1 := run(0.5)
			if tc.loss(off) != 0 || tc.loss(on) <= 0 {
				t.Fatalf("guide loss off %g, on %g", tc.loss(off), tc.loss(on))
			}
			if on.Loss != off.Loss {
				t.Fatalf("answer loss %g with the guide, %g without", on.Loss, off.Loss)
			}
			changed := map[string]bool{}
			for name, a := range g0 {
				if !slices.Equal(a, g1[name]) {
					changed[name] = true
				}
			}
			guided := fmt.Sprintf("layers.%d.", tc.block)
			for name := range changed {
				// The vision tower's gradients change too: the guide
				// moves mass onto or off the image keys.
				if !strings.HasPrefix(name, "language_model.") {
					continue
				}
				// The block's input norm feeds its queries and keys.
				ok := strings.Contains(name, guided+"self_attn.q_proj") || strings.Contains(name, guided+"self_attn.k_proj") ||
					strings.Contains(name, guided+"input_layernorm")
				// Earlier blocks feed the guided block's queries and keys.
				for b := 0; b < tc.block; b++ {
					ok = ok || strings.Contains(name, fmt.Sprintf("layers.%d.", b))
				}
				// So do the embeddings (tied with the output head).
				ok = ok || strings.Contains(name, "embed_tokens")
				if !ok {
					t.Errorf("%s: gradient changed by the guide", name)
				}
			}
			for _, want := range []string{guided + "self_attn.q_proj.weight", guided + "self_attn.k_proj.weight"} {
				found := false
				for name := range changed {
					found = found || strings.HasSuffix(name, want)
				}
				if !found {
					t.Errorf("%s: gradient not changed by the guide (changed: %v)", want, changed)
				}
			}
		})
	}
}

// TestGroundingGuide: the rows are the last tokens of the current
// question's colour, shape and size words, each keyed to both tiles' image
// tokens of exactly the cells of the scene's objects that have that
// attribute; words no object has are not guided.
func TestGroundingGuide(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	side := c.ImageSize / c.PatchSize
	if side != c.World.Grid {
		t.Fatalf("test assumes one patch per cell: side %d, grid %d", side, c.World.Grid)
	}
	checked, plural, absent := 0, 0, 0
	for _, turns := range []int{1, 4} {
		c.QATurns = turns
		for i := 0; i < 60; i++ {
			in, ex, err := trainingInput(m, &c, 13, i)
			if err != nil {
				t.Fatal(err)
			}
			pos := tokenPositions(in, m.Cfg.ImageTokenIndex)
			turnRows := answerTurns(in)
			for k, q := range ex.Questions {
				// The attribute words, found independently of the code under test.
				type want struct {
					word string
					keys []int
				}
				var wants []want
				for _, f := range strings.FieldsFunc(q.Question, func(r rune) bool { return !unicode.IsLetter(r) }) {
					w := strings.ToLower(f)
					if !world.IsAttributeWord(w) || ex.Scene == nil {
						continue
					}
					var keys []int
					for _, o := range ex.Scene.Objects {
						if o.Color == w || o.Size == w || o.Shape == w || o.Shape+"s" == w || o.Shape+"es" == w {
							keys = append(keys, pos[o.Row*side+o.Col], pos[side*side+o.Row*(side+1)+o.Col])
						}
					}
					if len(keys) == 0 {
						absent++
						continue
					}
					slices.Sort(keys)
					wants = append(wants, want{w, keys})
				}
				rows, keys, ok := groundingGuide(m.Tok, in, m.Cfg.ImageTokenIndex, ex.Scene, q, turnRows[k], &c)
				if !guidedAsWanted(t, i, k, q, ok, q.HasImage && len(wants) > 0) {
					continue
				}
				if len(rows) != len(wants) {
					t.Fatalf("sample %d turn %d: %q: %d rows (ok %v), want %d", i, k, q.Question, len(rows), ok, len(wants))
				}
				lo := turnStart(turnRows, k)
				for j, r := range rows {
					checked++
					if r <= lo || r >= turnRows[k][0] {
						t.Fatalf("sample %d turn %d: row %d outside the question (%d, %d)", i, k, r, lo, turnRows[k][0])
					}
					piece := strings.ToLower(strings.TrimSpace(m.Tok.Decode(in.IDs[r:r+1], false)))
					next := m.Tok.Decode(in.IDs[r+1:r+2], false)
					if piece == "" || !strings.HasSuffix(wants[j].word, piece) || next != "" && unicode.IsLetter(rune(next[0])) {
						t.Fatalf("sample %d turn %d: %q: row %d is %q then %q, want the end of %q", i, k, q.Question, r, piece, next, wants[j].word)
					}
					if !slices.Equal(keys[j], wants[j].keys) {
						t.Fatalf("sample %d turn %d: %q keys %v, want %v", i, k, wants[j].word, keys[j], wants[j].keys)
					}
					if !slices.Contains(world.Colors, wants[j].word) && !slices.Contains(world.Shapes, wants[j].word) && !slices.Contains(world.Sizes, wants[j].word) {
						plural++
					}
				}
			}
		}
	}
	if checked < 60 || plural == 0 || absent == 0 {
		t.Fatalf("checked %d rows (%d plural shapes), %d words of absent attributes", checked, plural, absent)
	}
}

// TestLetterGuide: in conversations of one and of several turns, every
// multiple-choice question's answer turn is guided at exactly the tokens of
// its own four option lines, each keyed to the letter that labels its line;
// open questions are not guided.
func TestLetterGuide(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	checked := 0
	for _, turns := range []int{1, 5} {
		c.QATurns = turns
		for i := 0; i < 40; i++ {
			in, ex, err := trainingInput(m, &c, 11, i)
			if err != nil {
				t.Fatal(err)
			}
			turnRows := answerTurns(in)
			for k, q := range ex.Questions {
				lo := turnStart(turnRows, k)
				rows, keys, ok := letterGuide(m.Tok, in, lo, turnRows[k])
				if !guidedAsWanted(t, i, k, q, ok, q.MultipleChoice()) {
					continue
				}
				checked++
				// Rebuild each option line from the guided tokens, by the
				// letter they are keyed to.
				lines := map[string]string{}
				for j, r := range rows {
					if len(keys[j]) != 1 {
						t.Fatalf("row %d: keys %v", r, keys[j])
					}
					key := keys[j][0]
					if r <= key+1 || key <= lo || r >= turnRows[k][0] {
						t.Fatalf("sample %d turn %d: row %d keyed to %d, outside the turn (%d, %d)", i, k, r, key, lo, turnRows[k][0])
					}
					letter := m.Tok.Decode(in.IDs[key:key+1], false)
					if dot := m.Tok.Decode(in.IDs[key+1:key+2], false); dot != "." {
						t.Fatalf("row %d: key %d %q followed by %q", r, key, letter, dot)
					}
					lines[letter] += m.Tok.Decode(in.IDs[r:r+1], false)
				}
				if len(lines) != len(q.Options) {
					t.Fatalf("%q: %d option lines guided, want %d: %q", q.Question, len(lines), len(q.Options), lines)
				}
				for o, opt := range q.Options {
					if got, want := lines[world.Letters[o]], " "+opt+"\n"; got != want {
						t.Fatalf("%q: option %s guided tokens %q, want %q", q.Question, world.Letters[o], got, want)
					}
				}
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked %d multiple-choice questions", checked)
	}
}

// TestDigitGuide checks the digit guide on the language questions of
// training samples (one and four turns): exactly the open questions whose
// subject words and answer are numbers are guided; the guided rows are the
// rows predicting each digit of the answer; and at a row of place p
// (worked out here from the answer string) head 0's key is the first
// operand's digit of place p, head 1's the second operand's, head 2's the
// two digits of place p-1 (from the subject strings), each present exactly
// when that digit exists, all in the question, the first operand's before
// the second's.
func TestDigitGuide(t *testing.T) {
	c := tinyConfig()
	c.World.LanguageShare, c.World.CaptionShare, c.World.LookupShare = 1, 0, 0
	m := tinyModel(t, &c)
	dec := func(in *model.Input, t int) string { return m.Tok.Decode(in.IDs[t:t+1], false) }
	digitOf := func(w string, p int) string { // "" where w has no digit of place p
		if p < 0 || p >= len(w) {
			return ""
		}
		return w[len(w)-1-p : len(w)-p]
	}
	isNum := func(w string) bool {
		_, err := strconv.Atoi(w)
		return err == nil && !strings.HasPrefix(w, "+") && !strings.HasPrefix(w, "-")
	}
	checked, mc := 0, 0
	for _, turns := range []int{1, 4} {
		c.QATurns = turns
		for i := range 120 {
			in, ex, err := trainingInput(m, &c, 3, i)
			if err != nil {
				t.Fatal(err)
			}
			turnRows := answerTurns(in)
			for k, q := range ex.Questions {
				lo, turn := turnStart(turnRows, k), turnRows[k]
				rows, keys, ok := digitGuide(m.Tok, in, q, lo, turn)
				numeric := len(q.Subject) > 0 && isNum(q.Correct())
				for _, w := range q.Subject {
					numeric = numeric && isNum(w)
				}
				if numeric && q.MultipleChoice() {
					mc++
				}
				if !guidedAsWanted(t, i, k, q, ok, numeric && !q.MultipleChoice()) {
					continue
				}
				checked++
				place := map[int]int{} // every row that must be guided
				for j := range q.Answer {
					if got := dec(in, turn[j]+1); got != q.Answer[j:j+1] {
						t.Fatalf("%q: answer token %d is %q, want %q", q.Question, j, got, q.Answer[j:j+1])
					}
					place[turn[j]] = len(q.Answer) - 1 - j
				}
				guided := map[int]bool{}
				for h := range rows {
					if len(rows[h]) != len(keys[h]) {
						t.Fatalf("head %d: %d rows, %d key sets", h, len(rows[h]), len(keys[h]))
					}
					seen := map[int]bool{}
					for j, r := range rows[h] {
						p, want := place[r]
						if !want || seen[r] {
							t.Fatalf("%q: head %d guides row %d %q (expected %v, again %v)", q.Question, h, r, dec(in, r), want, seen[r])
						}
						seen[r], guided[r] = true, true
						var exp []string
						switch h {
						case 0, 1:
							if len(q.Subject) > h {
								exp = append(exp, digitOf(q.Subject[h], p))
							}
						case 2:
							for _, w := range q.Subject {
								exp = append(exp, digitOf(w, p-1))
							}
						}
						exp = slices.DeleteFunc(exp, func(s string) bool { return s == "" })
						var got []string
						for _, key := range keys[h][j] {
							if key <= lo || key >= turn[0] {
								t.Fatalf("%q: head %d row %d: key %d outside the user turn (%d, %d)", q.Question, h, r, key, lo, turn[0])
							}
							got = append(got, dec(in, key))
						}
						if !slices.Equal(got, exp) {
							t.Fatalf("%q (subject %q): head %d at row %d (place %d): keys %q, want %q", q.Question, q.Subject, h, r, p, got, exp)
						}
					}
					n := 0 // the rows head h must guide: those whose digits exist
					for _, p := range place {
						switch {
						case h < 2 && len(q.Subject) > h && digitOf(q.Subject[h], p) != "":
							n++
						case h == 2 && (digitOf(q.Subject[0], p-1) != "" || len(q.Subject) > 1 && digitOf(q.Subject[1], p-1) != ""):
							n++
						}
					}
					if len(rows[h]) != n {
						t.Fatalf("%q: head %d guides %d rows, want %d", q.Question, h, len(rows[h]), n)
					}
				}
				if len(guided) != len(place) {
					t.Fatalf("%q: %d rows guided, want %d", q.Question, len(guided), len(place))
				}
				if len(q.Subject) == 2 && keys[0][0][0] >= keys[1][0][0] {
					t.Fatalf("%q: first operand's key %d after the second's %d", q.Question, keys[0][0][0], keys[1][0][0])
				}
			}
		}
	}
	if checked < 20 || mc < 10 {
		t.Fatalf("checked %d open and %d multiple-choice arithmetic questions", checked, mc)
	}
}

// TestConfigAt: the digit guide is off through step DigitGuideAfter and on
// after it, PromptTurns off through step TemplateTurnsUntil and on after
// it, each switch apart from the other, without touching the run's
// configuration (a step with no switch pending gets it unchanged); negative
// steps are refused.
func TestConfigAt(t *testing.T) {
	c := tinyConfig()
	c.DigitGuideWeight, c.DigitGuideAfter = 0.3, 10
	c.PromptTurns, c.TemplateTurnsUntil = true, 20
	for _, tc := range []struct {
		step   int
		digits float64
		prompt bool
	}{{1, 0, false}, {10, 0, false}, {11, 0.3, false}, {20, 0.3, false}, {21, 0.3, true}, {500, 0.3, true}} {
		at := c.at(tc.step)
		if at.DigitGuideWeight != tc.digits || at.PromptTurns != tc.prompt {
			t.Errorf("step %d: digit guide weight %g, prompt turns %v; want %g, %v", tc.step, at.DigitGuideWeight, at.PromptTurns, tc.digits, tc.prompt)
		}
		if at.GuideWeight != c.GuideWeight || at.Steps != c.Steps || at.TemplateTurnsUntil != c.TemplateTurnsUntil {
			t.Errorf("step %d: other fields changed", tc.step)
		}
		if (tc.step > 20) != (at == &c) {
			t.Errorf("step %d: copied %v", tc.step, at != &c)
		}
	}
	if c.DigitGuideWeight != 0.3 || !c.PromptTurns {
		t.Fatalf("at changed the run's configuration: %g, %v", c.DigitGuideWeight, c.PromptTurns)
	}
	for _, bad := range []struct {
		set   func(*Config)
		field string
	}{{func(c *Config) { c.DigitGuideAfter = -1 }, "digit_guide_after"}, {func(c *Config) { c.TemplateTurnsUntil = -1 }, "template_turns_until"}} {
		d := c
		bad.set(&d)
		if err := d.Validate(); err == nil || !strings.Contains(err.Error(), bad.field) {
			t.Fatalf("%s -1: err %v", bad.field, err)
		}
	}
}

// guidedAsWanted fails t when turn k of sample i is guided (ok) but should
// not be, or the other way round; it reports whether the turn is guided,
// that is, whether its rows and keys are to be checked.
func guidedAsWanted(t *testing.T, i, k int, q world.Question, ok, want bool) bool {
	t.Helper()
	if ok != want {
		t.Fatalf("sample %d turn %d: %s %q (subject %q, answer %q): guided %v, want %v", i, k, q.Kind, q.Question, q.Subject, q.Answer, ok, want)
	}
	return ok
}

// TestGroundingPositions: with GroundingPositions, each "<ordinal> row" or
// "<ordinal> column" of an image question adds a row at the token ending
// "row"/"column", keyed to every image token of that grid line in both
// tiles, after the attribute words' rows; without it there are none.
func TestGroundingPositions(t *testing.T) {
	c := tinyConfig()
	c.QATurns = 4
	m := tinyModel(t, &c)
	side := c.ImageSize / c.PatchSize
	if side != c.World.Grid {
		t.Fatalf("test assumes one patch per cell: side %d, grid %d", side, c.World.Grid)
	}
	re := regexp.MustCompile(`(?i)\b(first|second|third|fourth) (row|column)\b`)
	on := c
	on.GroundingPositions = true
	checked := 0
	for i := 0; i < 80; i++ {
		in, ex, err := trainingInput(m, &c, 17, i)
		if err != nil {
			t.Fatal(err)
		}
		pos := tokenPositions(in, m.Cfg.ImageTokenIndex)
		turnRows := answerTurns(in)
		for k, q := range ex.Questions {
			if !q.HasImage {
				continue
			}
			var wantKeys [][]int
			for _, mt := range re.FindAllStringSubmatch(q.Question, -1) {
				n := world.OrdinalIndex(strings.ToLower(mt[1]))
				var keys []int
				for j := range side {
					r, col := n, j
					if strings.ToLower(mt[2]) == "column" {
						r, col = j, n
					}
					keys = append(keys, pos[r*side+col], pos[side*side+r*(side+1)+col])
				}
				slices.Sort(keys)
				wantKeys = append(wantKeys, keys)
			}
			rowsOff, _, _ := groundingGuide(m.Tok, in, m.Cfg.ImageTokenIndex, ex.Scene, q, turnRows[k], &c)
			rows, keys, ok := groundingGuide(m.Tok, in, m.Cfg.ImageTokenIndex, ex.Scene, q, turnRows[k], &on)
			if len(wantKeys) == 0 {
				if len(rows) != len(rowsOff) {
					t.Fatalf("sample %d turn %d: %q: %d rows with positions, %d without, no line named", i, k, q.Question, len(rows), len(rowsOff))
				}
				continue
			}
			if !ok || len(rows) != len(rowsOff)+len(wantKeys) {
				t.Fatalf("sample %d turn %d: %q: %d rows (ok %v), want %d attribute + %d line rows", i, k, q.Question, len(rows), ok, len(rowsOff), len(wantKeys))
			}
			for j, want := range wantKeys {
				r := rows[len(rowsOff)+j]
				piece := strings.TrimSpace(m.Tok.Decode(in.IDs[r:r+1], false))
				next := m.Tok.Decode(in.IDs[r+1:r+2], false)
				if piece == "" || !(strings.HasSuffix("row", piece) || strings.HasSuffix("column", piece)) || next != "" && unicode.IsLetter(rune(next[0])) {
					t.Fatalf("sample %d turn %d: %q: line row is %q then %q", i, k, q.Question, piece, next)
				}
				if !slices.Equal(keys[len(rowsOff)+j], want) {
					t.Fatalf("sample %d turn %d: %q line %d keys %v, want %v", i, k, q.Question, j, keys[len(rowsOff)+j], want)
				}
				checked++
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked %d line rows", checked)
	}
}

// tokenPositions are the positions of the tokens id in a prepared input.
func tokenPositions(in *model.Input, id int) []int {
	var pos []int
	for t, x := range in.IDs {
		if x == id {
			pos = append(pos, t)
		}
	}
	return pos
}

// gradsWith runs lossAndGrad on the batch under configuration c (validated)
// with zeroed gradients, and returns the result and a copy of every
// parameter's gradient by name.
func gradsWith(t *testing.T, m *llavaonevision.Model, batch []*model.Input, exs []example, c *Config) (*lossResult, map[string][]float32) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	params := m.Params()
	nn.ZeroGrads(params)
	res, err := lossAndGrad(m, batch, c, nil, exs)
	if err != nil {
		t.Fatal(err)
	}
	g := map[string][]float32{}
	for _, p := range params {
		g[p.Name] = slices.Clone(p.Grad.Data)
	}
	return res, g
}

// trainingBatch is samples 0..n-1 of step prepared as training draws them.
func trainingBatch(t *testing.T, m *llavaonevision.Model, c *Config, step, n int) ([]*model.Input, []example) {
	t.Helper()
	var batch []*model.Input
	var exs []example
	for i := range n {
		in, ex, err := trainingInput(m, c, step, i)
		if err != nil {
			t.Fatal(err)
		}
		batch, exs = append(batch, in), append(exs, ex)
	}
	return batch, exs
}

// rowGradError is the relative L2 error of the analytic gradient d of
// loss at x ([T, H]) against central differences (step 1e-2); a row of x
// outside rows with a non-zero gradient fails the test.
func rowGradError(t *testing.T, x, d *tensor.Tensor, rows []int, loss func() float64) float64 {
	t.Helper()
	H := x.Shape[1]
	var num2, den2 float64
	for i := range x.Data {
		v := x.Data[i]
		const h = 1e-2
		x.Data[i] = v + h
		lp := loss()
		x.Data[i] = v - h
		lm := loss()
		x.Data[i] = v
		num := (lp - lm) / (2 * h)
		a := float64(d.Data[i])
		if r := i / H; !slices.Contains(rows, r) && a != 0 {
			t.Fatalf("row %d outside %v has gradient %g", r, rows, a)
		}
		num2 += (a - num) * (a - num)
		den2 += num * num
	}
	return math.Sqrt(num2 / den2)
}

// TestImageGuideHeads: ImageGuideHeads is validated; with two heads a
// question about two named objects sends each head to its own object and
// any other question sends both to the whole focus; the second head's
// queries get a gradient from the guide only when it is listed.
func TestImageGuideHeads(t *testing.T) {
	c := tinyConfig()
	c.TextLayers, c.Heads, c.KVHeads = 3, 4, 2
	for _, bad := range [][]int{{0, 0}, {4}, {-1}, {0, 1, 2}} {
		cb := c
		cb.ImageGuideHeads = bad
		if err := cb.Validate(); err == nil {
			t.Errorf("heads %v: no error", bad)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	seen := map[string]bool{}
	two := c
	two.ImageGuideHeads = []int{0, 2}
	for i := 0; i < 400 && len(seen) < 2; i++ {
		s := world.NewScene(rng, c.World)
		q, ok := s.Question(rng, world.Spatial)
		if !ok || (q.Kind != "relative" && q.Kind != "where-is") {
			continue
		}
		seen[q.Kind] = true
		for h := range 2 {
			if got := imageGuideQuestion(&c, q, h).Focus; !slices.Equal(got, q.Focus) {
				t.Errorf("one head: %s focus %v, want %v", q.Kind, got, q.Focus)
			}
			want := q.Focus
			if q.Kind == "relative" {
				want = q.Focus[h : h+1]
			}
			if got := imageGuideQuestion(&two, q, h).Focus; !slices.Equal(got, want) {
				t.Errorf("two heads, head %d: %s focus %v, want %v", h, q.Kind, got, want)
			}
		}
	}
	if len(seen) < 2 {
		t.Fatalf("question kinds seen: %v", seen)
	}

	c.GuideWeight, c.GroundingGuideWeight, c.ReferentGuideWeight, c.AuxWeight = 0, 0, 0, 0
	c.QATurns = 3
	m := tinyModel(t, &c)
	batch, exs := trainingBatch(t, m, &c, 2, 6)
	run := func(w float64, heads []int) (*lossResult, []float32) {
		cw := c
		cw.ImageGuideWeight, cw.ImageGuideHeads = w, heads
		r, g := gradsWith(t, m, batch, exs, &cw)
		hd := c.TextHidden / c.Heads
		q := g["language_model.model.layers.1.self_attn.q_proj.weight"]
		if q == nil {
			t.Fatal("no q_proj gradient of block 1")
		}
		return r, q[2*hd*c.TextHidden : 3*hd*c.TextHidden] // head 2's rows
	}
	_, off := run(0, nil)
	one, g1 := run(0.5, nil)
	both, g2 := run(0.5, []int{0, 2})
	if !slices.Equal(off, g1) {
		t.Error("head 2's query gradient changed by a guide on head 0 alone")
	}
	if slices.Equal(off, g2) {
		t.Error("head 2's query gradient unchanged by a guide on heads 0 and 2")
	}
	if one.guides[imageGuideLoss] <= 0 || both.guides[imageGuideLoss] <= one.guides[imageGuideLoss] {
		t.Errorf("image guide loss: head 0 %g, heads 0 and 2 %g", one.guides[imageGuideLoss], both.guides[imageGuideLoss])
	}
}
