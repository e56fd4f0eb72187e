package nn

import (
	"math"
	"strings"
	"testing"

	"mbq/tensor"
)

var tinyQwen2 = Qwen2Config{Hidden: 16, Intermediate: 24, NumHeads: 4, NumKVHeads: 2, RopeTheta: 1e4, RMSNormEps: 1e-6}

func newTinyQwen2(seed uint64) *Qwen2Block {
	rng := newRNG(seed)
	b := NewQwen2Block(tinyQwen2)
	b.InitNormal(rng, 0.3)
	for _, l := range b.Linears() {
		if l.B != nil {
			fillNormal(rng, l.B.Value.Data, 0.3)
		}
	}
	fillNormal(rng, b.InputNorm.W.Value.Data, 0.3)
	fillNormal(rng, b.PostNorm.W.Value.Data, 0.3)
	for i := range b.InputNorm.W.Value.Data {
		b.InputNorm.W.Value.Data[i]++
		b.PostNorm.W.Value.Data[i]++
	}
	return b
}

func TestQwen2BlockGrad(t *testing.T) {
	rng := newRNG(20)
	b := newTinyQwen2(21)
	// Give o_proj and down_proj a (zero) bias: its gradient is the column sum
	// of the gradient at the module output, which ties GradO and GradDown to
	// the finite-difference check.
	b.O.B = NewParam(tensor.New(tinyQwen2.Hidden))
	b.Down.B = NewParam(tensor.New(tinyQwen2.Hidden))
	ps := b.Params("")
	AllocGrads(ps)
	seqs := []int{3, 4}
	pos := append(Positions(3), Positions(4)...)
	rope := NewRoPETable(pos, tinyQwen2.RopeTheta, 4)
	x := randTensor(rng, 1, 7, 16)
	r := randTensor(rng, 1, 7, 16)
	loss := func() float64 { return dot(b.Forward(x, rope, seqs, nil).Out, r) }
	acts := b.Forward(x, rope, seqs, nil)
	got := map[string]*tensor.Tensor{}
	dx := b.Backward(acts, r, &Hooks{Backward: func(name string, d *tensor.Tensor) { got[name] = d }})
	checkGrad(t, "x", x.Data, dx.Data, loss, 40, rng)
	checkParams(t, ps, loss, 12, rng)
	if len(got) != 7 || got["self_attn.o_proj"] != acts.GradO || got["mlp.down_proj"] != acts.GradDown {
		t.Fatalf("backward hooks: got %d names; o_proj/down_proj tensors must be the acts' GradO/GradDown", len(got))
	}
	for _, c := range []struct {
		g    *tensor.Tensor
		bias *Param
	}{{acts.GradO, b.O.B}, {acts.GradDown, b.Down.B}} {
		s := make([]float32, 16)
		colSumAcc(s, c.g.Data, 7, 16)
		for j := range s {
			if math.Abs(float64(s[j]-c.bias.Grad.Data[j])) > 1e-5 {
				t.Fatal("GradO/GradDown column sums differ from the bias gradient")
			}
		}
	}
}

func TestQwen2BlockHooksAndNames(t *testing.T) {
	b := newTinyQwen2(22)
	rng := newRNG(23)
	x := randTensor(rng, 1, 5, 16)
	rope := NewRoPETable(Positions(5), tinyQwen2.RopeTheta, 4)
	in := map[string]*tensor.Tensor{}
	acts := b.Forward(x, rope, nil, &Hooks{Forward: func(name string, i, o *tensor.Tensor) {
		in[name] = i
		if o.Rows() != 5 {
			t.Errorf("%s: output rows %d", name, o.Rows())
		}
	}})
	want := map[string]*tensor.Tensor{
		"self_attn.q_proj": acts.N1, "self_attn.k_proj": acts.N1, "self_attn.v_proj": acts.N1,
		"self_attn.o_proj": acts.Attn, "mlp.gate_proj": acts.N2, "mlp.up_proj": acts.N2, "mlp.down_proj": acts.Act,
	}
	for name, w := range want {
		if in[name] != w {
			t.Errorf("forward hook for %s: wrong input tensor", name)
		}
	}
	// The branch helpers reproduce the block's branches.
	o := b.SelfAttention(acts.N1, rope, nil, nil)
	addInto(o, x)
	m := b.MLP(acts.N2, nil)
	addInto(m, acts.H)
	for i := range o.Data {
		if o.Data[i] != acts.H.Data[i] || m.Data[i] != acts.Out.Data[i] {
			t.Fatal("SelfAttention/MLP differ from Forward")
		}
	}
	var names []string
	for _, p := range b.Params("model.layers.0.") {
		names = append(names, p.Name)
	}
	wantNames := "model.layers.0.input_layernorm.weight model.layers.0.self_attn.q_proj.weight model.layers.0.self_attn.q_proj.bias " +
		"model.layers.0.self_attn.k_proj.weight model.layers.0.self_attn.k_proj.bias model.layers.0.self_attn.v_proj.weight " +
		"model.layers.0.self_attn.v_proj.bias model.layers.0.self_attn.o_proj.weight model.layers.0.mlp.gate_proj.weight " +
		"model.layers.0.mlp.up_proj.weight model.layers.0.mlp.down_proj.weight model.layers.0.post_attention_layernorm.weight"
	if strings.Join(names, " ") != wantNames {
		t.Errorf("Params names:\n%s\nwant\n%s", strings.Join(names, " "), wantNames)
	}
}

// TestQwen2KVCache decodes token by token (after a 3-token prefill) through
// two stacked blocks and compares with the full causal forward.
func TestQwen2KVCache(t *testing.T) {
	blocks := []*Qwen2Block{newTinyQwen2(24), newTinyQwen2(25)}
	rng := newRNG(26)
	const T = 9
	x := randTensor(rng, 1, T, 16)
	full := x
	rope := NewRoPETable(Positions(T), tinyQwen2.RopeTheta, 4)
	for _, b := range blocks {
		full = b.Forward(full, rope, nil, nil).Out
	}
	caches := make([]KVCache, len(blocks))
	var got []float32
	for start := 0; start < T; {
		n := 1
		if start == 0 {
			n = 3
		}
		h := &tensor.Tensor{Shape: []int{n, 16}, Data: x.Data[start*16 : (start+n)*16]}
		pos := make([]int, n)
		for i := range pos {
			pos[i] = start + i
		}
		rp := NewRoPETable(pos, tinyQwen2.RopeTheta, 4)
		for i, b := range blocks {
			h = b.ForwardCached(h, rp, &caches[i], nil)
		}
		got = append(got, h.Data...)
		start += n
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - full.Data[i])); d > 1e-5*(1+math.Abs(float64(full.Data[i]))) {
			t.Fatalf("row %d: cached decode %g, full forward %g", i/16, got[i], full.Data[i])
		}
	}
	if caches[0].Len != T {
		t.Errorf("cache length %d, want %d", caches[0].Len, T)
	}
	caches[0].Reset()
	if caches[0].Len != 0 || len(caches[0].K) != 0 {
		t.Error("Reset did not empty the cache")
	}
}

var tinySiglip = SiglipConfig{Hidden: 12, Intermediate: 20, NumHeads: 3, LayerNormEps: 1e-6, Act: GELUTanh}

func TestSiglipLayerGrad(t *testing.T) {
	rng := newRNG(30)
	l := NewSiglipLayer(tinySiglip)
	l.InitNormal(rng, 0.3)
	for _, p := range l.Params("") {
		if strings.HasSuffix(p.Name, "bias") {
			fillNormal(rng, p.Value.Data, 0.3)
		}
	}
	for i := range l.LN1.W.Value.Data {
		l.LN1.W.Value.Data[i] = 1 + float32(rng.NormFloat64()*0.3)
		l.LN2.W.Value.Data[i] = 1 + float32(rng.NormFloat64()*0.3)
	}
	ps := l.Params("")
	if len(ps) != 16 || ps[0].Name != "layer_norm1.weight" || ps[9].Name != "self_attn.out_proj.bias" {
		t.Fatalf("SigLIP params: %d, first %q, tenth %q", len(ps), ps[0].Name, ps[9].Name)
	}
	AllocGrads(ps)
	seqs := []int{4, 2}
	x := randTensor(rng, 1, 6, 12)
	r := randTensor(rng, 1, 6, 12)
	loss := func() float64 { return dot(l.Forward(x, seqs, nil).Out, r) }
	acts := l.Forward(x, seqs, nil)
	dx := l.Backward(acts, r, nil)
	checkGrad(t, "x", x.Data, dx.Data, loss, 40, rng)
	checkParams(t, ps, loss, 12, rng)
	// out_proj bias gradient is the column sum of GradOut.
	s := make([]float32, 12)
	colSumAcc(s, acts.GradOut.Data, 6, 12)
	for j := range s {
		if math.Abs(float64(s[j]-l.Out.B.Grad.Data[j])) > 1e-5 {
			t.Fatal("GradOut column sums differ from the out_proj bias gradient")
		}
	}
}

// TestQwen2BlockGradLarger repeats the block check at a size where the
// row-parallel paths (norms, RoPE) and several attention workers are used.
func TestQwen2BlockGradLarger(t *testing.T) {
	if testing.Short() {
		t.Skip("larger finite-difference check skipped in -short mode")
	}
	cfg := Qwen2Config{Hidden: 32, Intermediate: 48, NumHeads: 8, NumKVHeads: 2, RopeTheta: 1e6, RMSNormEps: 1e-6}
	rng := newRNG(40)
	b := NewQwen2Block(cfg)
	b.InitNormal(rng, 0.2)
	for _, l := range b.Linears() {
		if l.B != nil {
			fillNormal(rng, l.B.Value.Data, 0.3)
		}
	}
	ps := b.Params("")
	AllocGrads(ps)
	seqs := []int{19, 23}
	rope := NewRoPETable(append(Positions(19), Positions(23)...), cfg.RopeTheta, 4)
	x := randTensor(rng, 1, 42, 32)
	r := randTensor(rng, 1, 42, 32)
	loss := func() float64 { return dot(b.Forward(x, rope, seqs, nil).Out, r) }
	dx := b.Backward(b.Forward(x, rope, seqs, nil), r, nil)
	checkGrad(t, "x", x.Data, dx.Data, loss, 30, rng)
	checkParams(t, ps, loss, 6, rng)
}

func TestShapePanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	l := NewLinear(4, 3, true)
	mustPanic("linear width", func() { l.Forward(tensor.New(2, 5)) })
	mustPanic("linear backward rows", func() { l.Backward(tensor.New(2, 4), tensor.New(3, 3)) })
	a := &Attention{NumHeads: 3, NumKVHeads: 2, HeadDim: 2}
	mustPanic("attention heads", func() { a.Forward(tensor.New(2, 6), tensor.New(2, 4), tensor.New(2, 4), nil) })
	a = &Attention{NumHeads: 2, NumKVHeads: 1, HeadDim: 2, Causal: true}
	mustPanic("attention seqs sum", func() { a.Forward(tensor.New(3, 4), tensor.New(3, 2), tensor.New(3, 2), []int{1, 1}) })
	mustPanic("causal keys", func() { a.Forward(tensor.New(3, 4), tensor.New(2, 2), tensor.New(2, 2), nil) })
	mustPanic("label range", func() { CrossEntropy(tensor.New(1, 3), []int{3}) })
	mustPanic("rope rows", func() { NewRoPETable(Positions(2), 1e4, 4).Apply(tensor.New(3, 8)) })
}

// refQwen2 is an independent float64 transcription of Qwen2DecoderLayer
// for one sequence at positions 0..T-1.
func refQwen2(b *Qwen2Block, x *tensor.Tensor) []float64 {
	c := b.Cfg
	T, H, d := x.Rows(), c.Hidden, c.headDim()
	f64 := func(s []float32) []float64 {
		o := make([]float64, len(s))
		for i, v := range s {
			o[i] = float64(v)
		}
		return o
	}
	rms := func(v []float64, w []float32) []float64 {
		var ss float64
		for _, e := range v {
			ss += e * e
		}
		inv := 1 / math.Sqrt(ss/float64(len(v))+float64(c.RMSNormEps))
		o := make([]float64, len(v))
		for i := range v {
			o[i] = float64(w[i]) * v[i] * inv
		}
		return o
	}
	lin := func(l *Linear, v []float64) []float64 {
		o := make([]float64, l.Out())
		for j := range o {
			for i, e := range v {
				o[j] += float64(l.W.Value.Data[j*l.In()+i]) * e
			}
			if l.B != nil {
				o[j] += float64(l.B.Value.Data[j])
			}
		}
		return o
	}
	rope := func(v []float64, pos int) {
		for h0 := 0; h0 < len(v); h0 += d {
			for i := 0; i < d/2; i++ {
				ang := float64(pos) * math.Pow(c.RopeTheta, -float64(2*i)/float64(d))
				a, bb := v[h0+i], v[h0+i+d/2]
				v[h0+i] = a*math.Cos(ang) - bb*math.Sin(ang)
				v[h0+i+d/2] = bb*math.Cos(ang) + a*math.Sin(ang)
			}
		}
	}
	q, k, v := make([][]float64, T), make([][]float64, T), make([][]float64, T)
	for t := 0; t < T; t++ {
		n := rms(f64(x.Row(t)), b.InputNorm.W.Value.Data)
		q[t], k[t], v[t] = lin(b.Q, n), lin(b.K, n), lin(b.V, n)
		rope(q[t], t)
		rope(k[t], t)
	}
	out := make([]float64, 0, T*H)
	for t := 0; t < T; t++ {
		att := make([]float64, c.NumHeads*d)
		for h := 0; h < c.NumHeads; h++ {
			g := h * c.NumKVHeads / c.NumHeads
			w := make([]float64, t+1)
			var z float64
			for j := 0; j <= t; j++ {
				var s float64
				for i := 0; i < d; i++ {
					s += q[t][h*d+i] * k[j][g*d+i]
				}
				w[j] = math.Exp(s / math.Sqrt(float64(d)))
				z += w[j]
			}
			for j := 0; j <= t; j++ {
				for i := 0; i < d; i++ {
					att[h*d+i] += w[j] / z * v[j][g*d+i]
				}
			}
		}
		hres := lin(b.O, att)
		for i := range hres {
			hres[i] += float64(x.Row(t)[i])
		}
		n2 := rms(hres, b.PostNorm.W.Value.Data)
		gt, up := lin(b.Gate, n2), lin(b.Up, n2)
		for i := range gt {
			gt[i] = gt[i] / (1 + math.Exp(-gt[i])) * up[i]
		}
		m := lin(b.Down, gt)
		for i := range m {
			out = append(out, hres[i]+m[i])
		}
	}
	return out
}

func TestQwen2BlockMatchesReference(t *testing.T) {
	b := newTinyQwen2(50)
	x := randTensor(newRNG(51), 1, 6, 16)
	got := b.Forward(x, NewRoPETable(Positions(6), b.Cfg.RopeTheta, 4), nil, nil).Out
	if d := maxDiff(got.Data, refQwen2(b, x)); d > 1e-5 {
		t.Errorf("max |block - reference| = %g", d)
	}
}
