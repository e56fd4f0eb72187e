//go:build amd64

package kernels

import "golang.org/x/sys/cpu"

// int8Kernel6x16AVX2 is the assembly form of int8Kernel6x16Go: a holds
// kp*6 int32 pairs, b kp*32 int8, c a 6×16 window with row stride ldc,
// sa 6 and sb 16 floats.
//
//go:noescape
func int8Kernel6x16AVX2(kp int, a *int32, b *int8, c *float32, ldc int, sa, sb *float32)

// int8Kernel6x16VNNI is int8Kernel6x16AVX2 with VPDPWSSD (AVX512-VNNI with
// AVX512VL, ymm registers) in place of VPMADDWD + VPADDD.
//
//go:noescape
func int8Kernel6x16VNNI(kp int, a *int32, b *int8, c *float32, ldc int, sa, sb *float32)

// useI8VNNI selects int8Kernel6x16VNNI (an optional path; the baseline is
// AVX2).
var useI8VNNI = cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512F

func int8KernelImpl(kp int, a []int32, b []int8, c []float32, ldc int, sa, sb []float32) {
	if !useQAVX2 {
		int8Kernel6x16Go(kp, a, b, c, ldc, sa, sb)
		return
	}
	_, _, _ = a[kp*6-1], b[kp*32-1], c[5*ldc+15]
	_, _ = sa[5], sb[15]
	if useI8VNNI {
		int8Kernel6x16VNNI(kp, &a[0], &b[0], &c[0], ldc, &sa[0], &sb[0])
		return
	}
	int8Kernel6x16AVX2(kp, &a[0], &b[0], &c[0], ldc, &sa[0], &sb[0])
}
