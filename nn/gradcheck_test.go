package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"mbq/tensor"
)

// Finite-difference checking.
//
// The layers compute in float32. A test's scalar loss is L = Σ y ⊙ r for a
// fixed random r, accumulated in float64 from the float32 outputs y. Each
// checked entry v (the checked values are O(1)) is perturbed by ±h and ±h/2
// with h = 0.1, and the two central differences are combined by Richardson
// extrapolation, (4·D(h/2) - D(h))/3, whose truncation error is O(h⁴·f⁽⁵⁾).
// The remaining error is the float32 rounding of y (≈6e-8·|y| per changed
// output), divided by the step. The step is larger than the usual 1e-2 on
// purpose: with h = 1e-2 that rounding noise alone reaches ~1e-4 absolute,
// which is a relative error above 1e-3 on the smaller gradient entries
// (measured: with h = 1e-2, 3e-2, 5e-2, 1e-1 the worst relative error over
// the suite was 5e-3, 1.4e-3, 1.1e-3, 3.6e-4, falling as 1/h: rounding, not
// a wrong derivative). Over the checked entries of each tensor, the analytic
// gradient a and the estimate n must agree to
//
//	‖a - n‖₂ / ‖n‖₂ < 1e-3                                     (relative error)
//	|a - n| / max(|a|, |n|, 1e-2·max|n|) < 5e-3   per entry    (no entry far off)
//
// The per-entry test floors the denominator at 1% of the tensor's largest
// checked gradient, so entries whose gradient is nearly zero (and so
// dominated by rounding noise, ≈5e-5 absolute in the block tests) are judged
// on the scale of their neighbours. A tensor whose gradient is identically
// zero by symmetry (a SigLIP k_proj bias: softmax ignores a per-row constant)
// passes when both a and n are below 1e-4 everywhere.
const (
	fdStep     = 1e-1
	fdRelTol   = 1e-3 // norm-wise
	fdEntryTol = 5e-3 // per entry, floored
	fdZero     = 1e-4 // |gradient| below this everywhere: identically zero
)

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func randTensor(rng *rand.Rand, std float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	fillNormal(rng, t.Data, std)
	return t
}

// dot returns Σ y ⊙ r in float64.
func dot(y, r *tensor.Tensor) float64 {
	if len(y.Data) != len(r.Data) {
		panic("dot: sizes differ")
	}
	var s float64
	for i, v := range y.Data {
		s += float64(v) * float64(r.Data[i])
	}
	return s
}

// sample returns up to n distinct indices in [0, size), always including 0
// and size-1.
func sample(rng *rand.Rand, size, n int) []int {
	if size <= n {
		idx := make([]int, size)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	seen := map[int]bool{0: true, size - 1: true}
	idx := []int{0, size - 1}
	for len(idx) < n {
		i := rng.IntN(size)
		if !seen[i] {
			seen[i] = true
			idx = append(idx, i)
		}
	}
	return idx
}

// checkGrad compares analytic[i] with the finite-difference derivative of
// loss with respect to vals[i] on a sample of n indices.
func checkGrad(t *testing.T, name string, vals, analytic []float32, loss func() float64, n int, rng *rand.Rand) {
	t.Helper()
	if len(vals) != len(analytic) {
		t.Fatalf("%s: %d values, %d gradients", name, len(vals), len(analytic))
	}
	idx := sample(rng, len(vals), n)
	num := make([]float64, len(idx))
	diff := func(i int, h float64) float64 {
		v := vals[i]
		vals[i] = v + float32(h)
		hp := float64(vals[i] - v) // the step actually taken in float32
		lp := loss()
		vals[i] = v - float32(h)
		hm := float64(v - vals[i])
		lm := loss()
		vals[i] = v
		return (lp - lm) / (hp + hm)
	}
	scale, amax := 0.0, 0.0
	var num2, err2 float64
	for j, i := range idx {
		d1, d2 := diff(i, fdStep), diff(i, fdStep/2)
		num[j] = (4*d2 - d1) / 3
		scale = max(scale, math.Abs(num[j]))
		amax = max(amax, math.Abs(float64(analytic[i])))
		e := float64(analytic[i]) - num[j]
		num2 += num[j] * num[j]
		err2 += e * e
	}
	if scale < fdZero && amax < fdZero {
		if testing.Verbose() {
			t.Logf("%s: %d entries, gradient zero (max |analytic| %.2g, max |fd| %.2g)", name, len(idx), amax, scale)
		}
		return
	}
	norm := math.Sqrt(err2 / num2)
	worst, worstJ := 0.0, 0
	for j, i := range idx {
		a := float64(analytic[i])
		den := max(math.Abs(a), math.Abs(num[j]), 1e-2*scale, 1e-12)
		if e := math.Abs(a-num[j]) / den; e > worst {
			worst, worstJ = e, j
		}
	}
	if norm > fdRelTol || worst > fdEntryTol || math.IsNaN(norm+worst) {
		i := idx[worstJ]
		t.Errorf("%s: relative error %.2e; worst entry [%d]: analytic %.8g, finite difference %.8g (rel err %.2e)",
			name, norm, i, analytic[i], num[worstJ], worst)
	} else if testing.Verbose() {
		t.Logf("%s: %d entries, rel err %.2e, worst entry %.2e (max |grad| %.3g)", name, len(idx), norm, worst, scale)
	}
}

// checkParams runs checkGrad on every parameter in ps.
func checkParams(t *testing.T, ps []NamedParam, loss func() float64, n int, rng *rand.Rand) {
	t.Helper()
	for _, p := range ps {
		if p.Grad == nil {
			t.Fatalf("%s: gradient not allocated", p.Name)
		}
		checkGrad(t, p.Name, p.Value.Data, p.Grad.Data, loss, n, rng)
	}
}
