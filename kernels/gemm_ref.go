package kernels

// refGEMM is the reference implementation: the defining triple loop, with
// the dot products accumulated in float64 so that its result is the float32
// rounding of a nearly exact value. It is slow and meant for tests.
type refGEMM struct{}

func (refGEMM) Name() string { return "ref" }

func (refGEMM) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc) {
		return
	}
	if alpha == 0 || k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var aip, bpj float32
				if transA {
					aip = a[p*lda+i] // A stored k×m
				} else {
					aip = a[i*lda+p]
				}
				if transB {
					bpj = b[j*ldb+p] // B stored n×k
				} else {
					bpj = b[p*ldb+j]
				}
				s += float64(aip) * float64(bpj)
			}
			v := alpha * float32(s)
			if beta != 0 {
				v += beta * c[i*ldc+j]
			}
			c[i*ldc+j] = v
		}
	}
}
