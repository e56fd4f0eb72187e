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
	var buf [kernels.ActChunk]float32
	for lo := 0; lo < len(x); lo += kernels.ActChunk {
		hi := min(lo+kernels.ActChunk, len(x))
		s := buf[:hi-lo]
		kernels.Sigmoid(s, x[lo:hi], 1)
		for i, sv := range s {
			f := x[lo+i]
			dx[lo+i] = dy[lo+i] * sv * (1 + f*(1-sv))
		}
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
		var buf [kernels.ActChunk]float32
		for c := lo; c < hi; c += kernels.ActChunk {
			e := min(c+kernels.ActChunk, hi)
			s := buf[:e-c]
			kernels.Sigmoid(s, gate[c:e], 1)
			for j, sv := range s {
				i := c + j
				g, u, d := gate[i], up[i], dy[i]
				dup[i] = d * g * sv
				dgate[i] = d * u * sv * (1 + g*(1-sv))
			}
		}
	})
}

// GELUTanhBackward computes dx = dy · d/dx[0.5·x·(1 + tanh(u))] with
// u = c·(x + 0.044715·x³), c = sqrt(2/π). With s = σ(2u) (so tanh u = 2s - 1
// and 1 - tanh² u = 4s(1 - s)):
//
//	f'(x) = s + 2·x·s·(1 - s)·c·(1 + 3·0.044715·x²)
func GELUTanhBackward(dx, x, dy []float32) {
	if len(dx) < len(x) || len(dy) < len(x) {
		panic("nn: GELUTanhBackward: short slice")
	}
	const c = float32(0.7978845608028654)
	var buf [kernels.ActChunk]float32
	for lo := 0; lo < len(x); lo += kernels.ActChunk {
		hi := min(lo+kernels.ActChunk, len(x))
		s := buf[:hi-lo]
		kernels.GELUTanhInner(s, x[lo:hi])
		kernels.Sigmoid(s, s, 2)
		for i, sv := range s {
			f := x[lo+i]
			d := sv + 2*f*sv*(1-sv)*c*(1+3*0.044715*(f*f))
			dx[lo+i] = dy[lo+i] * d
		}
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
