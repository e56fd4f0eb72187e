package train

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"mbq/kernels"
	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/safetensors"
	"mbq/tensor"
	"mbq/testbed/world"
)

// The auxiliary objective on the image features (training only; the head is
// not part of the saved model).
//
// Trained on the answer loss alone, the small VLM ignores the image: the
// answer tokens reach the vision rows only through attention, the decoder
// first learns the language prior, and the projector output drifts to a
// large image-independent vector (measured: mean |x| 121, image-dependent
// part 0.3%). A dense, direct objective keeps the image content a large part
// of every vision row: each projector output row x (one patch of one tile)
// is RMS-normalized as the decoder's first RMSNorm will see it,
//
//	u = x / sqrt(mean(x²) + ε),   z = W·u + b   (W: [K, hidden]),
//
// and z is split into softmax groups — the colour of the object the patch
// belongs to (none, sign, 10 colours), its shape (none, sign, 8 shapes), its
// size (none, small, large), the row and the column of its grid cell (so
// that "in the second row" can be matched against the rows), and two
// character slots (none, A–Z, 0–9): the sign character whose glyph centre
// lies in the left half of the patch, and the one in its right half. The
// glyph pitch (12 or 18 px) exceeds half a patch (8 px), so two glyphs of
// one patch always fall in different halves, and reading the slots patch by
// patch, left before right, spells the sign in order. The per-patch loss is
//
//	CE(colour) + CE(shape) + CE(size) + CE(row) + CE(col) + CE(left char) + CE(right char),
//
// averaged over the sample's patch rows and weighted by Config.AuxWeight
// against the sample's mean answer-token loss.
//
// Balanced (Config.AuxBalance), each group with a "none" class weighs its
// labelled patches as a group of their own: with n_g the patches of a tile
// whose label in group g is not none, a labelled patch's CE(g) counts
// 1/(tiles·n_g) and a none patch's 1/rows, so the few glyph and object
// patches are not outweighed by the background (row and column have no
// none class and keep 1/rows). Unbalanced, the sign's characters were
// measured at chance (1.9% of glyph slots read right on unseen scenes after
// 3700 steps) while colours, sizes and cells were read at 97–100%.
const (
	auxColors = 2 + 10 // none, sign, world.Colors
	auxShapes = 2 + 8  // none, sign, world.Shapes
	auxSizes  = 3      // none, small, large
	auxSlot   = 1 + 36 // none, A–Z, 0–9
	auxGrid   = 8      // row and column of the cell (grids up to 8x8)
	auxK      = auxColors + auxShapes + auxSizes + 2*auxGrid + 2*auxSlot
	auxEps    = 1e-6
	auxPrefix = "aux.image_attributes."
)

const auxCharset = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// patchLabel is what one patch shows.
type patchLabel struct {
	color, shape, size int
	row, col           int // grid cell
	// left and right are the sign characters centred in the patch's left
	// and right half: 0 for none, else 1 + their index in auxCharset.
	left, right int
}

// auxHead is the linear read-out of the auxiliary objective.
type auxHead struct {
	W, B *nn.Param
	// Aligned (Config.AuxAligned), the classes that name a word of the
	// world read out through that word's token embedding instead of a row
	// of W: tok[k] is the token of class k (-1: W's row), emb the model's
	// embedding table (each replica its own, for the gradient).
	tok []int
	emb *nn.Param
	// frozen: the embeddings are read but get no gradient (frozenEmb).
	frozen bool
	// residual (Config.AuxResidual): an aligned class reads out through
	// E[tok[k]] + W[k], its row of W zero-initialised by align and trained.
	residual bool
}

// align makes the colour, shape, size and sign-character classes (with
// cells, the row and column classes too, through the ordinals) read out
// through the token embeddings of m (the decoder's input table, tied to its
// output): class "red" scores x·E[" red"] + b. The image rows are thereby
// trained toward the embeddings of the words that describe them, so the
// decoder can match a question's words against the image the way it matches
// identical tokens — the alignment a pretrained SigLIP brings to a real VLM.
// A word that is not one token (" "+word; the character alone for signs)
// keeps its row of W; n is the number of aligned classes. With residual the
// class scores x·(E[" red"] + W_k) + b, W_k starting at zero: classes that
// share a token (the left and right character slots) can then differ.
func (h *auxHead) align(m *llavaonevision.Model, residual, cells bool) (n int) {
	h.tok = make([]int, auxK)
	for k := range h.tok {
		h.tok[k] = -1
	}
	h.emb, h.residual = m.Embed.W, residual
	H := h.W.Value.Shape[1]
	set := func(k int, text string) {
		if ids := m.Tok.Encode(text); len(ids) == 1 {
			h.tok[k] = ids[0]
			n++
			if residual {
				clear(h.W.Value.Data[k*H : (k+1)*H])
			}
		}
	}
	for i, c := range world.Colors {
		set(2+i, " "+c)
	}
	for i, sh := range world.Shapes {
		set(auxColors+2+i, " "+sh)
	}
	for i, sz := range world.Sizes {
		set(auxColors+auxShapes+1+i, " "+sz)
	}
	if cells { // rows, then columns, through the ordinals
		g := auxColors + auxShapes + auxSizes
		for k := range auxGrid {
			if w := world.Ordinal(k); w != "" {
				set(g+k, " "+w)
				set(g+auxGrid+k, " "+w)
			}
		}
	}
	ch := auxColors + auxShapes + auxSizes + 2*auxGrid
	for i := range len(auxCharset) {
		set(ch+1+i, auxCharset[i:i+1])
		set(ch+auxSlot+1+i, auxCharset[i:i+1])
	}
	return n
}

func newAuxHead(hidden int, seed uint64) *auxHead {
	rng := rand.New(rand.NewPCG(mix64(seed^0x6175782d68656164), 1)) // "aux-head"
	w := tensor.New(auxK, hidden)
	for i := range w.Data {
		w.Data[i] = float32(rng.NormFloat64() * 0.02)
	}
	h := &auxHead{W: nn.NewParam(w), B: nn.NewParam(tensor.New(auxK))}
	h.W.AllocGrad()
	h.B.AllocGrad()
	return h
}

// replica shares the head's values with its own gradients; an aligned head
// reads the embeddings of m, the model replica it serves.
func (h *auxHead) replica(m *llavaonevision.Model) *auxHead {
	r := &auxHead{W: nn.NewParam(h.W.Value), B: nn.NewParam(h.B.Value), tok: h.tok, residual: h.residual}
	if h.tok != nil {
		r.emb = m.Embed.W
	}
	r.W.AllocGrad()
	r.B.AllocGrad()
	return r
}

func (h *auxHead) params() []nn.NamedParam {
	if h == nil {
		return nil
	}
	return []nn.NamedParam{{Name: auxPrefix + "weight", Param: h.W}, {Name: auxPrefix + "bias", Param: h.B}}
}

// tensors are the head's values, stored beside the optimizer moments.
func (h *auxHead) tensors() []safetensors.Tensor {
	if h == nil {
		return nil
	}
	var ts []safetensors.Tensor
	for _, p := range h.params() {
		ts = append(ts, safetensors.F32Tensor(p.Name, p.Value.Shape, p.Value.Data))
	}
	return ts
}

// load reads the head's values from the optimizer file of a checkpoint.
func (h *auxHead) load(path string) error {
	ck, err := safetensors.OpenCheckpoint(path)
	if err != nil {
		return err
	}
	defer ck.Close()
	for _, p := range h.params() {
		data, err := ck.Float32(p.Name)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, p.Name, err)
		}
		if len(data) != len(p.Value.Data) {
			return fmt.Errorf("%s: %s: %d values, want %d", path, p.Name, len(data), len(p.Value.Data))
		}
		copy(p.Value.Data, data)
	}
	return nil
}

// sceneLabels labels the patches of one tile (side x side patches of
// patch pixels each, the tile being the whole image): by the grid cell
// holding the patch centre, and by the sign glyphs whose centre lies in it.
func sceneLabels(s *world.Scene, side, patch int) []patchLabel {
	cfg := s.Config
	out := make([]patchLabel, side*side)
	type occ struct{ color, shape, size int }
	grid := make([]occ, cfg.Grid*cfg.Grid)
	for _, o := range s.Objects {
		c := occ{2 + index(world.Colors, o.Color), 2 + index(world.Shapes, o.Shape), 1}
		if o.Size == "large" {
			c.size = 2
		}
		grid[o.Row*cfg.Grid+o.Col] = c
	}
	if s.Sign != nil {
		grid[s.Sign.Row*cfg.Grid+s.Sign.Col] = occ{1, 1, 0}
		grid[s.Sign.Row*cfg.Grid+s.Sign.Col+1] = occ{1, 1, 0}
	}
	for pr := range side {
		for pc := range side {
			r, c := patchCell(pr, pc, patch, cfg.Size, cfg.Grid)
			g := grid[r*cfg.Grid+c]
			out[pr*side+pc] = patchLabel{color: g.color, shape: g.shape, size: g.size, row: r, col: c}
		}
	}
	if s.Sign != nil {
		for k, b := range s.SignGlyphs() {
			ci := strings.IndexByte(auxCharset, s.Sign.Text[k])
			if ci < 0 {
				continue
			}
			pr, pc := glyphPatch(b, patch, side)
			p := &out[pr*side+pc]
			if cx := (b.Min.X + b.Max.X) / 2; cx%patch < patch/2 {
				p.left = 1 + ci
			} else {
				p.right = 1 + ci
			}
		}
	}
	return out
}

func index(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	panic("train: " + s + " is not in the world's lexicon")
}

// lossAndGrad computes the weighted auxiliary loss of one sample's
// projector output proj ([tiles·n, hidden], every tile labelled by labels),
// accumulates the head's gradients (times weight) and returns the loss and
// the gradient at proj (times weight).
func (h *auxHead) lossAndGrad(proj *tensor.Tensor, labels []patchLabel, weight float32, balanced bool) (float64, *tensor.Tensor, error) {
	rows, H := proj.Rows(), proj.Shape[1]
	n := len(labels)
	if n == 0 || rows%n != 0 {
		return 0, nil, fmt.Errorf("auxiliary loss: %d projector rows for %d patch labels per tile", rows, n)
	}
	// rel[g] is the weight of a labelled patch in group g relative to 1/rows
	// (balanced: rows/(tiles·n_g) = n/n_g); none patches always weigh 1.
	var rel [7]float64
	for g := range rel {
		rel[g] = 1
	}
	if balanced {
		var cnt [7]int
		for _, lb := range labels {
			for g, grp := range auxGroups(lb) {
				if grp.hasNone && grp.y > 0 {
					cnt[g]++
				}
			}
		}
		for g, c := range cnt {
			if c > 0 {
				rel[g] = float64(n) / float64(c)
			}
		}
	}
	// Forward, as matrices: U the normalized rows, Z = U·Rᵀ + b.
	R := h.readout(H)
	U := make([]float32, rows*H)
	inv := make([]float64, rows)
	for r := range rows {
		x := proj.Data[r*H : (r+1)*H]
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		inv[r] = 1 / math.Sqrt(ss/float64(H)+auxEps)
		for j, v := range x {
			U[r*H+j] = float32(float64(v) * inv[r])
		}
	}
	Z := make([]float32, rows*auxK)
	kernels.MatMulTransB(Z, U, R, rows, H, auxK)
	B := h.B.Value.Data
	gB := h.B.Grad.Data
	scale := weight / float32(rows)
	dZ := make([]float32, rows*auxK)
	var loss float64
	for r := range rows {
		z, dz := Z[r*auxK:(r+1)*auxK], dZ[r*auxK:(r+1)*auxK]
		lb := labels[r%n]
		for gi, g := range auxGroups(lb) {
			off, size, y := g.off, g.size, g.y
			w := 1.0
			if g.hasNone && y > 0 {
				w = rel[gi]
			}
			mx := math.Inf(-1)
			for k := off; k < off+size; k++ {
				mx = math.Max(mx, float64(z[k]+B[k]))
			}
			var se float64
			for k := off; k < off+size; k++ {
				se += math.Exp(float64(z[k]+B[k]) - mx)
			}
			lse := mx + math.Log(se)
			loss += (lse - float64(z[off+y]+B[off+y])) * w
			for k := off; k < off+size; k++ {
				p := math.Exp(float64(z[k]+B[k]) - lse)
				if k == off+y {
					p--
				}
				dz[k] = float32(p*w) * scale
				gB[k] += dz[k]
			}
		}
	}
	// Back through the head: G = dZᵀ·U (the read-out rows' gradient, to
	// W and/or the embeddings), dU = dZ·R, then through the normalization.
	G := make([]float32, auxK*H)
	kernels.MatMulTransA(G, dZ, U, auxK, rows, H)
	gW := h.W.Grad.Data
	for k := range auxK {
		gk := G[k*H : (k+1)*H]
		t, aligned := h.token(k)
		if !aligned || h.residual {
			for j, v := range gk {
				gW[k*H+j] += v
			}
		}
		if aligned && !h.frozen {
			ge := h.emb.Grad.Data[t*H : (t+1)*H]
			for j, v := range gk {
				ge[j] += v
			}
		}
	}
	dU := make([]float32, rows*H)
	kernels.MatMul(dU, dZ, R, rows, auxK, H)
	dx := tensor.New(proj.Shape...)
	for r := range rows {
		u, du := U[r*H:(r+1)*H], dU[r*H:(r+1)*H]
		var dot float64
		for j := range du {
			dot += float64(du[j]) * float64(u[j])
		}
		dot /= float64(H)
		d := dx.Data[r*H : (r+1)*H]
		for j := range d {
			d[j] = float32((float64(du[j]) - float64(u[j])*dot) * inv[r])
		}
	}
	return loss * float64(weight) / float64(rows), dx, nil
}

// row is class k's read-out vector without the residual: its token's
// embedding when aligned, else its row of W.
func (h *auxHead) row(k, H int) []float32 {
	if t, ok := h.token(k); ok {
		return h.emb.Value.Data[t*H : (t+1)*H]
	}
	return h.W.Value.Data[k*H : (k+1)*H]
}

// readout is the head's read-out matrix, auxK rows of H: row k is
// E[tok[k]] (+ W[k] when residual) for an aligned class, else W[k].
func (h *auxHead) readout(H int) []float32 {
	if h.tok == nil {
		return h.W.Value.Data
	}
	R := make([]float32, auxK*H)
	for k := range auxK {
		r := R[k*H : (k+1)*H]
		copy(r, h.row(k, H))
		if _, ok := h.token(k); ok && h.residual {
			for j, w := range h.W.Value.Data[k*H : (k+1)*H] {
				r[j] += w
			}
		}
	}
	return R
}

// token is the token whose embedding class k reads out through, if aligned.
func (h *auxHead) token(k int) (int, bool) {
	if h.tok == nil || h.tok[k] < 0 {
		return 0, false
	}
	return h.tok[k], true
}

// newAux is the run's auxiliary head for m, aligned to its embeddings when
// the configuration says so (the count of aligned classes goes to log).
func newAux(m *llavaonevision.Model, c *Config, log io.Writer) *auxHead {
	h := newAuxHead(m.Cfg.TextConfig.HiddenSize, c.Seed)
	if c.AuxAligned {
		n := h.align(m, c.AuxResidual, c.AuxAlignCells)
		of := len(world.Colors) + len(world.Shapes) + len(world.Sizes) + 2*len(auxCharset)
		if c.AuxAlignCells {
			of += 2 * auxGrid
		}
		fmt.Fprintf(log, "auxiliary head: %d of %d word classes read out through their token embeddings\n", n, of)
	}
	return h
}

// frozenEmb is h with the embeddings read but not trained: the vision
// warm-up moves the image rows toward the words, not the words toward the
// image rows.
func (h *auxHead) frozenEmb() *auxHead {
	f := *h
	f.frozen = true
	return &f
}

// auxGroup is one softmax group of the head's outputs: classes
// off..off+size-1, the label y of a patch, and whether class 0 means none.
type auxGroup struct {
	off, size, y int
	hasNone      bool
}

// auxGroups are the seven groups with lb's labels: colour, shape, size,
// row, column, left and right character.
func auxGroups(lb patchLabel) [7]auxGroup {
	cs := auxColors + auxShapes + auxSizes
	ch := cs + 2*auxGrid
	return [7]auxGroup{
		{0, auxColors, lb.color, true}, {auxColors, auxShapes, lb.shape, true}, {auxColors + auxShapes, auxSizes, lb.size, true},
		{cs, auxGrid, lb.row, false}, {cs + auxGrid, auxGrid, lb.col, false},
		{ch, auxSlot, lb.left, true}, {ch + auxSlot, auxSlot, lb.right, true},
	}
}
