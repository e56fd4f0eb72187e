package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"mbq/tensor"
)

// TestLinearActBits checks the run-time per-token activation quantization:
// the product uses each input row quantized symmetrically to ActBits bits
// (hand-rolled reference), the input is left untouched, and ActBits 0 is
// the plain product.
func TestLinearActBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const rows, in, out = 5, 12, 7
	l := NewLinear(in, out, true)
	l.InitNormal(rng, 0.5)
	for i := range l.B.Value.Data {
		l.B.Value.Data[i] = float32(rng.NormFloat64())
	}
	x := tensor.New(rows, in)
	fillNormal(rng, x.Data, 2)
	x.Data[3] = 40 // an outlier dominating row 0's scale
	orig := x.Clone()

	plain := l.Forward(x)
	for _, bits := range []int{8, 4} {
		l.ActBits = bits
		got := l.Forward(x)
		for i := range x.Data {
			if x.Data[i] != orig.Data[i] {
				t.Fatalf("bits %d: input modified at %d", bits, i)
			}
		}
		// Reference: quantize each row by hand, then the plain product.
		qmax := float64(int(1)<<(bits-1) - 1)
		xq := x.Clone()
		for r := 0; r < rows; r++ {
			row := xq.Data[r*in : (r+1)*in]
			var amax float64
			for _, v := range row {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			s := float32(math.Max(amax, 1e-5) / qmax)
			for i, v := range row {
				q := math.RoundToEven(float64(v / s))
				q = math.Max(-qmax-1, math.Min(qmax, q))
				row[i] = float32(q) * s
			}
		}
		l.ActBits = 0
		want := l.Forward(xq)
		l.ActBits = bits
		var diffPlain float64
		for i := range want.Data {
			if d := math.Abs(float64(got.Data[i] - want.Data[i])); d > 1e-5 {
				t.Fatalf("bits %d: y[%d] = %v, want %v", bits, i, got.Data[i], want.Data[i])
			}
			diffPlain = math.Max(diffPlain, math.Abs(float64(got.Data[i]-plain.Data[i])))
		}
		if diffPlain == 0 {
			t.Errorf("bits %d: quantized output equals the full-precision one", bits)
		}
		y := tensor.New(rows, out)
		l.ForwardInto(y, x)
		for i := range y.Data {
			if y.Data[i] != got.Data[i] {
				t.Fatalf("bits %d: ForwardInto differs from Forward at %d", bits, i)
			}
		}
	}
	l.ActBits = 0
	again := l.Forward(x)
	for i := range again.Data {
		if again.Data[i] != plain.Data[i] {
			t.Fatalf("ActBits 0: output differs at %d", i)
		}
	}
}
