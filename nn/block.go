package nn

import "mbq/tensor"

// Hooks let callers observe a block's linears. Either field may be nil; a
// nil *Hooks observes nothing. Names are relative to the block, as in the HF
// tensor names: "self_attn.q_proj", ..., "mlp.down_proj" (Qwen2) or
// "self_attn.out_proj", "mlp.fc1", "mlp.fc2" (SigLIP).
//
// The tensors passed are the block's own and must not be modified. They stay
// valid and unchanged afterwards (callers may keep them, e.g. MBQ capturing a
// linear's input activations), with one exception: the Qwen2 q_proj and
// k_proj outputs are rotated in place by RoPE after the Forward hook returns.
type Hooks struct {
	// Forward is called after each linear with its input and output.
	Forward func(name string, in, out *tensor.Tensor)
	// Backward is called with the gradient of the loss at each linear's
	// output (for q_proj/k_proj: before RoPE, i.e. at the projection itself).
	Backward func(name string, dout *tensor.Tensor)
}

func (h *Hooks) fwd(name string, in, out *tensor.Tensor) {
	if h != nil && h.Forward != nil {
		h.Forward(name, in, out)
	}
}

func (h *Hooks) bwd(name string, dout *tensor.Tensor) {
	if h != nil && h.Backward != nil {
		h.Backward(name, dout)
	}
}

// NamedLinear is a linear layer with its HF module name within a block.
type NamedLinear struct {
	Name string
	*Linear
}

// prefixed prepends prefix to every name.
func prefixed(prefix string, groups ...[]NamedParam) []NamedParam {
	var out []NamedParam
	for _, g := range groups {
		for _, p := range g {
			out = append(out, NamedParam{prefix + p.Name, p.Param})
		}
	}
	return out
}

func addInto(dst, src *tensor.Tensor) {
	if len(dst.Data) != len(src.Data) {
		panic("nn: addInto: sizes differ")
	}
	parallelRange(len(dst.Data), elemChunk, func(lo, hi int) {
		d, s := dst.Data[lo:hi], src.Data[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}

// reuse returns a tensor shaped like t backed by buf's memory when it is
// large enough (contents unspecified), or a new one. buf must no longer be
// needed by anyone.
func reuse(buf, t *tensor.Tensor) *tensor.Tensor {
	n := len(t.Data)
	if cap(buf.Data) < n {
		return like(t)
	}
	return &tensor.Tensor{Shape: append([]int(nil), t.Shape...), Data: buf.Data[:n:n]}
}
