package nn

import (
	"math/rand/v2"
	"mbq/quant"

	"mbq/tensor"
)

// Qwen2Config holds the sizes of a Qwen2 decoder layer (HF Qwen2Config).
type Qwen2Config struct {
	Hidden       int     // hidden_size
	Intermediate int     // intermediate_size
	NumHeads     int     // num_attention_heads
	NumKVHeads   int     // num_key_value_heads
	HeadDim      int     // head_dim; 0 means Hidden/NumHeads
	RopeTheta    float64 // rope_theta
	RMSNormEps   float32 // rms_norm_eps
}

func (c Qwen2Config) headDim() int {
	if c.HeadDim != 0 {
		return c.HeadDim
	}
	return c.Hidden / c.NumHeads
}

// Qwen2Block is one Qwen2DecoderLayer:
//
//	h   = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1))),  n1 = input_layernorm(x)
//	out = h + down_proj(silu(gate_proj(n2)) ⊙ up_proj(n2)),                  n2 = post_attention_layernorm(h)
//
// q/k/v projections have biases; o_proj and the MLP do not. Attention is
// causal with grouped-query heads.
type Qwen2Block struct {
	Cfg                 Qwen2Config
	InputNorm, PostNorm *RMSNorm
	Q, K, V, O          *Linear
	Gate, Up, Down      *Linear
}

// NewQwen2Block returns a block with zero linears and unit norm weights.
func NewQwen2Block(cfg Qwen2Config) *Qwen2Block {
	d := cfg.headDim()
	if cfg.NumHeads <= 0 || cfg.NumKVHeads <= 0 || cfg.NumHeads%cfg.NumKVHeads != 0 || d <= 0 || d%2 != 0 {
		panic("nn: NewQwen2Block: bad head configuration")
	}
	hd, kd := cfg.NumHeads*d, cfg.NumKVHeads*d
	return &Qwen2Block{
		Cfg:       cfg,
		InputNorm: NewRMSNorm(cfg.Hidden, cfg.RMSNormEps),
		PostNorm:  NewRMSNorm(cfg.Hidden, cfg.RMSNormEps),
		Q:         NewLinear(cfg.Hidden, hd, true),
		K:         NewLinear(cfg.Hidden, kd, true),
		V:         NewLinear(cfg.Hidden, kd, true),
		O:         NewLinear(hd, cfg.Hidden, false),
		Gate:      NewLinear(cfg.Hidden, cfg.Intermediate, false),
		Up:        NewLinear(cfg.Hidden, cfg.Intermediate, false),
		Down:      NewLinear(cfg.Intermediate, cfg.Hidden, false),
	}
}

// NewQwen2BlockPacked is NewQwen2Block for weights that arrive packed: the
// seven linears allocate no float32 weight (W nil); each holds a data-less
// quant.PackedMatrix placeholder of its shape (Rows = out, Cols = in) that
// must be replaced by the real packed weight before use. Norms and biases
// are allocated as usual. Packed checkpoints load this way, so no float32
// copy of a packed weight ever exists.
func NewQwen2BlockPacked(cfg Qwen2Config) *Qwen2Block {
	d := cfg.headDim()
	if cfg.NumHeads <= 0 || cfg.NumKVHeads <= 0 || cfg.NumHeads%cfg.NumKVHeads != 0 || d <= 0 || d%2 != 0 {
		panic("nn: NewQwen2BlockPacked: bad head configuration")
	}
	b := &Qwen2Block{Cfg: cfg, InputNorm: NewRMSNorm(cfg.Hidden, cfg.RMSNormEps), PostNorm: NewRMSNorm(cfg.Hidden, cfg.RMSNormEps)}
	hd, kd := cfg.NumHeads*d, cfg.NumKVHeads*d
	for _, x := range []struct {
		l       **Linear
		in, out int
		bias    bool
	}{{&b.Q, cfg.Hidden, hd, true}, {&b.K, cfg.Hidden, kd, true}, {&b.V, cfg.Hidden, kd, true}, {&b.O, hd, cfg.Hidden, false},
		{&b.Gate, cfg.Hidden, cfg.Intermediate, false}, {&b.Up, cfg.Hidden, cfg.Intermediate, false}, {&b.Down, cfg.Intermediate, cfg.Hidden, false}} {
		l := &Linear{Packed: &quant.PackedMatrix{Rows: x.out, Cols: x.in}}
		if x.bias {
			l.B = NewParam(tensor.New(x.out))
		}
		*x.l = l
	}
	return b
}

// InitNormal draws every linear weight from N(0, std²) (HF initializer_range)
// and zeroes the biases; norm weights are left as they are.
func (b *Qwen2Block) InitNormal(rng *rand.Rand, std float64) {
	for _, l := range b.Linears() {
		l.InitNormal(rng, std)
	}
}

// Linears lists the seven linears with their HF module names.
func (b *Qwen2Block) Linears() []NamedLinear {
	return []NamedLinear{
		{"self_attn.q_proj", b.Q}, {"self_attn.k_proj", b.K}, {"self_attn.v_proj", b.V},
		{"self_attn.o_proj", b.O},
		{"mlp.gate_proj", b.Gate}, {"mlp.up_proj", b.Up}, {"mlp.down_proj", b.Down},
	}
}

// Params lists every parameter with its HF name under prefix (e.g.
// "language_model.model.layers.3.").
func (b *Qwen2Block) Params(prefix string) []NamedParam {
	groups := [][]NamedParam{b.InputNorm.Params("input_layernorm.")}
	for _, l := range b.Linears() {
		groups = append(groups, l.Params(l.Name+"."))
	}
	groups = append(groups, b.PostNorm.Params("post_attention_layernorm."))
	return prefixed(prefix, groups...)
}

// Attention returns the block's attention core.
func (b *Qwen2Block) Attention() *Attention {
	return &Attention{NumHeads: b.Cfg.NumHeads, NumKVHeads: b.Cfg.NumKVHeads, HeadDim: b.Cfg.headDim(), Causal: true}
}

// Qwen2Acts holds a Qwen2 block's forward activations (everything its
// backward needs) and, after Backward, the gradients at the o_proj and
// down_proj outputs. Q and K are after RoPE.
type Qwen2Acts struct {
	X, N1         *tensor.Tensor // input, input_layernorm(x)
	Q, K, V       *tensor.Tensor // projections (Q, K rotated)
	Attn          *tensor.Tensor // attention output, o_proj's input
	H, N2         *tensor.Tensor // residual after attention, post_attention_layernorm(h)
	Gate, Up, Act *tensor.Tensor // gate_proj, up_proj outputs, silu(gate)⊙up (down_proj's input)
	Out           *tensor.Tensor // block output
	Rope          *RoPETable
	Seqs          []int

	GradO    *tensor.Tensor // dLoss/d(o_proj output), set by Backward
	GradDown *tensor.Tensor // dLoss/d(down_proj output), set by Backward

	// Guides, if set before Backward, add auxiliary losses on the block's
	// attention probabilities (AttnGuide); their gradients flow into
	// q_proj, k_proj and everything below.
	Guides []AttnGuide
}

// Forward runs the block on x ([T, Hidden]); rope holds the positions of the
// T rows (restarting at 0 per sequence when seqs splits the rows into
// independent sequences; seqs == nil is one sequence).
func (b *Qwen2Block) Forward(x *tensor.Tensor, rope *RoPETable, seqs []int, hooks *Hooks) *Qwen2Acts {
	matrix(x, b.Cfg.Hidden, "nn: Qwen2Block.Forward: input width differs from hidden size")
	a := &Qwen2Acts{X: x, Rope: rope, Seqs: seqs}
	a.N1 = b.InputNorm.Forward(x)
	a.Q, a.K, a.V = b.qkv(a.N1, rope, hooks)
	a.Attn = b.Attention().Forward(a.Q, a.K, a.V, seqs)
	o := b.O.Forward(a.Attn)
	hooks.fwd("self_attn.o_proj", a.Attn, o)
	addInto(o, x)
	a.H = o
	a.N2 = b.PostNorm.Forward(a.H)
	a.Gate, a.Up, a.Act = b.mlpAct(a.N2, hooks)
	out := b.Down.Forward(a.Act)
	hooks.fwd("mlp.down_proj", a.Act, out)
	addInto(out, a.H)
	a.Out = out
	return a
}

func (b *Qwen2Block) qkv(n *tensor.Tensor, rope *RoPETable, hooks *Hooks) (q, k, v *tensor.Tensor) {
	q = b.Q.Forward(n)
	hooks.fwd("self_attn.q_proj", n, q)
	k = b.K.Forward(n)
	hooks.fwd("self_attn.k_proj", n, k)
	v = b.V.Forward(n)
	hooks.fwd("self_attn.v_proj", n, v)
	rope.Apply(q)
	rope.Apply(k)
	return q, k, v
}

func (b *Qwen2Block) mlpAct(n *tensor.Tensor, hooks *Hooks) (g, u, act *tensor.Tensor) {
	g = b.Gate.Forward(n)
	hooks.fwd("mlp.gate_proj", n, g)
	u = b.Up.Forward(n)
	hooks.fwd("mlp.up_proj", n, u)
	act = like(g)
	SwiGLU(act.Data, g.Data, u.Data)
	return g, u, act
}

// SelfAttention returns o_proj(attn(...)) for an already normalised input n
// (forward only; the attention branch without the residual).
func (b *Qwen2Block) SelfAttention(n *tensor.Tensor, rope *RoPETable, seqs []int, hooks *Hooks) *tensor.Tensor {
	q, k, v := b.qkv(n, rope, hooks)
	a := b.Attention().Forward(q, k, v, seqs)
	o := b.O.Forward(a)
	hooks.fwd("self_attn.o_proj", a, o)
	return o
}

// MLP returns down_proj(silu(gate_proj(n)) ⊙ up_proj(n)) for an already
// normalised input n (forward only, without the residual).
func (b *Qwen2Block) MLP(n *tensor.Tensor, hooks *Hooks) *tensor.Tensor {
	_, _, act := b.mlpAct(n, hooks)
	out := b.Down.Forward(act)
	hooks.fwd("mlp.down_proj", act, out)
	return out
}

// Backward takes the gradient at the block output and returns the gradient
// at its input, accumulating parameter gradients where allocated. It sets
// a.GradO and a.GradDown. a is not otherwise modified, so a caller that
// recomputes a block's forward from its saved input can backpropagate
// through the fresh activations.
func (b *Qwen2Block) Backward(a *Qwen2Acts, dout *tensor.Tensor, hooks *Hooks) *tensor.Tensor {
	if len(dout.Data) != len(a.Out.Data) {
		panic("nn: Qwen2Block.Backward: gradient not shaped like the output")
	}
	// MLP branch.
	a.GradDown = dout
	hooks.bwd("mlp.down_proj", dout)
	dAct := b.Down.Backward(a.Act, dout)
	dGate, dUp := like(a.Gate), like(a.Up)
	SwiGLUBackward(dGate.Data, dUp.Data, a.Gate.Data, a.Up.Data, dAct.Data)
	hooks.bwd("mlp.gate_proj", dGate)
	hooks.bwd("mlp.up_proj", dUp)
	dN2 := reuse(dAct, a.N2)
	b.Gate.BackwardInto(dN2, a.N2, dGate, false)
	b.Up.BackwardInto(dN2, a.N2, dUp, true)
	dH := dout.Clone()
	b.PostNorm.BackwardInto(dH, a.H, dN2, true)

	// Attention branch.
	a.GradO = dH
	hooks.bwd("self_attn.o_proj", dH)
	dAttn := b.O.Backward(a.Attn, dH)
	dQ, dK, dV := like(a.Q), like(a.K), like(a.V)
	b.Attention().BackwardGuidedInto(dQ, dK, dV, a.Q, a.K, a.V, dAttn, a.Seqs, a.Guides)
	a.Rope.ApplyInverse(dQ)
	a.Rope.ApplyInverse(dK)
	hooks.bwd("self_attn.q_proj", dQ)
	hooks.bwd("self_attn.k_proj", dK)
	hooks.bwd("self_attn.v_proj", dV)
	dN1 := reuse(dAttn, a.N1)
	b.Q.BackwardInto(dN1, a.N1, dQ, false)
	b.K.BackwardInto(dN1, a.N1, dK, true)
	b.V.BackwardInto(dN1, a.N1, dV, true)
	dX := dH.Clone()
	b.InputNorm.BackwardInto(dX, a.X, dN1, true)
	return dX
}

// KVCache holds one Qwen2 block's rotated keys and values for incremental
// decoding of one sequence: Len rows of NumKVHeads·HeadDim each.
type KVCache struct {
	K, V []float32
	Len  int
}

// Reset empties the cache, keeping its memory.
func (c *KVCache) Reset() {
	c.K, c.V, c.Len = c.K[:0], c.V[:0], 0
}

// ForwardCached runs the block (forward only) on T new rows of one sequence
// whose earlier c.Len rows are in the cache, appending the new keys and
// values. rope holds the new rows' positions (c.Len, c.Len+1, ... for a
// plain sequence). Prefill is ForwardCached on an empty cache.
func (b *Qwen2Block) ForwardCached(x *tensor.Tensor, rope *RoPETable, c *KVCache, hooks *Hooks) *tensor.Tensor {
	matrix(x, b.Cfg.Hidden, "nn: Qwen2Block.ForwardCached: input width differs from hidden size")
	kd := b.Cfg.NumKVHeads * b.Cfg.headDim()
	n1 := b.InputNorm.Forward(x)
	q, k, v := b.qkv(n1, rope, hooks)
	c.K = append(c.K, k.Data...)
	c.V = append(c.V, v.Data...)
	c.Len += x.Rows()
	if len(c.K) != c.Len*kd || len(c.V) != c.Len*kd {
		panic("nn: Qwen2Block.ForwardCached: cache does not match the block's key width")
	}
	kc := &tensor.Tensor{Shape: []int{c.Len, kd}, Data: c.K}
	vc := &tensor.Tensor{Shape: []int{c.Len, kd}, Data: c.V}
	att := b.Attention().Forward(q, kc, vc, nil)
	h := b.O.Forward(att)
	hooks.fwd("self_attn.o_proj", att, h)
	addInto(h, x)
	n2 := b.PostNorm.Forward(h)
	out := b.MLP(n2, hooks)
	addInto(out, h)
	return out
}
