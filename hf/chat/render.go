package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"
)

// Options are the keyword arguments of transformers' apply_chat_template
// that reach the template.
type Options struct {
	// AddGenerationPrompt appends the assistant header (add_generation_prompt).
	AddGenerationPrompt bool
	// Tools are JSON schemas ({"type": "function", "function": {...}}); nil
	// renders tools as None, as transformers does when none are given.
	Tools []json.RawMessage
	// Documents are JSON objects for retrieval templates; nil renders None.
	Documents []json.RawMessage
	// SpecialTokens is the tokenizer's special_tokens_map ("bos_token",
	// "eos_token", "pad_token", "unk_token", ...). Tokens that are absent stay
	// undefined in the template, as in transformers where unset tokens are
	// left out of the map.
	SpecialTokens map[string]string
	// Vars are further template variables (for example "enable_thinking":
	// false). Values are Go values (bool, ints, float64, string, []any,
	// map[string]any with keys sorted, []Field, nil) or json.RawMessage.
	Vars map[string]any
	// Now is the clock of strftime_now; nil means time.Now.
	Now func() time.Time
}

// Template is a compiled chat template. It is safe for concurrent use.
type Template struct {
	t *jinja.Template
}

// ErrUnsupported marks template features whose output would differ from
// transformers' and which are refused rather than rendered differently.
var ErrUnsupported = errors.New("not supported")

// indentedToJSON finds tojson(indent=...): the library renders it with Go's
// encoding/json (sorted keys, HTML escapes), not as Python's json.dumps would.
var indentedToJSON = regexp.MustCompile(`tojson\s*\([^)]*indent\s*=`)

// Compile parses a chat template.
func Compile(src string) (*Template, error) {
	if indentedToJSON.MatchString(src) {
		return nil, fmt.Errorf("chat template: tojson(indent=...) is %w (output would not match transformers byte for byte)", ErrUnsupported)
	}
	t, err := jinja.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	return &Template{t: t}, nil
}

// Render compiles template and renders msgs with opts; see Template.Render.
func Render(template string, msgs []Message, opts Options) (string, error) {
	t, err := Compile(template)
	if err != nil {
		return "", err
	}
	return t.Render(msgs, opts)
}

// Render renders the conversation msgs with transformers' apply_chat_template
// semantics (tokenize=False): variables messages, tools, documents,
// add_generation_prompt, the special tokens and Vars; globals
// raise_exception and strftime_now.
func (t *Template) Render(msgs []Message, opts Options) (string, error) {
	data := make(map[string]jinja.Value, 8+len(opts.SpecialTokens)+len(opts.Vars))
	// Order of precedence as in transformers: special tokens, then kwargs,
	// then the named arguments.
	for k, v := range opts.SpecialTokens {
		data[k] = jinja.NewString(v)
	}
	for k, v := range opts.Vars {
		jv, err := toValue(v)
		if err != nil {
			return "", fmt.Errorf("chat: vars[%q]: %w", k, err)
		}
		data[k] = jv
	}
	ms := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		v, err := messageValue(m)
		if err != nil {
			return "", fmt.Errorf("chat: messages[%d]: %w", i, err)
		}
		ms[i] = v
	}
	data["messages"] = jinja.NewList(ms)
	var err error
	if data["tools"], err = rawList(opts.Tools); err != nil {
		return "", fmt.Errorf("chat: tools: %w", err)
	}
	if data["documents"], err = rawList(opts.Documents); err != nil {
		return "", fmt.Errorf("chat: documents: %w", err)
	}
	data["add_generation_prompt"] = jinja.NewBool(opts.AddGenerationPrompt)
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	data["strftime_now"] = jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(args) != 1 || !args[0].IsString() {
			return jinja.Undefined(), errors.New("strftime_now: want one string argument")
		}
		return jinja.NewString(Strftime(now(), args[0].AsString())), nil
	})
	data["raise_exception"] = jinja.NewCallable("raise_exception", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		msg := ""
		if len(args) > 0 {
			msg = args[0].String()
			if args[0].IsString() {
				msg = args[0].AsString()
			}
		}
		return jinja.Undefined(), &TemplateError{Message: msg}
	})
	out, err := t.t.RenderValues(data)
	if err != nil {
		var te *TemplateError
		if errors.As(err, &te) {
			return "", err
		}
		return "", fmt.Errorf("chat: render: %w", err)
	}
	return out, nil
}

// TemplateError is the error of the template's raise_exception(message).
type TemplateError struct{ Message string }

func (e *TemplateError) Error() string { return "chat template raised: " + e.Message }

func messageValue(m Message) (jinja.Value, error) {
	v := jinja.NewDict()
	d := v.AsDict()
	d.Set("role", jinja.NewString(m.Role))
	if m.Parts != nil {
		items := make([]jinja.Value, len(m.Parts))
		for i, p := range m.Parts {
			pv, err := partValue(p)
			if err != nil {
				return v, fmt.Errorf("content[%d]: %w", i, err)
			}
			items[i] = pv
		}
		d.Set("content", jinja.NewList(items))
	} else {
		d.Set("content", jinja.NewString(m.Text))
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]jinja.Value, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			cv, err := toolCallValue(c)
			if err != nil {
				return v, fmt.Errorf("tool_calls[%d]: %w", i, err)
			}
			calls[i] = cv
		}
		d.Set("tool_calls", jinja.NewList(calls))
	}
	for _, f := range m.Extra {
		fv, err := toValue(f.Value)
		if err != nil {
			return v, fmt.Errorf("%s: %w", f.Key, err)
		}
		d.Set(f.Key, fv)
	}
	return v, nil
}

func partValue(p Part) (jinja.Value, error) {
	v := jinja.NewDict()
	d := v.AsDict()
	d.Set("type", jinja.NewString(p.Type))
	if p.Type == "text" || p.Text != "" {
		d.Set("text", jinja.NewString(p.Text))
	}
	for _, f := range p.Extra {
		fv, err := toValue(f.Value)
		if err != nil {
			return v, fmt.Errorf("%s: %w", f.Key, err)
		}
		d.Set(f.Key, fv)
	}
	return v, nil
}

func toolCallValue(c ToolCall) (jinja.Value, error) {
	v := jinja.NewDict()
	d := v.AsDict()
	if c.ID != "" {
		d.Set("id", jinja.NewString(c.ID))
	}
	typ := c.Type
	if typ == "" {
		typ = "function"
	}
	d.Set("type", jinja.NewString(typ))
	fn := jinja.NewDict()
	fn.AsDict().Set("name", jinja.NewString(c.Name))
	args := jinja.NewDict()
	if len(bytes.TrimSpace(c.Arguments)) > 0 {
		var err error
		if args, err = jsonValue(c.Arguments); err != nil {
			return v, fmt.Errorf("arguments: %w", err)
		}
	}
	fn.AsDict().Set("arguments", args)
	d.Set("function", fn)
	return v, nil
}

func rawList(items []json.RawMessage) (jinja.Value, error) {
	if items == nil {
		return jinja.None(), nil
	}
	out := make([]jinja.Value, len(items))
	for i, it := range items {
		v, err := jsonValue(it)
		if err != nil {
			return v, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = v
	}
	return jinja.NewList(out), nil
}

// jsonValue decodes JSON into a template value, keeping object key order and
// the distinction between integers and floats (as Python's json.loads does).
func jsonValue(b []byte) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return jinja.Undefined(), err
	}
	if dec.More() {
		return jinja.Undefined(), errors.New("trailing data after JSON value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return jinja.Undefined(), err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := jinja.NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return v, err
				}
				key, _ := kt.(string)
				item, err := decodeValue(dec)
				if err != nil {
					return v, err
				}
				v.AsDict().Set(key, item)
			}
			_, err := dec.Token()
			return v, err
		case '[':
			var items []jinja.Value
			for dec.More() {
				item, err := decodeValue(dec)
				if err != nil {
					return jinja.Undefined(), err
				}
				items = append(items, item)
			}
			_, err := dec.Token()
			return jinja.NewList(items), err
		}
		return jinja.Undefined(), fmt.Errorf("unexpected %v", t)
	case nil:
		return jinja.None(), nil
	case bool:
		return jinja.NewBool(t), nil
	case string:
		return jinja.NewString(t), nil
	case json.Number:
		return numberValue(string(t))
	}
	return jinja.Undefined(), fmt.Errorf("unexpected JSON token %v", tok)
}

func numberValue(s string) (jinja.Value, error) {
	n := json.Number(s)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := n.Int64(); err == nil {
			return jinja.NewInt(i), nil
		}
	}
	f, err := n.Float64()
	if err != nil {
		return jinja.Undefined(), fmt.Errorf("number %s: %w", s, err)
	}
	return jinja.NewFloat(f), nil
}

// toValue converts a Go value for the template. Maps are converted with
// their keys sorted (Go maps have no order); use []Field or
// json.RawMessage to keep an order.
func toValue(x any) (jinja.Value, error) {
	switch v := x.(type) {
	case nil:
		return jinja.None(), nil
	case jinja.Value:
		return v, nil
	case json.RawMessage:
		return jsonValue(v)
	case json.Number:
		return numberValue(string(v))
	case bool:
		return jinja.NewBool(v), nil
	case string:
		return jinja.NewString(v), nil
	case int:
		return jinja.NewInt(int64(v)), nil
	case int64:
		return jinja.NewInt(v), nil
	case int32:
		return jinja.NewInt(int64(v)), nil
	case float64:
		return jinja.NewFloat(v), nil
	case float32:
		return jinja.NewFloat(float64(v)), nil
	case []Field:
		d := jinja.NewDict()
		for _, f := range v {
			fv, err := toValue(f.Value)
			if err != nil {
				return d, fmt.Errorf("%s: %w", f.Key, err)
			}
			d.AsDict().Set(f.Key, fv)
		}
		return d, nil
	case []any:
		items := make([]jinja.Value, len(v))
		for i, it := range v {
			iv, err := toValue(it)
			if err != nil {
				return iv, fmt.Errorf("[%d]: %w", i, err)
			}
			items[i] = iv
		}
		return jinja.NewList(items), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := jinja.NewDict()
		for _, k := range keys {
			iv, err := toValue(v[k])
			if err != nil {
				return d, fmt.Errorf("%s: %w", k, err)
			}
			d.AsDict().Set(k, iv)
		}
		return d, nil
	case []string:
		items := make([]jinja.Value, len(v))
		for i, s := range v {
			items[i] = jinja.NewString(s)
		}
		return jinja.NewList(items), nil
	}
	return jinja.Undefined(), fmt.Errorf("unsupported Go type %s", reflect.TypeOf(x))
}
