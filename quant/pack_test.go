package quant

import (
	"math"
	"math/rand"
	"slices"
	"testing"

	"mbq/tensor"
)

func randCodesU(rng *rand.Rand, n, bits int) []uint8 {
	c := make([]uint8, n)
	for i := range c {
		c[i] = uint8(rng.Intn(1 << bits))
	}
	return c
}

func randGroupParams(rng *rand.Rand, n, bits int) ([]float32, []int32) {
	s, z := make([]float32, n), make([]int32, n)
	for i := range s {
		s[i] = float32(0.001 + rng.Float64())
		z[i] = int32(rng.Intn(1 << bits))
	}
	return s, z
}

func TestPackGroupRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, tc := range []struct {
		bits, rows, cols, group int
	}{
		{4, 1, 64, 64}, {4, 3, 128, 128}, {4, 5, 192, 64}, {4, 17, 384, 128}, {4, 2, 256, 256}, {4, 7, 1152, 1152},
		{3, 1, 128, 128}, {3, 3, 256, 128}, {3, 7, 384, 384}, {3, 17, 1152, 128}, {3, 2, 512, 256},
	} {
		codes := randCodesU(rng, tc.rows*tc.cols, tc.bits)
		ng := tc.rows * tc.cols / tc.group
		scale, zero := randGroupParams(rng, ng, tc.bits)
		pack := PackW4
		if tc.bits == 3 {
			pack = PackW3
		}
		m, err := pack(codes, tc.rows, tc.cols, tc.group, scale, zero)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if m.Stride != tc.cols*tc.bits/8 || len(m.Data) != tc.rows*m.Stride {
			t.Fatalf("%+v: stride %d, %d bytes", tc, m.Stride, len(m.Data))
		}
		if got := m.Unpack(); !slices.Equal(got.U, codes) || got.S != nil {
			t.Fatalf("%+v: Unpack does not return the codes", tc)
		}
		p := m.Params()
		for i := range scale {
			if p.Scale[i] != tensor.HalfToFloat(tensor.FloatToHalf(scale[i])) || p.Zero[i] != zero[i] {
				t.Fatalf("%+v: group %d: scale %v zero %d, want %v %d", tc, i, p.Scale[i], p.Zero[i], scale[i], zero[i])
			}
		}
		got := make([]float32, tc.rows*tc.cols)
		m.Dequantize(got)
		for i, q := range codes {
			g := i / tc.group
			if want := Decode(int32(q), p.Scale[g], zero[g]); got[i] != want {
				t.Fatalf("%+v: weight %d = %v, want %v", tc, i, got[i], want)
			}
		}
	}
}

func TestPackRowRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for _, tc := range []struct{ bits, rows, cols int }{
		{8, 1, 1}, {8, 3, 31}, {8, 17, 33}, {8, 5, 100}, {8, 2, 64},
		{4, 1, 1}, {4, 3, 63}, {4, 17, 65}, {4, 5, 130}, {4, 2, 128},
	} {
		lo, hi := -128, 127
		pack, f := PackW8, FormatW8
		if tc.bits == 4 {
			lo, hi, pack, f = -8, 7, PackW4S, FormatW4S
		}
		codes := make([]int8, tc.rows*tc.cols)
		for i := range codes {
			codes[i] = int8(lo + rng.Intn(hi-lo+1))
		}
		scale := make([]float32, tc.rows)
		for i := range scale {
			scale[i] = float32(rng.Float64())
		}
		m, err := pack(codes, tc.rows, tc.cols, scale)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if m.Format != f || m.Group != tc.cols {
			t.Fatalf("%+v: format %v group %d", tc, m.Format, m.Group)
		}
		if got := m.Unpack(); !slices.Equal(got.S, codes) || got.U != nil {
			t.Fatalf("%+v: Unpack does not return the codes", tc)
		}
		got := make([]float32, tc.rows*tc.cols)
		m.Dequantize(got)
		for i, q := range codes {
			if want := float32(q) * scale[i/tc.cols]; got[i] != want {
				t.Fatalf("%+v: weight %d = %v, want %v", tc, i, got[i], want)
			}
		}
	}
}

// TestPackBytes checks one hand-worked example per layout.
func TestPackBytes(t *testing.T) {
	one := []float32{1}
	zero := []int32{0}
	check := func(name string, got []byte, want map[int]byte) {
		t.Helper()
		for i, b := range got {
			if b != want[i] {
				t.Errorf("%s: byte %d = %#02x, want %#02x", name, i, b, want[i])
			}
		}
	}

	// W4: byte i = c[i] | c[32+i]<<4.
	c4 := make([]uint8, 64)
	c4[0], c4[32], c4[31], c4[63] = 1, 2, 15, 10
	m, err := PackW4(c4, 1, 64, 64, one, zero)
	if err != nil {
		t.Fatal(err)
	}
	check("W4", m.Data, map[int]byte{0: 0x21, 31: 0xaf})

	// W3: c[0] = 5 = 0b101: L[0] bits 1..0 = 01, H[0] bit 0 = 1.
	// c[32] = 6 = 0b110 (i = 0, t = 1; p = 0, m = 2): L[0] bits 3..2 = 10, H[0] bit 2 = 1.
	// c[16] = 7 (i = 16, t = 0; p = 0, m = 1): L[16] = 11, H[0] bit 1 = 1.
	// c[127] = 3 (i = 31, t = 3; p = 15, m = 7): L[31] bits 7..6 = 11, H[15] bit 7 = 0.
	c3 := make([]uint8, 128)
	c3[0], c3[32], c3[16], c3[127] = 5, 6, 7, 3
	m, err = PackW3(c3, 1, 128, 128, one, zero)
	if err != nil {
		t.Fatal(err)
	}
	check("W3", m.Data, map[int]byte{0: 0x09, 16: 0x03, 31: 0xc0, 32: 0x07})

	// W8: two's complement bytes, row padded to 32.
	m, err = PackW8([]int8{-1, 2, -128}, 1, 3, one)
	if err != nil {
		t.Fatal(err)
	}
	if m.Stride != 32 {
		t.Errorf("W8 stride %d, want 32", m.Stride)
	}
	check("W8", m.Data, map[int]byte{0: 0xff, 1: 0x02, 2: 0x80})

	// W4S: two's-complement nibbles in the W4 order, row padded to 64 codes.
	codes := make([]int8, 40)
	codes[0], codes[1], codes[2], codes[32], codes[39] = -1, 7, -8, 3, -2
	m, err = PackW4S(codes, 1, 40, one)
	if err != nil {
		t.Fatal(err)
	}
	if m.Stride != 32 {
		t.Errorf("W4S stride %d, want 32", m.Stride)
	}
	check("W4S", m.Data, map[int]byte{0: 0x3f, 1: 0x07, 2: 0x08, 7: 0xe0})
}

func TestPackErrors(t *testing.T) {
	one, zero := []float32{1}, []int32{0}
	if _, err := PackW4(make([]uint8, 32), 1, 32, 32, one, zero); err == nil {
		t.Error("W4 group 32: no error")
	}
	if _, err := PackW3(make([]uint8, 64), 1, 64, 64, one, zero); err == nil {
		t.Error("W3 group 64: no error")
	}
	if _, err := PackW3(append(make([]uint8, 127), 8), 1, 128, 128, one, zero); err == nil {
		t.Error("W3 code 8: no error")
	}
	if _, err := PackW4(make([]uint8, 64), 1, 64, 64, one, []int32{16}); err == nil {
		t.Error("W4 zero 16: no error")
	}
	if _, err := PackW4S([]int8{8}, 1, 1, one); err == nil {
		t.Error("W4S code 8: no error")
	}
	if _, err := PackW8([]int8{1, 2}, 1, 3, one); err == nil {
		t.Error("W8 short codes: no error")
	}
	p, _ := NewParams(1, 64, WeightSpec{Bits: 2, Group: 64})
	if _, err := Pack(NewCodes(p.Spec, 64), p); err == nil {
		t.Error("2-bit Pack: no error")
	}
}

// TestPackedGEMV quantizes random weights, packs them and checks the fused
// GEMV against the dequantized weights times x, within the int8-activation
// bound Σ|w'|·max|x|/254 (a block's step is at most max|x|/127).
func TestPackedGEMV(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, tc := range []struct {
		spec       WeightSpec
		rows, cols int
	}{
		{WeightSpec{Bits: 4, Group: 128}, 37, 384},
		{WeightSpec{Bits: 3, Group: 128}, 37, 384},
		{WeightSpec{Bits: 4, Group: 64}, 5, 192},
		{WeightSpec{Bits: 8, Symmetric: true}, 19, 100},
		{WeightSpec{Bits: 4, Symmetric: true}, 19, 100},
	} {
		w := make([]float32, tc.rows*tc.cols)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		x := make([]float32, tc.cols)
		var xmax float64
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			xmax = max(xmax, math.Abs(float64(x[i])))
		}
		m, err := PackWeights(w, tc.rows, tc.cols, tc.spec)
		if err != nil {
			t.Fatalf("%v: %v", tc.spec, err)
		}
		wd := make([]float32, len(w))
		m.Dequantize(wd)
		y := make([]float32, tc.rows)
		m.GEMV(y, x)
		if !tc.spec.Symmetric { // the float-activation path: float rounding only
			yf := make([]float32, tc.rows)
			m.GEMVFloat(yf, x)
			for r := range tc.rows {
				var want, mag float64
				for c := range tc.cols {
					v := float64(wd[r*tc.cols+c]) * float64(x[c])
					want += v
					mag += math.Abs(v)
				}
				if math.Abs(float64(yf[r])-want) > 1e-5*mag {
					t.Fatalf("%v: GEMVFloat y[%d] = %v, want %v", tc.spec, r, yf[r], want)
				}
			}
		}
		for r := range tc.rows {
			var want, aw, mag float64
			for c := range tc.cols {
				v := float64(wd[r*tc.cols+c])
				want += v * float64(x[c])
				aw += math.Abs(v)
				mag += math.Abs(v * float64(x[c]))
			}
			if diff := math.Abs(float64(y[r]) - want); diff > aw*xmax/254+1e-5*mag {
				t.Fatalf("%v: y[%d] = %v, want %v (diff %g)", tc.spec, r, y[r], want, diff)
			}
		}
	}
}

// TestPackedMatMul checks the prefill products: W3/W4 against the fp32
// product with the dequantized weight, W8/W4S (int8 GEMM) against the
// product of the activations quantized by QuantizeActPerToken and the
// dequantized weight (the W8A8 / W4A8 fake-quant result).
func TestPackedMatMul(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, tc := range []struct {
		spec               WeightSpec
		tokens, rows, cols int
	}{
		{WeightSpec{Bits: 4, Group: 128}, 9, 37, 384},
		{WeightSpec{Bits: 3, Group: 128}, 9, 37, 384},
		{WeightSpec{Bits: 8, Symmetric: true}, 13, 19, 101},
		{WeightSpec{Bits: 4, Symmetric: true}, 13, 19, 101},
	} {
		w := make([]float32, tc.rows*tc.cols)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		a := make([]float32, tc.tokens*tc.cols)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		m, err := PackWeights(w, tc.rows, tc.cols, tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		wd := make([]float32, len(w))
		m.Dequantize(wd)
		ad := slices.Clone(a)
		if tc.spec.Symmetric {
			FakeQuantActPerToken(ad, tc.tokens, tc.cols, 8)
		}
		c := make([]float32, tc.tokens*tc.rows)
		m.MatMul(c, a, tc.tokens)
		for i := range tc.tokens {
			for j := range tc.rows {
				var want, mag float64
				for p := range tc.cols {
					v := float64(ad[i*tc.cols+p]) * float64(wd[j*tc.cols+p])
					want += v
					mag += math.Abs(v)
				}
				if got := float64(c[i*tc.rows+j]); math.Abs(got-want) > 1e-5*mag {
					t.Fatalf("%v: C[%d,%d] = %v, want %v", tc.spec, i, j, got, want)
				}
			}
		}
	}
}
