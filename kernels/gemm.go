package kernels

import (
	"os"
	"sync"
)

// GEMM is one implementation of the single-precision general matrix
// multiply. All implementations share the contract of [Sgemm].
type GEMM interface {
	// Name is the short name used by [Lookup] and by MBQ_GEMM.
	Name() string
	// Sgemm computes C = alpha*op(A)*op(B) + beta*C; see the package
	// function [Sgemm] for the contract.
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices with
// the implementation returned by [Active].
//
// op(A) is m×k and op(B) is k×n; C is m×n with row stride ldc >= n.
// Without transA, A is stored m×k with lda >= k; with transA, A is stored
// k×m (op(A) = Aᵀ) with lda >= m. Without transB, B is stored k×n with
// ldb >= n; with transB, B is stored n×k (op(B) = Bᵀ) with ldb >= k.
// A slice holding an r×c matrix with stride ld must have length at least
// (r-1)*ld + c; nothing past that is read or written.
//
// As in the reference BLAS: beta == 0 means C is not read (NaNs and Infs
// already in C do not propagate); alpha == 0 or k == 0 means A and B are not
// read and C = beta*C. Only the m×n window of C is written.
//
// Sgemm panics with a constant message on a negative dimension, a leading
// dimension that is too small, or a slice that is too short.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	active.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// MatMul computes C = A·B for row-major A (m×k), B (k×n) and C (m×n), all
// stored densely (leading dimensions k, n and n).
func MatMul(c, a, b []float32, m, k, n int) {
	active.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
}

// MatMulAcc computes C += A·B with the shapes of [MatMul].
func MatMulAcc(c, a, b []float32, m, k, n int) {
	active.Sgemm(false, false, m, n, k, 1, a, k, b, n, 1, c, n)
}

// MatMulTransB computes C = A·Bᵀ for A (m×k), B stored n×k and C (m×n), all
// dense. B has the layout of a PyTorch Linear weight [out, in], so this is
// the forward pass of a Linear layer without bias (x: [tokens, in]).
func MatMulTransB(c, a, b []float32, m, k, n int) {
	active.Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
}

// MatMulTransBAcc computes C += A·Bᵀ with the shapes of [MatMulTransB].
func MatMulTransBAcc(c, a, b []float32, m, k, n int) {
	active.Sgemm(false, true, m, n, k, 1, a, k, b, k, 1, c, n)
}

// MatMulTransA computes C = Aᵀ·B for A stored k×m, B (k×n) and C (m×n), all
// dense: the weight gradient of a Linear layer, dW = dYᵀ·X with dY [tokens,
// out] as A and X [tokens, in] as B.
func MatMulTransA(c, a, b []float32, m, k, n int) {
	active.Sgemm(true, false, m, n, k, 1, a, m, b, n, 0, c, n)
}

// MatMulTransAAcc computes C += Aᵀ·B with the shapes of [MatMulTransA]
// (gradient accumulation over batches).
func MatMulTransAAcc(c, a, b []float32, m, k, n int) {
	active.Sgemm(true, false, m, n, k, 1, a, m, b, n, 1, c, n)
}

// EnvGEMM is the environment variable that overrides the default
// implementation: MBQ_GEMM=ref|go|avx2|openblas. It is read once, at
// package initialisation. An unknown name, or one not built or not supported
// on this CPU, is ignored and the default is used.
const EnvGEMM = "MBQ_GEMM"

var (
	registryMu sync.Mutex
	registry   []GEMM // reference first, then in order of preference (last is fastest)
	active     GEMM
)

// register adds an implementation; called from init functions only.
func register(g GEMM) {
	registryMu.Lock()
	registry = append(registry, g)
	registryMu.Unlock()
}

// Implementations returns every implementation built into this binary and
// supported by this CPU, the reference ("ref") first.
func Implementations() []GEMM {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]GEMM, 0, len(registry))
	for _, name := range []string{"ref", "go", "avx2", "openblas"} {
		for _, g := range registry {
			if g.Name() == name {
				out = append(out, g)
			}
		}
	}
	return out
}

// Lookup returns the implementation with the given name, if it is built
// and supported on this CPU.
func Lookup(name string) (GEMM, bool) {
	for _, g := range Implementations() {
		if g.Name() == name {
			return g, true
		}
	}
	return nil, false
}

// Active returns the implementation [Sgemm] and the MatMul helpers dispatch
// to: the one named by MBQ_GEMM if that is available, otherwise openblas when
// built with the openblas tag, otherwise avx2 when the CPU has AVX2 and FMA,
// otherwise the pure-Go "go".
func Active() GEMM { return active }

// defaultGEMM applies the dispatch rule of [Active] to the registered
// implementations and the value of MBQ_GEMM.
func defaultGEMM(env string) GEMM {
	if env != "" {
		if g, ok := Lookup(env); ok {
			return g
		}
	}
	for _, name := range []string{"openblas", "avx2", "go"} {
		if g, ok := Lookup(name); ok {
			return g
		}
	}
	return refGEMM{}
}

func init() {
	register(refGEMM{})
	register(goGEMM)
	if avx2GEMM != nil {
		register(avx2GEMM)
	}
	if openblasGEMM != nil {
		register(openblasGEMM)
	}
	active = defaultGEMM(os.Getenv(EnvGEMM))
}

// checkSgemm validates the arguments of Sgemm and panics on a violation.
// It reports whether there is any element of C to write.
func checkSgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) bool {
	if m < 0 || n < 0 || k < 0 {
		panic("kernels: Sgemm: negative dimension")
	}
	ar, ac := m, k // stored shape of A
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n // stored shape of B
	if transB {
		br, bc = n, k
	}
	if lda < max(1, ac) {
		panic("kernels: Sgemm: bad lda")
	}
	if ldb < max(1, bc) {
		panic("kernels: Sgemm: bad ldb")
	}
	if ldc < max(1, n) {
		panic("kernels: Sgemm: bad ldc")
	}
	if m == 0 || n == 0 {
		return false
	}
	if len(c) < (m-1)*ldc+n {
		panic("kernels: Sgemm: short C")
	}
	if k == 0 {
		return true
	}
	if len(a) < (ar-1)*lda+ac {
		panic("kernels: Sgemm: short A")
	}
	if len(b) < (br-1)*ldb+bc {
		panic("kernels: Sgemm: short B")
	}
	return true
}

// scaleC sets C = beta*C on the m×n window; beta == 0 writes zeros without
// reading C.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}
