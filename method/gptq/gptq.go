package gptq

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"mbq/quant"
)

// Options are GPTQ's knobs; the zero value is the reference's defaults.
type Options struct {
	// BlockSize is the number of columns per lazy batch update (0: 128).
	BlockSize int
	// PercDamp is the damping added to the diagonal, as a fraction of its
	// mean (0: 0.01).
	PercDamp float64
	// DampIncrement > 0 retries a failed Cholesky factorization with
	// PercDamp += DampIncrement while PercDamp < 1 (GPTQModel's
	// damp_auto_increment, e.g. 0.0025). 0: fail with an error, as the
	// reference (IST-DASLab gptq, AutoGPTQ) does.
	DampIncrement float64
	// ActOrder processes columns in order of decreasing Hessian diagonal
	// (stable order among equal values). With group-wise specs it requires
	// StaticGroups, because dynamic groups of permuted columns cannot be
	// described by quant.Params (contiguous groups, no g_idx).
	ActOrder bool
	// StaticGroups computes every group's parameters up front from the
	// weights (after dead-column zeroing) instead of when the column loop
	// reaches the group.
	StaticGroups bool
}

// Result is GPTQ's full output.
type Result struct {
	Params      *quant.Params
	Codes       quant.Codes
	Dequantized []float32 // rows×cols, (q - zero)*scale
	// Loss is the reference's reported error Σ (w - q)² / d² / 2, which
	// equals Σ_rows ½ ΔᵀH_dΔ with Δ the (dead-zeroed) weight minus the
	// quantized weight and H_d the damped Hessian.
	Loss float64
	// PercDamp is the damping fraction finally used.
	PercDamp float64
}

// Quantize runs GPTQ on the rows×cols row-major weight w (w is not modified)
// with Hessian h and returns the parameters, the codes and the quantized-
// dequantized weight.
func Quantize(w []float32, rows, cols int, h *Hessian, spec quant.WeightSpec, opts Options) (*quant.Params, quant.Codes, []float32, error) {
	r, err := Run(w, rows, cols, h, spec, opts)
	if err != nil {
		return nil, quant.Codes{}, nil, err
	}
	return r.Params, r.Codes, r.Dequantized, nil
}

// rowTile is the number of rows processed together so that each row of U
// loaded from memory serves several weight rows.
const rowTile = 8

// Run is Quantize returning the full Result.
func Run(w []float32, rows, cols int, h *Hessian, spec quant.WeightSpec, opts Options) (*Result, error) {
	if opts.BlockSize == 0 {
		opts.BlockSize = 128
	}
	if opts.PercDamp == 0 {
		opts.PercDamp = 0.01
	}
	if opts.BlockSize < 0 || opts.PercDamp < 0 || opts.DampIncrement < 0 {
		return nil, fmt.Errorf("gptq: negative option (block size %d, damp %v, increment %v)",
			opts.BlockSize, opts.PercDamp, opts.DampIncrement)
	}
	if h == nil || h.cols != cols {
		return nil, fmt.Errorf("gptq: Hessian does not match %d columns", cols)
	}
	p, err := quant.NewParams(rows, cols, spec)
	if err != nil {
		return nil, fmt.Errorf("gptq: %w", err)
	}
	g := p.GroupSize
	perChannel := g == cols
	if opts.ActOrder && !perChannel && !opts.StaticGroups {
		return nil, fmt.Errorf("gptq: act order with groups of %d needs static groups", g)
	}
	if len(w) != rows*cols {
		return nil, fmt.Errorf("gptq: %d weights, want %d×%d", len(w), rows, cols)
	}
	// Per-channel parameters come from the original weights, before dead
	// columns are zeroed (as the reference's find_params(W) before "dead").
	if perChannel {
		pc, err := quant.ComputeParams(w, rows, cols, spec)
		if err != nil {
			return nil, fmt.Errorf("gptq: %w", err)
		}
		p = pc
	} else {
		for i, v := range w {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("gptq: non-finite weight %v at index %d", v, i)
			}
		}
	}

	H := h.Matrix()
	W := make([]float64, len(w))
	for i, v := range w {
		W[i] = float64(v)
	}
	for i := 0; i < cols; i++ {
		if H[i*cols+i] == 0 {
			H[i*cols+i] = 1
			for r := 0; r < rows; r++ {
				W[r*cols+i] = 0
			}
		}
	}
	groupParams := func(r, c0 int, src []float64, buf []float32) {
		for k := range buf {
			buf[k] = float32(src[k])
		}
		gi := p.Index(r, c0)
		p.Scale[gi], p.Zero[gi] = quant.GroupParams(buf, spec)
	}
	if !perChannel && opts.StaticGroups {
		buf := make([]float32, g)
		for r := 0; r < rows; r++ {
			for c0 := 0; c0 < cols; c0 += g {
				groupParams(r, c0, W[r*cols+c0:r*cols+c0+g], buf)
			}
		}
	}

	// perm[j] is the original column processed at position j.
	perm := make([]int, cols)
	for i := range perm {
		perm[i] = i
	}
	if opts.ActOrder {
		slices.SortStableFunc(perm, func(a, b int) int { return cmp.Compare(H[b*cols+b], H[a*cols+a]) })
		W = permuteCols(W, rows, cols, perm)
		Hp := make([]float64, len(H))
		for i, pi := range perm {
			for j, pj := range perm {
				Hp[i*cols+j] = H[pi*cols+pj]
			}
		}
		H = Hp
	}

	var mean float64
	for i := 0; i < cols; i++ {
		mean += H[i*cols+i]
	}
	mean /= float64(cols)
	percdamp := opts.PercDamp
	var U []float64
	for {
		Hd := slices.Clone(H)
		for i := 0; i < cols; i++ {
			Hd[i*cols+i] += percdamp * mean
		}
		U, err = upperCholInverse(Hd, cols)
		if err == nil {
			break
		}
		if opts.DampIncrement <= 0 || percdamp+opts.DampIncrement >= 1 {
			return nil, fmt.Errorf("%w (damping %.4g of the mean diagonal %.4g)", err, percdamp, mean)
		}
		percdamp += opts.DampIncrement
	}

	Q := make([]float64, len(W))    // dequantized, permuted columns
	codes := make([]int32, len(W))  // permuted columns
	losses := make([]float64, rows) // per-row Σ (w-q)²/d²
	lo, hi := spec.Range()
	B := opts.BlockSize
	tiles := (rows + rowTile - 1) / rowTile
	parallelStrided(tiles, rows*cols*cols, func(t int) {
		r0, r1 := t*rowTile, min((t+1)*rowTile, rows)
		nr := r1 - r0
		w1 := make([]float64, nr*B)
		err1 := make([]float64, nr*B)
		buf := make([]float32, g)
		for i1 := 0; i1 < cols; i1 += B {
			i2 := min(i1+B, cols)
			cnt := i2 - i1
			for r := 0; r < nr; r++ {
				copy(w1[r*B:r*B+cnt], W[(r0+r)*cols+i1:(r0+r)*cols+i2])
			}
			for i := 0; i < cnt; i++ {
				j := i1 + i
				uj := U[j*cols : (j+1)*cols]
				d := uj[j]
				for r := 0; r < nr; r++ {
					row := r0 + r
					orig := perm[j]
					if !perChannel && !opts.StaticGroups && j%g == 0 {
						// The reference reads the group from the outer W, which holds
						// the lazy updates of earlier blocks but not this block's
						// in-block updates.
						groupParams(row, j, W[row*cols+j:row*cols+j+g], buf)
					}
					gi := p.Index(row, orig)
					s, z := p.Scale[gi], p.Zero[gi]
					x := w1[r*B+i]
					c := quant.Code(float32(x), s, z, lo, hi)
					q := float64(quant.Decode(c, s, z))
					codes[row*cols+j] = c
					Q[row*cols+j] = q
					e := (x - q) / d
					losses[row] += e * e
					err1[r*B+i] = e
					wr := w1[r*B+i : r*B+cnt]
					for k, u := range uj[j:i2] {
						wr[k] -= e * u
					}
				}
			}
			if i2 < cols {
				for i := 0; i < cnt; i++ {
					urow := U[(i1+i)*cols+i2 : (i1+i+1)*cols]
					for r := 0; r < nr; r++ {
						e := err1[r*B+i]
						wr := W[(r0+r)*cols+i2 : (r0+r+1)*cols]
						for k, u := range urow {
							wr[k] -= e * u
						}
					}
				}
			}
		}
	})

	res := &Result{Params: p, Codes: quant.NewCodes(spec, len(w)), Dequantized: make([]float32, len(w)), PercDamp: percdamp}
	for r := 0; r < rows; r++ {
		for j, orig := range perm {
			res.Codes.Set(r*cols+orig, codes[r*cols+j])
			res.Dequantized[r*cols+orig] = float32(Q[r*cols+j])
		}
		res.Loss += losses[r] / 2
	}
	return res, nil
}

func permuteCols(W []float64, rows, cols int, perm []int) []float64 {
	out := make([]float64, len(W))
	for r := 0; r < rows; r++ {
		for j, pj := range perm {
			out[r*cols+j] = W[r*cols+pj]
		}
	}
	return out
}
