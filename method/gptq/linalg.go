package gptq

import (
	"errors"
	"math"
)

var errNotPD = errors.New("gptq: damped Hessian is not positive definite")

// cholesky replaces the lower triangle of the symmetric n×n matrix a by its
// Cholesky factor L (a = L Lᵀ), column by column (Crout order: the entries
// below the diagonal of one column are independent and computed in
// parallel). The strict upper triangle is zeroed.
func cholesky(a []float64, n int) error {
	for j := 0; j < n; j++ {
		rj := a[j*n : j*n+j]
		s := a[j*n+j]
		for _, v := range rj {
			s -= v * v
		}
		if !(s > 0) || math.IsInf(s, 0) {
			return errNotPD
		}
		d := math.Sqrt(s)
		a[j*n+j] = d
		parallelStrided(n-j-1, (n-j)*j, func(k int) {
			i := j + 1 + k
			ri := a[i*n : i*n+j]
			s := a[i*n+j]
			for t, v := range ri {
				s -= v * rj[t]
			}
			a[i*n+j] = s / d
		})
	}
	for i := 0; i < n; i++ {
		clear(a[i*n+i+1 : (i+1)*n])
	}
	return nil
}

// invertLower replaces the lower-triangular n×n matrix l (zero above the
// diagonal) by its inverse, row by row, using tmp (len >= n).
func invertLower(l []float64, n int, tmp []float64) {
	for i := 0; i < n; i++ {
		t := tmp[:i]
		clear(t)
		ri := l[i*n : (i+1)*n]
		// t[j] = Σ_{k=j}^{i-1} L[i][k] Linv[k][j]; rows k < i are already inverted.
		for k := 0; k < i; k++ {
			lik := ri[k]
			if lik == 0 {
				continue
			}
			rk := l[k*n : k*n+k+1]
			for j, v := range rk {
				t[j] += lik * v
			}
		}
		d := 1 / ri[i]
		for j := 0; j < i; j++ {
			ri[j] = -t[j] * d
		}
		ri[i] = d
	}
}

// upperCholInverse returns U, upper triangular with U ᵀU = H⁻¹ (the
// reference's torch.linalg.cholesky(torch.cholesky_inverse(
// torch.linalg.cholesky(H)), upper=True)), as a row-major n×n matrix. h is
// overwritten.
func upperCholInverse(h []float64, n int) ([]float64, error) {
	if err := cholesky(h, n); err != nil {
		return nil, err
	}
	invertLower(h, n, make([]float64, n))
	// B = Linvᵀ Linv, lower triangle: B[i][j] = Σ_{k>=i} Linv[k][i] Linv[k][j], j <= i.
	b := make([]float64, n*n)
	parallelStrided(n, n*n*n/6, func(i int) {
		bi := b[i*n : i*n+i+1]
		for k := i; k < n; k++ {
			rk := h[k*n : k*n+i+1]
			f := rk[i]
			if f == 0 {
				continue
			}
			for j, v := range rk {
				bi[j] += f * v
			}
		}
	})
	for i := 0; i < n; i++ {
		for j := 0; j < i; j++ {
			b[j*n+i] = b[i*n+j]
		}
	}
	if err := cholesky(b, n); err != nil {
		return nil, err
	}
	// U = L2ᵀ, written into h.
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			h[i*n+j] = b[j*n+i]
		}
	}
	return h, nil
}
