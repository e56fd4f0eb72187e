package nn

import (
	"math"
	"sync"

	"mbq/kernels"
	"mbq/tensor"
)

// rowChunk is the minimum number of rows a goroutine takes in the row-wise
// layers; below twice this the work runs on the calling goroutine.
const rowChunk = 16

// RMSNorm is Qwen2RMSNorm: y = w ⊙ x / sqrt(mean(x²) + eps) on each row.
type RMSNorm struct {
	W   *Param // [n]
	Eps float32
}

// NewRMSNorm returns an RMSNorm over n features with unit weight.
func NewRMSNorm(n int, eps float32) *RMSNorm {
	w := tensor.New(n)
	fillConst(w.Data, 1)
	return &RMSNorm{W: NewParam(w), Eps: eps}
}

// Params lists prefix+"weight".
func (l *RMSNorm) Params(prefix string) []NamedParam {
	return []NamedParam{{prefix + "weight", l.W}}
}

// Forward normalises every row of x.
func (l *RMSNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := like(x)
	l.ForwardInto(y, x)
	return y
}

// ForwardInto writes the normalised rows of x into y (y may be x).
func (l *RMSNorm) ForwardInto(y, x *tensor.Tensor) {
	n := len(l.W.Value.Data)
	t := matrix(x, n, "nn: RMSNorm.Forward: input width differs from weight")
	if matrix(y, n, "nn: RMSNorm.Forward: output width differs from weight") != t {
		panic("nn: RMSNorm.Forward: output rows differ from input rows")
	}
	w := l.W.Value.Data
	parallelRange(t, rowChunk, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			kernels.RMSNorm(y.Data[r*n:(r+1)*n], x.Data[r*n:(r+1)*n], w, l.Eps)
		}
	})
}

// Backward returns dx for the input x and output gradient dy and accumulates
// dw (if allocated). With r = sqrt(mean(x²)+eps) per row and g = w ⊙ dy:
//
//	dx = g/r - x · Σ(g ⊙ x) / (n · r³),   dw += Σ_rows dy ⊙ x / r
func (l *RMSNorm) Backward(x, dy *tensor.Tensor) *tensor.Tensor {
	dx := like(x)
	l.BackwardInto(dx, x, dy, false)
	return dx
}

// BackwardInto writes (acc: adds) dx into the given tensor.
func (l *RMSNorm) BackwardInto(dx, x, dy *tensor.Tensor, acc bool) {
	n := len(l.W.Value.Data)
	t := matrix(x, n, "nn: RMSNorm.Backward: input width differs from weight")
	if matrix(dy, n, "nn: RMSNorm.Backward: gradient width differs from weight") != t ||
		matrix(dx, n, "nn: RMSNorm.Backward: dx width differs from weight") != t {
		panic("nn: RMSNorm.Backward: row counts differ")
	}
	w := l.W.Value.Data
	var mu sync.Mutex
	var dw []float64
	wantW := l.W.Grad != nil
	if wantW {
		dw = make([]float64, n)
	}
	parallelRange(t, rowChunk, func(lo, hi int) {
		var pdw []float64
		if wantW {
			pdw = make([]float64, n)
		}
		for r := lo; r < hi; r++ {
			xr, gr, dr := x.Data[r*n:(r+1)*n], dy.Data[r*n:(r+1)*n], dx.Data[r*n:(r+1)*n]
			var ss, s float64
			for i, v := range xr {
				ss += float64(v) * float64(v)
				s += float64(w[i]) * float64(gr[i]) * float64(v)
			}
			inv := 1 / math.Sqrt(ss/float64(n)+float64(l.Eps))
			c := s * inv * inv * inv / float64(n)
			for i, v := range xr {
				d := float64(w[i])*float64(gr[i])*inv - float64(v)*c
				if acc {
					dr[i] += float32(d)
				} else {
					dr[i] = float32(d)
				}
				if wantW {
					pdw[i] += float64(gr[i]) * float64(v) * inv
				}
			}
		}
		if wantW {
			mu.Lock()
			for i, v := range pdw {
				dw[i] += v
			}
			mu.Unlock()
		}
	})
	if wantW {
		g := l.W.Grad.Data
		for i, v := range dw {
			g[i] += float32(v)
		}
	}
}

// LayerNorm is torch.nn.LayerNorm over the last axis with weight and bias:
// y = (x - mean(x)) / sqrt(var(x) + eps) ⊙ w + b (biased variance).
type LayerNorm struct {
	W, B *Param // [n] each
	Eps  float32
}

// NewLayerNorm returns a LayerNorm over n features with unit weight and zero bias.
func NewLayerNorm(n int, eps float32) *LayerNorm {
	w := tensor.New(n)
	fillConst(w.Data, 1)
	return &LayerNorm{W: NewParam(w), B: NewParam(tensor.New(n)), Eps: eps}
}

// Params lists prefix+"weight" and prefix+"bias".
func (l *LayerNorm) Params(prefix string) []NamedParam {
	return []NamedParam{{prefix + "weight", l.W}, {prefix + "bias", l.B}}
}

// Forward normalises every row of x.
func (l *LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := like(x)
	l.ForwardInto(y, x)
	return y
}

// ForwardInto writes the normalised rows of x into y (y may be x).
func (l *LayerNorm) ForwardInto(y, x *tensor.Tensor) {
	n := len(l.W.Value.Data)
	t := matrix(x, n, "nn: LayerNorm.Forward: input width differs from weight")
	if matrix(y, n, "nn: LayerNorm.Forward: output width differs from weight") != t {
		panic("nn: LayerNorm.Forward: output rows differ from input rows")
	}
	w, b := l.W.Value.Data, l.B.Value.Data
	parallelRange(t, rowChunk, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			kernels.LayerNorm(y.Data[r*n:(r+1)*n], x.Data[r*n:(r+1)*n], w, b, l.Eps)
		}
	})
}

// Backward returns dx and accumulates dw, db (where allocated). With
// x̂ = (x - μ)/σ, σ = sqrt(var + eps) per row and g = w ⊙ dy:
//
//	dx = (g - mean(g) - x̂ · mean(g ⊙ x̂)) / σ,   dw += Σ_rows dy ⊙ x̂,   db += Σ_rows dy
func (l *LayerNorm) Backward(x, dy *tensor.Tensor) *tensor.Tensor {
	dx := like(x)
	l.BackwardInto(dx, x, dy, false)
	return dx
}

// BackwardInto writes (acc: adds) dx into the given tensor.
func (l *LayerNorm) BackwardInto(dx, x, dy *tensor.Tensor, acc bool) {
	n := len(l.W.Value.Data)
	t := matrix(x, n, "nn: LayerNorm.Backward: input width differs from weight")
	if matrix(dy, n, "nn: LayerNorm.Backward: gradient width differs from weight") != t ||
		matrix(dx, n, "nn: LayerNorm.Backward: dx width differs from weight") != t {
		panic("nn: LayerNorm.Backward: row counts differ")
	}
	w := l.W.Value.Data
	wantW, wantB := l.W.Grad != nil, l.B.Grad != nil
	var mu sync.Mutex
	dw, db := make([]float64, n), make([]float64, n)
	parallelRange(t, rowChunk, func(lo, hi int) {
		pdw, pdb := make([]float64, n), make([]float64, n)
		xh := make([]float64, n)
		for r := lo; r < hi; r++ {
			xr, gr, dr := x.Data[r*n:(r+1)*n], dy.Data[r*n:(r+1)*n], dx.Data[r*n:(r+1)*n]
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			m := s / float64(n)
			var ss float64
			for _, v := range xr {
				d := float64(v) - m
				ss += d * d
			}
			inv := 1 / math.Sqrt(ss/float64(n)+float64(l.Eps))
			var sg, sgx float64
			for i, v := range xr {
				xh[i] = (float64(v) - m) * inv
				g := float64(w[i]) * float64(gr[i])
				sg += g
				sgx += g * xh[i]
				pdw[i] += float64(gr[i]) * xh[i]
				pdb[i] += float64(gr[i])
			}
			sg /= float64(n)
			sgx /= float64(n)
			for i := range xr {
				d := (float64(w[i])*float64(gr[i]) - sg - xh[i]*sgx) * inv
				if acc {
					dr[i] += float32(d)
				} else {
					dr[i] = float32(d)
				}
			}
		}
		mu.Lock()
		for i := range pdw {
			dw[i] += pdw[i]
			db[i] += pdb[i]
		}
		mu.Unlock()
	})
	if wantW {
		for i, v := range dw {
			l.W.Grad.Data[i] += float32(v)
		}
	}
	if wantB {
		for i, v := range db {
			l.B.Grad.Data[i] += float32(v)
		}
	}
}
