//go:build openblas

package kernels

import "mbq/kernels/internal/cblas"

// openblasGEMM calls cblas_sgemm from the system OpenBLAS (libopenblas-dev,
// linked with -lopenblas through package internal/cblas, since the go
// command allows no Go assembly in a cgo package). It is built only with the
// openblas tag; with it, it is the default.
var openblasGEMM GEMM = cblasGEMM{}

type cblasGEMM struct{}

func (cblasGEMM) Name() string { return "openblas" }

func (cblasGEMM) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc) {
		return
	}
	// The reference-BLAS quick returns are kept here, so that they do not
	// depend on the library version.
	if alpha == 0 || k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	cblas.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
