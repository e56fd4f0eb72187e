// Package nn holds the transformer layers mbq runs, each with a hand-written
// forward and backward pass: Linear, RMSNorm, LayerNorm, the activations,
// rotary embeddings, multi-head attention, embedding lookup and the
// cross-entropy loss, and from them a Qwen2 decoder layer and a SigLIP
// encoder layer (the parts of LLaVA-OneVision).
//
// # Conventions
//
// Activations are row-major matrices [rows, features], one row per token
// (leading axes are flattened into rows). Weights keep the PyTorch layout,
// a Linear weight is [out, in], so tensors load unchanged from HF
// checkpoints. Every layer computes in float32; reductions (norm statistics,
// softmax sums, bias gradients) accumulate in float64. GEMMs go through
// package kernels. Shape-contract violations panic with constant messages.
//
// Parameters are [Param]s: a value and an optional gradient. A backward pass
// adds into a parameter's gradient only when it is allocated
// ([Param.AllocGrad]); with none allocated it computes activation gradients
// only (MBQ's sensitivity pass). Params(prefix) methods list parameters under
// their Hugging Face tensor names for optimizers and checkpoint I/O.
//
// Notation: x input row, y output row, dy = ∂L/∂y, n features per row, ⊙
// element-wise product, Σ_rows a sum over the rows of a batch.
//
// # Linear
//
//	y = x·Wᵀ + b
//	dx = dy·W,   dW += dyᵀ·x,   db += Σ_rows dy
//
// # RMSNorm (Qwen2RMSNorm)
//
//	r = sqrt(mean(x²) + eps),   y = w ⊙ x / r
//	dx = (w ⊙ dy)/r - x · Σ(w ⊙ dy ⊙ x) / (n·r³),   dw += Σ_rows dy ⊙ x / r
//
// # LayerNorm (torch.nn.LayerNorm, biased variance)
//
//	μ = mean(x),  σ = sqrt(mean((x-μ)²) + eps),  x̂ = (x-μ)/σ,  y = w ⊙ x̂ + b
//	g = w ⊙ dy:   dx = (g - mean(g) - x̂ · mean(g ⊙ x̂)) / σ
//	dw += Σ_rows dy ⊙ x̂,   db += Σ_rows dy
//
// # Activations
//
//	SiLU      f = x·σ(x)                       f' = σ(x)·(1 + x·(1 - σ(x)))
//	GELU      f = x·Φ(x)                       f' = Φ(x) + x·φ(x)
//	GELUTanh  f = ½x(1 + tanh u), u = c(x + 0.044715x³), c = √(2/π)
//	          f' = ½(1 + tanh u) + ½x(1 - tanh²u)·c·(1 + 3·0.044715x²)
//	SwiGLU    y = silu(g) ⊙ u:   du = dy ⊙ silu(g),   dg = dy ⊙ u ⊙ silu'(g)
//
// # Rotary embedding (Qwen2, half-split "rotate_half")
//
// Each head vector is rotated pairwise, (x_i, x_{i+d/2}) by angle
// pos·θ^(-2i/d). The rotation R is orthogonal, so the backward is the
// inverse rotation: dx = Rᵀ·dy ([RoPETable.ApplyInverse]).
//
// # Attention
//
// For query head h with key/value head g = h / (H/H_kv) (transformers'
// repeat_kv), scale s = 1/√d, and mask M (0 where visible, -∞ elsewhere;
// causal: query i at position Tk-Tq+i sees keys ≤ Tk-Tq+i):
//
//	S = s·q_h·k_gᵀ + M,   P = softmax_rows(S),   o_h = P·v_g
//	dP = do_h·v_gᵀ,   dS = P ⊙ (dP - rowsum(P ⊙ dP))
//	dq_h = s·dS·k_g,   dk_g += s·dSᵀ·q_h,   dv_g += Pᵀ·do_h
//
// [Attention] works on already projected q, k, v so that callers own the
// projections (and can observe each Linear's input and output). Nothing is
// stored between forward and backward: the backward recomputes P from q and
// k (the statistics of a row are recomputed with it), trading one q·kᵀ GEMM
// per head for O(H·T²) memory. Heads (forward) and key/value heads
// (backward) run in parallel goroutines, each head's products as strided
// kernels.Sgemm calls on the column window of the head. Several
// independent sequences can share one call (seqs), so the projections of a
// whole batch run as one GEMM.
//
// # Cross-entropy
//
//	loss = (1/N) Σ_{t: label_t ≠ -100} (logsumexp(z_t) - z_t[label_t])
//	dz_t = (softmax(z_t) - onehot(label_t)) / N   (zero on ignored rows)
//
// [CrossEntropy] does not shift: row t is scored against labels[t]. HF's
// causal-LM loss (position t predicts token t+1) is
// CrossEntropy(logits, ShiftLabels(labels)).
//
// # Embedding
//
//	y_t = W[id_t],   dW[id_t] += dy_t   (scatter-add; negative ids: zero row, no gradient)
//
// # Blocks
//
// Qwen2 decoder layer ([Qwen2Block]; q/k/v biases, no o_proj or MLP bias):
//
//	n1 = input_layernorm(x)
//	h  = x + o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))   causal, GQA
//	n2 = post_attention_layernorm(h)
//	out = h + down_proj(silu(gate_proj(n2)) ⊙ up_proj(n2))
//
// SigLIP encoder layer ([SiglipLayer]; every linear and LayerNorm biased):
//
//	h   = x + out_proj(attn(q_proj(n1), k_proj(n1), v_proj(n1))),  n1 = layer_norm1(x)   bidirectional
//	out = h + fc2(gelu_tanh(fc1(layer_norm2(h))))
//
// A block's Forward returns its activations (Qwen2Acts, SiglipActs), which
// are all its Backward needs; a model that keeps only each block's input can
// recompute them during its backward pass. [Hooks] observe each linear's
// input and output in the forward pass and the gradient at each linear's
// output in the backward pass; after Backward the gradients at the o_proj
// and down_proj outputs (MBQ's sensitivities) are also in the activations'
// GradO and GradDown. [Qwen2Block.ForwardCached] decodes incrementally
// against a [KVCache] of rotated keys and values.
//
// # Tests
//
// Every backward is checked against central finite differences of
// L = Σ y ⊙ r (see gradcheck_test.go for the step and error criterion).
package nn
