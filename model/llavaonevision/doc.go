// Package llavaonevision is LLaVA-OneVision (transformers'
// LlavaOnevisionForConditionalGeneration) in Go: SigLIP vision tower,
// two-layer projector, image_newline and a Qwen2 causal LM, with forward,
// backward (whole model) and KV-cache generation, loaded from a Hugging
// Face checkpoint directory. It registers itself with package model.
//
// # Tensors
//
// Names are those of the llava-hf/llava-onevision-qwen2-*-ov-hf files
// (transformers v4.45-v4.51 layout); transformers v4.52+'s save layout
// (model.language_model.*, lm_head.weight, model.vision_tower.*, ...) is
// accepted as well:
//
//	vision_tower.vision_model.embeddings.patch_embedding.{weight [D,3,P,P], bias}
//	vision_tower.vision_model.embeddings.position_embedding.weight [N, D]
//	vision_tower.vision_model.encoder.layers.i.{layer_norm1,layer_norm2}.{weight,bias}
//	vision_tower.vision_model.encoder.layers.i.self_attn.{q,k,v,out}_proj.{weight,bias}
//	vision_tower.vision_model.encoder.layers.i.mlp.{fc1,fc2}.{weight,bias}
//	vision_tower.vision_model.post_layernorm.{weight,bias}      (loaded, never applied)
//	multi_modal_projector.linear_{1,2}.{weight,bias}
//	image_newline [H]
//	language_model.model.embed_tokens.weight [V, H]
//	language_model.model.layers.i.self_attn.{q,k,v}_proj.{weight,bias}, o_proj.weight
//	language_model.model.layers.i.mlp.{gate,up,down}_proj.weight
//	language_model.model.layers.i.{input_layernorm,post_attention_layernorm}.weight
//	language_model.model.norm.weight
//	language_model.lm_head.weight [V, H]   (absent when tied; used when present)
//
// Every tensor must be present with exactly the expected shape; errors name
// the file and each tensor ("<name>: missing", "<name>: shape [a b], want
// [c d]"). Weights of any float dtype load into float32.
//
// # Forward
//
// Per image: tiles (base tile first, then the anyres grid) → patches ·
// Wᵀ + b + position embedding → encoder layers (bidirectional within a
// tile) → hidden_states[vision_feature_layer] (index 0 = embeddings, no
// post_layernorm; a list concatenates channels; "default" drops each
// tile's first row) → linear_2(act(linear_1(·))) with projector_hidden_act
// ("gelu" is the exact erf GELU) → packing (pack_image_features): one tile
// gives its rows then one newline; several give the base tile's rows, then
// the grid un-padded (int(round(x, 7))), bilinearly downsampled
// (align_corners=False) when sqrt(h·w/(N·side²)) > 1.1 for anyres_max_N,
// row by row across tiles, image_newline after every row. Each packed row
// is a weighted sum of projector rows (weight 1 without downsampling), so
// the backward is the transposed sum.
//
// The token embeddings of the <image> positions are replaced, in order, by
// the packed rows (their count must equal the image tokens). The Qwen2
// decoder (package nn's Qwen2Block: RoPE rotate-half with rope_theta,
// consecutive query heads sharing a key/value head), final RMSNorm and
// lm_head give the logits; positions are 0..T-1 per sample.
//
// # Backward
//
// LossAndGrad: mean cross-entropy over the batch's shifted answer labels;
// per sample the forward keeps each decoder block's input and the backward
// recomputes that block's activations (likewise for the vision layers).
// Gradients go into every parameter whose Grad is allocated; the tied
// lm_head adds into the embedding's gradient.
//
// # Generation
//
// Prefill runs the prompt through nn.Qwen2Block.ForwardCached; Step feeds
// one token. Greedy picks the first maximum; sampling applies temperature,
// top-k and top-p as transformers' warpers do, with a seeded PCG.
//
// # Tiny checkpoints
//
// WriteTiny writes a random model of TinyOptions' sizes in the full HF
// layout (config, safetensors, tokenizer.json with a byte-level BPE and the
// ChatML specials plus <image>/<video>, tokenizer_config.json with the
// LLaVA-OneVision chat template, preprocessor and generation configs).
package llavaonevision
