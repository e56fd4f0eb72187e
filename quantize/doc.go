// Package quantize is the quantization pipeline (design/algorithm.md §2-§4):
// calibration samples -> sensitivities -> block loop -> quantized model.
//
// # Block loop
//
// Run prepares every calibration sample (chat template, image tokens),
// computes MBQ's sensitivities once on the full-precision model when the
// method needs them (mbq with --balance auto: sensitivity.Compute, one
// backward per sample, median clamp), and concatenates the samples' hidden
// states entering decoder block 0 into one [N, hidden] matrix, with each
// row's modality (vision, answer/caption, prompt) and position. Then, for
// each block i in order:
//
//  1. block.NewContext copies the block's weights and runs the
//     full-precision block on the N rows (the samples as independent
//     sequences), capturing the input of each CWE group (input_layernorm
//     output, o_proj input, post_attention_layernorm output, silu(gate)⊙up)
//     and the branch outputs (o_proj, down_proj).
//  2. The method (a block.Method: rtn, awq, smoothquant, gptq, mbq) searches
//     or computes each group's scales against the original block, folds
//     them (producer /= s, consumers *= s) and quantizes every linear:
//     W <- Dequantize(Quantize(W)) (fake quantization), with run-time
//     per-token activation quantization (nn.Linear.ActBits) for W-A specs.
//  3. Finish reports each group's loss before (plain quantization) and
//     after (final weights), in the method's loss.
//  4. The next block's input is the full-precision output of block i, or,
//     with Options.Distort, the quantized block's output.
//
// Memory: the model's weights (quantized in place), one extra copy of the
// current block's weights (two once quantization starts) and the captured
// activations of the current block on the calibration rows.
//
// # Output directory (Save, Dir)
//
// The source checkpoint's Hugging Face layout with:
//
//   - model.safetensors: every tensor in float32; the decoder's linears
//     equalized and fake-quantized (each weight is exactly (q - zero)·scale
//     of its group), the norms and v_proj/up_proj rows carrying the folded
//     divisions. With OutputOptions.Pack (mbq quantize --pack, the default)
//     and a spec that has a packed format (W4 g%64, W3 g%128, W8A8, W4A8),
//     the decoder linears are stored packed instead (see packed.go:
//     NAME.qweight U8, NAME.scales, NAME.qzeros; the layout named in the
//     file's "mbq.layout" metadata; "format": "packed" in config.json) and
//     load into the fused kernels without fp32 weights.
//   - config.json: the source config plus a top-level "quantization_config"
//     object (Config): {"quant_method": "mbq", "format": "fake_quant",
//     "method", "wbits", "abits" (16: weight-only), "group_size" (0: per
//     output channel), "symmetric", "loss", "balance" (mbq), "alpha"
//     (smoothquant), "samples", "seed", "calibration" ("image-caption" or
//     "text"), "distort", "keep_gqa_vo", "modules", "version"}. The model
//     loader (llavaonevision.Load) reads "abits" and quantizes each decoder
//     linear's input per token at run time when it is below 16. (Hugging
//     Face transformers does not know quant_method "mbq": remove the key to
//     load the fake-quantized weights there.)
//   - mbq_scales.json (ScalesJSON): per block the r used (mbq) and per
//     group the producer, the linears, alpha, the folded scales (one per
//     input channel; per key/value channel for v_proj -> o_proj under GQA
//     with keep_gqa_vo), skipped groups, and the losses before/after.
//   - mbq_qparams.safetensors: per decoder linear NAME (HF module name,
//     e.g. language_model.model.layers.0.self_attn.q_proj) NAME.weight_scale
//     float32 [out, in/group] and, for asymmetric (weight-only) specs,
//     NAME.weight_zero_point int32 [out, in/group].
//   - mbq_sensitivity.json (sensitivity.Result) when computed.
//
// The directory is written under a temporary name beside --out and renamed
// into place; an existing non-empty --out is refused.
package quantize
