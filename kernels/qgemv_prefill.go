package kernels

import "sync"

// Dequantize–GEMM for the prefill (many tokens) with W3/W4 weights:
//
//	C[m×n] = A[m×k] · W'ᵀ,  W' = dequantized W (float32((q - z)·s), s from binary16)
//
// The weight is dequantized in blocks of up to gemmQRows output channels
// (and at most gemmQFloats floats, 16 MiB) into a
// float32 scratch [rows×k] (in parallel over rows; AVX2: nibbles or 3-bit
// codes widened with VPMOVZXBD, VPSUBD z, VCVTDQ2PS, VMULPS s), and each block is
// multiplied by the active fp32 GEMM (Sgemm with transB, which packs and
// runs its AVX2 micro-kernel on both cores). With m tokens the dequantizing
// costs one pass over the weight per call, i.e. 1/m of a GEMV per token:
// at m = 512 it is a few percent of the product. The activations are not
// quantized; the result equals the fp32 GEMM with the dequantized weight.

const (
	gemmQRows   = 1024
	gemmQFloats = 4 << 20
)

var qgemmPool = sync.Pool{New: func() any { return new([]float32) }}

// GEMMW4 computes C (row stride ldc) = A (m×k, row stride lda) · W'ᵀ for a
// W4 weight [n, k] (layout as for GEMVW4).
func GEMMW4(c []float32, ldc int, a []float32, lda, m int, data []byte, scales []uint16, zeros []uint8, n, k, group int) {
	qgemm(4, c, ldc, a, lda, m, data, scales, zeros, n, k, group)
}

// GEMMW3 is GEMMW4 for a W3 weight (layout as for GEMVW3).
func GEMMW3(c []float32, ldc int, a []float32, lda, m int, data []byte, scales []uint16, zeros []uint8, n, k, group int) {
	qgemm(3, c, ldc, a, lda, m, data, scales, zeros, n, k, group)
}

func qgemm(bits int, c []float32, ldc int, a []float32, lda, m int, data []byte, scales []uint16, zeros []uint8, n, k, group int) {
	unit, ub := 64, 32
	if bits == 3 {
		unit, ub = 128, 48
	}
	if m < 0 || n < 0 || k <= 0 || group <= 0 || group%unit != 0 || k%group != 0 || lda < k || ldc < n {
		panic("kernels: quantized GEMM: bad m, n, k, group, lda or ldc")
	}
	if len(data) < n*(k/unit)*ub || len(scales) < n*(k/group) || len(zeros) < n*(k/group) {
		panic("kernels: quantized GEMM: weight slices too short")
	}
	if m == 0 || n == 0 {
		return
	}
	if len(a) < (m-1)*lda+k || len(c) < (m-1)*ldc+n {
		panic("kernels: quantized GEMM: a or c too short")
	}
	stride := k * bits / 8
	groups := k / group
	rows := min(n, gemmQRows, max(16, gemmQFloats/k/16*16))
	buf := qgemmPool.Get().(*[]float32)
	defer qgemmPool.Put(buf)
	if cap(*buf) < rows*k {
		*buf = make([]float32, rows*k)
	}
	for j0 := 0; j0 < n; j0 += rows {
		j1 := min(n, j0+rows)
		w := (*buf)[:(j1-j0)*k]
		parallelRows(j1-j0, stride, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				dequantRow(bits, w[r*k:(r+1)*k], data[(j0+r)*stride:(j0+r+1)*stride], scales[(j0+r)*groups:], zeros[(j0+r)*groups:], group)
			}
		})
		Sgemm(false, true, m, j1-j0, k, 1, a, lda, w, k, 0, c[j0:], ldc)
	}
}

// dequantRowGo writes one row's dequantized weights: float32(q - z) * s
// (the pure-Go twin of dequantW4AVX2 / dequantW3AVX2).
func dequantRowGo(bits int, dst []float32, row []byte, scales []uint16, zeros []uint8, group int) {
	var codes [128]uint8
	unit, ub := 64, 32
	if bits == 3 {
		unit, ub = 128, 48
	}
	for u := 0; u < len(dst)/unit; u++ {
		src := row[u*ub : (u+1)*ub]
		if bits == 4 {
			for i := range 32 {
				codes[i], codes[32+i] = src[i]&15, src[i]>>4
			}
		} else {
			unpackW3(codes[:], src)
		}
		c0 := u * unit
		g := c0 / group
		s, z := halfToFloat(scales[g]), int32(zeros[g])
		out := dst[c0 : c0+unit]
		for i := range out {
			out[i] = float32(int32(codes[i])-z) * s
		}
	}
}
