package nn

import (
	"math"

	"mbq/kernels"
	"mbq/tensor"
)

// Attention is multi-head scaled dot-product attention over already
// projected (and, for Qwen2, already rotated) queries, keys and values:
//
//	out_h = softmax(q_h · k_gᵀ · Scale + mask) · v_g,   g = h / (NumHeads/NumKVHeads)
//
// q is [Tq, NumHeads·HeadDim], k and v are [Tk, NumKVHeads·HeadDim], out is
// [Tq, NumHeads·HeadDim]; head h occupies columns h·HeadDim..(h+1)·HeadDim.
// Consecutive query heads share a key/value head, as transformers'
// repeat_kv. With Causal, query row i sits at position Tk-Tq+i of the key
// sequence (the queries are the last Tq positions: Tq = Tk normally, Tq < Tk
// when decoding against a KV cache) and sees keys 0..Tk-Tq+i.
//
// Several independent sequences can share one call (rows concatenated, so
// the projections run as one GEMM): seqs lists their lengths; each attends
// only within itself. seqs == nil means one sequence.
//
// Nothing is saved between Forward and Backward: Backward recomputes the
// attention probabilities from q and k (one extra q·kᵀ GEMM per head), so
// memory stays at one [Tq, Tk] score matrix per worker goroutine.
type Attention struct {
	NumHeads, NumKVHeads, HeadDim int
	Causal                        bool
	Scale                         float32 // 0 means HeadDim^-0.5
}

type attnSeg struct{ q0, tq, k0, tk int }

func (a *Attention) scale() float32 {
	if a.Scale != 0 {
		return a.Scale
	}
	return float32(1 / math.Sqrt(float64(a.HeadDim)))
}

// check validates shapes and returns the sequences.
func (a *Attention) check(q, k, v *tensor.Tensor, seqs []int) []attnSeg {
	if a.NumHeads <= 0 || a.NumKVHeads <= 0 || a.HeadDim <= 0 || a.NumHeads%a.NumKVHeads != 0 {
		panic("nn: Attention: heads must be positive and NumHeads a multiple of NumKVHeads")
	}
	tq := matrix(q, a.NumHeads*a.HeadDim, "nn: Attention: q width differs from NumHeads·HeadDim")
	tk := matrix(k, a.NumKVHeads*a.HeadDim, "nn: Attention: k width differs from NumKVHeads·HeadDim")
	if matrix(v, a.NumKVHeads*a.HeadDim, "nn: Attention: v width differs from NumKVHeads·HeadDim") != tk {
		panic("nn: Attention: k and v rows differ")
	}
	if seqs == nil {
		if a.Causal && tk < tq {
			panic("nn: Attention: causal attention needs at least as many keys as queries")
		}
		return []attnSeg{{0, tq, 0, tk}}
	}
	if tq != tk {
		panic("nn: Attention: with seqs, q and k must have the same rows")
	}
	segs := make([]attnSeg, 0, len(seqs))
	o := 0
	for _, n := range seqs {
		if n < 0 {
			panic("nn: Attention: negative sequence length")
		}
		segs = append(segs, attnSeg{o, n, o, n})
		o += n
	}
	if o != tq {
		panic("nn: Attention: sequence lengths do not sum to the rows of q")
	}
	return segs
}

// probs fills p ([tq, tk]) with the attention probabilities of query head h
// (key head g) in segment s.
func (a *Attention) probs(p []float32, q, k []float32, s attnSeg, h, g int) {
	d := a.HeadDim
	qd, kd := a.NumHeads*d, a.NumKVHeads*d
	kernels.Sgemm(false, true, s.tq, s.tk, d, a.scale(),
		q[s.q0*qd+h*d:], qd, k[s.k0*kd+g*d:], kd, 0, p, s.tk)
	off := s.tk - s.tq
	for i := 0; i < s.tq; i++ {
		row := p[i*s.tk : (i+1)*s.tk]
		if a.Causal {
			lim := off + i + 1
			kernels.Softmax(row[:lim])
			clear(row[lim:])
		} else {
			kernels.Softmax(row)
		}
	}
}

// Forward returns the attention output [Tq, NumHeads·HeadDim].
func (a *Attention) Forward(q, k, v *tensor.Tensor, seqs []int) *tensor.Tensor {
	out := like(q)
	a.ForwardInto(out, q, k, v, seqs)
	return out
}

// ForwardInto writes the attention output into out (shaped like q).
func (a *Attention) ForwardInto(out, q, k, v *tensor.Tensor, seqs []int) {
	segs := a.check(q, k, v, seqs)
	if len(out.Data) != len(q.Data) {
		panic("nn: Attention.Forward: out is not shaped like q")
	}
	h, d := a.NumHeads, a.HeadDim
	rep := a.NumHeads / a.NumKVHeads
	qd, kd := h*d, a.NumKVHeads*d
	maxPQ := 0
	for _, s := range segs {
		maxPQ = max(maxPQ, s.tq*s.tk)
	}
	jobs := len(segs) * h
	scratch := make([][]float32, workers(jobs))
	parallelFor(jobs, func(w, j int) {
		s, hd := segs[j/h], j%h
		if s.tq == 0 {
			return
		}
		if scratch[w] == nil {
			scratch[w] = make([]float32, maxPQ)
		}
		p := scratch[w][:s.tq*s.tk]
		g := hd / rep
		o := out.Data[s.q0*qd+hd*d:]
		if s.tk == 0 {
			for i := 0; i < s.tq; i++ {
				clear(o[i*qd : i*qd+d])
			}
			return
		}
		a.probs(p, q.Data, k.Data, s, hd, g)
		kernels.Sgemm(false, false, s.tq, d, s.tk, 1, p, s.tk, v.Data[s.k0*kd+g*d:], kd, 0, o, qd)
	})
}

// Backward returns the gradients with respect to q, k and v given the
// gradient dout at the attention output. With P the probabilities of one
// head, dP = dout_h·v_gᵀ and dS = P ⊙ (dP - rowsum(P ⊙ dP)):
//
//	dq_h = Scale · dS · k_g,   dk_g += Scale · dSᵀ · q_h,   dv_g += Pᵀ · dout_h
//
// summed over the query heads h that share key/value head g.
func (a *Attention) Backward(q, k, v, dout *tensor.Tensor, seqs []int) (dq, dk, dv *tensor.Tensor) {
	dq, dk, dv = like(q), like(k), like(v)
	a.BackwardInto(dq, dk, dv, q, k, v, dout, seqs)
	return dq, dk, dv
}

// BackwardInto writes (overwrites) dq, dk and dv, shaped like q, k and v.
func (a *Attention) BackwardInto(dq, dk, dv, q, k, v, dout *tensor.Tensor, seqs []int) {
	a.BackwardGuidedInto(dq, dk, dv, q, k, v, dout, seqs, nil)
}

// AttnGuide is an auxiliary loss on one row of one head's attention
// probabilities P: with T the target keys,
//
//	L = -Weight · log Σ_{j∈T} P[Row, j]
//
// (supervised attention: it pulls the query at Row towards the targets).
// Row indexes the rows of q and Keys the rows of k (absolute, not relative
// to a sequence); keys outside Row's sequence or not visible to it are
// ignored. Backward adds dL/dP = -Weight/Σ_T P on the targets to the
// gradient of P and stores L in *Loss (if not nil).
type AttnGuide struct {
	Head, Row int
	Keys      []int
	Weight    float32
	Loss      *float64
}

// BackwardGuidedInto is BackwardInto with the gradients of the attention
// guides added (see AttnGuide).
func (a *Attention) BackwardGuidedInto(dq, dk, dv, q, k, v, dout *tensor.Tensor, seqs []int, guides []AttnGuide) {
	segs := a.check(q, k, v, seqs)
	for _, gd := range guides {
		if gd.Head < 0 || gd.Head >= a.NumHeads || gd.Row < 0 || gd.Row >= q.Rows() {
			panic("nn: Attention.Backward: guide head or row out of range")
		}
	}
	if len(dout.Data) != len(q.Data) || len(dq.Data) != len(q.Data) ||
		len(dk.Data) != len(k.Data) || len(dv.Data) != len(v.Data) {
		panic("nn: Attention.Backward: gradient shapes differ from q, k, v")
	}
	d := a.HeadDim
	rep := a.NumHeads / a.NumKVHeads
	qd, kd := a.NumHeads*d, a.NumKVHeads*d
	scale := a.scale()
	maxPQ := 0
	for _, s := range segs {
		maxPQ = max(maxPQ, s.tq*s.tk)
	}
	// Rows of dk/dv outside every segment (only possible with seqs == nil and
	// tq == 0) stay zero: clear once, then each job writes its own window.
	clear(dk.Data)
	clear(dv.Data)
	clear(dq.Data)
	jobs := len(segs) * a.NumKVHeads
	type buf struct{ p, dp []float32 }
	scratch := make([]buf, workers(jobs))
	parallelFor(jobs, func(w, j int) {
		s, g := segs[j/a.NumKVHeads], j%a.NumKVHeads
		if s.tq == 0 || s.tk == 0 {
			return
		}
		if scratch[w].p == nil {
			scratch[w] = buf{make([]float32, maxPQ), make([]float32, maxPQ)}
		}
		p, dp := scratch[w].p[:s.tq*s.tk], scratch[w].dp[:s.tq*s.tk]
		kOff := s.k0*kd + g*d
		for r := 0; r < rep; r++ {
			h := g*rep + r
			qOff := s.q0*qd + h*d
			beta := float32(1)
			if r == 0 {
				beta = 0
			}
			a.probs(p, q.Data, k.Data, s, h, g)
			kernels.Sgemm(true, false, s.tk, d, s.tq, 1, p, s.tk, dout.Data[qOff:], qd, beta, dv.Data[kOff:], kd)
			kernels.Sgemm(false, true, s.tq, s.tk, d, 1, dout.Data[qOff:], qd, v.Data[kOff:], kd, 0, dp, s.tk)
			for _, gd := range guides {
				if gd.Head == h && gd.Row >= s.q0 && gd.Row < s.q0+s.tq {
					a.guide(gd, p, dp, s)
				}
			}
			for i := 0; i < s.tq; i++ {
				pr, dr := p[i*s.tk:(i+1)*s.tk], dp[i*s.tk:(i+1)*s.tk]
				var sum float64
				for j, pv := range pr {
					sum += float64(pv) * float64(dr[j])
				}
				sf := float32(sum)
				for j, pv := range pr {
					dr[j] = pv * (dr[j] - sf)
				}
			}
			kernels.Sgemm(false, false, s.tq, d, s.tk, scale, dp, s.tk, k.Data[kOff:], kd, 0, dq.Data[qOff:], qd)
			kernels.Sgemm(true, false, s.tk, d, s.tq, scale, dp, s.tk, q.Data[qOff:], qd, beta, dk.Data[kOff:], kd)
		}
	})
}

// guide adds the gradient of one AttnGuide to dp (the gradient of the
// probabilities p of its head in segment s) and stores its loss.
func (a *Attention) guide(gd AttnGuide, p, dp []float32, s attnSeg) {
	i := gd.Row - s.q0
	lim := s.tk
	if a.Causal {
		lim = s.tk - s.tq + i + 1
	}
	var ps float64
	n := 0
	for _, j := range gd.Keys {
		if j -= s.k0; j >= 0 && j < lim {
			ps += float64(p[i*s.tk+j])
			n++
		}
	}
	if n == 0 {
		return
	}
	ps = max(ps, 1e-30)
	if gd.Loss != nil {
		*gd.Loss = -float64(gd.Weight) * math.Log(ps)
	}
	g := float32(-float64(gd.Weight) / ps)
	for _, j := range gd.Keys {
		if j -= s.k0; j >= 0 && j < lim {
			dp[i*s.tk+j] += g
		}
	}
}
