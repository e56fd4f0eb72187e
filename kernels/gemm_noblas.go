//go:build !openblas

package kernels

// openblasGEMM exists only in builds with the openblas tag.
var openblasGEMM GEMM
