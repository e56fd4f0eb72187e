package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/tensor"
	"mbq/testbed/world"
)

// TestSceneLabels: a hand-placed scene's patches get the attributes of the
// cell holding their centre, the sign's cells "sign", and each glyph's
// character lands in exactly one slot of one patch of the sign's row, so
// that the slots read in order spell the sign.
func TestSceneLabels(t *testing.T) {
	cfg := world.DefaultConfig() // 128 px, 4x4 grid of 32 px
	s := &world.Scene{Config: cfg,
		Objects: []world.Object{
			{Shape: "star", Color: "blue", Size: "large", Row: 0, Col: 3},
			{Shape: "circle", Color: "red", Size: "small", Row: 2, Col: 1},
		},
		Sign: &world.Sign{Text: "AB7", Row: 3, Col: 0}}
	const side, patch = 8, 16
	ls := sceneLabels(s, side, patch)
	if len(ls) != side*side {
		t.Fatalf("%d labels", len(ls))
	}
	at := func(pr, pc int) patchLabel { return ls[pr*side+pc] }
	blue, star := 2+6-1, 2+3 // Colors[5] = blue, Shapes[3] = star
	if world.Colors[blue-2] != "blue" || world.Shapes[star-2] != "star" {
		t.Fatalf("lexicon moved: %v %v", world.Colors, world.Shapes)
	}
	for _, p := range [][2]int{{0, 6}, {0, 7}, {1, 6}, {1, 7}} {
		if l := at(p[0], p[1]); l.color != blue || l.shape != star || l.size != 2 {
			t.Errorf("patch %v: %+v, want blue large star", p, l)
		}
	}
	if l := at(4, 2); l.color != 2 || l.shape != 2 || l.size != 1 || l.row != 2 || l.col != 1 { // red small circle
		t.Errorf("patch (4,2): %+v, want small red circle", l)
	}
	if l := at(0, 0); l.color != 0 || l.shape != 0 || l.size != 0 || l.left != 0 || l.right != 0 {
		t.Errorf("empty patch: %+v", l)
	}
	for pr := range side {
		for pc := range side {
			l := at(pr, pc)
			if pr >= 6 && pc < 4 {
				if l.color != 1 || l.shape != 1 || l.size != 0 {
					t.Errorf("sign patch (%d,%d): %+v", pr, pc, l)
				}
			}
			if (l.left != 0 || l.right != 0) && (pr < 6 || pc >= 4) {
				t.Errorf("characters %d/%d outside the sign at (%d,%d)", l.left, l.right, pr, pc)
			}
		}
	}
	if got := readSlots(ls, side); got != "AB7" {
		t.Errorf("slots read %q, want AB7", got)
	}
	// Any sign: no two glyphs share a slot, the slots spell it.
	rng := rand.New(rand.NewPCG(5, 6))
	signs := 0
	for signs < 300 {
		sc := world.NewScene(rng, cfg)
		if sc.Sign == nil {
			continue
		}
		signs++
		if got := readSlots(sceneLabels(sc, side, patch), side); got != sc.Sign.Text {
			t.Fatalf("sign %+v: slots read %q", *sc.Sign, got)
		}
	}
}

// readSlots spells the character slots row by row, patch by patch, left
// before right.
func readSlots(ls []patchLabel, side int) string {
	var b strings.Builder
	for pr := range side {
		for pc := range side {
			l := ls[pr*side+pc]
			for _, c := range []int{l.left, l.right} {
				if c > 0 {
					b.WriteByte(auxCharset[c-1])
				}
			}
		}
	}
	return b.String()
}

// TestAuxGradFD: the auxiliary loss's gradients at the projector rows and
// at the head's weights match central finite differences (float64 sums,
// so a small step is exact enough).
func TestAuxGradFD(t *testing.T) {
	for _, balanced := range []bool{false, true} {
		for _, mode := range []struct{ aligned, residual bool }{{false, false}, {true, false}, {true, true}} {
			t.Run(fmt.Sprint("balanced=", balanced, ",aligned=", mode.aligned, ",residual=", mode.residual), func(t *testing.T) {
				testAuxGradFD(t, balanced, mode.aligned, mode.residual)
			})
		}
	}
}

func testAuxGradFD(t *testing.T, balanced, aligned, residual bool) {
	const H, side = 16, 2
	rng := rand.New(rand.NewPCG(1, 2))
	h := newAuxHead(H, 3)
	// Aligned: a colour class, a shape class, a size class and a character
	// class of each slot read out through rows of a small embedding table
	// (two classes share a token, as the two character slots do).
	var emb *nn.Param
	var tok []int
	if aligned {
		emb = nn.NewParam(tensor.New(5, H))
		emb.AllocGrad()
		for i := range emb.Value.Data {
			emb.Value.Data[i] = float32(rng.NormFloat64() * 0.5)
		}
		tok = make([]int, auxK)
		for k := range tok {
			tok[k] = -1
		}
		ch := auxColors + auxShapes + auxSizes + 2*auxGrid
		tok[3], tok[auxColors+4], tok[auxColors+auxShapes+2], tok[ch+1], tok[ch+auxSlot+1] = 0, 1, 2, 4, 4
		h.tok, h.emb, h.residual = tok, emb, residual
	}
	for i := range h.W.Value.Data {
		h.W.Value.Data[i] = float32(rng.NormFloat64() * 0.5)
	}
	for i := range h.B.Value.Data {
		h.B.Value.Data[i] = float32(rng.NormFloat64() * 0.5)
	}
	labels := []patchLabel{{color: 3, shape: 4, size: 1, row: 2}, {color: 1, shape: 1, left: 1, right: 36, col: 7}, {}, {color: 11, shape: 9, size: 2, row: 7, col: 3}}
	proj := tensor.New(2*len(labels), H) // two tiles
	for i := range proj.Data {
		proj.Data[i] = float32(rng.NormFloat64()*2 + 0.5)
	}
	const weight = 0.7
	_, dx, err := h.lossAndGrad(proj, labels, weight, balanced)
	if err != nil {
		t.Fatal(err)
	}
	loss := func() float64 {
		g := newAuxHead(H, 3)
		if aligned {
			g.tok, g.emb, g.residual = tok, nn.NewParam(emb.Value), residual
			g.emb.AllocGrad()
		}
		copy(g.W.Value.Data, h.W.Value.Data)
		copy(g.B.Value.Data, h.B.Value.Data)
		l, _, err := g.lossAndGrad(proj, labels, weight, balanced)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	check := func(name string, data []float32, grad []float32) {
		var num2, den2 float64
		for k := 0; k < 40; k++ {
			i := rng.IntN(len(data))
			v := data[i]
			const e = 1e-2
			data[i] = v + e
			lp := loss()
			data[i] = v - e
			lm := loss()
			data[i] = v
			num := (lp - lm) / (2 * e)
			a := float64(grad[i])
			num2 += (a - num) * (a - num)
			den2 += num * num
		}
		if rel := math.Sqrt(num2 / den2); rel > 1e-3 || den2 == 0 {
			t.Errorf("%s: relative error %.2e", name, rel)
		}
	}
	check("projector rows", proj.Data, dx.Data)
	check("weight", h.W.Value.Data, h.W.Grad.Data)
	check("bias", h.B.Value.Data, h.B.Grad.Data)
	if aligned {
		check("embeddings", emb.Value.Data, emb.Grad.Data)
		// Classes 3 and auxColors+4 alone read tokens 0 and 1.
		for i, k := range []int{3, auxColors + 4} {
			for j := range H {
				g, want := h.W.Grad.Data[k*H+j], float32(0)
				if residual {
					want = emb.Grad.Data[i*H+j]
				}
				if g != want {
					t.Fatalf("aligned class %d: its row of W got gradient %g, want %g", k, g, want)
				}
			}
		}
		if residual {
			// The FD check samples 40 of all weights: check the aligned
			// rows' residual on its own.
			check("residual rows", h.W.Value.Data[3*H:4*H], h.W.Grad.Data[3*H:4*H])
		}
	}
	if _, _, err := h.lossAndGrad(tensor.New(5, H), labels, 1, balanced); err == nil {
		t.Fatal("5 rows for 4 labels per tile: no error")
	}
}

// TestAuxBalance: with a zero head every group's softmax is uniform, so
// each CE is ln(classes) and the loss is the hand-summed weighting: per
// tile of these four patches, unbalanced every patch counts 1/rows in
// every group; balanced the labelled patches of a group count n/n_g times
// that (colour and shape 3 of 4 labelled, size 2, each character slot 1;
// row and column unchanged).
func TestAuxBalance(t *testing.T) {
	const H = 8
	h := newAuxHead(H, 1)
	clear(h.W.Value.Data)
	labels := []patchLabel{{color: 3, shape: 4, size: 1, row: 2}, {color: 1, shape: 1, left: 1, right: 36, col: 7}, {}, {color: 11, shape: 9, size: 2, row: 7, col: 3}}
	proj := tensor.New(2*len(labels), H)
	for i := range proj.Data {
		proj.Data[i] = float32(i%5) - 1.5
	}
	ln := func(k int) float64 { return math.Log(float64(k)) }
	const weight = 0.5
	want := map[bool]float64{
		false: weight * (ln(auxColors) + ln(auxShapes) + ln(auxSizes) + 2*ln(auxGrid) + 2*ln(auxSlot)),
		// per tile: 5 colour, 5 shape, 6 size, 4+4 cell, 7+7 character units of 1/rows; rows = 8.
		true: weight * 2 * (5*ln(auxColors) + 5*ln(auxShapes) + 6*ln(auxSizes) + 8*ln(auxGrid) + 14*ln(auxSlot)) / 8,
	}
	for balanced, w := range want {
		l, _, err := h.lossAndGrad(proj, labels, weight, balanced)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(l-w) > 1e-9*w {
			t.Errorf("balanced %v: loss %.12f, want %.12f", balanced, l, w)
		}
	}
}

// TestCurriculum: the object ramp starts at one object, reaches the
// world's maximum at CurriculumSteps, and every category still draws
// samples with one object (no generator loops forever).
func TestCurriculum(t *testing.T) {
	c := DefaultConfig()
	c.TextSteps, c.TextBatch, c.TextLookupShare, c.TextLR = 0, 0, 0, 0
	c.CurriculumSteps = 100
	if w := c.worldAt(1); w.MaxObjects != w.MinObjects {
		t.Fatalf("step 1: max objects %d", w.MaxObjects)
	}
	if w := c.worldAt(50); w.MaxObjects <= w.MinObjects || w.MaxObjects >= c.World.MaxObjects {
		t.Fatalf("step 50: max objects %d", w.MaxObjects)
	}
	if w := c.worldAt(100); w.MaxObjects != c.World.MaxObjects {
		t.Fatalf("step 100: max objects %d", w.MaxObjects)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	cats := map[string]int{}
	for range 600 {
		s := world.TrainingSample(rng, c.worldAt(1))
		cats[s.Question.Category]++
		if s.Scene != nil && len(s.Scene.Objects) != 1 {
			t.Fatalf("%d objects at step 1", len(s.Scene.Objects))
		}
	}
	for _, cat := range world.Categories {
		if cats[cat] == 0 {
			t.Errorf("no %s sample with one object", cat)
		}
	}
	// A text phase first: only language questions and drills, in bigger
	// batches; the object ramp starts after it.
	c.TextSteps, c.TextBatch = 10, 64
	if c.batchAt(10) != 64 || c.batchAt(11) != c.Batch {
		t.Fatalf("batch %d at step 10, %d at step 11", c.batchAt(10), c.batchAt(11))
	}
	for range 300 {
		if s := world.TrainingSample(rng, c.worldAt(10)); s.Question.Category != world.Language || s.Image != nil {
			t.Fatalf("text phase drew a %s sample", s.Question.Category)
		}
	}
	c.TextLookupShare = 0.75
	if w := c.worldAt(10); w.LookupShare != 0.75 || w.LanguageShare != 0.25 || w.CaptionShare != 0 {
		t.Fatalf("text phase with 75%% drills: %+v", w)
	}
	if w := c.worldAt(11); w.MaxObjects != w.MinObjects || w.CaptionShare != c.World.CaptionShare || w.LookupShare != c.World.LookupShare {
		t.Fatalf("step 11: %+v", w)
	}
}

// TestMimeticInit: each query head starts as its key head (std as asked)
// plus N(0, 0.02²) noise, deterministically.
func TestMimeticInit(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	mimeticInit(m, 0.1, 3)
	b := m.Blocks[0]
	H, d := b.Cfg.Hidden, b.Cfg.Hidden/b.Cfg.NumHeads
	rep := b.Cfg.NumHeads / b.Cfg.NumKVHeads
	var ss, dd float64
	for h := 0; h < b.Cfg.NumHeads; h++ {
		for i := 0; i < d*H; i++ {
			k := float64(b.K.W.Value.Data[(h/rep)*d*H+i])
			q := float64(b.Q.W.Value.Data[h*d*H+i])
			ss += k * k
			dd += (q - k) * (q - k)
		}
	}
	n := float64(b.Cfg.NumHeads * d * H)
	if std := math.Sqrt(ss / n); math.Abs(std-0.1) > 0.02 {
		t.Errorf("key std %.3f, want 0.1", std)
	}
	if noise := math.Sqrt(dd / n); math.Abs(noise-0.02) > 0.005 {
		t.Errorf("query-key difference std %.3f, want 0.02", noise)
	}
	// Same deterministic result again.
	m2 := tinyModel(t, &c)
	mimeticInit(m2, 0.1, 3)
	for i, v := range m2.Blocks[0].Q.W.Value.Data {
		if v != b.Q.W.Value.Data[i] {
			t.Fatal("mimetic initialisation is not deterministic")
		}
	}
}

// TestAuxAlign: aligned classes read out through the embedding of the
// single token of their word (" red", " star", " small", "Q"), the others
// through W; the model's embedding table is shared, not copied.
func TestAuxAlign(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	for _, cells := range []bool{false, true} {
		testAuxAlign(t, m, &c, cells)
	}
	bad := c
	bad.AuxAlignCells, bad.AuxResidual = true, false
	if err := bad.Validate(); err == nil {
		t.Error("aux_align_cells without aux_residual accepted")
	}
}

// testAuxAlign checks align; with cells, the row and column classes read
// out through the ordinals (" first", ...).
func testAuxAlign(t *testing.T, m *llavaonevision.Model, c *Config, cells bool) {
	t.Helper()
	h := newAuxHead(c.TextHidden, 1)
	n := h.align(m, false, cells)
	H := c.TextHidden
	word := func(k int) string {
		ch := auxColors + auxShapes + auxSizes + 2*auxGrid
		g := auxColors + auxShapes + auxSizes
		switch {
		case cells && k >= g && k < ch:
			if w := world.Ordinal((k - g) % auxGrid); w != "" {
				return " " + w
			}
			return ""
		case k >= 2 && k < auxColors:
			return " " + world.Colors[k-2]
		case k >= auxColors+2 && k < auxColors+auxShapes:
			return " " + world.Shapes[k-auxColors-2]
		case k >= auxColors+auxShapes+1 && k < auxColors+auxShapes+auxSizes:
			return " " + world.Sizes[k-auxColors-auxShapes-1]
		case k >= ch+1 && k < ch+auxSlot:
			return auxCharset[k-ch-1 : k-ch]
		case k >= ch+auxSlot+1:
			return auxCharset[k-ch-auxSlot-1 : k-ch-auxSlot]
		}
		return ""
	}
	aligned := 0
	for k := range auxK {
		w := word(k)
		ids := m.Tok.Encode(w)
		if w == "" || len(ids) != 1 {
			if h.tok[k] != -1 || &h.row(k, H)[0] != &h.W.Value.Data[k*H] {
				t.Fatalf("class %d (%q): aligned to token %d", k, w, h.tok[k])
			}
			continue
		}
		aligned++
		if h.tok[k] != ids[0] || &h.row(k, H)[0] != &m.Embed.W.Value.Data[ids[0]*H] {
			t.Fatalf("class %d (%q): token %d, want %d", k, w, h.tok[k], ids[0])
		}
	}
	if aligned != n || n < 60 {
		t.Fatalf("cells %v: %d classes aligned, align reported %d", cells, aligned, n)
	}
	if g := auxColors + auxShapes + auxSizes; cells {
		// Some ordinal is one token of the tiny tokenizer: the loop above
		// checked its row and column classes; here that there is one.
		found := false
		for k := range auxGrid {
			found = found || (h.tok[g+k] >= 0 && h.tok[g+k] == h.tok[g+auxGrid+k])
		}
		if !found {
			t.Fatal("no row or column class aligned to an ordinal")
		}
	}
}
