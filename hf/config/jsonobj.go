package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// object reads the fields of one JSON object with strict types. The first
// error is kept (later reads return defaults) and names the file and the
// field's path: "config.json: text_config.hidden_size: want an integer, got "8"".
type object struct {
	file   string
	path   string // "" at top level, "text_config" inside it
	fields map[string]json.RawMessage
	used   map[string]bool
	err    error
}

func newObject(file, path string, data []byte) (*object, error) {
	o := &object{file: file, path: path, used: map[string]bool{}}
	if err := json.Unmarshal(data, &o.fields); err != nil || o.fields == nil {
		if err == nil {
			err = fmt.Errorf("want a JSON object, got null")
		}
		if path == "" {
			return nil, fmt.Errorf("%s: %w", file, jsonErr(err))
		}
		return nil, fmt.Errorf("%s: %s: %w", file, path, jsonErr(err))
	}
	return o, nil
}

func jsonErr(err error) error {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Errorf("want a JSON object, got %s", te.Value)
	}
	return err
}

func (o *object) name(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func (o *object) fail(key, format string, args ...any) {
	if o.err == nil {
		o.err = fmt.Errorf("%s: %s: %s", o.file, o.name(key), fmt.Sprintf(format, args...))
	}
}

// failf records an error about the object as a whole or a derived quantity.
func (o *object) failf(format string, args ...any) {
	if o.err == nil {
		if o.path == "" {
			o.err = fmt.Errorf("%s: %s", o.file, fmt.Sprintf(format, args...))
		} else {
			o.err = fmt.Errorf("%s: %s: %s", o.file, o.path, fmt.Sprintf(format, args...))
		}
	}
}

// raw returns the field's JSON and whether it is present and not null.
func (o *object) raw(key string) (json.RawMessage, bool) {
	r, ok := o.fields[key]
	o.used[key] = true
	if !ok || bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
		return nil, false
	}
	return r, true
}

func (o *object) has(key string) bool { _, ok := o.fields[key]; return ok }

func describe(r json.RawMessage) string {
	s := string(bytes.TrimSpace(r))
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return s
}

func parseInt(r json.RawMessage) (int, bool) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || r[0] == '"' {
		return 0, false // json.Number would accept a quoted number
	}
	var n json.Number
	if json.Unmarshal(r, &n) != nil {
		return 0, false
	}
	i, err := strconv.Atoi(string(n))
	if err != nil {
		return 0, false
	}
	return i, true
}

func (o *object) int(key string, def int) int {
	r, ok := o.raw(key)
	if !ok {
		return def
	}
	i, ok := parseInt(r)
	if !ok {
		o.fail(key, "want an integer, got %s", describe(r))
		return def
	}
	return i
}

// optInt returns nil when the key is absent or null.
func (o *object) optInt(key string) *int {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	i, ok := parseInt(r)
	if !ok {
		o.fail(key, "want an integer or null, got %s", describe(r))
		return nil
	}
	return &i
}

func (o *object) float(key string, def float64) float64 {
	r, ok := o.raw(key)
	if !ok {
		return def
	}
	var f float64
	if err := json.Unmarshal(r, &f); err != nil {
		o.fail(key, "want a number, got %s", describe(r))
		return def
	}
	return f
}

func (o *object) optFloat(key string) *float64 {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	var f float64
	if err := json.Unmarshal(r, &f); err != nil {
		o.fail(key, "want a number or null, got %s", describe(r))
		return nil
	}
	return &f
}

func (o *object) str(key, def string) string {
	r, ok := o.raw(key)
	if !ok {
		return def
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		o.fail(key, "want a string, got %s", describe(r))
		return def
	}
	return s
}

func (o *object) boolean(key string, def bool) bool {
	p := o.optBool(key)
	if p == nil {
		return def
	}
	return *p
}

func (o *object) optBool(key string) *bool {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	var b bool
	if err := json.Unmarshal(r, &b); err != nil {
		o.fail(key, "want true or false, got %s", describe(r))
		return nil
	}
	return &b
}

func (o *object) strings(key string) []string {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	var s []string
	if err := json.Unmarshal(r, &s); err != nil {
		o.fail(key, "want a list of strings, got %s", describe(r))
		return nil
	}
	return s
}

// intOrList reads an integer or a list of integers (eos_token_id,
// vision_feature_layer).
func (o *object) intOrList(key string) (IntOrList, bool) {
	r, ok := o.raw(key)
	if !ok {
		return IntOrList{}, false
	}
	if i, ok := parseInt(r); ok {
		return IntOrList{Values: []int{i}}, true
	}
	var list []json.RawMessage
	if json.Unmarshal(r, &list) == nil {
		v := IntOrList{IsList: true, Values: make([]int, 0, len(list))}
		for _, it := range list {
			i, ok := parseInt(it)
			if !ok {
				o.fail(key, "want an integer or a list of integers, got %s", describe(r))
				return IntOrList{}, false
			}
			v.Values = append(v.Values, i)
		}
		return v, true
	}
	o.fail(key, "want an integer or a list of integers, got %s", describe(r))
	return IntOrList{}, false
}

// generic decodes any JSON value (for pass-through fields like rope_scaling).
func (o *object) generic(key string) map[string]any {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		o.fail(key, "want an object or null, got %s", describe(r))
		return nil
	}
	return m
}

// extra returns the fields that no getter read, for round trips.
func (o *object) extra() map[string]json.RawMessage {
	var out map[string]json.RawMessage
	for k, v := range o.fields {
		if o.used[k] {
			continue
		}
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		out[k] = v
	}
	return out
}

// IntOrList is a JSON field that may hold an integer or a list of integers.
type IntOrList struct {
	Values []int
	IsList bool // written as a list even with one value
}

// String formats the value as config.json writes it: "-1" or "[-2, -5]".
func (v IntOrList) String() string {
	if !v.IsList && len(v.Values) == 1 {
		return strconv.Itoa(v.Values[0])
	}
	parts := make([]string, len(v.Values))
	for i, x := range v.Values {
		parts[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Int returns the single value, or the first of a list, and false when empty.
func (v IntOrList) Int() (int, bool) {
	if len(v.Values) == 0 {
		return 0, false
	}
	return v.Values[0], true
}

// MarshalJSON writes an integer, a list, or null when empty.
func (v IntOrList) MarshalJSON() ([]byte, error) {
	if len(v.Values) == 0 && !v.IsList {
		return []byte("null"), nil
	}
	if !v.IsList && len(v.Values) == 1 {
		return json.Marshal(v.Values[0])
	}
	if v.Values == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(v.Values)
}

// writer builds a JSON object; encoding/json writes map keys sorted, as
// transformers' to_json_string(sort_keys=True) does.
type writer map[string]any

func (w writer) merge(extra map[string]json.RawMessage) {
	for k, v := range extra {
		if _, ok := w[k]; !ok {
			w[k] = v
		}
	}
}

// encodeJSON writes v with two-space indentation, no HTML escaping and a
// final newline.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
