package kernels

import "math"

// Vectorised exponential (Cephes expf), shared by the softmax of attention and
// the sigmoid inside SwiGLU and tanh-GELU. For each element
//
//	t = a·x + b                       (float32: a·x rounded, then + b)
//	t < expLo  →  0 exactly           (-Inf, masked positions, underflow)
//	t = clamp(t, expLo, expHi)        (saturates at e^88 ≈ 1.65e38, never +Inf)
//	n = ⌊t·log₂e + ½⌋
//	r = (t - n·C1) - n·C2             (C1 + C2 = ln 2, C1 exact in 9 bits)
//	y = ((((((p0·r + p1)·r + p2)·r + p3)·r + p4)·r + p5)·r²) + r + 1
//	exp(t) ≈ y · 2ⁿ                   (2ⁿ built as the bits (n+127)<<23)
//
// every operation a single float32 multiply or add (never fused), so the
// AVX2 twin (expAffineAVX2) and the scalar code here give bit-identical
// results. Relative error against exp in float64 is below 2·2⁻²³ on the
// whole range.
const (
	expHi    = float32(88.0)
	expLo    = float32(-87.33654)
	expLog2e = float32(1.44269504088896341)
	expC1    = float32(0.693359375)
	expC2    = float32(-2.12194440e-4)
	expP0    = float32(1.9875691500e-4)
	expP1    = float32(1.3981999507e-3)
	expP2    = float32(8.3334519073e-3)
	expP3    = float32(4.1665795894e-2)
	expP4    = float32(1.6666665459e-1)
	expP5    = float32(5.0000001201e-1)
)

// ExpAffine sets dst[i] = exp(a·src[i] + b) for every i < len(src) with the
// algorithm above; dst may alias src.
func ExpAffine(dst, src []float32, a, b float32) {
	n := len(src)
	if len(dst) < n {
		panic("kernels: ExpAffine: short slice")
	}
	done := 0
	if hasExpAVX2 && n >= 8 {
		done = n &^ 7
		expAffineAVX2(&dst[0], &src[0], done, a, b)
	}
	expAffineGo(dst[done:n], src[done:n], a, b)
}

// expAffineGo is the scalar form of ExpAffine (the reference the AVX2 code
// is tested against bit for bit). The explicit float32 conversions keep the
// compiler from fusing a multiply and an add.
func expAffineGo(dst, src []float32, a, b float32) {
	for i, x := range src {
		dst[i] = expf(float32(a*x) + b)
	}
}

// expf is exp(t) by the algorithm in this file's comment.
func expf(t float32) float32 {
	if !(t >= expLo) { // also NaN
		if t != t {
			return t
		}
		return 0
	}
	t = min(t, expHi)
	fx := float32(math.Floor(float64(float32(t*expLog2e) + 0.5)))
	r := t - float32(fx*expC1)
	r -= float32(fx * expC2)
	z := float32(r * r)
	y := expP0
	y = float32(y*r) + expP1
	y = float32(y*r) + expP2
	y = float32(y*r) + expP3
	y = float32(y*r) + expP4
	y = float32(y*r) + expP5
	y = float32(y*z) + r
	y += 1
	return y * math.Float32frombits(uint32(int32(fx)+127)<<23)
}
