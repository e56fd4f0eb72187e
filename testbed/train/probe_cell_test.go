package train

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"mbq/model"
	"mbq/tensor"
	"mbq/testbed/world"
)

func TestNamedCell(t *testing.T) {
	for _, tc := range []struct {
		q        string
		row, col int
	}{
		{"What is in the third row, first column?", 2, 0},
		{"What colour is the shape in the fourth row, second column?", 3, 1},
		{"How many objects are in the second column?", -1, 1},
		{"How many objects are in the First row?", 0, -1},
		{"Where is the red star?", -1, -1},
		{"In which row is the sign?", -1, -1},
		{"Is the first object red?", -1, -1},
	} {
		if r, c := namedCell(tc.q); r != tc.row || c != tc.col {
			t.Errorf("%q: %d, %d, want %d, %d", tc.q, r, c, tc.row, tc.col)
		}
	}
	q := world.Question{HasImage: true, Question: "Where is the red star?", Focus: []int{9}}
	if r, c, ok := probeTargets(focusProbe, q, 4); !ok || r != 2 || c != 1 {
		t.Errorf("focus probe of cell 9: %d, %d, %v", r, c, ok)
	}
	if _, _, ok := probeTargets(namedProbe, q, 4); ok {
		t.Error("named probe of a question naming no cell")
	}
	q.Focus = []int{1, 2}
	if _, _, ok := probeTargets(focusProbe, q, 4); ok {
		t.Error("focus probe of two cells")
	}
	q = world.Question{Question: "What is in the third row, first column?"}
	if _, _, ok := probeTargets(namedProbe, q, 4); ok {
		t.Error("probe of a question without an image")
	}
}

// TestCellProbeGradFD: the probe's loss is Σ weight·CE over the rows and
// roles that have a target, and its gradient at the hidden states matches
// finite differences; rows outside the probe get none.
func TestCellProbeGradFD(t *testing.T) {
	const H, G = 24, 4
	p := newCellProbes(G, H)
	rng := rand.New(rand.NewPCG(4, 2))
	x := tensor.New(6, H)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64() * 3)
	}
	rows := []int{0, 2, 5}
	targets := [][2]int{{1, 3}, {-1, 0}, {2, -1}}
	weights := []float32{0.5, 1.5, 0.25}
	for site := range numProbes {
		loss := func() float64 {
			var sum float64
			for i, r := range rows {
				u := make([]float64, H)
				var ms float64
				for j := range H {
					ms += float64(x.Data[r*H+j]) * float64(x.Data[r*H+j])
				}
				rms := math.Sqrt(ms/H + 1e-6)
				for j := range H {
					u[j] = float64(x.Data[r*H+j]) / rms
				}
				for role := range 2 {
					k := targets[i][role]
					if k < 0 {
						continue
					}
					z := make([]float32, G)
					w := p[site][role].W.Value.Data
					for g := range G {
						var s float64
						for j := range H {
							s += float64(w[g*H+j]) * u[j]
						}
						z[g] = float32(s)
					}
					sum += float64(weights[i]) * rowNLL(z, k)
				}
			}
			return sum
		}
		d, l, err := p.grad(site, x, rows, targets, weights)
		if err != nil {
			t.Fatal(err)
		}
		if want := loss(); math.Abs(l-want) > 1e-4*want {
			t.Fatalf("site %d: loss %g, want %g", site, l, want)
		}
		if rel := rowGradError(t, x, d, rows, loss); rel > 1e-3 {
			t.Errorf("site %d: relative error %g", site, rel)
		}
	}
	if q := newCellProbes(G, H); !slices.Equal(q[1][0].W.Value.Data, p[1][0].W.Value.Data) {
		t.Error("read-outs differ between draws")
	}
	if slices.Equal(p[0][0].W.Value.Data, p[0][1].W.Value.Data) || slices.Equal(p[0][0].W.Value.Data, p[1][0].W.Value.Data) {
		t.Error("two read-outs are equal")
	}
	if _, _, err := p.grad(0, tensor.New(3, H+1), []int{0}, [][2]int{{0, 0}}, []float32{1}); err == nil {
		t.Error("wrong width accepted")
	}
	if _, _, err := p.grad(0, x, []int{6}, [][2]int{{0, 0}}, []float32{1}); err == nil {
		t.Error("row outside the hidden states accepted")
	}
}

// TestCellProbeGradients: in training the probes change no answer loss
// and no gradient of the last block (the named probe reads the
// second-to-last block's input, the focus probe the last's), and do
// change the gradients of the blocks below.
func TestCellProbeGradients(t *testing.T) {
	c := tinyConfig()
	c.TextLayers, c.Heads, c.KVHeads = 3, 4, 2
	c.GuideWeight, c.ImageGuideWeight, c.GroundingGuideWeight, c.AuxWeight = 0, 0, 0, 0
	c.QATurns = 3
	m := tinyModel(t, &c)
	batch, exs := trainingBatch(t, m, &c, 2, 8)
	named, focus := 0, 0
	for _, ex := range exs {
		for _, q := range ex.Questions {
			if _, _, ok := probeTargets(namedProbe, q, c.World.Grid); ok {
				named++
			}
			if _, _, ok := probeTargets(focusProbe, q, c.World.Grid); ok {
				focus++
			}
		}
	}
	if named == 0 || focus == 0 {
		t.Fatalf("batch has %d questions naming a cell, %d with one focus cell", named, focus)
	}
	run := func(w float64) (*lossResult, map[string][]float32) {
		cw := c
		cw.CellProbeWeight = w
		return gradsWith(t, m, batch, exs, &cw)
	}
	off, g0 := run(0)
	on, g1 := run(0.5)
	if off.guides[probeLoss] != 0 || on.guides[probeLoss] <= 0 {
		t.Fatalf("probe loss off %g, on %g", off.guides[probeLoss], on.guides[probeLoss])
	}
	if on.Loss != off.Loss {
		t.Fatalf("answer loss %g with the probes, %g without", on.Loss, off.Loss)
	}
	changed := map[string]bool{}
	for name, a := range g0 {
		if !slices.Equal(a, g1[name]) {
			changed[name] = true
		}
		if changed[name] && (strings.Contains(name, "layers.2.") || name == "language_model.model.norm.weight") {
			t.Errorf("%s: gradient changed by the probes", name)
		}
	}
	// The named probe reaches block 0 only through the second-to-last
	// block's input; the focus probe through block 1 too.
	for _, want := range []string{"layers.0.mlp.down_proj.weight", "layers.1.mlp.down_proj.weight", "layers.1.self_attn.v_proj.weight"} {
		found := false
		for name := range changed {
			found = found || strings.HasSuffix(name, want)
		}
		if !found {
			t.Errorf("%s: gradient not changed by the probes", want)
		}
	}
	// The recorded loss is each site's probe on its own block's input.
	var want float64
	probes := newCellProbes(c.World.Grid, c.TextHidden)
	for i, in := range batch {
		xs := map[int]*tensor.Tensor{}
		o := &model.BackwardOptions{BlockInputGrad: func(_, block int, x *tensor.Tensor) *tensor.Tensor {
			xs[block] = x.Clone()
			return nil
		}}
		if _, err := m.LossAndGrad([]*model.Input{in}, o); err != nil {
			t.Fatal(err)
		}
		turns := answerTurns(in)
		for site, block := range [numProbes]int{namedProbe: 1, focusProbe: 2} {
			rows, targets, weights := probeRows(site, exs[i].Questions, turns, c.World.Grid, 0.5)
			_, l, err := probes.grad(site, xs[block], rows, targets, weights)
			if err != nil {
				t.Fatal(err)
			}
			want += l
		}
	}
	if got := on.guides[probeLoss]; math.Abs(got-want) > 1e-9*want {
		t.Errorf("probe loss %g, want %g from each site's block input", got, want)
	}
	// With the keys, the image tokens and option lines add to the loss.
	ck := c
	ck.CellProbeWeight, ck.CellProbeKeys = 0.5, true
	keyed, _ := gradsWith(t, m, batch, exs, &ck)
	if keyed.guides[probeLoss] <= on.guides[probeLoss] || keyed.Loss != off.Loss {
		t.Errorf("probe loss with keys %g, without %g (answer loss %g, %g)", keyed.guides[probeLoss], on.guides[probeLoss], keyed.Loss, off.Loss)
	}
	bad := c
	bad.CellProbeWeight = -1
	if err := bad.Validate(); err == nil {
		t.Error("negative probe weight accepted")
	}
	bad.CellProbeWeight, bad.CellProbeKeys = 0, true
	if err := bad.Validate(); err == nil {
		t.Error("keys without a probe weight accepted")
	}
}

// TestProbeKeyRows: the named site's keys are every image token of both
// tiles with its patch's cell; the focus site's are the last token of each
// option line naming a cell, in letter order, with that option's cell; a
// turn's key rows share its weight.
func TestProbeKeyRows(t *testing.T) {
	c := tinyConfig()
	c.QATurns, c.OpenShare = 1, 0
	m := tinyModel(t, &c)
	side := c.ImageSize / c.PatchSize
	seen := map[string]bool{}
	for i := 0; i < 400 && len(seen) < 2; i++ {
		in, ex, err := trainingInput(m, &c, 3, i)
		if err != nil {
			t.Fatal(err)
		}
		q := ex.Questions[0]
		if ex.Scene == nil || !q.MultipleChoice() || q.Category == world.CaptionCat {
			continue
		}
		turns := answerTurns(in)
		rows, targets, weights := probeKeyRows(namedProbe, m.Tok, in, m.Cfg.ImageTokenIndex, ex.Questions, turns, &c, 0.6)
		pos, _ := imagePositions(in, m.Cfg.ImageTokenIndex, &c)
		if len(rows) != 2*side*side { // both tiles, the grid tile's newlines left out
			t.Fatalf("sample %d: %d image key rows, want %d", i, len(rows), 2*side*side)
		}
		var sum float32
		for j, r := range rows {
			sum += weights[j]
			k := slices.Index(pos, r)
			var pr, pc int
			if k < side*side {
				pr, pc = k/side, k%side
			} else {
				k -= side * side
				pr, pc = k/(side+1), k%(side+1)
			}
			if rr, cc := patchCell(pr, pc, c.PatchSize, c.World.Size, c.World.Grid); targets[j] != [2]int{rr, cc} {
				t.Fatalf("sample %d: image token %d (patch %d,%d) target %v, want %d,%d", i, r, pr, pc, targets[j], rr, cc)
			}
		}
		if math.Abs(float64(sum)-0.6) > 1e-5 {
			t.Errorf("image key weights sum to %g", sum)
		}
		rows, targets, weights = probeKeyRows(focusProbe, m.Tok, in, m.Cfg.ImageTokenIndex, ex.Questions, turns, &c, 0.6)
		var want [][2]int
		for _, o := range q.Options {
			if r, cc := namedCell(o); r >= 0 || cc >= 0 {
				want = append(want, [2]int{r, cc})
			}
		}
		if !slices.Equal(targets, want) {
			t.Fatalf("%s %q: option targets %v, want %v", q.Kind, q.Options, targets, want)
		}
		for j, r := range rows {
			if !holdsNewline(m.Tok, in.IDs[r]) || math.Abs(float64(weights[j])-0.6/float64(len(rows))) > 1e-6 {
				t.Fatalf("%s: key row %d (%q), weight %g", q.Kind, r, m.Tok.Decode(in.IDs[r:r+1], false), weights[j])
			}
		}
		if len(want) > 0 {
			seen[q.Kind] = true
		}
	}
	if !seen["where-is"] {
		t.Errorf("no where-is question seen (%v)", seen)
	}
}

// rowNLL is -log softmax(z)[k] in float64: the probes' reference loss.
func rowNLL(z []float32, k int) float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = max(m, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s) - float64(z[k])
}
