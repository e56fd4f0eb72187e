package nn

import (
	"math/rand/v2"

	"mbq/kernels"
	"mbq/quant"
	"mbq/tensor"
)

// Linear is torch.nn.Linear: y = x·Wᵀ + b with W stored [out, in] as
// transformers saves it. Inputs are matrices [rows, in] (any leading axes are
// flattened into rows); B is nil for a layer without bias.
//
// ActBits > 0 makes Forward and ForwardInto quantize the input per token at
// run time, as weight-activation quantized models (W4A8, W8A8) do: each
// row x of the input is replaced, in a copy, by quant.FakeQuantActPerToken's
// symmetric dynamic quantization (scale = max(absmax(x), 1e-5)/(2^(b-1)-1),
// codes clamped to [-2^(b-1), 2^(b-1)-1]) before the product. ActBits must
// then lie in 2..8. 0 (the default) leaves the input as it is. Backward
// ignores ActBits (straight-through).
//
// Packed, when set, replaces W (which is then nil) by a packed low-bit
// weight: Forward runs the fused quantized kernels (packed.go); Params
// lists only the bias and Backward panics.
type Linear struct {
	W       *Param // [out, in]; nil when Packed is set
	B       *Param // [out], or nil
	ActBits int    // per-token activation quantization bits; 0: off
	Packed  *quant.PackedMatrix
}

// NewLinear returns a zero-initialised Linear layer.
func NewLinear(in, out int, bias bool) *Linear {
	l := &Linear{W: NewParam(tensor.New(out, in))}
	if bias {
		l.B = NewParam(tensor.New(out))
	}
	return l
}

// LinearOf wraps existing tensors (no copy); b may be nil.
func LinearOf(w, b *tensor.Tensor) *Linear {
	if w == nil || len(w.Shape) != 2 {
		panic("nn: LinearOf: weight must be a matrix [out, in]")
	}
	l := &Linear{W: NewParam(w)}
	if b != nil {
		if len(b.Data) != w.Shape[0] {
			panic("nn: LinearOf: bias length must equal out features")
		}
		l.B = NewParam(b)
	}
	return l
}

// In is the number of input features.
func (l *Linear) In() int {
	if l.Packed != nil {
		return l.Packed.Cols
	}
	return l.W.Value.Shape[1]
}

// Out is the number of output features.
func (l *Linear) Out() int {
	if l.Packed != nil {
		return l.Packed.Rows
	}
	return l.W.Value.Shape[0]
}

// InitNormal fills W with N(0, std²) samples and zeroes the bias.
func (l *Linear) InitNormal(rng *rand.Rand, std float64) {
	fillNormal(rng, l.W.Value.Data, std)
	if l.B != nil {
		clear(l.B.Value.Data)
	}
}

// Params lists the parameters with their HF names: prefix+"weight" and,
// with a bias, prefix+"bias". A packed linear lists only its bias.
func (l *Linear) Params(prefix string) []NamedParam {
	var ps []NamedParam
	if l.W != nil {
		ps = append(ps, NamedParam{prefix + "weight", l.W})
	}
	if l.B != nil {
		ps = append(ps, NamedParam{prefix + "bias", l.B})
	}
	return ps
}

// Forward returns y = x·Wᵀ + b, shaped like x with the last axis out.
func (l *Linear) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := withCols(x, l.Out())
	l.ForwardInto(y, x)
	return y
}

// ForwardInto writes x·Wᵀ + b into y ([rows, out]); with ActBits, x is
// quantized per token first (x itself is not modified).
func (l *Linear) ForwardInto(y, x *tensor.Tensor) {
	in, out := l.In(), l.Out()
	t := matrix(x, in, "nn: Linear.Forward: input width differs from in features")
	if matrix(y, out, "nn: Linear.Forward: output width differs from out features") != t {
		panic("nn: Linear.Forward: output rows differ from input rows")
	}
	if l.Packed != nil {
		l.packedInto(y.Data, x.Data, t) // packed.go
	} else {
		xd := x.Data
		if l.ActBits > 0 {
			xd = append([]float32(nil), xd[:t*in]...)
			quant.FakeQuantActPerToken(xd, t, in, l.ActBits)
		}
		kernels.MatMulTransB(y.Data, xd, l.W.Value.Data, t, in, out)
	}
	if l.B != nil {
		b := l.B.Value.Data
		for r := 0; r < t; r++ {
			row := y.Data[r*out : (r+1)*out]
			for j := range row {
				row[j] += b[j]
			}
		}
	}
}

// Backward returns dx = dy·W for the input x that produced the output whose
// gradient is dy, and accumulates dW += dyᵀ·x and dB += Σ_rows dy into the
// parameters' gradients where those are allocated.
func (l *Linear) Backward(x, dy *tensor.Tensor) *tensor.Tensor {
	dx := like(x)
	l.BackwardInto(dx, x, dy, false)
	return dx
}

// BackwardInto is Backward writing dx into a given tensor: dx = dy·W, or
// dx += dy·W with acc. dx may be nil when the input gradient is not needed.
func (l *Linear) BackwardInto(dx, x, dy *tensor.Tensor, acc bool) {
	if l.Packed != nil {
		panic(ErrPackedBackward)
	}
	in, out := l.In(), l.Out()
	t := matrix(dy, out, "nn: Linear.Backward: gradient width differs from out features")
	if matrix(x, in, "nn: Linear.Backward: input width differs from in features") != t {
		panic("nn: Linear.Backward: input rows differ from gradient rows")
	}
	if dx != nil {
		if matrix(dx, in, "nn: Linear.Backward: dx width differs from in features") != t {
			panic("nn: Linear.Backward: dx rows differ from gradient rows")
		}
		beta := float32(0)
		if acc {
			beta = 1
		}
		kernels.Sgemm(false, false, t, in, out, 1, dy.Data, out, l.W.Value.Data, in, beta, dx.Data, in)
	}
	if g := l.W.Grad; g != nil {
		kernels.MatMulTransAAcc(g.Data, dy.Data, x.Data, out, t, in)
	}
	if l.B != nil && l.B.Grad != nil {
		colSumAcc(l.B.Grad.Data, dy.Data, t, out)
	}
}

// colSumAcc adds the column sums of the t×n matrix a to dst, accumulating
// each column in float64.
func colSumAcc(dst, a []float32, t, n int) {
	acc := make([]float64, n)
	for r := 0; r < t; r++ {
		row := a[r*n : (r+1)*n]
		for j, v := range row {
			acc[j] += float64(v)
		}
	}
	for j := range acc {
		dst[j] += float32(acc[j])
	}
}
