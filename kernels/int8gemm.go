package kernels

import (
	"math"
	"runtime"
	"sync"
)

// int8 × int8 GEMM with per-token dynamic activation quantization, for the
// weight–activation modes W8A8 and W4A8 (design/algorithm.md §1):
//
//	C[i, j] = sa[i] · sw[j] · Σ_p qa[i, p] · qw[j, p]
//
// where qw [n, k] are the int8 weight codes with one scale sw[j] per output
// channel, and each activation row (token) x_i is quantized at run time,
//
//	sa[i] = max(max|x_i|, 1e-5) / 127,  qa[i, p] = clamp(round(x[i, p] / sa[i]), -128, 127)
//
// (round half to even, float32 division: quant.QuantizeActPerToken with 8
// bits, bit for bit). The integer sums are exact (int32: |Σ| <= 128·128·k <
// 2^31 for k < 131072); the float32 result differs from the product of the
// dequantized operands only by rounding.
//
// Weights are prepared once into [Int8Panels]: panels of 16 output
// channels, each k-pair p stored as 32 bytes, byte 2c+t = qw[16·panel + c,
// 2p + t] (channels padded to 16 and k to even with 0). The AVX2 micro-kernel
// computes a 6×16 tile of C over the whole k: per k-pair it sign-extends the
// panel's 32 bytes to two ymm of int16 pairs (VPMOVSXBW), broadcasts each of
// the 6 tokens' int16 pairs (VPBROADCASTD from the packed A panel) and
// issues 12 VPMADDWD + 12 VPADDD into int32 accumulators; at the end it
// converts to float32 and scales by sw (vector) and sa (broadcast).
// A is quantized and packed once per call (panels of 6 tokens, k-pair p of
// token i as the int32 (qa[i,2p] & 0xffff) | qa[i,2p+1] << 16 at [p*6+i]);
// the weight panels are split across goroutines, each looping over all A
// panels with its weight panel in L2.

// Int8Panels is an int8 weight [N, K] with per-channel scales, repacked for
// Int8GEMM (see above).
type Int8Panels struct {
	N, K   int
	kp     int // k-pairs, ceil(K/2)
	data   []int8
	scales []float32 // [N rounded up to 16], 0 past N
}

// PackInt8Panels repacks int8 weight codes (row r at codes[r*stride:],
// K codes each) with per-row scales into Int8Panels.
func PackInt8Panels(codes []int8, stride, n, k int, scales []float32) *Int8Panels {
	if n <= 0 || k <= 0 || stride < k {
		panic("kernels: PackInt8Panels: bad n, k or stride")
	}
	if len(codes) < (n-1)*stride+k || len(scales) < n {
		panic("kernels: PackInt8Panels: slice too short")
	}
	kp := (k + 1) / 2
	np := ceilDiv(n, 16)
	w := &Int8Panels{N: n, K: k, kp: kp, data: make([]int8, np*kp*32), scales: make([]float32, np*16)}
	copy(w.scales, scales[:n])
	for j := 0; j < n; j++ {
		panel := w.data[(j/16)*kp*32:]
		c := j % 16
		row := codes[j*stride : j*stride+k]
		for p := 0; p < k; p++ {
			panel[(p/2)*32+2*c+p%2] = row[p]
		}
	}
	return w
}

// Int8GEMM computes C[m×N] (row stride ldc) from the activations A [m×K]
// (row stride lda), quantized per token to int8, and the prepared weight w:
// C = (sa ⊙ qa) · (sw ⊙ qw)ᵀ as described above. Only the m×N window of C
// is written.
func Int8GEMM(c []float32, ldc int, a []float32, lda, m int, w *Int8Panels) {
	n, k := w.N, w.K
	if m < 0 || lda < k || ldc < n {
		panic("kernels: Int8GEMM: bad m, lda or ldc")
	}
	if m == 0 {
		return
	}
	if len(a) < (m-1)*lda+k || len(c) < (m-1)*ldc+n {
		panic("kernels: Int8GEMM: slice too short")
	}
	kp := w.kp
	mp := ceilDiv(m, 6)
	ap := make([]int32, mp*kp*6)
	sa := make([]float32, mp*6)
	codes := make([]int8, 2*kp)
	for i := 0; i < m; i++ {
		row := a[i*lda : i*lda+k]
		sa[i] = quantizeToken(row, codes[:k])
		panel := ap[(i/6)*kp*6:]
		for p := 0; p < kp; p++ {
			panel[p*6+i%6] = int32(uint16(int16(codes[2*p]))) | int32(codes[2*p+1])<<16
		}
	}
	np := ceilDiv(n, 16)
	parts := runtime.GOMAXPROCS(0)
	if float64(m)*float64(n)*float64(k) < 1<<22 {
		parts = 1
	}
	parts = max(1, min(parts, np))
	step := ceilDiv(np, parts)
	var wg sync.WaitGroup
	for p0 := 0; p0 < np; p0 += step {
		p1 := min(np, p0+step)
		wg.Add(1)
		go func() {
			defer wg.Done()
			int8GEMMPanels(c, ldc, m, n, kp, ap, sa, w, p0, p1)
		}()
	}
	wg.Wait()
}

// int8GEMMPanels computes the columns of weight panels p0..p1.
func int8GEMMPanels(c []float32, ldc, m, n, kp int, ap []int32, sa []float32, w *Int8Panels, p0, p1 int) {
	var tile [6 * 16]float32
	for jp := p0; jp < p1; jp++ {
		bp := w.data[jp*kp*32 : (jp+1)*kp*32]
		sb := w.scales[jp*16 : jp*16+16]
		j0 := jp * 16
		nr := min(16, n-j0)
		for ip := 0; ip*6 < m; ip++ {
			a := ap[ip*kp*6 : (ip+1)*kp*6]
			i0 := ip * 6
			mr := min(6, m-i0)
			if mr == 6 && nr == 16 {
				int8KernelImpl(kp, a, bp, c[i0*ldc+j0:], ldc, sa[i0:i0+6], sb)
				continue
			}
			int8KernelImpl(kp, a, bp, tile[:], 16, sa[i0:i0+6], sb)
			for i := 0; i < mr; i++ {
				copy(c[(i0+i)*ldc+j0:(i0+i)*ldc+j0+nr], tile[i*16:i*16+nr])
			}
		}
	}
}

// quantizeToken quantizes one token per quant.QuantizeActPerToken (8 bits)
// into codes and returns its scale.
func quantizeToken(x []float32, codes []int8) float32 {
	var amax float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax = a
		}
	}
	if !(amax >= 1e-5) {
		amax = 1e-5
	}
	s := amax / float32(127)
	for i, v := range x {
		q := float32(math.RoundToEven(float64(v / s)))
		codes[i] = int8(max(-128, min(127, q)))
	}
	if len(codes) > len(x) {
		clear(codes[len(x):])
	}
	return s
}

// int8Kernel6x16Go is the pure-Go twin of the micro-kernel:
//
//	for i := 0; i < 6; i++ {
//		for j := 0; j < 16; j++ {
//			var s int32
//			for p := 0; p < kp; p++ {
//				s += lo16(a[p*6+i])*int32(b[p*32+2*j]) + hi16(a[p*6+i])*int32(b[p*32+2*j+1])
//			}
//			c[i*ldc+j] = float32(s) * sb[j] * sa[i]
//		}
//	}
func int8Kernel6x16Go(kp int, a []int32, b []int8, c []float32, ldc int, sa, sb []float32) {
	var acc [6][16]int32
	for p := 0; p < kp; p++ {
		bb := b[p*32 : p*32+32]
		for i := 0; i < 6; i++ {
			v := a[p*6+i]
			lo, hi := int32(int16(v)), v>>16
			for j := 0; j < 16; j++ {
				acc[i][j] += lo*int32(bb[2*j]) + hi*int32(bb[2*j+1])
			}
		}
	}
	for i := 0; i < 6; i++ {
		for j := 0; j < 16; j++ {
			c[i*ldc+j] = float32(acc[i][j]) * sb[j] * sa[i]
		}
	}
}
