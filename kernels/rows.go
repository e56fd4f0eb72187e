package kernels

import "math"

// Row kernels: the element-wise and per-row operations of the transformer
// layers mbq runs. Each works on one row (a token's vector); dst may alias x.
// Reductions accumulate in float64, so results do not depend on the order a
// vectorised twin might use, and are within float32 rounding of the exact
// value.

// RMSNorm computes, as Qwen2RMSNorm does in float32,
//
//	dst[i] = w[i] · x[i] / sqrt(mean_j(x[j]²) + eps)
//
// w may be nil (no weight, as in the unit-weight case).
func RMSNorm(dst, x, w []float32, eps float32) {
	n := len(x)
	if len(dst) < n || (w != nil && len(w) < n) {
		panic("kernels: RMSNorm: short slice")
	}
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(ss/float64(n)+float64(eps)))
	if w == nil {
		for i, v := range x {
			dst[i] = v * inv
		}
		return
	}
	for i, v := range x {
		dst[i] = w[i] * (v * inv)
	}
}

// LayerNorm computes, as torch.nn.LayerNorm (biased variance),
//
//	mu = mean(x),  var = mean((x - mu)²)
//	dst[i] = (x[i] - mu) / sqrt(var + eps) · w[i] + b[i]
//
// w and b may be nil (elementwise_affine without weight or bias).
func LayerNorm(dst, x, w, b []float32, eps float32) {
	n := len(x)
	if len(dst) < n || (w != nil && len(w) < n) || (b != nil && len(b) < n) {
		panic("kernels: LayerNorm: short slice")
	}
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mu := s / float64(n)
	var ss float64
	for _, v := range x {
		d := float64(v) - mu
		ss += d * d
	}
	inv := 1 / math.Sqrt(ss/float64(n)+float64(eps))
	for i, v := range x {
		y := float32((float64(v) - mu) * inv)
		if w != nil {
			y *= w[i]
		}
		if b != nil {
			y += b[i]
		}
		dst[i] = y
	}
}

// Softmax replaces x with softmax(x) = exp(x - max) / Σ exp(x - max).
// Entries equal to -Inf (masked positions) become exactly 0; a row that is
// entirely -Inf becomes all zeros rather than NaN.
func Softmax(x []float32) {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), -1) {
		clear(x)
		return
	}
	ExpAffine(x, x, 1, -m)
	var s float64
	for _, e := range x {
		s += float64(e)
	}
	inv := float32(1 / s)
	for i := range x {
		x[i] *= inv
	}
}

// LogSumExp returns log Σ exp(x[i]), computed stably (the normaliser of a
// log-softmax; cross-entropy is LogSumExp(logits) - logits[target]).
func LogSumExp(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		if float64(v) > m {
			m = float64(v)
		}
	}
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// SiLU computes dst[i] = x[i] · sigmoid(x[i]) = x[i] / (1 + exp(-x[i])).
func SiLU(dst, x []float32) {
	if len(dst) < len(x) {
		panic("kernels: SiLU: short slice")
	}
	siluMul(dst, x, nil)
}

// SwiGLU computes dst[i] = SiLU(gate[i]) · up[i], the Qwen2/Llama MLP's
// gated activation act_fn(gate_proj(x)) * up_proj(x), in float32 as torch
// does (gate·σ(gate), then ·up).
func SwiGLU(dst, gate, up []float32) {
	if len(dst) < len(gate) || len(up) < len(gate) {
		panic("kernels: SwiGLU: short slice")
	}
	siluMul(dst, gate, up)
}

// siluMul sets dst[i] = x[i]·σ(x[i]), times up[i] when up is not nil,
// through a stack buffer of σ values; dst may alias x or up (each element
// is read before it is written).
func siluMul(dst, x, up []float32) {
	var buf [ActChunk]float32
	for lo := 0; lo < len(x); lo += ActChunk {
		hi := min(lo+ActChunk, len(x))
		s := buf[:hi-lo]
		Sigmoid(s, x[lo:hi], 1)
		for i, v := range s {
			y := x[lo+i] * v
			if up != nil {
				y *= up[lo+i]
			}
			dst[lo+i] = y
		}
	}
}

// GELUTanh computes the tanh approximation of GELU ("gelu_pytorch_tanh",
// SigLIP's activation):
//
//	dst[i] = 0.5 · x · (1 + tanh(u)),  u = sqrt(2/π) · (x + 0.044715 · x³)
//	       = x · σ(2u)                 (0.5·(1 + tanh u) = σ(2u))
func GELUTanh(dst, x []float32) {
	if len(dst) < len(x) {
		panic("kernels: GELUTanh: short slice")
	}
	var buf [ActChunk]float32
	for lo := 0; lo < len(x); lo += ActChunk {
		hi := min(lo+ActChunk, len(x))
		s := buf[:hi-lo]
		GELUTanhInner(s, x[lo:hi])
		Sigmoid(s, s, 2)
		for i, v := range s {
			dst[lo+i] = x[lo+i] * v
		}
	}
}

// GELUTanhInner sets u[i] = sqrt(2/π) · (x[i] + 0.044715 · x[i]³), in
// float32, the argument of tanh in GELUTanh.
func GELUTanhInner(u, x []float32) {
	const c = float32(0.7978845608028654) // sqrt(2/pi)
	for i, v := range x {
		u[i] = c * (v + 0.044715*(v*v*v))
	}
}

// Sigmoid sets dst[i] = σ(k·x[i]) = 1 / (1 + exp(-k·x[i])) with ExpAffine's
// exponential; dst may alias x. Far below zero it gives 1/(1 + e^88), not 0.
func Sigmoid(dst, x []float32, k float32) {
	ExpAffine(dst, x, -k, 0)
	for i, e := range dst[:len(x)] {
		dst[i] = 1 / (1 + e)
	}
}

// ActChunk is the length of the stack buffer of σ values the activations
// (and their backward passes in package nn) work through.
const ActChunk = 256

// GELU computes the exact GELU, dst[i] = x · Φ(x) = 0.5 · x · (1 + erf(x/√2))
// (torch's default "gelu", used by LLaVA's projector).
func GELU(dst, x []float32) {
	if len(dst) < len(x) {
		panic("kernels: GELU: short slice")
	}
	for i, v := range x {
		f := float64(v)
		dst[i] = float32(0.5 * f * (1 + math.Erf(f/math.Sqrt2)))
	}
}

// RoPEAngles fills cos[i] and sin[i], i < dim/2, for position pos with the
// default rotary frequencies inv_freq[i] = theta^(-2i/dim):
//
//	cos[i] = cos(pos · inv_freq[i]),  sin[i] = sin(pos · inv_freq[i])
//
// inv_freq is computed in float32 as transformers does
// (1 / theta ** (arange(0, dim, 2).float() / dim)); the angle product and the
// trigonometry are float32 in transformers as well, here they are float64
// rounded once, which differs from torch by at most a float32 ulp or two.
func RoPEAngles(cos, sin []float32, pos int, theta float64, dim int) {
	h := dim / 2
	if dim%2 != 0 || len(cos) < h || len(sin) < h {
		panic("kernels: RoPEAngles: bad dim or short slice")
	}
	for i := 0; i < h; i++ {
		inv := float32(1 / math.Pow(theta, float64(float32(2*i)/float32(dim))))
		a := float64(float32(pos) * inv)
		cos[i] = float32(math.Cos(a))
		sin[i] = float32(math.Sin(a))
	}
}

// RoPE rotates one attention head's vector x (length dim) in place with the
// half-split ("rotate_half") layout of Llama/Qwen2: for i < dim/2, with
// a = x[i] and b = x[i+dim/2],
//
//	x[i]       = a·cos[i] - b·sin[i]
//	x[i+dim/2] = b·cos[i] + a·sin[i]
//
// which is x·cos + rotate_half(x)·sin with cos/sin repeated over both halves.
func RoPE(x, cos, sin []float32) {
	h := len(x) / 2
	if len(x)%2 != 0 || len(cos) < h || len(sin) < h {
		panic("kernels: RoPE: odd head dim or short cos/sin")
	}
	for i := 0; i < h; i++ {
		a, b := x[i], x[i+h]
		x[i] = a*cos[i] - b*sin[i]
		x[i+h] = b*cos[i] + a*sin[i]
	}
}

// RoPEInverse applies the inverse rotation (the transpose), which is also the
// backward pass of RoPE: the gradient with respect to x of a loss whose
// gradient with respect to RoPE(x) is g is RoPEInverse(g).
func RoPEInverse(x, cos, sin []float32) {
	h := len(x) / 2
	if len(x)%2 != 0 || len(cos) < h || len(sin) < h {
		panic("kernels: RoPEInverse: odd head dim or short cos/sin")
	}
	for i := 0; i < h; i++ {
		a, b := x[i], x[i+h]
		x[i] = a*cos[i] + b*sin[i]
		x[i+h] = b*cos[i] - a*sin[i]
	}
}
