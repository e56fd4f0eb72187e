package block

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"mbq/model"
	"mbq/nn"
	"mbq/quant"
	"mbq/tensor"
)

func randBlock(t *testing.T, heads, kv int, seed uint64) *nn.Qwen2Block {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	b := nn.NewQwen2Block(nn.Qwen2Config{Hidden: 32, Intermediate: 64, NumHeads: heads, NumKVHeads: kv,
		HeadDim: 8, RopeTheta: 10000, RMSNormEps: 1e-6})
	b.InitNormal(rng, 0.2)
	for _, p := range b.Params("") {
		if len(p.Value.Shape) == 1 { // norm weights and biases
			for i := range p.Value.Data {
				p.Value.Data[i] += float32(rng.NormFloat64() * 0.3)
			}
		}
	}
	return b
}

func calibRows(seed uint64) (x *tensor.Tensor, seqs, pos []int, mod []model.Modality) {
	rng := rand.New(rand.NewPCG(seed, 9))
	seqs = []int{11, 7}
	n := 18
	x = tensor.New(n, 32)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	for j := 0; j < n; j++ {
		x.Data[j*32+5] *= 8 // an outlier channel
	}
	for _, s := range seqs {
		for i := 0; i < s; i++ {
			pos = append(pos, i)
			switch {
			case i < 2:
				mod = append(mod, model.Prompt)
			case i < 6:
				mod = append(mod, model.Vision)
			default:
				mod = append(mod, model.Answer)
			}
		}
	}
	return x, seqs, pos, mod
}

func maxDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

// TestFoldInvariance folds random scales into all four groups (RMSNorm
// weights and v_proj/up_proj rows as producers, GQA and MHA) and checks the
// full-precision block function is unchanged to 1e-5.
func TestFoldInvariance(t *testing.T) {
	for _, tc := range []struct {
		name      string
		heads, kv int
	}{{"gqa", 4, 2}, {"mha", 4, 4}, {"mqa", 4, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			b := randBlock(t, tc.heads, tc.kv, 1)
			x, seqs, pos, mod := calibRows(2)
			c, err := NewContext(0, b, x, seqs, pos, mod, Options{Spec: Spec{WBits: 4, ABits: 16, Group: 16}, KeepGQAVO: true})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(3, 3))
			for g := QKV; g < NumGroups; g++ {
				if c.Skipped[g] {
					t.Fatalf("group %s skipped with KeepGQAVO", g)
				}
				s := make([]float32, c.ScaleLen(g))
				for i := range s {
					s[i] = float32(math.Exp(rng.Float64()*2.8 - 1.4)) // 0.25 .. 4
				}
				if err := c.Fold(g, s, 0.5); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Fold(QKV, c.Scales[QKV], 0); err == nil {
				t.Error("folding a group twice: no error")
			}
			got := b.Forward(x, c.Rope, seqs, nil).Out
			if d := maxDiff(got.Data, c.FPOut.Data); d > 1e-5 {
				t.Errorf("block output changed by %g after folding", d)
			}
			// The folded inputs are what the folded block feeds its linears.
			var n1 *tensor.Tensor
			b.Forward(x, c.Rope, seqs, &nn.Hooks{Forward: func(name string, in, _ *tensor.Tensor) {
				if name == "self_attn.q_proj" {
					n1 = in
				}
			}})
			if d := maxDiff(n1.Data, c.FoldedInput(QKV).Data); d > 1e-5 {
				t.Errorf("folded q_proj input differs by %g", d)
			}
			// The original copy is untouched.
			if d := maxDiff(c.Orig.Forward(x, c.Rope, seqs, nil).Out.Data, c.FPOut.Data); d != 0 {
				t.Errorf("Orig changed: %g", d)
			}
		})
	}
}

func TestGQASkip(t *testing.T) {
	b := randBlock(t, 4, 2, 1)
	x, seqs, pos, mod := calibRows(2)
	c, err := NewContext(0, b, x, seqs, pos, mod, Options{Spec: Spec{WBits: 4, ABits: 16, Group: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Skipped[VO] {
		t.Fatal("VO not skipped under GQA")
	}
	if err := c.Fold(VO, make([]float32, c.ScaleLen(VO)), 0); err == nil {
		t.Error("folding a skipped group: no error")
	}
	res, err := c.SearchAndFold(MSE)
	if err != nil {
		t.Fatal(err)
	}
	if res[VO] != nil || c.Scales[VO] != nil {
		t.Error("skipped group searched")
	}
	b2 := randBlock(t, 4, 4, 1)
	c2, err := NewContext(0, b2, x, seqs, pos, mod, Options{Spec: Spec{WBits: 4, ABits: 16, Group: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if c2.Skipped[VO] {
		t.Error("VO skipped without GQA")
	}
}

func TestGridScales(t *testing.T) {
	xm := []float64{0.5, 2, 8, 0}
	for _, a := range []float64{0, 0.35, 0.95} {
		s := GridScales(xm, a)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range s {
			lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
		}
		if math.Abs(lo*hi-1) > 1e-5 {
			t.Errorf("alpha %v: max·min = %v, want 1", a, lo*hi)
		}
		if a == 0 {
			for _, v := range s {
				if v != 1 {
					t.Fatalf("alpha 0: %v, want ones", s)
				}
			}
		}
	}
	// x_mean 0 is floored at 1e-4 before normalising.
	s := GridScales([]float64{0, 1}, 0.5)
	if want := float32(1e-4 / math.Sqrt(1e-4)); math.Abs(float64(s[0]-want)) > 1e-7 {
		t.Errorf("floor: %v, want %v", s[0], want)
	}
}

// TestSearchAndFinish checks the search bookkeeping: the grid's alpha = 0
// point is plain quantization (Finish's "before"), the chosen point is the
// first minimum, and Finish's "after" matches the chosen loss.
func TestSearchAndFinish(t *testing.T) {
	for _, spec := range []Spec{{WBits: 3, ABits: 16, Group: 16}, {WBits: 4, ABits: 8}} {
		b := randBlock(t, 4, 2, 5)
		x, seqs, pos, mod := calibRows(6)
		c, err := NewContext(1, b, x, seqs, pos, mod, Options{Spec: spec})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.SearchAndFold(MSE)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.QuantizeRTN(); err != nil {
			t.Fatal(err)
		}
		reps, err := c.Finish(MSE)
		if err != nil {
			t.Fatal(err)
		}
		for g, r := range res {
			if r == nil {
				continue
			}
			best := 0
			for i, l := range r.Losses {
				if l < r.Losses[best] {
					best = i
				}
			}
			if r.Alpha != float64(best)/GridPoints {
				t.Errorf("%v %s: alpha %v, want first minimum %v", spec, GroupID(g), r.Alpha, float64(best)/GridPoints)
			}
			rep := reps[g]
			if math.Abs(rep.LossBefore-r.Losses[0]) > 1e-9*math.Max(1, r.Losses[0]) {
				t.Errorf("%v %s: before %v, grid alpha 0 %v", spec, GroupID(g), rep.LossBefore, r.Losses[0])
			}
			if math.Abs(rep.LossAfter-r.Losses[best]) > 1e-3*r.Losses[best] {
				t.Errorf("%v %s: after %v, searched %v", spec, GroupID(g), rep.LossAfter, r.Losses[best])
			}
		}
		for _, l := range b.Linears() {
			if l.ActBits != spec.ActBits() {
				t.Errorf("%v %s: ActBits %d", spec, l.Name, l.ActBits)
			}
		}
	}
}

// TestQuantizeRTN checks RTN equals quant.FakeQuant of the weights, and
// Finish refuses a block with a linear left in full precision.
func TestQuantizeRTN(t *testing.T) {
	b := randBlock(t, 4, 2, 8)
	x, seqs, pos, mod := calibRows(6)
	spec := Spec{WBits: 3, ABits: 16, Group: 16}
	c, err := NewContext(0, b, x, seqs, pos, mod, Options{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Finish(MSE); !errors.Is(err, ErrNotQuantized) {
		t.Fatalf("Finish before quantizing: %v", err)
	}
	if err := c.QuantizeRTN(); err != nil {
		t.Fatal(err)
	}
	for i, l := range b.Linears() {
		w := append([]float32(nil), c.Orig.Linears()[i].W.Value.Data...)
		if err := quant.FakeQuant(w, l.Out(), l.In(), spec.Weight()); err != nil {
			t.Fatal(err)
		}
		for j := range w {
			if w[j] != l.W.Value.Data[j] {
				t.Fatalf("%s: weight %d = %v, FakeQuant %v", l.Name, j, l.W.Value.Data[j], w[j])
			}
		}
		if c.Params[l.Name] == nil {
			t.Errorf("%s: no params", l.Name)
		}
	}
}

func TestBadGroupSize(t *testing.T) {
	b := randBlock(t, 4, 2, 8)
	x, seqs, pos, mod := calibRows(6)
	if _, err := NewContext(3, b, x, seqs, pos, mod, Options{Spec: Spec{WBits: 3, ABits: 16, Group: 24}}); err == nil {
		t.Error("group 24 of 32 channels: no error")
	}
	if _, err := NewContext(3, b, x, seqs[:1], pos, mod, Options{Spec: Spec{WBits: 3, ABits: 16, Group: 16}}); err == nil {
		t.Error("row mismatch: no error")
	}
}
