// Package sensitivity computes MBQ's modality sensitivities: how much the
// caption loss reacts to a change of each decoder block's output on vision
// rows compared with caption (language) rows (paper Sec. 3.2, Figure 1;
// design/algorithm.md §4). They are computed once, on the full-precision
// model, before the quantization's block loop.
//
// # Equations
//
// For calibration sample s, the loss is the mean next-token cross-entropy
// over its answer tokens A_s (HF's shifted labels; prompt and image
// positions ignored):
//
//	L_s = 1/|A_s| · Σ_{t ∈ A_s} −log p(y_{t+1} | y_≤t)
//
// One backward pass of L_s through the whole model gives, for each decoder
// block b, the gradients G = ∂L_s/∂Y at the o_proj output (attention
// branch) and at the down_proj output (MLP branch), Y of shape [T, C].
// With V_s the vision rows (image features, image_newline included) and
// A_s the answer rows:
//
//	g_v(s, b) = 1/(|V_s|·C) · Σ_{t ∈ V_s} Σ_c |G[t, c]|
//	g_l(s, b) = 1/(|A_s|·C) · Σ_{t ∈ A_s} Σ_c |G[t, c]|
//
// averaged over samples; a sample without vision rows (text-only) enters
// only g_l:
//
//	g_v(b) = 1/|S_v| · Σ_{s ∈ S_v} g_v(s, b)      S_v: samples with vision rows
//	g_l(b) = 1/|S|   · Σ_{s ∈ S}   g_l(s, b)
//	r(b)   = g_v(b) / g_l(b)                      (1 when g_l(b) = 0)
//
// and, per branch, the reference's clamp from below at the median over
// blocks:
//
//	r*(b) = max(r(b), median_b r(b))
//
// where the median of an even count is the mean of the two middle values
// (numpy.median). r* is the weight of the vision rows in the block's
// modality-balanced reconstruction loss.
//
// The loss is normalised per sample (each sample's backward is of its own
// mean over its answer tokens, and the per-sample means are averaged), as
// the reference does, rather than one mean over all answer tokens of a
// batch: every sample weighs the same whatever its caption length.
// Result.Loss is the mean of the per-sample losses.
//
// At the last block the vision rows' gradient is exactly zero (after the
// last attention a row reaches only its own logits, and image rows carry
// no label; hf-semantics.md item 7), so its r is 0 and the clamp raises it
// to the median.
//
// # Cost
//
// Samples are processed one at a time (memory: one sample's block inputs
// and one block's activations). Only activation gradients are computed:
// parameters with an allocated gradient are detached during Compute, so no
// weight gradient is formed and the vision tower is not backpropagated.
//
// # Output
//
// Result.Table prints one row per block (g_v, g_l, r, r* for both
// branches); WriteJSON/ReadJSON store it; Plot/PlotPNG draw the paper's
// Figure 1: per-block mean |gradient| for vision and language (log scale,
// attention and MLP panels) and the ratios with their medians, using an
// embedded 5x7 bitmap font.
package sensitivity
