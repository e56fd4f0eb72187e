package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"golang.org/x/text/unicode/norm"
)

type fileJSON struct {
	Version       string            `json:"version"`
	Truncation    json.RawMessage   `json:"truncation"`
	Padding       json.RawMessage   `json:"padding"`
	AddedTokens   []json.RawMessage `json:"added_tokens"`
	Normalizer    json.RawMessage   `json:"normalizer"`
	PreTokenizer  json.RawMessage   `json:"pre_tokenizer"`
	PostProcessor json.RawMessage   `json:"post_processor"`
	Decoder       json.RawMessage   `json:"decoder"`
	Model         json.RawMessage   `json:"model"`
}

type modelJSON struct {
	Type                    *string         `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

// component is the common shape of normalizers, pre-tokenizers,
// post-processors and decoders.
type component struct {
	Type           string            `json:"type"`
	Normalizers    []json.RawMessage `json:"normalizers"`
	Pretokenizers  []json.RawMessage `json:"pretokenizers"`
	Processors     []json.RawMessage `json:"processors"`
	Decoders       []json.RawMessage `json:"decoders"`
	Pattern        json.RawMessage   `json:"pattern"`
	Behavior       string            `json:"behavior"`
	Invert         bool              `json:"invert"`
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	Single         []json.RawMessage `json:"single"`
	SpecialTokens  map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func compact(raw json.RawMessage) []byte {
	if isNull(raw) {
		return []byte("null")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return []byte("null")
	}
	return b.Bytes()
}

func unsupported(field, typ string) error {
	return fmt.Errorf("%s.type %q is not supported", field, typ)
}

func fromJSON(data []byte, name string) (*Tokenizer, error) {
	t, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

func parse(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if !isNull(f.Truncation) {
		return nil, errors.New("truncation is not supported (want null)")
	}
	if !isNull(f.Padding) {
		return nil, errors.New("padding is not supported (want null)")
	}
	if isNull(f.Model) {
		return nil, errors.New("model is missing")
	}
	t := &Tokenizer{}
	var err error
	if t.normalizer, err = parseNormalizer(f.Normalizer, "normalizer"); err != nil {
		return nil, err
	}
	t.rawNormalizer = compact(f.Normalizer)
	if t.pre, err = parsePre(f.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, err
	}
	if err := t.checkPre("pre_tokenizer"); err != nil {
		return nil, err
	}
	t.rawPre = compact(f.PreTokenizer)
	if t.decoder, err = parseDecoder(f.Decoder, "decoder"); err != nil {
		return nil, err
	}
	t.rawDecoder = compact(f.Decoder)
	if t.model, err = parseModel(f.Model, "model"); err != nil {
		return nil, err
	}
	added := make([]AddedToken, len(f.AddedTokens))
	for i, raw := range f.AddedTokens {
		if added[i], err = parseAdded(raw); err != nil {
			return nil, fmt.Errorf("added_tokens[%d]: %w", i, err)
		}
	}
	t.setAdded(added)
	if t.template, err = t.parsePost(f.PostProcessor, "post_processor"); err != nil {
		return nil, err
	}
	t.rawPost = compact(f.PostProcessor)
	return t, nil
}

func parseAdded(raw json.RawMessage) (AddedToken, error) {
	var a struct {
		ID         *int    `json:"id"`
		Content    *string `json:"content"`
		SingleWord bool    `json:"single_word"`
		LStrip     bool    `json:"lstrip"`
		RStrip     bool    `json:"rstrip"`
		Normalized *bool   `json:"normalized"`
		Special    bool    `json:"special"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return AddedToken{}, err
	}
	if a.Content == nil {
		return AddedToken{}, errors.New("content is missing")
	}
	tok := AddedToken{Content: *a.Content, SingleWord: a.SingleWord, LStrip: a.LStrip, RStrip: a.RStrip,
		Normalized: true, Special: a.Special}
	if a.ID != nil {
		tok.ID = *a.ID
	}
	if a.Normalized != nil {
		tok.Normalized = *a.Normalized
	}
	return tok, nil
}

func parseNormalizer(raw json.RawMessage, field string) ([]norm.Form, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	switch c.Type {
	case "NFC":
		return []norm.Form{norm.NFC}, nil
	case "NFD":
		return []norm.Form{norm.NFD}, nil
	case "NFKC":
		return []norm.Form{norm.NFKC}, nil
	case "NFKD":
		return []norm.Form{norm.NFKD}, nil
	case "Sequence":
		var out []norm.Form
		for i, sub := range c.Normalizers {
			fs, err := parseNormalizer(sub, fmt.Sprintf("%s.normalizers[%d]", field, i))
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
		}
		return out, nil
	}
	return nil, unsupported(field, c.Type)
}

func parsePre(raw json.RawMessage, field string) ([]preStep, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	switch c.Type {
	case "Sequence":
		var out []preStep
		for i, sub := range c.Pretokenizers {
			st, err := parsePre(sub, fmt.Sprintf("%s.pretokenizers[%d]", field, i))
			if err != nil {
				return nil, err
			}
			out = append(out, st...)
		}
		return out, nil
	case "ByteLevel":
		// Hugging Face's defaults: add_prefix_space true, use_regex true.
		st := preStep{isByteLevel: true, addPrefixSpace: true}
		if c.AddPrefixSpace != nil {
			st.addPrefixSpace = *c.AddPrefixSpace
		}
		if c.UseRegex == nil || *c.UseRegex {
			st.split = matchGPT2
		}
		return []preStep{st}, nil
	case "Split":
		if c.Behavior != "Isolated" {
			return nil, fmt.Errorf("%s.behavior %q is not supported (want \"Isolated\")", field, c.Behavior)
		}
		if c.Invert {
			return nil, fmt.Errorf("%s.invert true is not supported", field)
		}
		var p struct {
			Regex  *string
			String *string
		}
		if err := json.Unmarshal(c.Pattern, &p); err != nil {
			return nil, fmt.Errorf("%s.pattern: %w", field, err)
		}
		switch {
		case p.String != nil:
			return []preStep{{literal: *p.String}}, nil
		case p.Regex != nil && *p.Regex == qwen2Pattern:
			return []preStep{{split: matchQwen2}}, nil
		case p.Regex != nil && *p.Regex == gpt2Pattern:
			return []preStep{{split: matchGPT2}}, nil
		case p.Regex != nil:
			return nil, fmt.Errorf("%s.pattern.Regex %q is not supported (only the Qwen2 and GPT-2 patterns are implemented)", field, *p.Regex)
		}
		return nil, fmt.Errorf("%s.pattern: want {\"Regex\": ...} or {\"String\": ...}", field)
	}
	return nil, unsupported(field, c.Type)
}

// checkPre requires at most one ByteLevel step, and that it is the last one
// (its byte mapping is applied just before BPE).
func (t *Tokenizer) checkPre(field string) error {
	var splits []splitFunc
	prefix := false
	for _, st := range t.pre {
		if st.split != nil {
			splits = append(splits, st.split)
		} else if !st.isByteLevel {
			splits = append(splits, nil) // literal split
		}
		prefix = prefix || st.addPrefixSpace
	}
	t.singleSplit = nil
	if len(splits) == 1 && splits[0] != nil && !prefix {
		t.singleSplit = splits[0]
	}
	for i, st := range t.pre {
		if st.isByteLevel {
			if i != len(t.pre)-1 {
				return fmt.Errorf("%s: ByteLevel must be the last pre-tokenizer", field)
			}
			t.byteLevel = true
		}
	}
	return nil
}

func parseDecoder(raw json.RawMessage, field string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	switch c.Type {
	case "ByteLevel":
		return "ByteLevel", nil
	case "Sequence":
		if len(c.Decoders) == 1 {
			return parseDecoder(c.Decoders[0], field+".decoders[0]")
		}
		return "", fmt.Errorf("%s.decoders: only a Sequence of one ByteLevel decoder is supported", field)
	}
	return "", unsupported(field, c.Type)
}

func (t *Tokenizer) parsePost(raw json.RawMessage, field string) (*template, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	switch c.Type {
	case "ByteLevel":
		return nil, nil // only trims offsets; ids are unchanged
	case "Sequence":
		var out *template
		for i, sub := range c.Processors {
			tp, err := t.parsePost(sub, fmt.Sprintf("%s.processors[%d]", field, i))
			if err != nil {
				return nil, err
			}
			if tp != nil {
				if out != nil {
					return nil, fmt.Errorf("%s: more than one TemplateProcessing is not supported", field)
				}
				out = tp
			}
		}
		return out, nil
	case "TemplateProcessing":
		tp := &template{}
		seenSeq := false
		for i, piece := range c.Single {
			var p struct {
				SpecialToken *struct{ ID string } `json:"SpecialToken"`
				Sequence     *struct{ ID string } `json:"Sequence"`
			}
			if err := json.Unmarshal(piece, &p); err != nil {
				return nil, fmt.Errorf("%s.single[%d]: %w", field, i, err)
			}
			switch {
			case p.Sequence != nil:
				if seenSeq {
					return nil, fmt.Errorf("%s.single[%d]: a second sequence is not supported", field, i)
				}
				seenSeq = true
			case p.SpecialToken != nil:
				st, ok := c.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("%s.single[%d]: special token %q is missing from special_tokens", field, i, p.SpecialToken.ID)
				}
				if seenSeq {
					tp.after = append(tp.after, st.IDs...)
				} else {
					tp.before = append(tp.before, st.IDs...)
				}
			default:
				return nil, fmt.Errorf("%s.single[%d]: want SpecialToken or Sequence", field, i)
			}
		}
		return tp, nil
	}
	return nil, unsupported(field, c.Type)
}

func parseModel(raw json.RawMessage, field string) (*bpe, error) {
	var mj modelJSON
	if err := json.Unmarshal(raw, &mj); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	if mj.Type != nil && *mj.Type != "BPE" {
		return nil, unsupported(field, *mj.Type)
	}
	if mj.Vocab == nil {
		return nil, fmt.Errorf("%s.vocab is missing", field)
	}
	if mj.Dropout != nil && *mj.Dropout != 0 {
		return nil, fmt.Errorf("%s.dropout %v is not supported (want null)", field, *mj.Dropout)
	}
	if mj.ByteFallback {
		return nil, fmt.Errorf("%s.byte_fallback true is not supported", field)
	}
	merges, err := parseMerges(mj.Merges, field+".merges")
	if err != nil {
		return nil, err
	}
	m, err := newBPE(mj.Vocab, merges, field)
	if err != nil {
		return nil, err
	}
	m.dropout, m.unkToken, m.contPrefix, m.eowSuffix = mj.Dropout, mj.UnkToken, mj.ContinuingSubwordPrefix, mj.EndOfWordSuffix
	m.fuseUnk, m.ignoreMerges = mj.FuseUnk, mj.IgnoreMerges
	if err := m.buildMerges(field); err != nil {
		return nil, err
	}
	return m, nil
}

// parseMerges accepts both forms found in the wild: ["a b", ...] (older
// files, Qwen2) and [["a", "b"], ...] (newer files, Qwen3).
func parseMerges(raw json.RawMessage, field string) ([][2]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	// Peek at the first element to pick the form, so the list (millions of
	// bytes) is decoded once.
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		trimmed = bytes.TrimSpace(trimmed[1:])
	}
	if len(trimmed) > 0 && trimmed[0] == '"' {
		var strs []string
		if err := json.Unmarshal(raw, &strs); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, b, ok := cutSpace(s)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: %q is not two tokens separated by a space", field, i, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("%s: want a list of \"a b\" strings or of [a, b] pairs: %w", field, err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("%s[%d]: want 2 tokens, got %d", field, i, len(p))
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

func cutSpace(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return "", "", false
}

// MarshalJSON writes the tokenizer in Hugging Face's tokenizer.json format:
// added tokens by id, the components as read (or as New built them), the
// vocab in id order and the merges as [a, b] pairs in rank order.
func (t *Tokenizer) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"version":"1.0","truncation":null,"padding":null,"added_tokens":[`)
	ids := make([]int, 0, len(t.addedByID))
	for id := range t.addedByID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		a := t.addedByID[id]
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"content":%s,"single_word":%t,"lstrip":%t,"rstrip":%t,"normalized":%t,"special":%t}`,
			id, jsonString(a.Content), a.SingleWord, a.LStrip, a.RStrip, a.Normalized, a.Special)
	}
	b.WriteString(`],"normalizer":`)
	b.Write(t.rawNormalizer)
	b.WriteString(`,"pre_tokenizer":`)
	b.Write(t.rawPre)
	b.WriteString(`,"post_processor":`)
	b.Write(t.rawPost)
	b.WriteString(`,"decoder":`)
	b.Write(t.rawDecoder)
	m := t.model
	optStr := func(p *string) string {
		if p == nil {
			return "null"
		}
		return jsonString(*p)
	}
	dropout := "null"
	if m.dropout != nil {
		dropout = strconv.FormatFloat(*m.dropout, 'g', -1, 64)
	}
	fmt.Fprintf(&b, `,"model":{"type":"BPE","dropout":%s,"unk_token":%s,"continuing_subword_prefix":%s,"end_of_word_suffix":%s,"fuse_unk":%t,"byte_fallback":%t,"ignore_merges":%t,"vocab":{`,
		dropout, optStr(m.unkToken), optStr(m.contPrefix), optStr(m.eowSuffix), m.fuseUnk, m.byteFallback, m.ignoreMerges)
	type kv struct {
		tok string
		id  int32
	}
	vocab := make([]kv, 0, len(m.vocab))
	for tok, id := range m.vocab {
		vocab = append(vocab, kv{tok, id})
	}
	slices.SortFunc(vocab, func(x, y kv) int {
		if x.id != y.id {
			return int(x.id) - int(y.id)
		}
		return cmpString(x.tok, y.tok)
	})
	for i, e := range vocab {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonString(e.tok))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(int(e.id)))
	}
	b.WriteString(`},"merges":[`)
	for i, p := range m.mergeSrc {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		b.WriteString(jsonString(p[0]))
		b.WriteByte(',')
		b.WriteString(jsonString(p[1]))
		b.WriteByte(']')
	}
	b.WriteString("]}}")
	return b.Bytes(), nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// WriteFile writes MarshalJSON's output to path.
func (t *Tokenizer) WriteFile(path string) error {
	data, err := t.MarshalJSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	return nil
}

// jsonString quotes s as a JSON string without HTML escaping.
func jsonString(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, fmt.Sprintf(`\u%04x`, c)...)
		default:
			b = append(b, c)
		}
	}
	return string(append(b, '"'))
}
