// Package config reads and writes the JSON files of a Hugging Face
// checkpoint: config.json (per architecture), generation_config.json,
// tokenizer_config.json and the chat template files.
//
// config.json is dispatched on architectures[0] (or model_type when
// architectures is absent) through a registry keyed by the architecture
// class name; Register adds one, and an unknown name is an error listing
// Supported(). LlavaOnevisionForConditionalGeneration (SigLIP vision tower,
// Qwen2 text model) is registered; Qwen2VLForConditionalGeneration and
// InternVLChatModel are meant to register themselves the same way.
//
// Defaults are the ones transformers applies when a key is absent; each
// type's doc comment lists them with the transformers version read.
// Nested vision_config/text_config dicts take their own class defaults for
// missing keys; an absent vision_config takes LlavaOnevisionConfig's
// built-in SigLIP, whose 14 heads do not divide its width 1152, so it fails
// validation as it would fail in transformers.
//
// Errors name the file and the field path, e.g.
//
//	config.json: text_config.num_key_value_heads: 3 does not divide num_attention_heads 28
//
// Parsing is strict about JSON types (an integer field rejects 2.5 and "2")
// and validates sizes: positive dimensions, hidden_size divisible by the
// heads, heads divisible by the key/value heads, token ids inside the
// vocabulary, vision_feature_layer inside the vision tower.
//
// Writing (LlavaOnevisionConfig.MarshalJSON, WriteFile) emits every field
// with its effective value, keys sorted as transformers' to_json_string
// does, unknown keys preserved, so transformers loads the same config back.
package config
