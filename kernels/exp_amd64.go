//go:build amd64

package kernels

import "golang.org/x/sys/cpu"

// hasExpAVX2 selects expAffineAVX2 for ExpAffine.
var hasExpAVX2 = cpu.X86.HasAVX2

// expAffineAVX2 computes dst[i] = exp(a·src[i] + b) for i < n (a multiple of
// 8), eight lanes per step, by exactly the operations of expf (exp.go):
// VMULPS/VADDPS/VSUBPS only, VROUNDPS toward -∞ for the floor, and the
// power of two built with VPSLLD. NaN lanes give NaN, lanes below expLo 0.
//
//go:noescape
func expAffineAVX2(dst, src *float32, n int, a, b float32)
