package quant

import (
	"math"
	"math/rand"
	"slices"
	"testing"
)

func TestRoundHalfEven(t *testing.T) {
	tests := []struct {
		in, want float32
		negZero  bool
	}{
		{0.5, 0, false}, {1.5, 2, false}, {2.5, 2, false}, {3.5, 4, false},
		{-0.5, 0, true}, {-1.5, -2, false}, {-2.5, -2, false}, {-3.5, -4, false},
		{0.49999997, 0, false}, {0.50000006, 1, false}, {2.5000002, 3, false},
		{3.7, 4, false}, {-3.7, -4, false}, {0, 0, false}, {-0.2, 0, true},
		{16777216, 16777216, false}, {1e30, 1e30, false},
	}
	for _, tc := range tests {
		got := RoundHalfEven(tc.in)
		if got != tc.want || math.Signbit(float64(got)) != (tc.want < 0 || tc.negZero) {
			t.Errorf("RoundHalfEven(%v) = %v (signbit %v), want %v (signbit %v)",
				tc.in, got, math.Signbit(float64(got)), tc.want, tc.negZero)
		}
	}
	if !math.IsNaN(float64(RoundHalfEven(float32(math.NaN())))) {
		t.Error("RoundHalfEven(NaN) is not NaN")
	}
}

// eps is float32(1e-5): the clamp constant of the reference, as PyTorch
// converts it for a float32 tensor.
const eps = float32(1e-5)

func TestHandCases(t *testing.T) {
	tests := []struct {
		name       string
		spec       WeightSpec
		rows, cols int
		w          []float32
		scale      []float32
		zero       []int32
		codes      []int32
		deq        []float32
	}{
		{
			name: "2bit/mixed", spec: WeightSpec{Bits: 2}, rows: 1, cols: 4,
			w:     []float32{-1, 0, 0.5, 2},
			scale: []float32{1}, zero: []int32{1},
			codes: []int32{0, 1, 1, 3}, deq: []float32{-1, 0, 0, 2},
		},
		{
			// zero = -round(1/1) = -1 clamps to 0; 4 clamps to code 3.
			name: "2bit/all-positive", spec: WeightSpec{Bits: 2}, rows: 1, cols: 4,
			w:     []float32{1, 2, 3, 4},
			scale: []float32{1}, zero: []int32{0},
			codes: []int32{1, 2, 3, 3}, deq: []float32{1, 2, 3, 3},
		},
		{
			// zero = -round(-4) = 4 clamps to 3; -4 clamps to code 0.
			name: "2bit/all-negative", spec: WeightSpec{Bits: 2}, rows: 1, cols: 4,
			w:     []float32{-4, -3, -2, -1},
			scale: []float32{1}, zero: []int32{3},
			codes: []int32{0, 0, 1, 2}, deq: []float32{-3, -3, -2, -1},
		},
		{
			// Three groups per row; the last group of row 0 is constant and
			// positive: scale = 1e-5/3, zero clamps to 0, codes saturate at 3, and
			// the value collapses to 3*scale ≈ 1e-5 (the reference's behaviour).
			name: "2bit/g2/three-groups", spec: WeightSpec{Bits: 2, Group: 2}, rows: 2, cols: 6,
			w:     []float32{0, 3, -1, 2, 5, 5, 0, -3, 1, -2, 0, 0},
			scale: []float32{1, 1, eps / 3, 1, 1, eps / 3},
			zero:  []int32{0, 1, 0, 3, 2, 0},
			codes: []int32{0, 3, 0, 3, 3, 3, 3, 0, 3, 0, 0, 0},
			deq:   []float32{0, 3, -1, 2, 3 * (eps / 3), 3 * (eps / 3), 0, -3, 1, -2, 0, 0},
		},
		{
			// Per-channel, scale 6/3 = 2; zero = -round(-0.5) = 0; ties 1.5 -> 2,
			// -0.5 -> -0, 2.5 -> 2.
			name: "2bit/per-channel/ties", spec: WeightSpec{Bits: 2}, rows: 1, cols: 6,
			w:     []float32{0, 3, -1, 2, 5, 5},
			scale: []float32{2}, zero: []int32{0},
			codes: []int32{0, 2, 0, 1, 2, 2}, deq: []float32{0, 4, 0, 2, 4, 4},
		},
		{
			name: "3bit/per-channel", spec: WeightSpec{Bits: 3, Group: -1}, rows: 2, cols: 3,
			w:     []float32{-3, 0, 4, 0.5, 7.5, 3.9},
			scale: []float32{1, 1}, zero: []int32{3, 0},
			codes: []int32{0, 3, 7, 0, 7, 4}, deq: []float32{-3, 0, 4, 0, 7, 4},
		},
		{
			// 4 bits, range 15: scale 1, zero 5, 10.6 -> 11+5 = 16 clamps to 15.
			name: "4bit/g4", spec: WeightSpec{Bits: 4, Group: 4}, rows: 1, cols: 4,
			w:     []float32{-5, 10, 2.5, 0},
			scale: []float32{1}, zero: []int32{5},
			codes: []int32{0, 15, 7, 5}, deq: []float32{-5, 10, 2, 0},
		},
		{
			name: "8bit/asym", spec: WeightSpec{Bits: 8}, rows: 1, cols: 3,
			w:     []float32{0, 255, 127.5},
			scale: []float32{1}, zero: []int32{0},
			codes: []int32{0, 255, 128}, deq: []float32{0, 255, 128},
		},
		{
			name: "2bit/sym", spec: WeightSpec{Bits: 2, Symmetric: true, Group: 2}, rows: 1, cols: 4,
			w:     []float32{-2, -0.9, 0.5, 1.5},
			scale: []float32{2}, zero: []int32{0},
			codes: []int32{-1, 0, 0, 1}, deq: []float32{-2, 0, 0, 2},
		},
		{
			name: "8bit/sym", spec: WeightSpec{Bits: 8, Symmetric: true}, rows: 2, cols: 6,
			w:     []float32{127, -127, 0.5, 1.5, 2.5, -64.5, 0, 0, 0, 0, 0, 0},
			scale: []float32{1, eps / 127}, zero: []int32{0, 0},
			codes: []int32{127, -127, 0, 2, 2, -64, 0, 0, 0, 0, 0, 0},
			deq:   []float32{127, -127, 0, 2, 2, -64, 0, 0, 0, 0, 0, 0},
		},
		{
			name: "4bit/sym", spec: WeightSpec{Bits: 4, Symmetric: true}, rows: 1, cols: 3,
			w:     []float32{-14, 3, 5},
			scale: []float32{2}, zero: []int32{0},
			codes: []int32{-7, 2, 2}, deq: []float32{-14, 4, 4},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ComputeParams(tc.w, tc.rows, tc.cols, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Scale, tc.scale) || !slices.Equal(p.Zero, tc.zero) {
				t.Fatalf("scale %v zero %v, want %v %v", p.Scale, p.Zero, tc.scale, tc.zero)
			}
			c := Quantize(tc.w, p)
			if (c.S != nil) != tc.spec.Symmetric || (c.U != nil) == tc.spec.Symmetric {
				t.Fatalf("codes kind: S %v U %v for symmetric=%v", c.S != nil, c.U != nil, tc.spec.Symmetric)
			}
			got := make([]int32, c.Len())
			for i := range got {
				got[i] = c.At(i)
			}
			if !slices.Equal(got, tc.codes) {
				t.Fatalf("codes %v, want %v", got, tc.codes)
			}
			deq := make([]float32, len(tc.w))
			Dequantize(c, p, deq)
			if !slices.Equal(deq, tc.deq) {
				t.Fatalf("dequantized %v, want %v", deq, tc.deq)
			}
			fq := slices.Clone(tc.w)
			if err := FakeQuant(fq, tc.rows, tc.cols, tc.spec); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fq, tc.deq) {
				t.Fatalf("FakeQuant %v, want %v", fq, tc.deq)
			}
		})
	}
}

// TestConstantGroups pins the reference's behaviour on constant groups:
// scale = 1e-5/(2^b-1); zero values and values within the tiny range
// reproduce, larger constants collapse to ±1e-5 because the zero point clamps.
func TestConstantGroups(t *testing.T) {
	for _, bits := range []int{2, 3, 4, 8} {
		maxq := float32(int(1)<<bits - 1)
		tests := []struct {
			v, want float32
		}{
			{0, 0},
			{2e-6, 0}, // reproduced within scale/2
			{0.3, maxq * (eps / maxq)},
			{-0.3, -maxq * (eps / maxq)},
		}
		for _, tc := range tests {
			w := []float32{tc.v, tc.v, tc.v, tc.v}
			p, err := ComputeParams(w, 1, 4, WeightSpec{Bits: bits, Group: 4})
			if err != nil {
				t.Fatal(err)
			}
			if p.Scale[0] != eps/maxq {
				t.Errorf("bits %d v %v: scale %v want %v", bits, tc.v, p.Scale[0], eps/maxq)
			}
			FakeQuantParams(w, p)
			tol := float32(0)
			if tc.v == 2e-6 {
				tol = p.Scale[0] / 2 * (1 + 1e-5)
				tc.want = tc.v
			}
			for _, got := range w {
				if d := got - tc.want; d > tol || d < -tol {
					t.Errorf("bits %d v %v: got %v want %v ± %v", bits, tc.v, got, tc.want, tol)
				}
			}
		}
	}
}

func TestClampSymmetric(t *testing.T) {
	// Codes computed from a matrix's own scale never reach -2^(b-1); foreign
	// parameters (as GPTQ uses after error feedback) must clamp there.
	for _, bits := range []int{2, 3, 4, 8} {
		spec := WeightSpec{Bits: bits, Symmetric: true}
		lo, hi := spec.Range()
		if lo != -(1<<(bits-1)) || hi != 1<<(bits-1)-1 {
			t.Fatalf("bits %d: range %d..%d", bits, lo, hi)
		}
		p := &Params{Spec: spec, Rows: 1, Cols: 3, GroupSize: 3, Scale: []float32{1}, Zero: []int32{0}}
		c := Quantize([]float32{-1000, 1000, float32(math.NaN())}, p)
		if c.At(0) != lo || c.At(1) != hi || c.At(2) != lo {
			t.Errorf("bits %d: codes %d %d %d, want %d %d %d", bits, c.At(0), c.At(1), c.At(2), lo, hi, lo)
		}
	}
}

func TestErrors(t *testing.T) {
	w := make([]float32, 12)
	tests := []struct {
		name       string
		w          []float32
		rows, cols int
		spec       WeightSpec
	}{
		{"cols%group", w, 2, 6, WeightSpec{Bits: 4, Group: 4}},
		{"group>cols", w, 2, 6, WeightSpec{Bits: 4, Group: 12}},
		{"bits1", w, 2, 6, WeightSpec{Bits: 1}},
		{"bits9", w, 2, 6, WeightSpec{Bits: 9}},
		{"bits9sym", w, 2, 6, WeightSpec{Bits: 9, Symmetric: true}},
		{"length", w, 3, 6, WeightSpec{Bits: 4}},
		{"rows0", w[:0], 0, 6, WeightSpec{Bits: 4}},
		{"cols0", w[:0], 2, 0, WeightSpec{Bits: 4}},
		{"nan", []float32{1, float32(math.NaN())}, 1, 2, WeightSpec{Bits: 4}},
		{"inf", []float32{1, float32(math.Inf(-1))}, 1, 2, WeightSpec{Bits: 4, Symmetric: true}},
	}
	for _, tc := range tests {
		if _, err := ComputeParams(tc.w, tc.rows, tc.cols, tc.spec); err == nil {
			t.Errorf("%s: ComputeParams: no error", tc.name)
		}
		if err := FakeQuant(slices.Clone(tc.w), tc.rows, tc.cols, tc.spec); err == nil {
			t.Errorf("%s: FakeQuant: no error", tc.name)
		}
	}
	// Symmetric ignores the group size, so cols%group is no error there.
	if _, err := ComputeParams(w, 2, 6, WeightSpec{Bits: 4, Group: 4, Symmetric: true}); err != nil {
		t.Errorf("symmetric with group 4: %v", err)
	}
}

// TestProperties checks, on random matrices for every bit width and grouping:
// codes in range, FakeQuant == Dequantize(Quantize), the parameters equal a
// direct evaluation of the formulas, and |w - w'| <= scale/2 inside the
// representable range.
func TestProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, bits := range []int{2, 3, 4, 5, 8} {
		for _, spec := range []WeightSpec{
			{Bits: bits}, {Bits: bits, Group: 8}, {Bits: bits, Group: 3}, {Bits: bits, Symmetric: true},
		} {
			rows, cols := 5, 24
			w := make([]float32, rows*cols)
			for i := range w {
				w[i] = float32(rng.NormFloat64()) * 0.1
				if i%7 == 0 {
					w[i] += 0.3 // skew so zero points vary
				}
			}
			p, err := ComputeParams(w, rows, cols, spec)
			if err != nil {
				t.Fatal(err)
			}
			g := p.GroupSize
			if spec.Symmetric || spec.Group <= 0 {
				if g != cols {
					t.Fatalf("%v: group size %d", spec, g)
				}
			} else if g != spec.Group {
				t.Fatalf("%v: group size %d", spec, g)
			}
			if len(p.Scale) != rows*cols/g || len(p.Zero) != len(p.Scale) {
				t.Fatalf("%v: %d scales", spec, len(p.Scale))
			}
			lo, hi := spec.Range()
			for gi := range p.Scale {
				grp := w[gi*g : (gi+1)*g]
				var s float32
				var z int32
				if spec.Symmetric {
					var a float32
					for _, v := range grp {
						a = max(a, float32(math.Abs(float64(v))))
					}
					s = max(a, eps) / float32(hi)
				} else {
					s = max(slices.Max(grp)-slices.Min(grp), eps) / float32(hi)
					z = int32(min(max(-float32(math.RoundToEven(float64(slices.Min(grp)/s))), 0), float32(hi)))
				}
				if p.Scale[gi] != s || p.Zero[gi] != z {
					t.Fatalf("%v group %d: (%v,%d), want (%v,%d)", spec, gi, p.Scale[gi], p.Zero[gi], s, z)
				}
			}
			c := Quantize(w, p)
			deq := make([]float32, len(w))
			Dequantize(c, p, deq)
			fq := slices.Clone(w)
			if err := FakeQuant(fq, rows, cols, spec); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fq, deq) {
				t.Fatalf("%v: FakeQuant != Dequantize(Quantize)", spec)
			}
			for i, v := range w {
				q := c.At(i)
				if q < lo || q > hi {
					t.Fatalf("%v: code %d out of range", spec, q)
				}
				gi := i / g
				s, z := p.Scale[gi], p.Zero[gi]
				minRep, maxRep := float32(lo-z)*s, float32(hi-z)*s
				if v >= minRep && v <= maxRep {
					if d := math.Abs(float64(v - deq[i])); d > float64(s)/2*(1+1e-5) {
						t.Fatalf("%v: |%v - %v| = %v > scale/2 = %v", spec, v, deq[i], d, s/2)
					}
				}
			}
		}
	}
}

func TestActPerToken(t *testing.T) {
	x := []float32{
		7, -3.5, 0.49, 2.5, // scale 1: -3.5 -> -4 (ties to even), 2.5 -> 2
		0, 0, 0, 0, // scale 1e-5/7
		-14, 1, 3, 0, // scale 2: 0.5 -> 0, 1.5 -> 2
	}
	wantX := []float32{7, -4, 0, 2, 0, 0, 0, 0, -14, 0, 4, 0}
	wantC := []int8{7, -4, 0, 2, 0, 0, 0, 0, -7, 0, 2, 0}
	wantS := []float32{1, eps / 7, 2}
	codes := make([]int8, len(x))
	scales := make([]float32, 3)
	QuantizeActPerToken(x, 3, 4, 4, codes, scales)
	if !slices.Equal(codes, wantC) || !slices.Equal(scales, wantS) {
		t.Fatalf("codes %v scales %v, want %v %v", codes, scales, wantC, wantS)
	}
	fq := slices.Clone(x)
	FakeQuantActPerToken(fq, 3, 4, 4)
	if !slices.Equal(fq, wantX) {
		t.Fatalf("fake-quantized %v, want %v", fq, wantX)
	}
	// Integer form and fake quantization agree on random data, 8 bits.
	rng := rand.New(rand.NewSource(2))
	x = make([]float32, 7*33)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	codes = make([]int8, len(x))
	scales = make([]float32, 7)
	QuantizeActPerToken(x, 7, 33, 8, codes, scales)
	fq = slices.Clone(x)
	FakeQuantActPerToken(fq, 7, 33, 8)
	for i := range x {
		if got := float32(codes[i]) * scales[i/33]; got != fq[i] {
			t.Fatalf("element %d: codes*scale %v != fake %v", i, got, fq[i])
		}
		if d := math.Abs(float64(x[i] - fq[i])); d > float64(scales[i/33])/2*(1+1e-5) {
			t.Fatalf("element %d: error %v > scale/2", i, d)
		}
	}
}

func TestParamsIndex(t *testing.T) {
	p, err := NewParams(3, 12, WeightSpec{Bits: 4, Group: 4})
	if err != nil {
		t.Fatal(err)
	}
	if p.Groups() != 3 || p.Index(2, 5) != 7 || p.Index(0, 11) != 2 {
		t.Fatalf("groups %d index %d %d", p.Groups(), p.Index(2, 5), p.Index(0, 11))
	}
	if s := (WeightSpec{Bits: 4, Group: 128}).String(); s != "w4g128" {
		t.Errorf("String = %q", s)
	}
}
