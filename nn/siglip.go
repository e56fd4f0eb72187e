package nn

import (
	"math/rand/v2"

	"mbq/tensor"
)

// SiglipConfig holds the sizes of a SigLIP encoder layer (HF SiglipVisionConfig).
type SiglipConfig struct {
	Hidden       int        // hidden_size
	Intermediate int        // intermediate_size
	NumHeads     int        // num_attention_heads
	LayerNormEps float32    // layer_norm_eps
	Act          Activation // hidden_act: GELUTanh for SigLIP (required; the zero value is invalid)
}

// SiglipLayer is one SiglipEncoderLayer (pre-LN, bidirectional attention,
// every linear and LayerNorm with bias):
//
//	h   = x + out_proj(attn(q_proj(n1), k_proj(n1), v_proj(n1))),  n1 = layer_norm1(x)
//	out = h + fc2(act(fc1(n2))),                                   n2 = layer_norm2(h)
type SiglipLayer struct {
	Cfg          SiglipConfig
	LN1, LN2     *LayerNorm
	Q, K, V, Out *Linear
	FC1, FC2     *Linear
}

// NewSiglipLayer returns a layer with zero linears and identity LayerNorms.
func NewSiglipLayer(cfg SiglipConfig) *SiglipLayer {
	if cfg.NumHeads <= 0 || cfg.Hidden%cfg.NumHeads != 0 {
		panic("nn: NewSiglipLayer: hidden size must be a multiple of the head count")
	}
	if cfg.Act < SiLU || cfg.Act > GELUTanh {
		panic("nn: NewSiglipLayer: activation not set")
	}
	h := cfg.Hidden
	return &SiglipLayer{
		Cfg: cfg,
		LN1: NewLayerNorm(h, cfg.LayerNormEps),
		LN2: NewLayerNorm(h, cfg.LayerNormEps),
		Q:   NewLinear(h, h, true),
		K:   NewLinear(h, h, true),
		V:   NewLinear(h, h, true),
		Out: NewLinear(h, h, true),
		FC1: NewLinear(h, cfg.Intermediate, true),
		FC2: NewLinear(cfg.Intermediate, h, true),
	}
}

// InitNormal draws every linear weight from N(0, std²) and zeroes the biases.
func (l *SiglipLayer) InitNormal(rng *rand.Rand, std float64) {
	for _, x := range l.Linears() {
		x.InitNormal(rng, std)
	}
}

// Linears lists the six linears with their HF module names.
func (l *SiglipLayer) Linears() []NamedLinear {
	return []NamedLinear{
		{"self_attn.q_proj", l.Q}, {"self_attn.k_proj", l.K}, {"self_attn.v_proj", l.V},
		{"self_attn.out_proj", l.Out}, {"mlp.fc1", l.FC1}, {"mlp.fc2", l.FC2},
	}
}

// Params lists every parameter with its HF name under prefix (e.g.
// "vision_tower.vision_model.encoder.layers.0.").
func (l *SiglipLayer) Params(prefix string) []NamedParam {
	groups := [][]NamedParam{l.LN1.Params("layer_norm1.")}
	for _, x := range l.Linears() {
		groups = append(groups, x.Params(x.Name+"."))
	}
	groups = append(groups, l.LN2.Params("layer_norm2."))
	return prefixed(prefix, groups...)
}

// Attention returns the layer's (bidirectional) attention core.
func (l *SiglipLayer) Attention() *Attention {
	return &Attention{NumHeads: l.Cfg.NumHeads, NumKVHeads: l.Cfg.NumHeads, HeadDim: l.Cfg.Hidden / l.Cfg.NumHeads}
}

// SiglipActs holds a SigLIP layer's forward activations and, after
// Backward, the gradients at the out_proj and fc2 outputs.
type SiglipActs struct {
	X, N1    *tensor.Tensor
	Q, K, V  *tensor.Tensor
	Attn     *tensor.Tensor // out_proj's input
	H, N2    *tensor.Tensor
	FC1, Act *tensor.Tensor // fc1 output, act(fc1) (fc2's input)
	Out      *tensor.Tensor
	Seqs     []int

	GradOut *tensor.Tensor // dLoss/d(out_proj output), set by Backward
	GradFC2 *tensor.Tensor // dLoss/d(fc2 output), set by Backward
}

// Forward runs the layer on x ([T, Hidden]); seqs splits the rows into
// independent images (nil: one).
func (l *SiglipLayer) Forward(x *tensor.Tensor, seqs []int, hooks *Hooks) *SiglipActs {
	matrix(x, l.Cfg.Hidden, "nn: SiglipLayer.Forward: input width differs from hidden size")
	a := &SiglipActs{X: x, Seqs: seqs}
	a.N1 = l.LN1.Forward(x)
	a.Q = l.Q.Forward(a.N1)
	hooks.fwd("self_attn.q_proj", a.N1, a.Q)
	a.K = l.K.Forward(a.N1)
	hooks.fwd("self_attn.k_proj", a.N1, a.K)
	a.V = l.V.Forward(a.N1)
	hooks.fwd("self_attn.v_proj", a.N1, a.V)
	a.Attn = l.Attention().Forward(a.Q, a.K, a.V, seqs)
	h := l.Out.Forward(a.Attn)
	hooks.fwd("self_attn.out_proj", a.Attn, h)
	addInto(h, x)
	a.H = h
	a.N2 = l.LN2.Forward(h)
	a.FC1 = l.FC1.Forward(a.N2)
	hooks.fwd("mlp.fc1", a.N2, a.FC1)
	a.Act = like(a.FC1)
	l.Cfg.Act.Forward(a.Act.Data, a.FC1.Data)
	out := l.FC2.Forward(a.Act)
	hooks.fwd("mlp.fc2", a.Act, out)
	addInto(out, h)
	a.Out = out
	return a
}

// Backward takes the gradient at the layer output and returns the gradient
// at its input, accumulating parameter gradients where allocated; it sets
// a.GradOut and a.GradFC2.
func (l *SiglipLayer) Backward(a *SiglipActs, dout *tensor.Tensor, hooks *Hooks) *tensor.Tensor {
	if len(dout.Data) != len(a.Out.Data) {
		panic("nn: SiglipLayer.Backward: gradient not shaped like the output")
	}
	a.GradFC2 = dout
	hooks.bwd("mlp.fc2", dout)
	dAct := l.FC2.Backward(a.Act, dout)
	l.Cfg.Act.Backward(dAct.Data, a.FC1.Data, dAct.Data)
	hooks.bwd("mlp.fc1", dAct)
	dN2 := l.FC1.Backward(a.N2, dAct)
	dH := dout.Clone()
	l.LN2.BackwardInto(dH, a.H, dN2, true)

	a.GradOut = dH
	hooks.bwd("self_attn.out_proj", dH)
	dAttn := l.Out.Backward(a.Attn, dH)
	dQ, dK, dV := l.Attention().Backward(a.Q, a.K, a.V, dAttn, a.Seqs)
	hooks.bwd("self_attn.q_proj", dQ)
	hooks.bwd("self_attn.k_proj", dK)
	hooks.bwd("self_attn.v_proj", dV)
	dN1 := reuse(dAttn, a.N1)
	l.Q.BackwardInto(dN1, a.N1, dQ, false)
	l.K.BackwardInto(dN1, a.N1, dK, true)
	l.V.BackwardInto(dN1, a.N1, dV, true)
	dX := dH.Clone()
	l.LN1.BackwardInto(dX, a.X, dN1, true)
	return dX
}
