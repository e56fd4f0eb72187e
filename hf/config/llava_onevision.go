package config

import (
	"encoding/json"
	"fmt"
	"os"
)

// ArchLlavaOnevision is the architecture class name of LLaVA-OneVision.
const ArchLlavaOnevision = "LlavaOnevisionForConditionalGeneration"

// LlavaOnevisionConfig is transformers' LlavaOnevisionConfig (model_type
// "llava_onevision"): a SigLIP vision tower, a two-layer projector and a
// Qwen2 language model.
//
// Defaults as LlavaOnevisionConfig.__init__ applies them (transformers
// v4.45 to v4.57, models/llava_onevision/configuration_llava_onevision.py;
// read at commit 04ea11d8 and in a later copy): image_token_index 151646,
// video_token_index 151647, projector_hidden_act "gelu",
// vision_feature_select_strategy "full" (only "default" and "full" are
// accepted), vision_feature_layer -1, vision_aspect_ratio "anyres_max_9",
// image_grid_pinpoints the 36 multiples of 384 from 384x384 to 2304x2304,
// multimodal_projector_bias true (v4.49+), tie_word_embeddings false.
// vision_config: absent -> DefaultOnevisionVision; a dict -> SigLIP with
// SiglipVisionConfig's own defaults for the keys it lacks (model_type
// defaults to "siglip_vision_model"). text_config: absent or a dict ->
// Qwen2Config defaults for missing keys (model_type defaults to "qwen2").
type LlavaOnevisionConfig struct {
	Architectures               []string
	ImageTokenIndex             int
	VideoTokenIndex             int
	ProjectorHiddenAct          string
	VisionFeatureSelectStrategy string
	// VisionFeatureLayer indexes the vision tower's hidden_states (num_hidden_layers+1
	// entries, the embeddings first); a list concatenates several layers.
	VisionFeatureLayer      IntOrList
	VisionAspectRatio       string
	ImageGridPinpoints      [][2]int
	MultimodalProjectorBias bool
	// TieWordEmbeddings is the top-level key; nil when config.json lacks it.
	TieWordEmbeddings *bool
	TorchDtype        string
	VisionConfig      SiglipVisionConfig
	TextConfig        Qwen2Config
	// Extra keeps the top-level keys this package does not interpret
	// (transformers_version, use_image_newline_parameter, ...).
	Extra map[string]json.RawMessage
}

// DefaultImageGridPinpoints is LlavaOnevisionConfig's default
// image_grid_pinpoints: [h, w] for h, w in 384, 768, ..., 2304.
func DefaultImageGridPinpoints() [][2]int {
	var p [][2]int
	for h := 384; h <= 2304; h += 384 {
		for w := 384; w <= 2304; w += 384 {
			p = append(p, [2]int{h, w})
		}
	}
	return p
}

// ModelType returns "llava_onevision".
func (c *LlavaOnevisionConfig) ModelType() string { return "llava_onevision" }

// Architecture returns ArchLlavaOnevision.
func (c *LlavaOnevisionConfig) Architecture() string { return ArchLlavaOnevision }

// TiedEmbeddings reports whether lm_head shares embed_tokens' weight.
// transformers v4.45 to v4.57 tie through the language model, whose config
// is text_config, so text_config.tie_word_embeddings decides (default
// false); the top-level key is ignored there. A checkpoint that stores
// lm_head.weight should be loaded with it regardless.
func (c *LlavaOnevisionConfig) TiedEmbeddings() bool { return c.TextConfig.TieWordEmbeddings }

// VisionLayerIndices returns vision_feature_layer as non-negative indices
// into the num_hidden_layers+1 hidden states.
func (c *LlavaOnevisionConfig) VisionLayerIndices() []int {
	n := c.VisionConfig.NumHiddenLayers + 1
	out := make([]int, len(c.VisionFeatureLayer.Values))
	for i, l := range c.VisionFeatureLayer.Values {
		if l < 0 {
			l += n
		}
		out[i] = l
	}
	return out
}

func parseLlavaOnevision(data []byte, source string) (Config, error) {
	o, err := newObject(source, "", data)
	if err != nil {
		return nil, err
	}
	c := &LlavaOnevisionConfig{}
	c.Architectures = o.strings("architectures")
	if mt := o.str("model_type", "llava_onevision"); mt != "llava_onevision" {
		o.fail("model_type", "%q does not match architecture %s (want llava_onevision)", mt, ArchLlavaOnevision)
	}
	c.ImageTokenIndex = o.int("image_token_index", 151646)
	c.VideoTokenIndex = o.int("video_token_index", 151647)
	c.ProjectorHiddenAct = o.str("projector_hidden_act", "gelu")
	c.VisionFeatureSelectStrategy = o.str("vision_feature_select_strategy", "full")
	if v, ok := o.intOrList("vision_feature_layer"); ok {
		c.VisionFeatureLayer = v
	} else {
		c.VisionFeatureLayer = IntOrList{Values: []int{-1}}
	}
	c.VisionAspectRatio = o.str("vision_aspect_ratio", "anyres_max_9")
	c.ImageGridPinpoints = pinpoints(o, "image_grid_pinpoints")
	c.MultimodalProjectorBias = o.boolean("multimodal_projector_bias", true)
	c.TieWordEmbeddings = o.optBool("tie_word_embeddings")
	c.TorchDtype = o.str("torch_dtype", o.str("dtype", ""))
	if o.err != nil {
		return nil, o.err
	}

	if r, ok := o.raw("vision_config"); ok {
		vo, err := newObject(source, "vision_config", r)
		if err != nil {
			return nil, err
		}
		c.VisionConfig = parseSiglipVision(vo, DefaultSiglipVision())
		if vo.err != nil {
			return nil, vo.err
		}
	} else {
		vo := &object{file: source, path: "vision_config", fields: map[string]json.RawMessage{}, used: map[string]bool{}}
		c.VisionConfig = DefaultOnevisionVision()
		c.VisionConfig.validate(vo)
		if vo.err != nil {
			return nil, fmt.Errorf("%w (config.json has no vision_config, and transformers' default for LLaVA-OneVision is inconsistent)", vo.err)
		}
	}
	to := &object{file: source, path: "text_config", fields: map[string]json.RawMessage{}, used: map[string]bool{}}
	if r, ok := o.raw("text_config"); ok {
		if to, err = newObject(source, "text_config", r); err != nil {
			return nil, err
		}
	}
	c.TextConfig = parseQwen2(to)
	if to.err != nil {
		return nil, to.err
	}
	c.Extra = o.extra()
	c.validate(o)
	if o.err != nil {
		return nil, o.err
	}
	return c, nil
}

func pinpoints(o *object, key string) [][2]int {
	r, ok := o.raw(key)
	if !ok {
		return DefaultImageGridPinpoints()
	}
	var raw [][]json.RawMessage
	if err := json.Unmarshal(r, &raw); err != nil {
		o.fail(key, "want a list of [height, width] pairs, got %s", describe(r))
		return nil
	}
	out := make([][2]int, len(raw))
	for i, p := range raw {
		if len(p) != 2 {
			o.fail(key, "entry %d has %d numbers, want [height, width]", i, len(p))
			return nil
		}
		for j := range 2 {
			v, ok := parseInt(p[j])
			if !ok || v <= 0 {
				o.fail(key, "entry %d: %s is not a positive integer", i, describe(p[j]))
				return nil
			}
			out[i][j] = v
		}
	}
	return out
}

func (c *LlavaOnevisionConfig) validate(o *object) {
	switch c.VisionFeatureSelectStrategy {
	case "default", "full":
	default:
		o.fail("vision_feature_select_strategy", "%q is not one of \"default\", \"full\"", c.VisionFeatureSelectStrategy)
	}
	if len(c.VisionFeatureLayer.Values) == 0 {
		o.fail("vision_feature_layer", "empty list")
	}
	n := c.VisionConfig.NumHiddenLayers
	for _, l := range c.VisionFeatureLayer.Values {
		if l < -(n+1) || l > n {
			o.fail("vision_feature_layer", "%d is outside the vision tower's %d hidden states [-%d, %d]", l, n+1, n+1, n)
		}
	}
	if len(c.ImageGridPinpoints) == 0 && o.err == nil {
		o.fail("image_grid_pinpoints", "empty list")
	}
	v := c.TextConfig.VocabSize
	if c.ImageTokenIndex < 0 || c.ImageTokenIndex >= v {
		o.fail("image_token_index", "%d is outside text_config's vocabulary [0, %d)", c.ImageTokenIndex, v)
	}
	if c.VideoTokenIndex < 0 || c.VideoTokenIndex >= v {
		o.fail("video_token_index", "%d is outside text_config's vocabulary [0, %d)", c.VideoTokenIndex, v)
	}
	if c.ProjectorHiddenAct == "" {
		o.fail("projector_hidden_act", "empty")
	}
}

// MarshalJSON writes a config.json that transformers loads back into the
// same LlavaOnevisionConfig: every field with its effective value, keys
// sorted, unknown keys kept.
func (c *LlavaOnevisionConfig) MarshalJSON() ([]byte, error) {
	b, err := encodeJSON(c.toJSON())
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return b, nil
}

func (c *LlavaOnevisionConfig) toJSON() writer {
	arch := c.Architectures
	if arch == nil {
		arch = []string{ArchLlavaOnevision}
	}
	pins := c.ImageGridPinpoints
	if pins == nil {
		pins = [][2]int{}
	}
	w := writer{
		"architectures":                  arch,
		"model_type":                     "llava_onevision",
		"image_token_index":              c.ImageTokenIndex,
		"video_token_index":              c.VideoTokenIndex,
		"projector_hidden_act":           c.ProjectorHiddenAct,
		"vision_feature_select_strategy": c.VisionFeatureSelectStrategy,
		"vision_feature_layer":           c.VisionFeatureLayer,
		"vision_aspect_ratio":            c.VisionAspectRatio,
		"image_grid_pinpoints":           pins,
		"multimodal_projector_bias":      c.MultimodalProjectorBias,
		"vision_config":                  c.VisionConfig.toJSON(),
		"text_config":                    c.TextConfig.toJSON(),
	}
	if c.TieWordEmbeddings != nil {
		w["tie_word_embeddings"] = *c.TieWordEmbeddings
	}
	if c.TorchDtype != "" {
		w["torch_dtype"] = c.TorchDtype
	}
	w.merge(c.Extra)
	return w
}

// WriteFile writes the config as JSON to path (normally .../config.json),
// after checking that it parses back and validates.
func (c *LlavaOnevisionConfig) WriteFile(path string) error {
	b, err := c.MarshalJSON()
	if err != nil {
		return err
	}
	if _, err := parseLlavaOnevision(b, path); err != nil {
		return fmt.Errorf("config: refusing to write an invalid config: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func init() {
	Register(ArchLlavaOnevision, "llava_onevision", parseLlavaOnevision)
}
