package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// GenerationConfig is generation_config.json, with transformers'
// GenerationConfig defaults: do_sample false, temperature 1, top_p 1,
// top_k 50, repetition_penalty 1, max_length 20, max_new_tokens unset.
type GenerationConfig struct {
	BosTokenID        *int
	EosTokenID        IntOrList // an integer or a list
	PadTokenID        *int
	DoSample          bool
	Temperature       float64
	TopP              float64
	TopK              int
	MaxLength         int
	MaxNewTokens      *int
	RepetitionPenalty float64
	Extra             map[string]json.RawMessage
}

// ParseGenerationConfig parses generation_config.json bytes.
func ParseGenerationConfig(data []byte, source string) (*GenerationConfig, error) {
	o, err := newObject(source, "", data)
	if err != nil {
		return nil, err
	}
	g := &GenerationConfig{}
	g.BosTokenID = o.optInt("bos_token_id")
	g.EosTokenID, _ = o.intOrList("eos_token_id")
	g.PadTokenID = o.optInt("pad_token_id")
	g.DoSample = o.boolean("do_sample", false)
	g.Temperature = o.float("temperature", 1)
	g.TopP = o.float("top_p", 1)
	g.TopK = o.int("top_k", 50)
	g.MaxLength = o.int("max_length", 20)
	g.MaxNewTokens = o.optInt("max_new_tokens")
	g.RepetitionPenalty = o.float("repetition_penalty", 1)
	g.Extra = o.extra()
	if g.Temperature < 0 {
		o.fail("temperature", "%g is negative", g.Temperature)
	}
	if g.TopP < 0 || g.TopP > 1 {
		o.fail("top_p", "%g is not in [0, 1]", g.TopP)
	}
	if g.TopK < 0 {
		o.fail("top_k", "%d is negative", g.TopK)
	}
	if g.RepetitionPenalty <= 0 {
		o.fail("repetition_penalty", "%g is not positive", g.RepetitionPenalty)
	}
	if g.MaxNewTokens != nil && *g.MaxNewTokens <= 0 {
		o.fail("max_new_tokens", "%d is not positive", *g.MaxNewTokens)
	}
	if o.err != nil {
		return nil, o.err
	}
	return g, nil
}

// LoadGenerationConfig reads generation_config.json from a directory or file.
func LoadGenerationConfig(path string) (*GenerationConfig, error) {
	file, err := resolve(path, "generation_config.json")
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseGenerationConfig(data, file)
}

// AddedToken is a token as tokenizer_config.json stores it: a string, or a
// dict {"content", "lstrip", "rstrip", "normalized", "single_word", "special"}.
type AddedToken struct {
	Content    string
	LStrip     bool
	RStrip     bool
	Normalized bool
	SingleWord bool
	Special    bool
}

func parseAddedToken(o *object, key string, r json.RawMessage) (AddedToken, bool) {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return AddedToken{Content: s}, true
	}
	to, err := newObject(o.file, o.name(key), r)
	if err != nil {
		o.fail(key, "want a string or an AddedToken object, got %s", describe(r))
		return AddedToken{}, false
	}
	t := AddedToken{
		Content:    to.str("content", ""),
		LStrip:     to.boolean("lstrip", false),
		RStrip:     to.boolean("rstrip", false),
		Normalized: to.boolean("normalized", true),
		SingleWord: to.boolean("single_word", false),
		Special:    to.boolean("special", false),
	}
	if !to.has("content") {
		to.fail("content", "missing")
	}
	if to.err != nil {
		if o.err == nil {
			o.err = to.err
		}
		return AddedToken{}, false
	}
	return t, true
}

func (o *object) optToken(key string) *AddedToken {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	t, ok := parseAddedToken(o, key, r)
	if !ok {
		return nil
	}
	return &t
}

// TokenizerConfig is tokenizer_config.json.
type TokenizerConfig struct {
	// ChatTemplate is the default template: the string, or the entry named
	// "default" when the file holds a list of {"name", "template"}.
	ChatTemplate string
	// ChatTemplates holds the named templates of the list form (with "default").
	ChatTemplates map[string]string

	BosToken, EosToken, PadToken, UnkToken *AddedToken
	AdditionalSpecialTokens                []AddedToken
	AddedTokensDecoder                     map[int]AddedToken

	// ModelMaxLength is a float: some files store 1e30-sized sentinels.
	ModelMaxLength            float64
	AddBosToken               *bool
	AddEosToken               *bool
	CleanUpTokenizationSpaces *bool
	TokenizerClass            string
	Extra                     map[string]json.RawMessage
}

// SpecialTokens returns the special_tokens_map a chat template sees:
// bos_token, eos_token, pad_token, unk_token for those set.
func (t *TokenizerConfig) SpecialTokens() map[string]string {
	m := map[string]string{}
	for k, v := range map[string]*AddedToken{"bos_token": t.BosToken, "eos_token": t.EosToken, "pad_token": t.PadToken, "unk_token": t.UnkToken} {
		if v != nil {
			m[k] = v.Content
		}
	}
	return m
}

// ParseTokenizerConfig parses tokenizer_config.json bytes.
func ParseTokenizerConfig(data []byte, source string) (*TokenizerConfig, error) {
	o, err := newObject(source, "", data)
	if err != nil {
		return nil, err
	}
	t := &TokenizerConfig{}
	if r, ok := o.raw("chat_template"); ok {
		t.ChatTemplate, t.ChatTemplates = parseChatTemplateField(o, "chat_template", r)
	}
	t.BosToken = o.optToken("bos_token")
	t.EosToken = o.optToken("eos_token")
	t.PadToken = o.optToken("pad_token")
	t.UnkToken = o.optToken("unk_token")
	if r, ok := o.raw("additional_special_tokens"); ok {
		var items []json.RawMessage
		if err := json.Unmarshal(r, &items); err != nil {
			o.fail("additional_special_tokens", "want a list, got %s", describe(r))
		}
		for i, it := range items {
			if tok, ok := parseAddedToken(o, "additional_special_tokens["+strconv.Itoa(i)+"]", it); ok {
				t.AdditionalSpecialTokens = append(t.AdditionalSpecialTokens, tok)
			}
		}
	}
	if r, ok := o.raw("added_tokens_decoder"); ok {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(r, &m); err != nil {
			o.fail("added_tokens_decoder", "want an object keyed by token id, got %s", describe(r))
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.AddedTokensDecoder = map[int]AddedToken{}
		for _, k := range keys {
			id, err := strconv.Atoi(k)
			if err != nil || id < 0 {
				o.fail("added_tokens_decoder", "key %q is not a token id", k)
				break
			}
			tok, ok := parseAddedToken(o, "added_tokens_decoder."+k, m[k])
			if !ok {
				break
			}
			t.AddedTokensDecoder[id] = tok
		}
	}
	t.ModelMaxLength = o.float("model_max_length", 0)
	t.AddBosToken = o.optBool("add_bos_token")
	t.AddEosToken = o.optBool("add_eos_token")
	t.CleanUpTokenizationSpaces = o.optBool("clean_up_tokenization_spaces")
	t.TokenizerClass = o.str("tokenizer_class", "")
	t.Extra = o.extra()
	if o.err != nil {
		return nil, o.err
	}
	return t, nil
}

// parseChatTemplateField reads "chat_template": a string, or a list of
// {"name": ..., "template": ...} (transformers' multi-template form).
func parseChatTemplateField(o *object, key string, r json.RawMessage) (string, map[string]string) {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s, nil
	}
	var list []struct {
		Name     *string `json:"name"`
		Template *string `json:"template"`
	}
	if err := json.Unmarshal(r, &list); err != nil {
		o.fail(key, "want a string or a list of {\"name\", \"template\"}, got %s", describe(r))
		return "", nil
	}
	named := map[string]string{}
	for i, e := range list {
		if e.Name == nil || e.Template == nil {
			o.fail(key, "entry %d lacks \"name\" or \"template\"", i)
			return "", nil
		}
		named[*e.Name] = *e.Template
	}
	return named["default"], named
}

// LoadTokenizerConfig reads tokenizer_config.json from a directory or file.
func LoadTokenizerConfig(path string) (*TokenizerConfig, error) {
	file, err := resolve(path, "tokenizer_config.json")
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseTokenizerConfig(data, file)
}

// ChatTemplateSource says which file a chat template came from.
type ChatTemplateSource string

const (
	FromChatTemplateJSON  ChatTemplateSource = "chat_template.json"
	FromChatTemplateJinja ChatTemplateSource = "chat_template.jinja"
	FromProcessorConfig   ChatTemplateSource = "processor_config.json"
	FromTokenizerConfig   ChatTemplateSource = "tokenizer_config.json"
)

// ChatTemplate is the template found in a checkpoint directory.
type ChatTemplate struct {
	Template string
	Source   ChatTemplateSource
	// Named holds additional_chat_templates/*.jinja by file stem.
	Named map[string]string
}

// ErrNoChatTemplate is returned when a directory has no chat template.
var ErrNoChatTemplate = errors.New("no chat template")

// LoadChatTemplate finds the chat template a processor would use in the
// checkpoint directory dir, in the order of transformers' ProcessorMixin
// (processing_utils.get_processor_dict, v4.52 and later):
//
//  1. chat_template.json {"chat_template": ...} (the legacy file, which wins
//     over chat_template.jinja when both exist),
//  2. chat_template.jinja (raw text),
//  3. processor_config.json's "chat_template" key,
//
// then, for a text-only checkpoint, the tokenizer's: chat_template.jinja
// (already covered) or tokenizer_config.json's "chat_template".
func LoadChatTemplate(dir string) (*ChatTemplate, error) {
	ct := &ChatTemplate{}
	named, err := filepath.Glob(filepath.Join(dir, "additional_chat_templates", "*.jinja"))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	sort.Strings(named)
	for _, f := range named {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if ct.Named == nil {
			ct.Named = map[string]string{}
		}
		ct.Named[strings.TrimSuffix(filepath.Base(f), ".jinja")] = string(b)
	}

	jsonFile := filepath.Join(dir, string(FromChatTemplateJSON))
	if b, err := os.ReadFile(jsonFile); err == nil {
		o, err := newObject(jsonFile, "", b)
		if err != nil {
			return nil, err
		}
		r, ok := o.raw("chat_template")
		if !ok {
			return nil, fmt.Errorf("%s: chat_template: missing", jsonFile)
		}
		ct.Template, _ = parseChatTemplateField(o, "chat_template", r)
		if o.err != nil {
			return nil, o.err
		}
		if ct.Named != nil {
			return nil, fmt.Errorf("%s: cannot be combined with additional_chat_templates/ (transformers refuses this too)", jsonFile)
		}
		ct.Source = FromChatTemplateJSON
		return ct, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config: %w", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, string(FromChatTemplateJinja))); err == nil {
		ct.Template, ct.Source = string(b), FromChatTemplateJinja
		return ct, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config: %w", err)
	}
	for _, src := range []ChatTemplateSource{FromProcessorConfig, FromTokenizerConfig} {
		file := filepath.Join(dir, string(src))
		b, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		o, err := newObject(file, "", b)
		if err != nil {
			return nil, err
		}
		if r, ok := o.raw("chat_template"); ok {
			tmpl, all := parseChatTemplateField(o, "chat_template", r)
			if o.err != nil {
				return nil, o.err
			}
			for k, v := range all {
				if k == "default" {
					continue
				}
				if ct.Named == nil {
					ct.Named = map[string]string{}
				}
				ct.Named[k] = v
			}
			ct.Template, ct.Source = tmpl, src
			return ct, nil
		}
	}
	if ct.Named != nil {
		return ct, nil
	}
	return nil, fmt.Errorf("config: %s: %w", dir, ErrNoChatTemplate)
}
