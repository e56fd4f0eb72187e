package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func loadLlava(t *testing.T, file string) *LlavaOnevisionConfig {
	t.Helper()
	m, err := Load(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := m.LlavaOnevision()
	if !ok || m.Architecture != ArchLlavaOnevision {
		t.Fatalf("got %T %q", m.Config, m.Architecture)
	}
	return c
}

func TestRealConfigs(t *testing.T) {
	for _, tc := range []struct {
		file                                      string
		hidden, inter, layers, heads, kv, vocab   int
		tied                                      bool
		headDim, groups, maxWindow, slidingWindow int
	}{
		{"llava-onevision-qwen2-0.5b-ov-hf.config.json", 896, 4864, 24, 14, 2, 152000, true, 64, 7, 24, 0},
		{"llava-onevision-qwen2-7b-ov-hf.config.json", 3584, 18944, 28, 28, 4, 152128, false, 128, 7, 28, 0},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := loadLlava(t, tc.file)
			tx := c.TextConfig
			got := []int{tx.HiddenSize, tx.IntermediateSize, tx.NumHiddenLayers, tx.NumAttentionHeads, tx.NumKeyValueHeads, tx.VocabSize, tx.HeadDim(), tx.KVGroups(), tx.MaxWindowLayers}
			want := []int{tc.hidden, tc.inter, tc.layers, tc.heads, tc.kv, tc.vocab, tc.headDim, tc.groups, tc.maxWindow}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("text sizes %v, want %v", got, want)
			}
			if c.TiedEmbeddings() != tc.tied {
				t.Errorf("TiedEmbeddings %v, want %v", c.TiedEmbeddings(), tc.tied)
			}
			if tx.RopeTheta != 1e6 || tx.RMSNormEps != 1e-6 || tx.HiddenAct != "silu" || tx.SlidingWindow != nil || tx.UseSlidingWindow {
				t.Errorf("text defaults: rope %g eps %g act %q sw %v", tx.RopeTheta, tx.RMSNormEps, tx.HiddenAct, tx.SlidingWindow)
			}
			if b, _ := tx.BosTokenID, 0; b == nil || *b != 151643 {
				t.Errorf("bos %v", b)
			}
			if e, _ := tx.EosTokenID.Int(); e != 151645 || tx.EosTokenID.IsList {
				t.Errorf("eos %v", tx.EosTokenID)
			}
			v := c.VisionConfig
			if v.HiddenSize != 1152 || v.IntermediateSize != 4304 || v.NumHiddenLayers != 26 || v.NumAttentionHeads != 16 ||
				v.PatchSize != 14 || v.ImageSize != 384 || v.VisionUseHead || v.HeadDim() != 72 || v.NumPatches() != 729 ||
				v.HiddenAct != "gelu_pytorch_tanh" || v.LayerNormEps != 1e-6 || v.NumChannels != 3 {
				t.Errorf("vision %+v", v)
			}
			if c.ImageTokenIndex != 151646 || c.VideoTokenIndex != 151647 || c.VisionFeatureSelectStrategy != "full" ||
				c.VisionAspectRatio != "anyres_max_9" || c.ProjectorHiddenAct != "gelu" || !c.MultimodalProjectorBias ||
				len(c.ImageGridPinpoints) != 36 || c.TorchDtype != "float16" {
				t.Errorf("top %+v", c)
			}
			if idx := c.VisionLayerIndices(); !reflect.DeepEqual(idx, []int{26}) {
				t.Errorf("vision layer indices %v", idx)
			}
			if string(c.Extra["use_image_newline_parameter"]) != "true" {
				t.Errorf("extra %v", c.Extra)
			}
		})
	}
}

func TestDefaultsMinimal(t *testing.T) {
	m, err := Parse([]byte(`{"architectures":["LlavaOnevisionForConditionalGeneration"],
		"vision_config":{}, "text_config":{"num_attention_heads":8,"hidden_size":512}}`), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := m.LlavaOnevision()
	wantV := DefaultSiglipVision()
	if !reflect.DeepEqual(c.VisionConfig, wantV) {
		t.Errorf("vision %+v\nwant %+v", c.VisionConfig, wantV)
	}
	tx := c.TextConfig
	if tx.NumKeyValueHeads != 8 || tx.VocabSize != 151936 || tx.IntermediateSize != 22016 || tx.RopeTheta != 10000 ||
		tx.MaxWindowLayers != 28 || tx.TieWordEmbeddings || tx.BosTokenID != nil || tx.SlidingWindow != nil || tx.HeadDim() != 64 {
		t.Errorf("text %+v", tx)
	}
	if c.ImageTokenIndex != 151646 || c.VisionFeatureSelectStrategy != "full" || c.VisionFeatureLayer.Values[0] != -1 ||
		!reflect.DeepEqual(c.ImageGridPinpoints, DefaultImageGridPinpoints()) || c.ImageGridPinpoints[35] != [2]int{2304, 2304} ||
		c.TieWordEmbeddings != nil || c.TiedEmbeddings() || !c.MultimodalProjectorBias {
		t.Errorf("top %+v", c)
	}

	// model_type fallback, sliding window kept when enabled, v5 rope_parameters, list feature layers.
	m, err = Parse([]byte(`{"model_type":"llava_onevision","vision_feature_layer":[-2,-5],
		"vision_config":{"model_type":"siglip_vision_model"},
		"text_config":{"use_sliding_window":true,"rope_parameters":{"rope_type":"default","rope_theta":500000.0},"num_key_value_heads":null}}`), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	c, _ = m.LlavaOnevision()
	if sw := c.TextConfig.SlidingWindow; sw == nil || *sw != 4096 {
		t.Errorf("sliding window %v", sw)
	}
	if c.TextConfig.RopeTheta != 5e5 || c.TextConfig.NumKeyValueHeads != 32 || c.TextConfig.RopeScaling != nil {
		t.Errorf("text %+v", c.TextConfig)
	}
	if !c.VisionFeatureLayer.IsList || !reflect.DeepEqual(c.VisionLayerIndices(), []int{11, 8}) {
		t.Errorf("layers %+v %v", c.VisionFeatureLayer, c.VisionLayerIndices())
	}
}

func TestAbsentVisionConfigUsesTransformersDefault(t *testing.T) {
	v := DefaultOnevisionVision()
	if v.HiddenSize != 1152 || v.NumAttentionHeads != 14 || v.NumHiddenLayers != 26 || v.VisionUseHead {
		t.Fatalf("%+v", v)
	}
	_, err := Parse([]byte(`{"architectures":["LlavaOnevisionForConditionalGeneration"]}`), "config.json")
	want := "config.json: vision_config.num_attention_heads: 14 does not divide hidden_size 1152"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want prefix %q", err, want)
	}
}

func TestUnsupportedArchitecture(t *testing.T) {
	_, err := Parse([]byte(`{"architectures":["Foo"]}`), "config.json")
	want := `config.json: architecture "Foo" is not supported (supported: LlavaOnevisionForConditionalGeneration)`
	if err == nil || err.Error() != want || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	_, err = Parse([]byte(`{"model_type":"qwen2_vl"}`), "config.json")
	if err == nil || !strings.Contains(err.Error(), `model_type "qwen2_vl" is not supported (supported: LlavaOnevisionForConditionalGeneration)`) {
		t.Fatalf("got %v", err)
	}
	if _, err = Parse([]byte(`{}`), "config.json"); err == nil || !strings.Contains(err.Error(), "neither architectures nor model_type") {
		t.Fatalf("got %v", err)
	}
}

func TestRegisterCustom(t *testing.T) {
	if got := Supported(); !reflect.DeepEqual(got, []string{ArchLlavaOnevision}) {
		t.Fatalf("supported %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate Register did not panic")
		}
	}()
	Register(ArchLlavaOnevision, "", parseLlavaOnevision)
}

// validBase is a small valid config; each error case edits one field.
const validBase = `{"architectures":["LlavaOnevisionForConditionalGeneration"],
 "vision_config":{"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,"image_size":28,"patch_size":14},
 "text_config":{"vocab_size":151700,"hidden_size":112,"intermediate_size":256,"num_hidden_layers":2,"num_attention_heads":28,"num_key_value_heads":4}}`

func edit(t *testing.T, path string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(validBase), &m); err != nil {
		t.Fatal(err)
	}
	keys := strings.Split(path, ".")
	obj := m
	for _, k := range keys[:len(keys)-1] {
		obj = obj[k].(map[string]any)
	}
	if value == deleteKey {
		delete(obj, keys[len(keys)-1])
	} else {
		obj[keys[len(keys)-1]] = value
	}
	b, _ := json.Marshal(m)
	return b
}

type deleteMarker struct{}

var deleteKey = deleteMarker{}

func TestValidationErrors(t *testing.T) {
	if _, err := Parse([]byte(validBase), "config.json"); err != nil {
		t.Fatalf("base: %v", err)
	}
	cases := []struct {
		path  string
		value any
		want  string
	}{
		{"text_config.num_key_value_heads", 3, "config.json: text_config.num_key_value_heads: 3 does not divide num_attention_heads 28"},
		{"text_config.num_attention_heads", 5, "config.json: text_config.num_attention_heads: 5 does not divide hidden_size 112"},
		{"text_config.hidden_size", 0, "config.json: text_config.hidden_size: 0 is not positive"},
		{"text_config.intermediate_size", -1, "config.json: text_config.intermediate_size: -1 is not positive"},
		{"text_config.num_hidden_layers", "2", `config.json: text_config.num_hidden_layers: want an integer, got "2"`},
		{"text_config.vocab_size", 2.5, "config.json: text_config.vocab_size: want an integer, got 2.5"},
		{"text_config.rms_norm_eps", "x", `config.json: text_config.rms_norm_eps: want a number, got "x"`},
		{"text_config.rms_norm_eps", 0, "config.json: text_config.rms_norm_eps: 0 is not positive"},
		{"text_config.rope_theta", -1, "config.json: text_config.rope_theta: -1 is not positive"},
		{"text_config.tie_word_embeddings", "yes", `config.json: text_config.tie_word_embeddings: want true or false, got "yes"`},
		{"text_config.hidden_size", 28 * 3, "config.json: text_config.hidden_size: head dimension 3 is odd; rotary embeddings need it even"},
		{"text_config.eos_token_id", []any{1, "x"}, `config.json: text_config.eos_token_id: want an integer or a list of integers, got [1,"x"]`},
		{"text_config.bos_token_id", 151700, "config.json: text_config.bos_token_id: 151700 is outside the vocabulary [0, 151700)"},
		{"text_config.model_type", "llama", `config.json: text_config.model_type: "llama" is not supported here (supported: qwen2)`},
		{"text_config.layer_types", []any{"full_attention"}, "config.json: text_config.layer_types: has 1 entries, want num_hidden_layers 2"},
		{"text_config", "qwen2", `config.json: text_config: want a JSON object, got string`},
		{"vision_config.num_attention_heads", 3, "config.json: vision_config.num_attention_heads: 3 does not divide hidden_size 64"},
		{"vision_config.patch_size", 56, "config.json: vision_config.patch_size: 56 is larger than image_size 28"},
		{"vision_config.image_size", 0, "config.json: vision_config.image_size: 0 is not positive"},
		{"vision_config.model_type", "clip_vision_model", `config.json: vision_config.model_type: "clip_vision_model" is not supported here (supported: siglip_vision_model)`},
		{"vision_config.vision_use_head", 1, "config.json: vision_config.vision_use_head: want true or false, got 1"},
		{"vision_config.layer_norm_eps", -1e-6, "config.json: vision_config.layer_norm_eps: -1e-06 is not positive"},
		{"vision_feature_select_strategy", "cls", `config.json: vision_feature_select_strategy: "cls" is not one of "default", "full"`},
		{"vision_feature_layer", 3, "config.json: vision_feature_layer: 3 is outside the vision tower's 3 hidden states [-3, 2]"},
		{"vision_feature_layer", -4, "config.json: vision_feature_layer: -4 is outside the vision tower's 3 hidden states [-3, 2]"},
		{"vision_feature_layer", []any{}, "config.json: vision_feature_layer: empty list"},
		{"vision_feature_layer", "last", `config.json: vision_feature_layer: want an integer or a list of integers, got "last"`},
		{"image_grid_pinpoints", []any{[]any{384}}, "config.json: image_grid_pinpoints: entry 0 has 1 numbers, want [height, width]"},
		{"image_grid_pinpoints", []any{[]any{384, 0}}, "config.json: image_grid_pinpoints: entry 0: 0 is not a positive integer"},
		{"image_grid_pinpoints", []any{}, "config.json: image_grid_pinpoints: empty list"},
		{"image_token_index", 151700, "config.json: image_token_index: 151700 is outside text_config's vocabulary [0, 151700)"},
		{"video_token_index", -1, "config.json: video_token_index: -1 is outside text_config's vocabulary [0, 151700)"},
		{"model_type", "llava", `config.json: model_type: "llava" does not match architecture LlavaOnevisionForConditionalGeneration (want llava_onevision)`},
		{"architectures", "LlavaOnevisionForConditionalGeneration", `config.json: architectures: want a list of strings, got "LlavaOnevisionForConditionalGen...`},
		{"projector_hidden_act", 7, "config.json: projector_hidden_act: want a string, got 7"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			_, err := Parse(edit(t, tc.path, tc.value), "config.json")
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
	for _, bad := range []string{`[1]`, `{"architectures":`, `null`} {
		if _, err := Parse([]byte(bad), "config.json"); err == nil || !strings.HasPrefix(err.Error(), "config.json: ") {
			t.Errorf("%s: got %v", bad, err)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing dir: no error")
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, file := range []string{"llava-onevision-qwen2-0.5b-ov-hf.config.json", "llava-onevision-qwen2-7b-ov-hf.config.json"} {
		c := loadLlava(t, file)
		out := filepath.Join(dir, "config.json")
		if err := c.WriteFile(out); err != nil {
			t.Fatal(err)
		}
		m, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		c2, _ := m.LlavaOnevision()
		if !reflect.DeepEqual(c, c2) {
			t.Errorf("%s: round trip differs\n%+v\n%+v", file, c, c2)
		}
		b1, _ := c.MarshalJSON()
		b2, _ := c2.MarshalJSON()
		if !bytes.Equal(b1, b2) {
			t.Errorf("%s: second write differs", file)
		}
		// Every key of the original file survives (values may be normalized).
		var orig, written map[string]any
		raw, _ := os.ReadFile(filepath.Join("testdata", file))
		json.Unmarshal(raw, &orig)
		json.Unmarshal(b1, &written)
		for k := range orig {
			if _, ok := written[k]; !ok {
				t.Errorf("%s: key %s lost", file, k)
			}
		}
		for _, sub := range []string{"text_config", "vision_config"} {
			for k := range orig[sub].(map[string]any) {
				if _, ok := written[sub].(map[string]any)[k]; !ok {
					t.Errorf("%s: key %s.%s lost", file, sub, k)
				}
			}
		}
	}
	// A built config writes and reads back; an invalid one is refused.
	c := loadLlava(t, "llava-onevision-qwen2-0.5b-ov-hf.config.json")
	c.TextConfig.NumKeyValueHeads = 3
	if err := c.WriteFile(filepath.Join(dir, "bad.json")); err == nil || !strings.Contains(err.Error(), "text_config.num_key_value_heads: 3 does not divide") {
		t.Errorf("got %v", err)
	}
}

func TestIntOrListString(t *testing.T) {
	for _, c := range []struct {
		v    IntOrList
		want string
	}{
		{IntOrList{Values: []int{-1}}, "-1"},
		{IntOrList{Values: []int{-1}, IsList: true}, "[-1]"},
		{IntOrList{Values: []int{-2, -5}, IsList: true}, "[-2, -5]"},
	} {
		if got := c.v.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.v, got, c.want)
		}
	}
}
