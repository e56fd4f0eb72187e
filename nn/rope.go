package nn

import (
	"mbq/kernels"
	"mbq/tensor"
)

// RoPETable holds the rotary cos/sin values for a list of positions, one row
// of HeadDim/2 values per token, as kernels.RoPEAngles computes them
// (default rope_type, inv_freq = theta^(-2i/HeadDim)).
type RoPETable struct {
	HeadDim  int
	Cos, Sin []float32 // [len(positions), HeadDim/2]
}

// NewRoPETable computes the table for the given positions (one per row of
// the q/k matrices it will rotate).
func NewRoPETable(positions []int, theta float64, headDim int) *RoPETable {
	if headDim <= 0 || headDim%2 != 0 {
		panic("nn: NewRoPETable: head dim must be positive and even")
	}
	h := headDim / 2
	r := &RoPETable{HeadDim: headDim, Cos: make([]float32, len(positions)*h), Sin: make([]float32, len(positions)*h)}
	for t, p := range positions {
		kernels.RoPEAngles(r.Cos[t*h:(t+1)*h], r.Sin[t*h:(t+1)*h], p, theta, headDim)
	}
	return r
}

// Len is the number of positions (rows) in the table.
func (r *RoPETable) Len() int { return len(r.Cos) / (r.HeadDim / 2) }

// Positions returns 0, 1, ..., n-1.
func Positions(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// Apply rotates every head of every row of x ([rows, heads·HeadDim]) in
// place with the half-split (rotate_half) layout; row t uses position t of
// the table.
func (r *RoPETable) Apply(x *tensor.Tensor) { r.apply(x, false) }

// ApplyInverse applies the inverse rotation in place. It is the backward of
// Apply: if g is the gradient at Apply's output, ApplyInverse(g) is the
// gradient at its input.
func (r *RoPETable) ApplyInverse(x *tensor.Tensor) { r.apply(x, true) }

func (r *RoPETable) apply(x *tensor.Tensor, inverse bool) {
	d, h := r.HeadDim, r.HeadDim/2
	c := x.Cols()
	if c%d != 0 || len(x.Data) != x.Rows()*c {
		panic("nn: RoPETable.Apply: width is not a multiple of the head dim")
	}
	t := x.Rows()
	if t != r.Len() {
		panic("nn: RoPETable.Apply: rows differ from the table's positions")
	}
	parallelRange(t, rowChunk, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			cs, sn := r.Cos[i*h:(i+1)*h], r.Sin[i*h:(i+1)*h]
			row := x.Data[i*c : (i+1)*c]
			for o := 0; o < c; o += d {
				if inverse {
					kernels.RoPEInverse(row[o:o+d], cs, sn)
				} else {
					kernels.RoPE(row[o:o+d], cs, sn)
				}
			}
		}
	})
}
