package train

import (
	"fmt"
	"io"
	"math"
	"sort"

	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/tensor"
	"mbq/testbed/world"
)

// Diagnosis is what a trained testbed model does with grid positions,
// measured on fresh training-distribution samples (never the benchmark):
// linear probes of the grid cell on the decoder's residual stream, and
// where the guided heads look. It is how the column problem of README
// problem 14 was found.
//
// A probe is a ridge regression (λ = 0.01, one-hot targets, bias) from the
// RMS-normalized input of a decoder block (as its q_proj sees it, the
// norm's gain included) to the classes, fitted on the first three quarters
// of the rows and scored by arg-max accuracy on the last quarter (chance
// is 1/grid).
type Diagnosis struct {
	Samples int `json:"samples"` // training-distribution samples drawn
	// ImageCells[b] are the row and column accuracies of a probe of each
	// image token's grid cell (base tile) at the input of block b.
	ImageCells [][2]float64 `json:"image_cells"`
	ImageRows  int          `json:"image_rows"`
	// NamedCells[b]: at the first answer row of a question naming one
	// cell ("the third row, first column"), the named row and column.
	NamedCells [][2]float64 `json:"named_cells"`
	NamedRows  int          `json:"named_rows"`
	// FocusCells[b]: at the first answer row of a "Where is X?" question,
	// the object's row and column.
	FocusCells [][2]float64 `json:"focus_cells"`
	FocusRows  int          `json:"focus_rows"`
	// Kinds: per question kind, where the guided heads look.
	Kinds []KindAttention `json:"kinds"`
}

// KindAttention is, for the multiple-choice questions of one kind
// ("category/kind", "+cell" when the text names a grid line), the
// geometric-mean attention mass of the image guide's head (ImageGuideHead) on the
// focus cells' tokens over the answer rows (-1: no focus) and of the
// multiple-choice guide's head on the correct option's line, and the mean
// answer-token loss.
type KindAttention struct {
	Kind       string  `json:"kind"`
	N          int     `json:"n"`
	ImageMass  float64 `json:"image_mass"`
	OptionMass float64 `json:"option_mass"`
	AnswerNLL  float64 `json:"answer_nll"`
}

// Diagnose measures m on samples fresh samples of the world drawn with
// seed (one question each, multiple choice as drawn; captions skipped):
// the image tokens of the first 200 scenes, every question naming one
// cell and every "Where is X?" question, and up to 150 multiple-choice
// questions per kind. The model must have the testbed's layout (one
// 2-tile image of side² patches).
func Diagnose(m *llavaonevision.Model, samples int, seed uint64, progress func(done int)) (*Diagnosis, error) {
	vc, tc := m.Cfg.VisionConfig, m.Cfg.TextConfig
	c := DefaultConfig()
	c.ImageSize, c.PatchSize = vc.ImageSize, vc.PatchSize
	c.TextHidden, c.TextLayers, c.Heads, c.KVHeads = tc.HiddenSize, tc.NumHiddenLayers, tc.NumAttentionHeads, tc.NumKeyValueHeads
	c.Seed, c.QATurns, c.OpenShare = seed, 1, 0
	c.TextSteps, c.CurriculumSteps = 0, 0
	c.GuideWeight, c.ImageGuideWeight = 1, 1
	c.ReferentGuideWeight, c.GroundingGuideWeight, c.LetterGuideWeight, c.DigitGuideWeight, c.AnswerLensWeight = 0, 0, 0, 0, 0
	if c.ImageSize != c.World.Size || c.PatchSize <= 0 || c.ImageSize%c.PatchSize != 0 {
		return nil, fmt.Errorf("diagnose: the model's vision_config.image_size %d and patch_size %d do not tile the world's %d-pixel images", c.ImageSize, c.PatchSize, c.World.Size)
	}
	L, side, grid := tc.NumHiddenLayers, c.ImageSize/c.PatchSize, c.World.Grid
	const (
		maxImages  = 200 // scenes whose image tokens are probed
		maxPerKind = 150 // multiple-choice questions per kind for the attention table
	)
	type set struct {
		x          [][][]float64 // [block][row]
		rows, cols []int
	}
	newSet := func() *set { return &set{x: make([][][]float64, L)} }
	img, named, focus := newSet(), newSet(), newSet()
	add := func(s *set, ins []*tensor.Tensor, pos, row, col int) {
		for b := range L {
			H := ins[b].Cols()
			f := make([]float64, H)
			for j, v := range ins[b].Data[pos*H : (pos+1)*H] {
				f[j] = float64(v)
			}
			s.x[b] = append(s.x[b], f)
		}
		s.rows, s.cols = append(s.rows, row), append(s.cols, col)
	}
	type kindSum struct {
		n, nImg, nOpt int
		img, opt, nll float64
	}
	kinds := map[string]*kindSum{}
	images := 0
	for i := range samples {
		if progress != nil {
			progress(i)
		}
		in, ex, err := trainingInput(m, &c, 1, i)
		if err != nil {
			return nil, fmt.Errorf("diagnose: sample %d: %w", i, err)
		}
		q := ex.Questions[0]
		if ex.Scene == nil || q.Category == world.CaptionCat {
			continue
		}
		k := q.Category + "/" + q.Kind
		r, col := namedCell(q.Question)
		if r >= 0 || col >= 0 {
			k += "+cell"
		}
		isNamed, isFocus := r >= 0 && col >= 0, q.Kind == "where-is" && len(q.Focus) == 1
		isImage := images < maxImages
		isKind := q.MultipleChoice() && (kinds[k] == nil || kinds[k].n < maxPerKind)
		if !isNamed && !isFocus && !isImage && !isKind {
			continue
		}
		// The probes read a forward's block inputs; the attention table
		// reads lossAndGrad's guide losses (its own forward), so a sample
		// wanted only there skips this one.
		ins := make([]*tensor.Tensor, L)
		if isNamed || isFocus || isImage {
			hooks := func(b int) *nn.Hooks {
				return &nn.Hooks{Forward: func(name string, x, _ *tensor.Tensor) {
					if name == "self_attn.q_proj" {
						ins[b] = x.Clone()
					}
				}}
			}
			if _, err := m.Forward([]*model.Input{in}, &model.ForwardOptions{Hooks: hooks}); err != nil {
				return nil, fmt.Errorf("diagnose: sample %d: %w", i, err)
			}
		}
		if isImage {
			pos, ok := imagePositions(in, m.Cfg.ImageTokenIndex, &c)
			if !ok {
				return nil, fmt.Errorf("diagnose: sample %d: the image tokens are not one %dx%d image in two tiles", i, side, side)
			}
			for pr := range side {
				for pc := range side {
					r, col := patchCell(pr, pc, c.PatchSize, c.World.Size, grid)
					add(img, ins, pos[pr*side+pc], r, col)
				}
			}
			images++
		}
		turns := answerTurns(in)
		if len(turns) != 1 || len(turns[0]) == 0 {
			return nil, fmt.Errorf("diagnose: sample %d: %d answer turns for one question", i, len(turns))
		}
		row := turns[0][0]
		if isNamed {
			add(named, ins, row, r, col)
		}
		if isFocus {
			add(focus, ins, row, q.Focus[0]/grid, q.Focus[0]%grid)
		}
		if !isKind {
			continue
		}
		res, err := lossAndGrad(m, []*model.Input{in}, &c, nil, []example{ex})
		if err != nil {
			return nil, fmt.Errorf("diagnose: sample %d: %w", i, err)
		}
		s := kinds[k]
		if s == nil {
			s = &kindSum{}
			kinds[k] = s
		}
		s.n++
		s.nll += res.Loss
		if len(q.Focus) > 0 && len(q.Glyphs) == 0 {
			s.nImg++
			s.img += res.guides[imageGuideLoss]
		}
		if res.guides[mcGuideLoss] > 0 {
			s.nOpt++
			s.opt += res.guides[mcGuideLoss]
		}
	}
	d := &Diagnosis{Samples: samples, ImageRows: len(img.rows), NamedRows: len(named.rows), FocusRows: len(focus.rows)}
	probe := func(s *set) [][2]float64 {
		if len(s.rows) < 8 {
			return nil
		}
		out := make([][2]float64, L)
		for b := range L {
			out[b] = [2]float64{probeAccuracy(s.x[b], s.rows, grid), probeAccuracy(s.x[b], s.cols, grid)}
		}
		return out
	}
	d.ImageCells, d.NamedCells, d.FocusCells = probe(img), probe(named), probe(focus)
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	mass := func(sum float64, n int) float64 {
		if n == 0 {
			return -1
		}
		return math.Exp(-sum / float64(n))
	}
	for _, k := range names {
		s := kinds[k]
		d.Kinds = append(d.Kinds, KindAttention{Kind: k, N: s.n, ImageMass: mass(s.img, s.nImg), OptionMass: mass(s.opt, s.nOpt), AnswerNLL: s.nll / float64(s.n)})
	}
	return d, nil
}

// probeAccuracy fits a ridge probe (see Diagnosis) on the first three
// quarters of x and returns its accuracy on the rest.
func probeAccuracy(x [][]float64, y []int, classes int) float64 {
	split := len(x) * 3 / 4
	w := ridge(x[:split], y[:split], classes, 1e-2)
	right := 0
	for n, row := range x[split:] {
		best, arg := math.Inf(-1), 0
		for k := range classes {
			s := w[len(row)][k] // bias
			for j, v := range row {
				s += v * w[j][k]
			}
			if s > best {
				best, arg = s, k
			}
		}
		if arg == y[split+n] {
			right++
		}
	}
	return float64(right) / float64(len(x)-split)
}

// ridge solves (XᵀX + λI) W = XᵀY for one-hot Y, X with a bias column
// appended (row d of W), by Gauss–Jordan elimination with partial
// pivoting; W is [d+1][classes].
func ridge(x [][]float64, y []int, classes int, lambda float64) [][]float64 {
	d := len(x[0]) + 1
	a := make([][]float64, d) // [XᵀX + λI | XᵀY]
	for i := range a {
		a[i] = make([]float64, d+classes)
		a[i][i] = lambda
	}
	xb := make([]float64, d)
	for n, row := range x {
		copy(xb, row)
		xb[d-1] = 1
		for i, vi := range xb {
			for j, vj := range xb {
				a[i][j] += vi * vj
			}
			a[i][d+y[n]] += vi
		}
	}
	for c := range d {
		p := c
		for r := c + 1; r < d; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		for r := range d {
			if r == c || a[r][c] == 0 {
				continue
			}
			f := a[r][c] / a[c][c]
			for j := c; j < d+classes; j++ {
				a[r][j] -= f * a[c][j]
			}
		}
	}
	w := make([][]float64, d)
	for i := range w {
		w[i] = make([]float64, classes)
		for k := range classes {
			w[i][k] = a[i][d+k] / a[i][i]
		}
	}
	return w
}

// Write prints the diagnosis as three tables.
func (d *Diagnosis) Write(w io.Writer) {
	fmt.Fprintf(w, "linear probes of the grid cell (ridge, accuracy on held-out rows; chance 25%% on a 4x4 grid), %d samples\n", d.Samples)
	fmt.Fprintf(w, "  %-7s %24s %28s %28s\n", "block", fmt.Sprintf("image tokens (%d)", d.ImageRows), fmt.Sprintf("named cell, answer row (%d)", d.NamedRows), fmt.Sprintf("where-is object, answer (%d)", d.FocusRows))
	fmt.Fprintf(w, "  %-7s %12s %11s %14s %13s %14s %13s\n", "input", "row", "column", "row", "column", "row", "column")
	cell := func(v [][2]float64, b, i int) string {
		if b >= len(v) {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*v[b][i])
	}
	for b := range max(len(d.ImageCells), len(d.NamedCells), len(d.FocusCells)) {
		fmt.Fprintf(w, "  %-7d %12s %11s %14s %13s %14s %13s\n", b, cell(d.ImageCells, b, 0), cell(d.ImageCells, b, 1),
			cell(d.NamedCells, b, 0), cell(d.NamedCells, b, 1), cell(d.FocusCells, b, 0), cell(d.FocusCells, b, 1))
	}
	fmt.Fprintln(w, "multiple-choice questions by kind: geometric-mean attention mass of the image guide's head on the focus cells")
	fmt.Fprintln(w, "(second-to-last block) and of the multiple-choice guide's head on the correct option (last block)")
	fmt.Fprintf(w, "  %-34s %5s %11s %12s %11s\n", "kind", "n", "focus mass", "option mass", "answer NLL")
	pct := func(v float64) string {
		if v < 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	for _, k := range d.Kinds {
		fmt.Fprintf(w, "  %-34s %5d %11s %12s %11.3f\n", k.Kind, k.N, pct(k.ImageMass), pct(k.OptionMass), k.AnswerNLL)
	}
}
