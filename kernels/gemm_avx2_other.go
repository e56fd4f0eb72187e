//go:build !amd64

package kernels

// avx2GEMM does not exist off amd64; "go" is the fallback.
var avx2GEMM *packedGEMM
