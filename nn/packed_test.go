package nn

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"mbq/quant"
	"mbq/tensor"
)

// relErr is ‖a-b‖∞ / ‖b‖∞.
func relErr(a, b []float32) float64 {
	var d, m float64
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / m
}

func TestPackedLinearMatchesFakeQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const out, in = 96, 384
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.05)
	}
	bias := make([]float32, out)
	for i := range bias {
		bias[i] = float32(rng.NormFloat64())
	}
	for _, tc := range []struct {
		spec    quant.WeightSpec
		actBits int
		int8Tol float64 // decode GEMV with int8 activations (W3/W4)
	}{
		{quant.WeightSpec{Bits: 4, Group: 128}, 0, 0.03},
		{quant.WeightSpec{Bits: 3, Group: 128}, 0, 0.03},
		{quant.WeightSpec{Bits: 8, Symmetric: true}, 8, 0},
		{quant.WeightSpec{Bits: 4, Symmetric: true}, 8, 0},
	} {
		pm, err := quant.PackWeights(w, out, in, tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		deq := tensor.New(out, in)
		pm.Dequantize(deq.Data)
		ref := LinearOf(deq, &tensor.Tensor{Shape: []int{out}, Data: append([]float32(nil), bias...)})
		ref.ActBits = tc.actBits
		pl := PackedLinear(pm, bias)
		pl.ActBits = tc.actBits
		if pl.W != nil || pl.In() != in || pl.Out() != out || len(pl.Params("x.")) != 1 {
			t.Fatalf("%v: packed linear shape/params wrong", tc.spec)
		}
		for _, rows := range []int{1, 7} {
			x := tensor.New(rows, in)
			for i := range x.Data {
				x.Data[i] = float32(rng.NormFloat64())
			}
			want := ref.Forward(x)
			prev := SetPackedKernel(PackedKernelFloat)
			got := pl.Forward(x)
			SetPackedKernel(prev)
			if e := relErr(got.Data, want.Data); e > 1e-5 {
				t.Errorf("%v rows %d float kernel: rel err %.3g", tc.spec, rows, e)
			}
			prev = SetPackedKernel(PackedKernelInt8)
			got = pl.Forward(x)
			SetPackedKernel(prev)
			tol := 1e-5
			if rows == 1 && tc.int8Tol > 0 {
				tol = tc.int8Tol
			}
			if e := relErr(got.Data, want.Data); e > tol {
				t.Errorf("%v rows %d int8 kernel: rel err %.3g > %g", tc.spec, rows, e, tol)
			}
		}
	}
}

func TestPackedLinearBackwardPanics(t *testing.T) {
	w := make([]float32, 4*64)
	for i := range w {
		w[i] = float32(i%7) - 3
	}
	pm, err := quant.PackWeights(w, 4, 64, quant.WeightSpec{Bits: 4, Group: 64})
	if err != nil {
		t.Fatal(err)
	}
	l := PackedLinear(pm, nil)
	defer func() {
		r := recover()
		if e, ok := r.(error); !ok || !errors.Is(e, ErrPackedBackward) {
			t.Fatalf("recovered %v, want ErrPackedBackward", r)
		}
	}()
	l.Backward(tensor.New(1, 64), tensor.New(1, 4))
}

func TestParsePackedKernel(t *testing.T) {
	for s, want := range map[string]PackedKernel{"": PackedKernelInt8, "int8": PackedKernelInt8, "float": PackedKernelFloat} {
		if k, ok := ParsePackedKernel(s); !ok || k != want {
			t.Errorf("%q: %v %v", s, k, ok)
		}
	}
	if _, ok := ParsePackedKernel("fp16"); ok {
		t.Error("fp16 accepted")
	}
}
