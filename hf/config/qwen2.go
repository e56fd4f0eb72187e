package config

import (
	"encoding/json"
)

// Qwen2Config is transformers' Qwen2Config (model_type "qwen2").
//
// Defaults, the same from transformers v4.45 to v5 (read in
// models/qwen2/configuration_qwen2.py at commit 008e5743): vocab_size
// 151936, hidden_size 4096, intermediate_size 22016, num_hidden_layers 32,
// num_attention_heads 32, num_key_value_heads = num_attention_heads when
// absent or null, hidden_act "silu", max_position_embeddings 32768,
// initializer_range 0.02, rms_norm_eps 1e-6, use_cache true,
// tie_word_embeddings false, rope_theta 10000, rope_scaling null,
// use_sliding_window false, sliding_window 4096 (set to null when
// use_sliding_window is false), max_window_layers 28, attention_dropout 0,
// bos/eos/pad token ids null.
//
// transformers v5 moves rope_theta into rope_parameters; both spellings are read.
type Qwen2Config struct {
	ModelType             string
	Architectures         []string
	VocabSize             int
	HiddenSize            int
	IntermediateSize      int
	NumHiddenLayers       int
	NumAttentionHeads     int
	NumKeyValueHeads      int
	HiddenAct             string
	MaxPositionEmbeddings int
	InitializerRange      float64
	RMSNormEps            float64
	UseCache              bool
	// TieWordEmbeddings is text_config.tie_word_embeddings (default false);
	// see LlavaOnevisionConfig.TiedEmbeddings for which one applies.
	TieWordEmbeddings bool
	RopeTheta         float64
	RopeScaling       map[string]any
	UseSlidingWindow  bool
	// SlidingWindow is nil when use_sliding_window is false, as
	// Qwen2Config.__init__ sets it (v4.48 and later).
	SlidingWindow    *int
	MaxWindowLayers  int
	AttentionDropout float64
	LayerTypes       []string
	BosTokenID       *int
	EosTokenID       IntOrList
	PadTokenID       *int
	TorchDtype       string
	// ExplicitHeadDim is "head_dim" when config.json sets it (Qwen2 itself
	// does not); HeadDim uses it if nonzero.
	ExplicitHeadDim int
	Extra           map[string]json.RawMessage
}

// DefaultQwen2 returns Qwen2Config() with no arguments.
func DefaultQwen2() Qwen2Config {
	return Qwen2Config{
		ModelType:             "qwen2",
		VocabSize:             151936,
		HiddenSize:            4096,
		IntermediateSize:      22016,
		NumHiddenLayers:       32,
		NumAttentionHeads:     32,
		NumKeyValueHeads:      32,
		HiddenAct:             "silu",
		MaxPositionEmbeddings: 32768,
		InitializerRange:      0.02,
		RMSNormEps:            1e-6,
		UseCache:              true,
		RopeTheta:             10000,
		MaxWindowLayers:       28,
	}
}

// HeadDim is head_dim if set, else hidden_size / num_attention_heads, as
// Qwen2Attention computes it.
func (c *Qwen2Config) HeadDim() int {
	if c.ExplicitHeadDim > 0 {
		return c.ExplicitHeadDim
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// KVGroups is num_attention_heads / num_key_value_heads: the number of
// consecutive query heads sharing one key/value head.
func (c *Qwen2Config) KVGroups() int { return c.NumAttentionHeads / c.NumKeyValueHeads }

func parseQwen2(o *object) Qwen2Config {
	c := DefaultQwen2()
	c.ModelType = o.str("model_type", "qwen2")
	if c.ModelType != "qwen2" {
		o.fail("model_type", "%q is not supported here (supported: qwen2)", c.ModelType)
	}
	c.Architectures = o.strings("architectures")
	c.VocabSize = o.int("vocab_size", c.VocabSize)
	c.HiddenSize = o.int("hidden_size", c.HiddenSize)
	c.IntermediateSize = o.int("intermediate_size", c.IntermediateSize)
	c.NumHiddenLayers = o.int("num_hidden_layers", c.NumHiddenLayers)
	c.NumAttentionHeads = o.int("num_attention_heads", c.NumAttentionHeads)
	c.NumKeyValueHeads = o.int("num_key_value_heads", c.NumAttentionHeads)
	c.HiddenAct = o.str("hidden_act", c.HiddenAct)
	c.MaxPositionEmbeddings = o.int("max_position_embeddings", c.MaxPositionEmbeddings)
	c.InitializerRange = o.float("initializer_range", c.InitializerRange)
	c.RMSNormEps = o.float("rms_norm_eps", c.RMSNormEps)
	c.UseCache = o.boolean("use_cache", c.UseCache)
	c.TieWordEmbeddings = o.boolean("tie_word_embeddings", c.TieWordEmbeddings)
	c.RopeScaling = o.generic("rope_scaling")
	if rp := o.generic("rope_parameters"); rp != nil {
		if t, ok := rp["rope_theta"].(json.Number); ok {
			if f, err := t.Float64(); err == nil {
				c.RopeTheta = f
			}
		}
		if c.RopeScaling == nil {
			if rt, _ := rp["rope_type"].(string); rt != "" && rt != "default" {
				c.RopeScaling = rp
			}
		}
	}
	c.RopeTheta = o.float("rope_theta", c.RopeTheta)
	c.UseSlidingWindow = o.boolean("use_sliding_window", false)
	sw := o.optInt("sliding_window")
	if !o.has("sliding_window") {
		d := 4096
		sw = &d
	}
	if c.UseSlidingWindow {
		c.SlidingWindow = sw
	}
	c.MaxWindowLayers = o.int("max_window_layers", c.MaxWindowLayers)
	c.AttentionDropout = o.float("attention_dropout", 0)
	c.LayerTypes = o.strings("layer_types")
	c.BosTokenID = o.optInt("bos_token_id")
	c.EosTokenID, _ = o.intOrList("eos_token_id")
	c.PadTokenID = o.optInt("pad_token_id")
	c.TorchDtype = o.str("torch_dtype", o.str("dtype", ""))
	c.ExplicitHeadDim = o.int("head_dim", 0)
	c.Extra = o.extra()
	c.validate(o)
	return c
}

func (c *Qwen2Config) validate(o *object) {
	positive(o, "vocab_size", c.VocabSize)
	positive(o, "hidden_size", c.HiddenSize)
	positive(o, "intermediate_size", c.IntermediateSize)
	positive(o, "num_hidden_layers", c.NumHiddenLayers)
	positive(o, "num_attention_heads", c.NumAttentionHeads)
	positive(o, "num_key_value_heads", c.NumKeyValueHeads)
	positive(o, "max_position_embeddings", c.MaxPositionEmbeddings)
	if o.has("head_dim") && c.ExplicitHeadDim <= 0 {
		o.fail("head_dim", "%d is not positive", c.ExplicitHeadDim)
	}
	if o.err != nil {
		return
	}
	if c.ExplicitHeadDim == 0 && c.HiddenSize%c.NumAttentionHeads != 0 {
		o.fail("num_attention_heads", "%d does not divide hidden_size %d", c.NumAttentionHeads, c.HiddenSize)
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		o.fail("num_key_value_heads", "%d does not divide num_attention_heads %d", c.NumKeyValueHeads, c.NumAttentionHeads)
	}
	if c.HeadDim()%2 != 0 {
		o.fail("hidden_size", "head dimension %d is odd; rotary embeddings need it even", c.HeadDim())
	}
	if c.HiddenAct == "" {
		o.fail("hidden_act", "empty")
	}
	if c.RMSNormEps <= 0 {
		o.fail("rms_norm_eps", "%g is not positive", c.RMSNormEps)
	}
	if c.RopeTheta <= 0 {
		o.fail("rope_theta", "%g is not positive", c.RopeTheta)
	}
	if c.AttentionDropout < 0 || c.AttentionDropout >= 1 {
		o.fail("attention_dropout", "%g is not in [0, 1)", c.AttentionDropout)
	}
	if c.SlidingWindow != nil && *c.SlidingWindow <= 0 {
		o.fail("sliding_window", "%d is not positive", *c.SlidingWindow)
	}
	if c.LayerTypes != nil && len(c.LayerTypes) != c.NumHiddenLayers {
		o.fail("layer_types", "has %d entries, want num_hidden_layers %d", len(c.LayerTypes), c.NumHiddenLayers)
	}
	if c.BosTokenID != nil && (*c.BosTokenID < 0 || *c.BosTokenID >= c.VocabSize) {
		o.fail("bos_token_id", "%d is outside the vocabulary [0, %d)", *c.BosTokenID, c.VocabSize)
	}
	if c.PadTokenID != nil && (*c.PadTokenID < 0 || *c.PadTokenID >= c.VocabSize) {
		o.fail("pad_token_id", "%d is outside the vocabulary [0, %d)", *c.PadTokenID, c.VocabSize)
	}
	for _, id := range c.EosTokenID.Values {
		if id < 0 || id >= c.VocabSize {
			o.fail("eos_token_id", "%d is outside the vocabulary [0, %d)", id, c.VocabSize)
		}
	}
}

func (c *Qwen2Config) toJSON() writer {
	w := writer{
		"model_type":              c.ModelType,
		"vocab_size":              c.VocabSize,
		"hidden_size":             c.HiddenSize,
		"intermediate_size":       c.IntermediateSize,
		"num_hidden_layers":       c.NumHiddenLayers,
		"num_attention_heads":     c.NumAttentionHeads,
		"num_key_value_heads":     c.NumKeyValueHeads,
		"hidden_act":              c.HiddenAct,
		"max_position_embeddings": c.MaxPositionEmbeddings,
		"initializer_range":       c.InitializerRange,
		"rms_norm_eps":            c.RMSNormEps,
		"use_cache":               c.UseCache,
		"tie_word_embeddings":     c.TieWordEmbeddings,
		"rope_theta":              c.RopeTheta,
		"rope_scaling":            c.RopeScaling,
		"use_sliding_window":      c.UseSlidingWindow,
		"sliding_window":          c.SlidingWindow,
		"max_window_layers":       c.MaxWindowLayers,
		"attention_dropout":       c.AttentionDropout,
		"bos_token_id":            c.BosTokenID,
		"eos_token_id":            c.EosTokenID,
		"pad_token_id":            c.PadTokenID,
	}
	if c.Architectures != nil {
		w["architectures"] = c.Architectures
	}
	if c.LayerTypes != nil {
		w["layer_types"] = c.LayerTypes
	}
	if c.TorchDtype != "" {
		w["torch_dtype"] = c.TorchDtype
	}
	if c.ExplicitHeadDim > 0 {
		w["head_dim"] = c.ExplicitHeadDim
	}
	w.merge(c.Extra)
	return w
}
