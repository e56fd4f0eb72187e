package nn

import (
	"fmt"
	"math"

	"mbq/kernels"
)

// elemChunk is the minimum number of elements a goroutine takes in the
// element-wise activations.
const elemChunk = 1 << 14

// Activation is an element-wise nonlinearity with its derivative.
type Activation int

const (
	// SiLU is x·σ(x) (HF "silu", "swish").
	SiLU Activation = iota + 1 // the zero Activation is invalid
	// GELU is the exact x·Φ(x) (HF "gelu"; LLaVA's projector).
	GELU
	// GELUTanh is the tanh approximation (HF "gelu_pytorch_tanh", "gelu_new"; SigLIP).
	GELUTanh
)

// ActivationByName maps a Hugging Face hidden_act / projector_hidden_act
// string to an Activation.
func ActivationByName(name string) (Activation, error) {
	switch name {
	case "silu", "swish":
		return SiLU, nil
	case "gelu":
		return GELU, nil
	case "gelu_pytorch_tanh", "gelu_new", "gelu_fast":
		return GELUTanh, nil
	}
	return 0, fmt.Errorf("nn: unsupported activation %q", name)
}

// String returns the HF name.
func (a Activation) String() string {
	switch a {
	case SiLU:
		return "silu"
	case GELU:
		return "gelu"
	case GELUTanh:
		return "gelu_pytorch_tanh"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// Forward computes dst[i] = f(x[i]); dst may alias x.
func (a Activation) Forward(dst, x []float32) {
	if len(dst) < len(x) {
		panic("nn: Activation.Forward: short dst")
	}
	parallelRange(len(x), elemChunk, func(lo, hi int) {
		switch a {
		case SiLU:
			kernels.SiLU(dst[lo:hi], x[lo:hi])
		case GELU:
			kernels.GELU(dst[lo:hi], x[lo:hi])
		case GELUTanh:
			kernels.GELUTanh(dst[lo:hi], x[lo:hi])
		default:
			panic("nn: Activation.Forward: unknown activation")
		}
	})
}

// Backward computes dx[i] = f'(x[i]) · dy[i]; dx may alias dy or x.
func (a Activation) Backward(dx, x, dy []float32) {
	if len(dx) < len(x) || len(dy) < len(x) {
		panic("nn: Activation.Backward: short slice")
	}
	parallelRange(len(x), elemChunk, func(lo, hi int) {
		switch a {
		case SiLU:
			SiLUBackward(dx[lo:hi], x[lo:hi], dy[lo:hi])
		case GELU:
			GELUBackward(dx[lo:hi], x[lo:hi], dy[lo:hi])
		case GELUTanh:
			GELUTanhBackward(dx[lo:hi], x[lo:hi], dy[lo:hi])
		default:
			panic("nn: Activation.Backward: unknown activation")
		}
	})
}

// SiLUBackward computes dx = dy · σ(x)·(1 + x·(1 - σ(x))); dx may alias x or dy.
func SiLUBackward(dx, x, dy []float32) {
	if len(dx) < len(x) || len(dy) < len(x) {
		panic("nn: SiLUBackward: short slice")
	}
	for i, v := range x {
		f := float64(v)
		s := 1 / (1 + math.Exp(-f))
		dx[i] = float32(float64(dy[i]) * s * (1 + f*(1-s)))
	}
}

// SwiGLU computes dst = silu(gate) ⊙ up (see kernels.SwiGLU), in parallel.
func SwiGLU(dst, gate, up []float32) {
	if len(dst) < len(gate) || len(up) < len(gate) {
		panic("nn: SwiGLU: short slice")
	}
	parallelRange(len(gate), elemChunk, func(lo, hi int) {
		kernels.SwiGLU(dst[lo:hi], gate[lo:hi], up[lo:hi])
	})
}

// SwiGLUBackward computes, for y = silu(gate) ⊙ up,
//
//	dup = dy ⊙ silu(gate),  dgate = dy ⊙ up ⊙ σ(gate)·(1 + gate·(1 - σ(gate)))
//
// dgate and dup may alias gate, up or dy element for element.
func SwiGLUBackward(dgate, dup, gate, up, dy []float32) {
	n := len(gate)
	if len(dgate) < n || len(dup) < n || len(up) < n || len(dy) < n {
		panic("nn: SwiGLUBackward: short slice")
	}
	parallelRange(n, elemChunk, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g, u, d := float64(gate[i]), float64(up[i]), float64(dy[i])
			s := 1 / (1 + math.Exp(-g))
			dup[i] = float32(d * g * s)
			dgate[i] = float32(d * u * s * (1 + g*(1-s)))
		}
	})
}

// GELUTanhBackward computes dx = dy · d/dx[0.5·x·(1 + tanh(u))] with
// u = c·(x + 0.044715·x³), c = sqrt(2/π):
//
//	f'(x) = 0.5·(1 + tanh u) + 0.5·x·(1 - tanh² u)·c·(1 + 3·0.044715·x²)
func GELUTanhBackward(dx, x, dy []float32) {
	if len(dx) < len(x) || len(dy) < len(x) {
		panic("nn: GELUTanhBackward: short slice")
	}
	const c = 0.7978845608028654
	for i, v := range x {
		f := float64(v)
		th := math.Tanh(c * (f + 0.044715*f*f*f))
		d := 0.5*(1+th) + 0.5*f*(1-th*th)*c*(1+3*0.044715*f*f)
		dx[i] = float32(float64(dy[i]) * d)
	}
}

// GELUBackward computes dx = dy · (Φ(x) + x·φ(x)) for the exact GELU.
func GELUBackward(dx, x, dy []float32) {
	if len(dx) < len(x) || len(dy) < len(x) {
		panic("nn: GELUBackward: short slice")
	}
	const invSqrt2Pi = 0.3989422804014327
	for i, v := range x {
		f := float64(v)
		d := 0.5*(1+math.Erf(f/math.Sqrt2)) + f*invSqrt2Pi*math.Exp(-0.5*f*f)
		dx[i] = float32(float64(dy[i]) * d)
	}
}
