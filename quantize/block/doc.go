// Package block holds one decoder block's calibration state while it is
// being quantized: the block's full-precision inputs and outputs captured on
// the calibration set, the channel-wise equalization (CWE) groups, the
// candidate evaluation and AWQ-style grid search, scale folding and weight
// quantization. The methods (mbq/method/awq, smoothquant, mbq and the rtn
// and gptq adapters in mbq/quantize) are policies over a *Context; the
// pipeline (mbq/quantize) creates one Context per block and runs a Method on
// it.
//
// # Groups (design/algorithm.md §2)
//
// For a Qwen2 block, with s one scale per input channel of the consumers:
//
//	QKV     input_layernorm.weight /= s    q_proj, k_proj, v_proj W[:, c] *= s   compared: o_proj output (attention branch)
//	VO      v_proj W[c, :], b[c]   /= s    o_proj W[:, c] *= s                   compared: o_proj output
//	GateUp  post_attention_layernorm /= s  gate_proj, up_proj W[:, c] *= s       compared: down_proj output (MLP branch)
//	Down    up_proj W[c, :]        /= s    down_proj W[:, c] *= s                compared: down_proj output
//
// Each leaves the full-precision function unchanged. Under grouped-query
// attention v_proj has fewer outputs than o_proj has inputs; the VO group
// is then skipped (the reference's behaviour) unless Options.KeepGQAVO, in
// which case one scale per key/value channel is searched and repeated for
// every query head sharing that key/value head (the attention output of
// query head h, channel j, is a convex combination of v[:, g·d+j] with
// g = h / (heads/kv_heads), so dividing that v channel and multiplying the
// o_proj columns h·d+j of every such h is exact).
//
// # Candidates (§3)
//
// A candidate for scales s replaces each linear of the group by Q(W·s) and
// feeds it x/s, where x is the group's captured full-precision input:
// weight-only specs quantize W·s group-wise asymmetrically; weight-activation
// specs quantize W·s per output channel symmetrically and x/s per token
// (nn.Linear.ActBits). The rest of the compared module stays in full
// precision. The candidate's loss is a LossFunc of the full-precision and
// the candidate outputs of the compared module.
//
// Grid: x_mean[c] = mean over all calibration rows of |x[t, c]|; for
// i = 0..19, alpha = i/20, s = max(x_mean^alpha, 1e-4), s /= sqrt(max(s)·min(s));
// the first s with the smallest loss (strict <) wins. alpha = 0 gives s = 1,
// i.e. plain quantization, whose loss is reported as the group's "before".
//
// All groups are searched against the original block; Fold then applies the
// chosen scales, and QuantizeRTN (or SetQuantized for an external quantizer
// such as GPTQ) replaces every linear's weight by Dequantize(Quantize(W)).
// Finish computes, per group, the loss before (plain quantization of the
// original weights) and after (the final weights on the folded inputs) in
// the method's loss.
package block
