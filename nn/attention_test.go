package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"mbq/tensor"
)

// refAttention is the defining loop in float64: per sequence, per head,
// softmax over the visible keys, then the weighted sum of values.
func refAttention(a *Attention, q, k, v *tensor.Tensor, seqs []int) []float64 {
	h, kvh, d := a.NumHeads, a.NumKVHeads, a.HeadDim
	qd, kd := h*d, kvh*d
	tq, tk := q.Rows(), k.Rows()
	type seg struct{ q0, tq, k0, tk int }
	segs := []seg{{0, tq, 0, tk}}
	if seqs != nil {
		segs = nil
		o := 0
		for _, n := range seqs {
			segs = append(segs, seg{o, n, o, n})
			o += n
		}
	}
	scale := 1 / math.Sqrt(float64(d))
	out := make([]float64, tq*qd)
	for _, s := range segs {
		for hd := 0; hd < h; hd++ {
			g := hd / (h / kvh)
			for i := 0; i < s.tq; i++ {
				lim := s.tk
				if a.Causal {
					lim = s.tk - s.tq + i + 1
				}
				sc := make([]float64, lim)
				m := math.Inf(-1)
				for j := 0; j < lim; j++ {
					var dd float64
					for c := 0; c < d; c++ {
						dd += float64(q.Data[(s.q0+i)*qd+hd*d+c]) * float64(k.Data[(s.k0+j)*kd+g*d+c])
					}
					sc[j] = dd * scale
					m = max(m, sc[j])
				}
				var z float64
				for j := range sc {
					sc[j] = math.Exp(sc[j] - m)
					z += sc[j]
				}
				for j := range sc {
					for c := 0; c < d; c++ {
						out[(s.q0+i)*qd+hd*d+c] += sc[j] / z * float64(v.Data[(s.k0+j)*kd+g*d+c])
					}
				}
			}
		}
	}
	return out
}

func maxDiff(a []float32, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-b[i]))
	}
	return m
}

func TestAttentionByHand(t *testing.T) {
	// One head, head dim 2, two tokens, causal. Token 0 sees only itself:
	// out0 = v0. Token 1: scores (q1·k0, q1·k1)/√2 = (0, ln 3), so
	// p = (1/4, 3/4) and out1 = v0/4 + 3·v1/4.
	l3 := float32(math.Sqrt2 * math.Log(3))
	q, _ := tensor.FromData([]float32{5, -7, 1, 0}, 2, 2)
	k, _ := tensor.FromData([]float32{0, 0, l3, 0}, 2, 2)
	v, _ := tensor.FromData([]float32{4, 0, 0, 8}, 2, 2)
	a := &Attention{NumHeads: 1, NumKVHeads: 1, HeadDim: 2, Causal: true}
	out := a.Forward(q, k, v, nil)
	want := []float64{4, 0, 1, 6}
	if d := maxDiff(out.Data, want); d > 1e-6 {
		t.Errorf("causal out = %v, want %v", out.Data, want)
	}
	// Bidirectional: token 0 now also sees token 1 with score 5·l3/√2 = 5 ln 3,
	// p = (1, 3^5)/(1+3^5).
	a.Causal = false
	out = a.Forward(q, k, v, nil)
	p1 := 243.0 / 244
	want = []float64{4 * (1 - p1), 8 * p1, 1, 6}
	if d := maxDiff(out.Data, want); d > 1e-5 {
		t.Errorf("bidirectional out = %v, want %v", out.Data, want)
	}
}

type attnCase struct {
	name         string
	heads, kv, d int
	causal       bool
	tq, tk       int
	seqs         []int
	rope         bool
}

var attnCases = []attnCase{
	{"causal-gqa-rope", 4, 2, 4, true, 6, 6, nil, true},
	{"causal-gqa-rope-seqs", 6, 2, 4, true, 7, 7, []int{3, 4}, true},
	{"causal-kv-offset", 2, 1, 4, true, 3, 5, nil, false},
	{"bidirectional", 3, 3, 4, false, 5, 5, nil, false},
	{"bidirectional-seqs", 2, 2, 6, false, 6, 6, []int{2, 0, 4}, false},
	{"cross", 2, 1, 2, false, 3, 4, nil, false},
}

// operands are the case's attention and random q, k, v and an output
// weighting r (for the loss Σ out·r).
func (c attnCase) operands(rng *rand.Rand) (a *Attention, q, k, v, r *tensor.Tensor) {
	a = &Attention{NumHeads: c.heads, NumKVHeads: c.kv, HeadDim: c.d, Causal: c.causal}
	q = randTensor(rng, 1, c.tq, c.heads*c.d)
	k = randTensor(rng, 1, c.tk, c.kv*c.d)
	v = randTensor(rng, 1, c.tk, c.kv*c.d)
	r = randTensor(rng, 1, c.tq, c.heads*c.d)
	return a, q, k, v, r
}

func TestAttentionMatchesReference(t *testing.T) {
	rng := newRNG(10)
	for _, c := range attnCases {
		a := &Attention{NumHeads: c.heads, NumKVHeads: c.kv, HeadDim: c.d, Causal: c.causal}
		q := randTensor(rng, 1, c.tq, c.heads*c.d)
		k := randTensor(rng, 1, c.tk, c.kv*c.d)
		v := randTensor(rng, 1, c.tk, c.kv*c.d)
		if d := maxDiff(a.Forward(q, k, v, c.seqs).Data, refAttention(a, q, k, v, c.seqs)); d > 1e-5 {
			t.Errorf("%s: max |out - ref| = %g", c.name, d)
		}
	}
}

// TestAttentionGrad checks dq, dk, dv, with RoPE applied to q and k before
// attention in the rope cases (the loss is then a function of the unrotated
// projections, and the gradient passes back through ApplyInverse).
func TestAttentionGrad(t *testing.T) {
	rng := newRNG(11)
	for _, c := range attnCases {
		t.Run(c.name, func(t *testing.T) {
			a, q, k, v, r := c.operands(rng)
			var rq, rk *RoPETable
			if c.rope {
				pos := Positions(c.tq)
				if c.seqs != nil {
					pos = pos[:0]
					for _, n := range c.seqs {
						pos = append(pos, Positions(n)...)
					}
				}
				rq = NewRoPETable(pos, 100, c.d)
				rk = rq
			}
			rot := func(x *tensor.Tensor, tab *RoPETable) *tensor.Tensor {
				if tab == nil {
					return x
				}
				y := x.Clone()
				tab.Apply(y)
				return y
			}
			loss := func() float64 { return dot(a.Forward(rot(q, rq), rot(k, rk), v, c.seqs), r) }
			dq, dk, dv := a.Backward(rot(q, rq), rot(k, rk), v, r, c.seqs)
			if c.rope {
				rq.ApplyInverse(dq)
				rk.ApplyInverse(dk)
			}
			checkGrad(t, "q", q.Data, dq.Data, loss, 30, rng)
			checkGrad(t, "k", k.Data, dk.Data, loss, 30, rng)
			checkGrad(t, "v", v.Data, dv.Data, loss, 30, rng)
		})
	}
}

func TestRoPEInverse(t *testing.T) {
	rng := newRNG(12)
	x := randTensor(rng, 1, 5, 12)
	y := x.Clone()
	tab := NewRoPETable([]int{0, 3, 7, 100, 4096}, 1e6, 4)
	tab.Apply(y)
	if y.Data[0] != x.Data[0] || y.Data[13] == x.Data[13] {
		t.Error("position 0 must be the identity and others not")
	}
	tab.ApplyInverse(y)
	for i := range x.Data {
		if math.Abs(float64(x.Data[i]-y.Data[i])) > 1e-5 {
			t.Fatal("ApplyInverse does not undo Apply")
		}
	}
}

// TestAttentionGuideGrad checks the attention guides' loss and gradients
// against finite differences of Σ out·r + Σ_guides -w·log Σ_T P, with
// Σ_T P taken from the reference attention over an indicator value column.
func TestAttentionGuideGrad(t *testing.T) {
	rng := newRNG(12)
	for _, c := range attnCases {
		t.Run(c.name, func(t *testing.T) {
			a, q, k, v, r := c.operands(rng)
			// Guides on the last query row of head heads-1 and the first row
			// of head 0; targets include a key outside the visible range.
			last, hd := c.tq-1, c.heads-1
			if c.seqs != nil && c.seqs[len(c.seqs)-1] == 0 {
				t.Skip("last sequence empty")
			}
			losses := make([]float64, 2)
			guides := []AttnGuide{
				{Head: hd, Row: last, Keys: []int{c.tk - 1, c.tk - 2}, Weight: 0.7, Loss: &losses[0]},
				{Head: 0, Row: 0, Keys: []int{0, c.tk - 1}, Weight: 1.3, Loss: &losses[1]},
			}
			guideLoss := func() float64 {
				var l float64
				for _, gd := range guides {
					ind := tensor.New(c.tk, c.kv*c.d)
					for _, j := range gd.Keys {
						ind.Data[j*c.kv*c.d+(gd.Head/(c.heads/c.kv))*c.d] = 1
					}
					ps := refAttention(a, q, k, ind, c.seqs)[gd.Row*c.heads*c.d+gd.Head*c.d]
					l -= float64(gd.Weight) * math.Log(ps)
				}
				return l
			}
			loss := func() float64 { return dot(a.Forward(q, k, v, c.seqs), r) + guideLoss() }
			dq, dk, dv := like(q), like(k), like(v)
			a.BackwardGuidedInto(dq, dk, dv, q, k, v, r, c.seqs, guides)
			if got, want := losses[0]+losses[1], guideLoss(); math.Abs(got-want) > 1e-5*max(1, math.Abs(want)) {
				t.Errorf("guide loss %g, want %g", got, want)
			}
			checkGrad(t, "q", q.Data, dq.Data, loss, 30, rng)
			checkGrad(t, "k", k.Data, dk.Data, loss, 30, rng)
			checkGrad(t, "v", v.Data, dv.Data, loss, 30, rng)
		})
	}
}
