package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerationConfig(t *testing.T) {
	g, err := ParseGenerationConfig([]byte(`{"bos_token_id":151643,"eos_token_id":[151645,151643],"pad_token_id":151643,
		"do_sample":true,"temperature":0.7,"top_p":0.8,"top_k":20,"repetition_penalty":1.05,"transformers_version":"4.45.0"}`), "generation_config.json")
	if err != nil {
		t.Fatal(err)
	}
	if *g.BosTokenID != 151643 || !g.EosTokenID.IsList || len(g.EosTokenID.Values) != 2 || !g.DoSample ||
		g.Temperature != 0.7 || g.TopP != 0.8 || g.TopK != 20 || g.RepetitionPenalty != 1.05 || g.MaxLength != 20 || g.MaxNewTokens != nil ||
		string(g.Extra["transformers_version"]) != `"4.45.0"` {
		t.Errorf("%+v", g)
	}
	g, err = ParseGenerationConfig([]byte(`{"eos_token_id":2,"max_new_tokens":64}`), "generation_config.json")
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := g.EosTokenID.Int(); e != 2 || g.EosTokenID.IsList || g.DoSample || g.Temperature != 1 || g.TopP != 1 || g.TopK != 50 || *g.MaxNewTokens != 64 {
		t.Errorf("defaults %+v", g)
	}
	for in, want := range map[string]string{
		`{"top_p":1.5}`:               "generation_config.json: top_p: 1.5 is not in [0, 1]",
		`{"eos_token_id":"x"}`:        `generation_config.json: eos_token_id: want an integer or a list of integers, got "x"`,
		`{"max_new_tokens":0}`:        "generation_config.json: max_new_tokens: 0 is not positive",
		`{"do_sample":"no"}`:          `generation_config.json: do_sample: want true or false, got "no"`,
		`{"repetition_penalty":0}`:    "generation_config.json: repetition_penalty: 0 is not positive",
		`{"top_k":-1}`:                "generation_config.json: top_k: -1 is negative",
		`{"temperature":-0.5}`:        "generation_config.json: temperature: -0.5 is negative",
		`{"pad_token_id":[1]}`:        "generation_config.json: pad_token_id: want an integer or null, got [1]",
		`["not","an","object"]`:       "generation_config.json: want a JSON object, got array",
		`{"top_k":50,"top_p":"high"}`: `generation_config.json: top_p: want a number, got "high"`,
	} {
		if _, err := ParseGenerationConfig([]byte(in), "generation_config.json"); err == nil || err.Error() != want {
			t.Errorf("%s: got %v\nwant %s", in, err, want)
		}
	}
}

func TestTokenizerConfigQwen3(t *testing.T) {
	tc, err := LoadTokenizerConfig(filepath.Join("testdata", "qwen3.tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tc.ChatTemplate, "{%- if tools %}") || tc.BosToken != nil || tc.EosToken.Content != "<|im_end|>" ||
		tc.PadToken.Content != "<|endoftext|>" || tc.UnkToken != nil || tc.ModelMaxLength != 131072 ||
		*tc.AddBosToken || *tc.CleanUpTokenizationSpaces || tc.TokenizerClass != "Qwen2Tokenizer" ||
		len(tc.AdditionalSpecialTokens) != 13 || len(tc.AddedTokensDecoder) != 26 {
		t.Errorf("%+v", tc)
	}
	if tok := tc.AddedTokensDecoder[151644]; tok.Content != "<|im_start|>" || !tok.Special || tok.Normalized {
		t.Errorf("151644: %+v", tok)
	}
	st := tc.SpecialTokens()
	if len(st) != 2 || st["eos_token"] != "<|im_end|>" || st["pad_token"] != "<|endoftext|>" {
		t.Errorf("special tokens %v", st)
	}
}

func TestTokenizerConfigForms(t *testing.T) {
	tc, err := ParseTokenizerConfig([]byte(`{
		"chat_template":[{"name":"default","template":"D"},{"name":"tool_use","template":"T"}],
		"bos_token":{"content":"<s>","lstrip":false,"normalized":true,"rstrip":false,"single_word":false,"__type":"AddedToken"},
		"eos_token":"</s>", "unk_token": null, "model_max_length": 1000000000000000019884624838656,
		"additional_special_tokens":["<a>",{"content":"<b>","special":true}]}`), "tokenizer_config.json")
	if err != nil {
		t.Fatal(err)
	}
	if tc.ChatTemplate != "D" || tc.ChatTemplates["tool_use"] != "T" || tc.BosToken.Content != "<s>" || !tc.BosToken.Normalized ||
		tc.EosToken.Content != "</s>" || tc.UnkToken != nil || tc.ModelMaxLength < 1e29 ||
		len(tc.AdditionalSpecialTokens) != 2 || !tc.AdditionalSpecialTokens[1].Special {
		t.Errorf("%+v", tc)
	}
	for in, want := range map[string]string{
		`{"chat_template":3}`:                                          `tokenizer_config.json: chat_template: want a string or a list of {"name", "template"}, got 3`,
		`{"chat_template":[{"name":"x"}]}`:                             `tokenizer_config.json: chat_template: entry 0 lacks "name" or "template"`,
		`{"eos_token":{"lstrip":true}}`:                                "tokenizer_config.json: eos_token.content: missing",
		`{"eos_token":5}`:                                              "tokenizer_config.json: eos_token: want a string or an AddedToken object, got 5",
		`{"added_tokens_decoder":{"x":{"content":"a"}}}`:               `tokenizer_config.json: added_tokens_decoder: key "x" is not a token id`,
		`{"added_tokens_decoder":{"7":{"content":"a","special":"y"}}}`: `tokenizer_config.json: added_tokens_decoder.7.special: want true or false, got "y"`,
		`{"add_bos_token":1}`:                                          "tokenizer_config.json: add_bos_token: want true or false, got 1",
	} {
		if _, err := ParseTokenizerConfig([]byte(in), "tokenizer_config.json"); err == nil || err.Error() != want {
			t.Errorf("%s: got %v\nwant %s", in, err, want)
		}
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadChatTemplatePrecedence(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadChatTemplate(dir); !errors.Is(err, ErrNoChatTemplate) {
		t.Fatalf("empty dir: %v", err)
	}
	write(t, dir, "tokenizer_config.json", `{"chat_template":"TOK"}`)
	check := func(want string, src ChatTemplateSource) {
		t.Helper()
		ct, err := LoadChatTemplate(dir)
		if err != nil {
			t.Fatal(err)
		}
		if ct.Template != want || ct.Source != src {
			t.Fatalf("got %q from %s, want %q from %s", ct.Template, ct.Source, want, src)
		}
	}
	check("TOK", FromTokenizerConfig)
	write(t, dir, "processor_config.json", `{"chat_template":"PROC","num_image_tokens":729}`)
	check("PROC", FromProcessorConfig)
	write(t, dir, "chat_template.jinja", "JINJA\n")
	check("JINJA\n", FromChatTemplateJinja)
	write(t, dir, "chat_template.json", `{"chat_template":"JSON"}`)
	check("JSON", FromChatTemplateJSON)

	write(t, dir, "additional_chat_templates/tool_use.jinja", "TOOLS")
	if _, err := LoadChatTemplate(dir); err == nil || !strings.Contains(err.Error(), "cannot be combined") {
		t.Fatalf("json + additional: %v", err)
	}
	os.Remove(filepath.Join(dir, "chat_template.json"))
	ct, err := LoadChatTemplate(dir)
	if err != nil || ct.Template != "JINJA\n" || ct.Named["tool_use"] != "TOOLS" {
		t.Fatalf("%+v %v", ct, err)
	}
	write(t, dir, "chat_template.json", `{"template":"x"}`)
	if _, err := LoadChatTemplate(dir); err == nil || !strings.HasSuffix(err.Error(), "chat_template.json: chat_template: missing") {
		t.Fatalf("got %v", err)
	}
}
