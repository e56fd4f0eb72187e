package gptq

import (
	"math"
	"math/rand"
	"runtime"
	"slices"
	"testing"

	"mbq/method/rtn"
	"mbq/quant"
)

func randMat(rng *rand.Rand, rows, cols int, std float64) []float32 {
	m := make([]float32, rows*cols)
	for i := range m {
		m[i] = float32(rng.NormFloat64() * std)
	}
	return m
}

// correlatedX returns n tokens of cols correlated features (a random mix),
// so that the Hessian has large off-diagonal entries.
func correlatedX(rng *rand.Rand, n, cols int) []float32 {
	mix := randMat(rng, cols, cols, 1)
	for i := 0; i < cols; i++ {
		mix[i*cols+i] += 2
	}
	z := randMat(rng, n, cols, 1)
	x := make([]float32, n*cols)
	for t := 0; t < n; t++ {
		for j := 0; j < cols; j++ {
			var s float32
			for k := 0; k < cols; k++ {
				s += z[t*cols+k] * mix[k*cols+j]
			}
			x[t*cols+j] = s
		}
	}
	return x
}

func hessianOf(x []float32, n, cols int) *Hessian {
	h := NewHessian(cols)
	h.Add(x, n)
	return h
}

// damped returns H with percdamp*mean(diag) added to the diagonal, after the
// dead-column fix, as Run uses it.
func damped(h *Hessian, percdamp float64) []float64 {
	H := h.Matrix()
	c := h.Cols()
	var mean float64
	for i := 0; i < c; i++ {
		if H[i*c+i] == 0 {
			H[i*c+i] = 1
		}
		mean += H[i*c+i]
	}
	mean /= float64(c)
	for i := 0; i < c; i++ {
		H[i*c+i] += percdamp * mean
	}
	return H
}

// quadErr returns Σ_rows ΔᵀHΔ for Δ = a - b.
func quadErr(a []float64, b []float32, rows, cols int, H []float64) float64 {
	var e float64
	d := make([]float64, cols)
	for r := 0; r < rows; r++ {
		for j := range d {
			d[j] = a[r*cols+j] - float64(b[r*cols+j])
		}
		for i := range d {
			for j := range d {
				e += d[i] * H[i*cols+j] * d[j]
			}
		}
	}
	return e
}

func f64(w []float32) []float64 {
	o := make([]float64, len(w))
	for i, v := range w {
		o[i] = float64(v)
	}
	return o
}

func TestHessianAdd(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cols := 5
	x1 := randMat(rng, 70, cols, 1) // > addChunk rows
	x2 := randMat(rng, 3, cols, 1)
	h := NewHessian(cols)
	h.Add(x1, 70)
	h.Add(x2, 3)
	h.Add(nil, 0)
	if h.Samples() != 73 {
		t.Fatalf("samples %d", h.Samples())
	}
	x := append(slices.Clone(x1), x2...)
	got := h.Matrix()
	for i := 0; i < cols; i++ {
		for j := 0; j < cols; j++ {
			var s float64
			for r := 0; r < 73; r++ {
				s += float64(x[r*cols+i]) * float64(x[r*cols+j])
			}
			s *= 2.0 / 73
			if math.Abs(got[i*cols+j]-s) > 1e-12*math.Abs(s)+1e-12 {
				t.Fatalf("H[%d][%d] = %v, want %v", i, j, got[i*cols+j], s)
			}
		}
	}
}

func TestUpperCholInverse(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	n := 300 // large enough for the parallel paths
	x := randMat(rng, 400, n, 1)
	H := damped(hessianOf(x, 400, n), 0.01)
	U, err := upperCholInverse(slices.Clone(H), n)
	if err != nil {
		t.Fatal(err)
	}
	// U upper triangular and (UᵀU) H = I.
	for i := 0; i < n; i++ {
		for j := 0; j < i; j++ {
			if U[i*n+j] != 0 {
				t.Fatalf("U[%d][%d] = %v", i, j, U[i*n+j])
			}
		}
	}
	for _, i := range []int{0, 7, 150, n - 1} {
		for _, j := range []int{0, 3, 150, n - 1} {
			var s float64
			for k := 0; k < n; k++ {
				var hinv float64 // (UᵀU)[i][k]
				for m := 0; m <= min(i, k); m++ {
					hinv += U[m*n+i] * U[m*n+k]
				}
				s += hinv * H[k*n+j]
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(s-want) > 1e-8 {
				t.Fatalf("(H⁻¹H)[%d][%d] = %v", i, j, s)
			}
		}
	}
}

// With H = c·I there is no error feedback: GPTQ is RTN, bit for bit.
func TestIdentityIsRTN(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	rows, cols := 6, 24
	w := randMat(rng, rows, cols, 0.1)
	Hm := make([]float64, cols*cols)
	for i := 0; i < cols; i++ {
		Hm[i*cols+i] = 3
	}
	h, err := NewHessianFromMatrix(Hm, cols)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec quant.WeightSpec
		opts Options
	}{
		{quant.WeightSpec{Bits: 3, Group: 8}, Options{}},
		{quant.WeightSpec{Bits: 4, Group: 6}, Options{BlockSize: 4}},
		{quant.WeightSpec{Bits: 4}, Options{}},
		{quant.WeightSpec{Bits: 2, Group: 8}, Options{ActOrder: true, StaticGroups: true}},
		{quant.WeightSpec{Bits: 8, Symmetric: true}, Options{ActOrder: true}},
		{quant.WeightSpec{Bits: 4, Symmetric: true}, Options{BlockSize: 5}},
	} {
		p, c, deq, err := Quantize(w, rows, cols, h, tc.spec, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		rp, rc, err := rtn.Quantize(w, rows, cols, tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(p.Scale, rp.Scale) || !slices.Equal(p.Zero, rp.Zero) ||
			!slices.Equal(c.U, rc.U) || !slices.Equal(c.S, rc.S) {
			t.Fatalf("%v %+v: GPTQ with identity Hessian differs from RTN", tc.spec, tc.opts)
		}
		rdeq := make([]float32, len(w))
		quant.Dequantize(rc, rp, rdeq)
		if !slices.Equal(deq, rdeq) {
			t.Fatalf("%v: dequantized differs from RTN", tc.spec)
		}
	}
}

// Loss identity: the reference's Σ (w-q)²/d²/2 equals ½ Σ ΔᵀH_dΔ. This checks
// the error feedback and the lazy batch updates end to end.
func TestLossIdentityAndConsistency(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	rows, cols, n := 9, 40, 200
	w := randMat(rng, rows, cols, 0.2)
	x := correlatedX(rng, n, cols)
	h := hessianOf(x, n, cols)
	Hd := damped(h, 0.01)
	for _, tc := range []struct {
		name string
		spec quant.WeightSpec
		opts Options
	}{
		{"w3g8/B128", quant.WeightSpec{Bits: 3, Group: 8}, Options{}},
		{"w3g8/B3", quant.WeightSpec{Bits: 3, Group: 8}, Options{BlockSize: 3}},
		{"w4/B7", quant.WeightSpec{Bits: 4}, Options{BlockSize: 7}},
		{"w4g10/act/static", quant.WeightSpec{Bits: 4, Group: 10}, Options{ActOrder: true, StaticGroups: true, BlockSize: 16}},
		{"w4sym/act", quant.WeightSpec{Bits: 4, Symmetric: true}, Options{ActOrder: true}},
		{"w8sym", quant.WeightSpec{Bits: 8, Symmetric: true}, Options{BlockSize: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Run(w, rows, cols, h, tc.spec, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := quadErr(f64(w), r.Dequantized, rows, cols, Hd) / 2
			if math.Abs(r.Loss-want) > 1e-9*want {
				t.Fatalf("loss %v, ½ΔᵀHΔ = %v", r.Loss, want)
			}
			deq := make([]float32, len(w))
			quant.Dequantize(r.Codes, r.Params, deq)
			if !slices.Equal(deq, r.Dequantized) {
				t.Fatal("Dequantized != Dequantize(Codes, Params)")
			}
			// GPTQ beats RTN under the (damped) layer objective.
			rp, rc, _ := rtn.Quantize(w, rows, cols, tc.spec)
			rdeq := make([]float32, len(w))
			quant.Dequantize(rc, rp, rdeq)
			rtnErr := quadErr(f64(w), rdeq, rows, cols, Hd) / 2
			if !(r.Loss < rtnErr) {
				t.Fatalf("GPTQ loss %v >= RTN loss %v", r.Loss, rtnErr)
			}
			t.Logf("GPTQ/RTN = %.3f", r.Loss/rtnErr)
		})
	}
}

// The block size only changes the order of floating-point updates when
// group boundaries fall on block starts (or groups are static).
func TestBlockSizeInvariance(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	rows, cols, n := 5, 32, 100
	w := randMat(rng, rows, cols, 0.2)
	h := hessianOf(correlatedX(rng, n, cols), n, cols)
	for _, tc := range []struct {
		spec   quant.WeightSpec
		static bool
		blocks []int
	}{
		{quant.WeightSpec{Bits: 3, Group: 8}, false, []int{1, 2, 4, 8}},
		{quant.WeightSpec{Bits: 3, Group: 8}, true, []int{1, 3, 5, 8, 128}},
		{quant.WeightSpec{Bits: 4}, false, []int{1, 3, 32, 128}},
	} {
		var ref *Result
		for _, b := range tc.blocks {
			r, err := Run(w, rows, cols, h, tc.spec, Options{BlockSize: b, StaticGroups: tc.static})
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = r
				continue
			}
			if !slices.Equal(r.Codes.U, ref.Codes.U) || !slices.Equal(r.Params.Scale, ref.Params.Scale) {
				t.Fatalf("%v static=%v: block size %d differs from %d", tc.spec, tc.static, b, tc.blocks[0])
			}
			if math.Abs(r.Loss-ref.Loss) > 1e-10*ref.Loss {
				t.Fatalf("loss %v vs %v", r.Loss, ref.Loss)
			}
		}
	}
}

// Reference quirk: dynamic group parameters are read from the weights as they
// were at the start of the current lazy block. With one block covering all
// columns every group's parameters are RTN's.
func TestDynamicGroupsStaleWithinBlock(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	rows, cols := 4, 16
	w := randMat(rng, rows, cols, 0.2)
	h := hessianOf(correlatedX(rng, 50, cols), 50, cols)
	spec := quant.WeightSpec{Bits: 3, Group: 4}
	p, _, _, err := Quantize(w, rows, cols, h, spec, Options{BlockSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	rp, _, _ := rtn.Quantize(w, rows, cols, spec)
	if !slices.Equal(p.Scale, rp.Scale) || !slices.Equal(p.Zero, rp.Zero) {
		t.Fatal("one-block GPTQ group params differ from RTN's")
	}
	p1, _, _, _ := Quantize(w, rows, cols, h, spec, Options{BlockSize: 4})
	if slices.Equal(p1.Scale, rp.Scale) {
		t.Fatal("block size 4: later groups should see error feedback")
	}
}

// bruteForce returns, per row, the minimum of ΔᵀHΔ over all code vectors on
// the given per-row grid (scale s, zero z, codes 0..maxq), optionally with
// the first code fixed.
func bruteForce(w []float64, s float32, z int32, maxq int32, H []float64, cols int, fixFirst int32) float64 {
	best := math.Inf(1)
	code := make([]int32, cols)
	d := make([]float64, cols)
	for {
		if fixFirst < 0 || code[0] == fixFirst {
			for j := range d {
				d[j] = w[j] - float64(quant.Decode(code[j], s, z))
			}
			var e float64
			for i := range d {
				for j := range d {
					e += d[i] * H[i*cols+j] * d[j]
				}
			}
			best = min(best, e)
		}
		k := 0
		for k < cols {
			code[k]++
			if code[k] <= maxq {
				break
			}
			code[k] = 0
			k++
		}
		if k == cols {
			return best
		}
	}
}

// GPTQ against exhaustive search on tiny layers with a fixed per-channel
// 3-bit grid (per-channel parameters are computed once, before GPTQ, so the
// grid is the same for every code vector).
//   - 2 columns: greedy OBQ is exact given its first (rounded) code, so GPTQ
//     must equal the brute-force optimum with the first code fixed.
//   - 6 columns: GPTQ is greedy; it must beat RTN in total and stay within
//     a small factor of the optimum (observed worst ratio is logged).
func TestBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	spec := quant.WeightSpec{Bits: 3}
	_, maxq := spec.Range()
	for _, cols := range []int{2, 6} {
		rows, n := 3, 40
		var sumG, sumR, sumOpt, worst float64
		for trial := 0; trial < 8; trial++ {
			w := randMat(rng, rows, cols, 1)
			h := hessianOf(correlatedX(rng, n, cols), n, cols)
			Hd := damped(h, 0.01)
			r, err := Run(w, rows, cols, h, spec, Options{})
			if err != nil {
				t.Fatal(err)
			}
			rp, rc, _ := rtn.Quantize(w, rows, cols, spec)
			rdeq := make([]float32, len(w))
			quant.Dequantize(rc, rp, rdeq)
			for row := 0; row < rows; row++ {
				wr := f64(w[row*cols : (row+1)*cols])
				g := quadErr(wr, r.Dequantized[row*cols:(row+1)*cols], 1, cols, Hd)
				rt := quadErr(wr, rdeq[row*cols:(row+1)*cols], 1, cols, Hd)
				s, z := r.Params.Scale[row], r.Params.Zero[row]
				opt := bruteForce(wr, s, z, maxq, Hd, cols, -1)
				if g < opt*(1-1e-12) {
					t.Fatalf("GPTQ %v below the optimum %v", g, opt)
				}
				if cols == 2 {
					fixed := bruteForce(wr, s, z, maxq, Hd, cols, r.Codes.At(row*cols))
					if math.Abs(g-fixed) > 1e-9*fixed {
						t.Fatalf("2 columns: GPTQ %v, optimum with first code fixed %v", g, fixed)
					}
				}
				sumG += g
				sumR += rt
				sumOpt += opt
				if opt > 0 {
					worst = max(worst, g/opt)
				}
			}
		}
		t.Logf("cols %d: GPTQ/opt total %.4f (worst row %.3f), RTN/opt %.4f", cols, sumG/sumOpt, worst, sumR/sumOpt)
		if !(sumG <= sumR) {
			t.Errorf("cols %d: GPTQ total %v > RTN total %v", cols, sumG, sumR)
		}
		if sumG > 1.5*sumOpt {
			t.Errorf("cols %d: GPTQ total %v > 1.5 × optimum %v", cols, sumG, sumOpt)
		}
	}
}

func TestDeadColumns(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	rows, cols, n := 3, 8, 30
	w := randMat(rng, rows, cols, 0.5)
	x := correlatedX(rng, n, cols)
	for t := 0; t < n; t++ {
		x[t*cols+2] = 0
		x[t*cols+5] = 0
	}
	h := hessianOf(x, n, cols)
	for _, spec := range []quant.WeightSpec{{Bits: 3, Group: 4}, {Bits: 4, Symmetric: true}} {
		r, err := Run(w, rows, cols, h, spec, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for row := 0; row < rows; row++ {
			for _, c := range []int{2, 5} {
				if v := r.Dequantized[row*cols+c]; v != 0 {
					t.Errorf("%v: dead column %d row %d = %v, want 0", spec, c, row, v)
				}
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	rows, cols, n := 37, 150, 60
	w := randMat(rng, rows, cols, 0.2)
	x := correlatedX(rng, n, cols)
	spec := quant.WeightSpec{Bits: 4, Group: 50}
	run := func() *Result {
		r, err := Run(w, rows, cols, hessianOf(x, n, cols), spec, Options{BlockSize: 32})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := run()
	old := runtime.GOMAXPROCS(1)
	b := run()
	runtime.GOMAXPROCS(old)
	c := run()
	for _, o := range []*Result{b, c} {
		if !slices.Equal(a.Codes.U, o.Codes.U) || !slices.Equal(a.Dequantized, o.Dequantized) ||
			!slices.Equal(a.Params.Scale, o.Params.Scale) || a.Loss != o.Loss {
			t.Fatal("results differ between runs")
		}
	}
}

func TestNotPositiveDefinite(t *testing.T) {
	// Indefinite until the damping exceeds 4.5% of the mean diagonal.
	h, err := NewHessianFromMatrix([]float64{1, 1.045, 1.045, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	w := []float32{0.3, -0.2}
	spec := quant.WeightSpec{Bits: 4}
	if _, _, _, err := Quantize(w, 1, 2, h, spec, Options{}); err == nil {
		t.Fatal("no error for an indefinite Hessian")
	}
	r, err := Run(w, 1, 2, h, spec, Options{DampIncrement: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if r.PercDamp <= 0.045 || r.PercDamp > 0.0501 {
		t.Fatalf("damping %v after retries", r.PercDamp)
	}
}

func TestErrors(t *testing.T) {
	h := NewHessian(4)
	h.Add([]float32{1, 2, 3, 4}, 1)
	w := make([]float32, 8)
	for _, tc := range []struct {
		name string
		cols int
		spec quant.WeightSpec
		opts Options
		w    []float32
	}{
		{"act order dynamic groups", 4, quant.WeightSpec{Bits: 4, Group: 2}, Options{ActOrder: true}, w},
		{"cols%group", 4, quant.WeightSpec{Bits: 4, Group: 3}, Options{}, w},
		{"bits", 4, quant.WeightSpec{Bits: 9}, Options{}, w},
		{"hessian cols", 2, quant.WeightSpec{Bits: 4}, Options{}, w[:4]},
		{"length", 4, quant.WeightSpec{Bits: 4}, Options{}, w[:7]},
		{"nan", 4, quant.WeightSpec{Bits: 4, Group: 2}, Options{}, []float32{0, 0, 0, float32(math.NaN()), 0, 0, 0, 0}},
		{"negative block", 4, quant.WeightSpec{Bits: 4}, Options{BlockSize: -1}, w},
	} {
		if _, _, _, err := Quantize(tc.w, 2, tc.cols, h, tc.spec, tc.opts); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := NewHessianFromMatrix([]float64{1, 2, 3, 1}, 2); err == nil {
		t.Error("asymmetric Hessian accepted")
	}
}
