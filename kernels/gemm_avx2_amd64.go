//go:build amd64

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// avx2GEMM is the packed driver around the AVX2/FMA micro-kernel; nil when
// the CPU lacks AVX2 or FMA.
var avx2GEMM = func() *packedGEMM {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	g := newPackedGEMM("avx2", sgemmKernel6x16AVX2, dotAVX2Slices, axpyAVX2Slices)
	g.nt = dotNT4x3AVX2
	g.packBT16 = packBT16AVX2
	return g
}()

// sgemmKernel6x16AVX2 computes one 6×16 tile of C from packed panels with
// VFMADD231PS on ymm registers: twelve accumulators (6 rows × two ymm of 8
// columns), per step p two loads of the B panel row and six broadcasts of
// the A panel column, unrolled by four. It implements the reference loop
//
//	for i := 0; i < 6; i++ {
//		for j := 0; j < 16; j++ {
//			var s float32
//			for p := 0; p < kc; p++ {
//				s += a[p*6+i] * b[p*ldb+j] // fused multiply-add
//			}
//			if beta == 0 { // +0 or -0: C is not read
//				c[i*ldc+j] = alpha * s
//			} else {
//				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j] // fused
//			}
//		}
//	}
//
// a must hold kc*6 floats, b (kc-1)*ldb+16 and c 5*ldc+16; ldb is 16 for a
// packed B panel, or B's own stride when B is read in place.
//
//go:noescape
func sgemmKernel6x16AVX2(kc int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// dotNT4x3AVX2 computes a 4×3 block of dot products over k8 elements (a
// multiple of 8): rows a0..a3 of A against rows b0..b2 of B, both read in
// place (nothing packed). It implements the reference loop
//
//	a := [4]*float32{a0, a1, a2, a3}
//	b := [3]*float32{b0, b1, b2}
//	for i := 0; i < 4; i++ {
//		for j := 0; j < 3; j++ {
//			var s float32
//			for p := 0; p < k8; p++ {
//				s += a[i][p] * b[j][p] // 8 partial sums, fused, added at the end
//			}
//			out[i*3+j] = s
//		}
//	}
//
// Row pointers may repeat (for a partial block).
//
//go:noescape
func dotNT4x3AVX2(k8 int, a0, a1, a2, a3, b0, b1, b2 *float32, out *[12]float32)

// packBT16AVX2 packs one full 16-column B panel from B stored n×k (transB):
// 16 rows of b, ldb floats apart, k8 (a multiple of 8) floats each, in
// 8×8 transposes. It implements
//
//	for p := 0; p < k8; p++ {
//		for j := 0; j < 16; j++ {
//			dst[p*16+j] = b[j*ldb+p]
//		}
//	}
//
//go:noescape
func packBT16AVX2(k8 int, b *float32, ldb int, dst *float32)

// dotAVX2 returns sum x[i]*y[i] for i < n.
//
//go:noescape
func dotAVX2(x, y *float32, n int) float32

// axpyAVX2 computes y[i] += alpha*x[i] for i < n.
//
//go:noescape
func axpyAVX2(alpha float32, x, y *float32, n int)

func dotAVX2Slices(x, y []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	y = y[:len(x)]
	return dotAVX2(unsafe.SliceData(x), unsafe.SliceData(y), len(x))
}

func axpyAVX2Slices(alpha float32, x, y []float32) {
	if len(y) == 0 {
		return
	}
	x = x[:len(y)]
	axpyAVX2(alpha, unsafe.SliceData(x), unsafe.SliceData(y), len(y))
}
