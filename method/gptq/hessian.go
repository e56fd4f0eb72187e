package gptq

import (
	"fmt"
	"runtime"
	"sync"
)

// Hessian accumulates the GPTQ Hessian H = 2/n Σ x xᵀ of one linear layer's
// inputs x (rows of [rows, cols] activation matrices, n = the number of rows
// added) in float64. Only the upper triangle of the sum is kept.
//
// The reference (gptq.py add_batch) counts n in batch samples, not tokens;
// GPTQ is invariant to a positive scaling of H (the damping is relative to the
// mean diagonal), so the results do not depend on that choice.
type Hessian struct {
	cols int
	n    int
	sum  []float64 // upper triangle of Σ x xᵀ, [cols*cols] row-major
}

// NewHessian returns an empty Hessian for a layer with cols input channels.
func NewHessian(cols int) *Hessian {
	if cols <= 0 {
		panic("gptq: NewHessian: cols <= 0")
	}
	return &Hessian{cols: cols, sum: make([]float64, cols*cols)}
}

// NewHessianFromMatrix returns a Hessian whose Matrix() is h (a symmetric
// cols×cols row-major matrix, copied), as if one sample had been added.
func NewHessianFromMatrix(h []float64, cols int) (*Hessian, error) {
	if cols <= 0 || len(h) != cols*cols {
		return nil, fmt.Errorf("gptq: Hessian of %d values, want %d×%d", len(h), cols, cols)
	}
	hs := NewHessian(cols)
	hs.n = 2
	for i := 0; i < cols; i++ {
		for j := i; j < cols; j++ {
			if h[i*cols+j] != h[j*cols+i] {
				return nil, fmt.Errorf("gptq: Hessian not symmetric at (%d,%d)", i, j)
			}
			hs.sum[i*cols+j] = h[i*cols+j]
		}
	}
	return hs, nil
}

// Cols returns the number of input channels.
func (h *Hessian) Cols() int { return h.cols }

// Samples returns the number of rows (tokens) added so far.
func (h *Hessian) Samples() int { return h.n }

// addChunk is the number of rows transposed and accumulated at a time.
const addChunk = 64

// Add accumulates the rows of x, a [rows, cols] row-major activation matrix.
// It panics if len(x) != rows*Cols().
func (h *Hessian) Add(x []float32, rows int) {
	c := h.cols
	if rows < 0 || len(x) != rows*c {
		panic("gptq: Hessian.Add: len(x) != rows*cols")
	}
	xt := make([]float64, c*addChunk) // xt[i*m + t] = x[r0+t][i]
	for r0 := 0; r0 < rows; r0 += addChunk {
		m := min(addChunk, rows-r0)
		for t := 0; t < m; t++ {
			row := x[(r0+t)*c : (r0+t+1)*c]
			for i, v := range row {
				xt[i*m+t] = float64(v)
			}
		}
		parallelStrided(c, c*c*m/2, func(i int) {
			xi := xt[i*m : (i+1)*m]
			s := h.sum[i*c : (i+1)*c]
			for j := i; j < c; j++ {
				xj := xt[j*m : (j+1)*m]
				var d float64
				for t, v := range xi {
					d += v * xj[t]
				}
				s[j] += d
			}
		})
	}
	h.n += rows
}

// Matrix returns H = 2/n Σ x xᵀ as a full symmetric cols×cols row-major
// matrix (all zeros when nothing was added).
func (h *Hessian) Matrix() []float64 {
	c := h.cols
	m := make([]float64, c*c)
	if h.n == 0 {
		return m
	}
	f := 2 / float64(h.n)
	for i := 0; i < c; i++ {
		for j := i; j < c; j++ {
			v := f * h.sum[i*c+j]
			m[i*c+j] = v
			m[j*c+i] = v
		}
	}
	return m
}

// parallelStrided calls fn(i) for i in [0, n), spreading the indices over
// GOMAXPROCS goroutines (index i goes to worker i % workers) when the total
// work estimate is large enough. Each fn(i) must touch only data owned by i,
// so the result does not depend on the schedule.
func parallelStrided(n, work int, fn func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 || work < 1<<16 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				fn(i)
			}
		}(w)
	}
	wg.Wait()
}
