package llavaonevision

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"mbq/hf/config"
	"mbq/hf/tokenizer"
	"mbq/safetensors"
)

// TinyOptions size a tiny random checkpoint. The zero value of a field
// takes the DefaultTiny value.
type TinyOptions struct {
	VisionHidden, VisionIntermediate, VisionLayers, VisionHeads int
	ImageSize, PatchSize                                        int
	TextHidden, TextIntermediate, TextLayers, Heads, KVHeads    int
	// MaxTiles is N of vision_aspect_ratio "anyres_max_N" (default 9).
	MaxTiles int
	// GridMax: image_grid_pinpoints are i·ImageSize x j·ImageSize for
	// 1 <= i, j <= GridMax (default 3).
	GridMax int
	// Tied writes no lm_head and sets text_config.tie_word_embeddings.
	Tied bool
	// BF16 stores the weights as bfloat16 (default float32).
	BF16 bool
	// Std is the standard deviation of the random weights (default 0.02);
	// biases and norm weights get the same noise (around 0 and 1).
	Std float64
	// VisionFeatureLayer (default -1).
	VisionFeatureLayer int
}

// DefaultTiny is the default tiny model: SigLIP 32 wide, 2 layers, 16x16
// tiles of 4x4 patches (16 tokens per tile); Qwen2 32 wide, 2 layers, 4
// query and 2 key/value heads of 8; a ~300-token byte-level BPE vocabulary.
var DefaultTiny = TinyOptions{
	VisionHidden: 32, VisionIntermediate: 64, VisionLayers: 2, VisionHeads: 2,
	ImageSize: 16, PatchSize: 4,
	TextHidden: 32, TextIntermediate: 64, TextLayers: 2, Heads: 4, KVHeads: 2,
	MaxTiles: 9, GridMax: 3, Std: 0.02, VisionFeatureLayer: -1,
}

func (o TinyOptions) withDefaults() TinyOptions {
	d := DefaultTiny
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&o.VisionHidden, d.VisionHidden)
	set(&o.VisionIntermediate, d.VisionIntermediate)
	set(&o.VisionLayers, d.VisionLayers)
	set(&o.VisionHeads, d.VisionHeads)
	set(&o.ImageSize, d.ImageSize)
	set(&o.PatchSize, d.PatchSize)
	set(&o.TextHidden, d.TextHidden)
	set(&o.TextIntermediate, d.TextIntermediate)
	set(&o.TextLayers, d.TextLayers)
	set(&o.Heads, d.Heads)
	set(&o.KVHeads, d.KVHeads)
	set(&o.MaxTiles, d.MaxTiles)
	set(&o.GridMax, d.GridMax)
	set(&o.VisionFeatureLayer, d.VisionFeatureLayer)
	if o.Std == 0 {
		o.Std = d.Std
	}
	return o
}

// ChatTemplate is the chat template tiny checkpoints carry: the ChatML
// layout of llava-hf/llava-onevision-qwen2-*-ov-hf's processor template
// (images first as <image>, then "\n" + each text part).
const ChatTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + ' '}}" +
	"{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}" +
	"{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>' }}{% endfor %}" +
	"{% if message['role'] != 'assistant' %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\\n' + content['text'] }}{% endfor %}" +
	"{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{% generation %}{{ '\\n' + content['text'] }}{% endgeneration %}{% endfor %}{% endif %}" +
	"{{'<|im_end|>'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// tinyWords seed the tiny tokenizer's merges.
var tinyWords = []string{"the", "a", "an", "is", "of", "and", "red", "blue", "green", "circle", "square",
	"image", "Describe", "What", "colour", "shape", "There", "left", "right", "top", "bottom", "user", "assistant", "system"}

// TinyTokenizer builds the tiny byte-level BPE tokenizer: the 256 byte
// tokens, merges spelling a few words (with and without a leading space),
// and the added special tokens <|endoftext|>, <|im_start|>, <|im_end|>,
// <image>, <video>.
func TinyTokenizer() (*tokenizer.Tokenizer, error) {
	vocab := map[string]int{}
	var runeOf [256]rune
	for r, b := range byteOfRune {
		runeOf[b] = r
	}
	for b := 0; b < 256; b++ {
		vocab[string(runeOf[b])] = b
	}
	var merges [][2]string
	for _, w := range tinyWords {
		for _, form := range []string{w, " " + w} {
			syms := []string{}
			for i := 0; i < len(form); i++ {
				syms = append(syms, string(runeOf[form[i]]))
			}
			cur := syms[0]
			for _, s := range syms[1:] {
				next := cur + s
				if _, ok := vocab[next]; !ok {
					vocab[next] = len(vocab)
					merges = append(merges, [2]string{cur, s})
				}
				cur = next
			}
		}
	}
	var added []tokenizer.AddedToken
	for _, c := range []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", ImageToken, "<video>"} {
		added = append(added, tokenizer.AddedToken{Content: c, Special: true})
	}
	return tokenizer.New(vocab, merges, added, tokenizer.Qwen2Config)
}

// WriteTiny writes a tiny random LLaVA-OneVision checkpoint into dir in
// exactly the Hugging Face layout: config.json, model.safetensors (hub
// tensor names), tokenizer.json, tokenizer_config.json (ChatML chat
// template, eos <|im_end|>), preprocessor_config.json and
// generation_config.json. The weights are a function of seed and opts.
func WriteTiny(dir string, seed uint64, opts TinyOptions) error {
	o := opts.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tok, err := TinyTokenizer()
	if err != nil {
		return err
	}
	id := func(s string) int { v, _ := tok.TokenToID(s); return v }
	vocab := (tok.VocabSize() + 15) / 16 * 16

	vc := config.DefaultSiglipVision()
	vc.HiddenSize, vc.IntermediateSize = o.VisionHidden, o.VisionIntermediate
	vc.NumHiddenLayers, vc.NumAttentionHeads = o.VisionLayers, o.VisionHeads
	vc.ImageSize, vc.PatchSize = o.ImageSize, o.PatchSize
	vc.VisionUseHead = false
	tc := config.DefaultQwen2()
	tc.Architectures = []string{"Qwen2ForCausalLM"}
	tc.VocabSize = vocab
	tc.HiddenSize, tc.IntermediateSize = o.TextHidden, o.TextIntermediate
	tc.NumHiddenLayers, tc.NumAttentionHeads, tc.NumKeyValueHeads = o.TextLayers, o.Heads, o.KVHeads
	tc.RopeTheta = 1e6
	tc.MaxPositionEmbeddings = 4096
	tc.TieWordEmbeddings = o.Tied
	eos, bos := id("<|im_end|>"), id("<|endoftext|>")
	tc.EosTokenID = config.IntOrList{Values: []int{eos}}
	tc.BosTokenID = &bos
	var pins [][2]int
	for i := 1; i <= o.GridMax; i++ {
		for j := 1; j <= o.GridMax; j++ {
			pins = append(pins, [2]int{i * o.ImageSize, j * o.ImageSize})
		}
	}
	tied := o.Tied
	cfg := &config.LlavaOnevisionConfig{
		Architectures:               []string{config.ArchLlavaOnevision},
		ImageTokenIndex:             id(ImageToken),
		VideoTokenIndex:             id("<video>"),
		ProjectorHiddenAct:          "gelu",
		VisionFeatureSelectStrategy: "full",
		VisionFeatureLayer:          config.IntOrList{Values: []int{o.VisionFeatureLayer}},
		VisionAspectRatio:           fmt.Sprintf("anyres_max_%d", o.MaxTiles),
		ImageGridPinpoints:          pins,
		MultimodalProjectorBias:     true,
		TieWordEmbeddings:           &tied,
		TorchDtype:                  "float32",
		VisionConfig:                vc,
		TextConfig:                  tc,
		Extra:                       map[string]json.RawMessage{"use_image_newline_parameter": json.RawMessage("true")},
	}
	if o.BF16 {
		cfg.TorchDtype = "bfloat16"
	}
	if err := cfg.WriteFile(filepath.Join(dir, "config.json")); err != nil {
		return err
	}
	m, err := New(cfg)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		d := p.Value.Data
		isNorm := len(p.Value.Shape) == 1 && (strings.Contains(p.Name, "norm") || strings.Contains(p.Name, "layernorm"))
		for i := range d {
			v := rng.NormFloat64() * o.Std
			if isNorm && !strings.Contains(p.Name, ".bias") {
				v += 1
			}
			d[i] = float32(v)
		}
		if o.BF16 {
			ts = append(ts, safetensors.BF16Tensor(p.Name, p.Value.Shape, d))
		} else {
			ts = append(ts, safetensors.F32Tensor(p.Name, p.Value.Shape, d))
		}
	}
	if err := safetensors.WriteFile(filepath.Join(dir, safetensors.SingleFileName), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if err := tok.WriteFile(filepath.Join(dir, "tokenizer.json")); err != nil {
		return err
	}
	tokCfg := map[string]any{
		"add_bos_token":                false,
		"add_prefix_space":             false,
		"bos_token":                    nil,
		"eos_token":                    "<|im_end|>",
		"pad_token":                    "<|endoftext|>",
		"unk_token":                    nil,
		"additional_special_tokens":    []string{"<|im_start|>", "<|im_end|>", ImageToken, "<video>"},
		"chat_template":                ChatTemplate,
		"clean_up_tokenization_spaces": false,
		"model_max_length":             4096,
		"processor_class":              "LlavaOnevisionProcessor",
		"tokenizer_class":              "Qwen2Tokenizer",
		"split_special_tokens":         false,
		"errors":                       "replace",
	}
	pre, err := Processor(o.ImageSize, pins)
	if err != nil {
		return err
	}
	gen := map[string]any{
		"bos_token_id": bos,
		"eos_token_id": []int{eos, bos},
		"pad_token_id": bos,
	}
	for name, v := range map[string]any{"tokenizer_config.json": tokCfg, "preprocessor_config.json": pre, "generation_config.json": gen} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}
