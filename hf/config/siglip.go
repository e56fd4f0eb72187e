package config

import "encoding/json"

// SiglipVisionConfig is transformers' SiglipVisionConfig (model_type
// "siglip_vision_model").
//
// Defaults are SiglipVisionConfig's own, unchanged from transformers v4.37
// through v4.57: hidden_size 768, intermediate_size 3072, num_hidden_layers
// 12, num_attention_heads 12, num_channels 3, image_size 224, patch_size 16,
// hidden_act "gelu_pytorch_tanh", layer_norm_eps 1e-6, attention_dropout 0.
// vision_use_head is not a constructor argument: SiglipVisionTransformer
// reads getattr(config, "vision_use_head", True), so absent means true.
// LLaVA-OneVision replaces these defaults when its vision_config is absent
// (see DefaultOnevisionVision).
type SiglipVisionConfig struct {
	ModelType         string
	HiddenSize        int
	IntermediateSize  int
	NumHiddenLayers   int
	NumAttentionHeads int
	NumChannels       int
	ImageSize         int
	PatchSize         int
	HiddenAct         string
	LayerNormEps      float64
	AttentionDropout  float64
	VisionUseHead     bool
	TorchDtype        string
	// Extra keeps the keys this package does not interpret, for round trips.
	Extra map[string]json.RawMessage
}

// DefaultSiglipVision returns SiglipVisionConfig() with no arguments.
func DefaultSiglipVision() SiglipVisionConfig {
	return SiglipVisionConfig{
		ModelType:         "siglip_vision_model",
		HiddenSize:        768,
		IntermediateSize:  3072,
		NumHiddenLayers:   12,
		NumAttentionHeads: 12,
		NumChannels:       3,
		ImageSize:         224,
		PatchSize:         16,
		HiddenAct:         "gelu_pytorch_tanh",
		LayerNormEps:      1e-6,
		AttentionDropout:  0,
		VisionUseHead:     true,
	}
}

// DefaultOnevisionVision is the vision config LlavaOnevisionConfig builds
// when config.json has no vision_config (transformers v4.46 to v4.57;
// v4.45.0 built a CLIP-L-like 1024-wide one instead):
//
//	SiglipVisionConfig(hidden_size=1152, intermediate_size=4304, patch_size=14,
//	    image_size=384, num_hidden_layers=26, num_attention_heads=14, vision_use_head=False)
//
// num_attention_heads=14 does not divide 1152, so this default fails
// Validate, as the model's attention would fail in transformers: a
// config.json without vision_config is rejected. The released checkpoints
// set 16 heads.
func DefaultOnevisionVision() SiglipVisionConfig {
	c := DefaultSiglipVision()
	c.HiddenSize = 1152
	c.IntermediateSize = 4304
	c.PatchSize = 14
	c.ImageSize = 384
	c.NumHiddenLayers = 26
	c.NumAttentionHeads = 14
	c.VisionUseHead = false
	return c
}

// HeadDim is hidden_size / num_attention_heads.
func (c *SiglipVisionConfig) HeadDim() int { return c.HiddenSize / c.NumAttentionHeads }

// PatchesPerSide is image_size // patch_size (the strided convolution drops a
// remainder).
func (c *SiglipVisionConfig) PatchesPerSide() int { return c.ImageSize / c.PatchSize }

// NumPatches is the number of tokens per image tile, (image_size // patch_size)^2;
// SigLIP has no CLS token.
func (c *SiglipVisionConfig) NumPatches() int { n := c.PatchesPerSide(); return n * n }

func parseSiglipVision(o *object, base SiglipVisionConfig) SiglipVisionConfig {
	c := base
	c.ModelType = o.str("model_type", "siglip_vision_model")
	if c.ModelType != "siglip_vision_model" {
		o.fail("model_type", "%q is not supported here (supported: siglip_vision_model)", c.ModelType)
	}
	c.HiddenSize = o.int("hidden_size", base.HiddenSize)
	c.IntermediateSize = o.int("intermediate_size", base.IntermediateSize)
	c.NumHiddenLayers = o.int("num_hidden_layers", base.NumHiddenLayers)
	c.NumAttentionHeads = o.int("num_attention_heads", base.NumAttentionHeads)
	c.NumChannels = o.int("num_channels", base.NumChannels)
	c.ImageSize = o.int("image_size", base.ImageSize)
	c.PatchSize = o.int("patch_size", base.PatchSize)
	c.HiddenAct = o.str("hidden_act", base.HiddenAct)
	c.LayerNormEps = o.float("layer_norm_eps", base.LayerNormEps)
	c.AttentionDropout = o.float("attention_dropout", base.AttentionDropout)
	c.VisionUseHead = o.boolean("vision_use_head", base.VisionUseHead)
	c.TorchDtype = o.str("torch_dtype", o.str("dtype", ""))
	c.Extra = o.extra()
	c.validate(o)
	return c
}

func (c *SiglipVisionConfig) validate(o *object) {
	positive(o, "hidden_size", c.HiddenSize)
	positive(o, "intermediate_size", c.IntermediateSize)
	positive(o, "num_hidden_layers", c.NumHiddenLayers)
	positive(o, "num_attention_heads", c.NumAttentionHeads)
	positive(o, "num_channels", c.NumChannels)
	positive(o, "image_size", c.ImageSize)
	positive(o, "patch_size", c.PatchSize)
	if o.err != nil {
		return
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		o.fail("num_attention_heads", "%d does not divide hidden_size %d", c.NumAttentionHeads, c.HiddenSize)
	}
	if c.PatchSize > c.ImageSize {
		o.fail("patch_size", "%d is larger than image_size %d", c.PatchSize, c.ImageSize)
	}
	if c.HiddenAct == "" {
		o.fail("hidden_act", "empty")
	}
	if c.LayerNormEps <= 0 {
		o.fail("layer_norm_eps", "%g is not positive", c.LayerNormEps)
	}
	if c.AttentionDropout < 0 || c.AttentionDropout >= 1 {
		o.fail("attention_dropout", "%g is not in [0, 1)", c.AttentionDropout)
	}
}

func (c *SiglipVisionConfig) toJSON() writer {
	w := writer{
		"model_type":          c.ModelType,
		"hidden_size":         c.HiddenSize,
		"intermediate_size":   c.IntermediateSize,
		"num_hidden_layers":   c.NumHiddenLayers,
		"num_attention_heads": c.NumAttentionHeads,
		"num_channels":        c.NumChannels,
		"image_size":          c.ImageSize,
		"patch_size":          c.PatchSize,
		"hidden_act":          c.HiddenAct,
		"layer_norm_eps":      c.LayerNormEps,
		"attention_dropout":   c.AttentionDropout,
		"vision_use_head":     c.VisionUseHead,
	}
	if c.TorchDtype != "" {
		w["torch_dtype"] = c.TorchDtype
	}
	w.merge(c.Extra)
	return w
}

func positive(o *object, key string, v int) {
	if v <= 0 {
		o.fail(key, "%d is not positive", v)
	}
}
