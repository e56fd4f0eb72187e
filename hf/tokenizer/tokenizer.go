package tokenizer

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Tokenizer is a byte-level BPE tokenizer read from (or writable as) a
// Hugging Face tokenizer.json. It is safe for concurrent use.
type Tokenizer struct {
	normalizer []norm.Form // applied in order; empty: no normalizer
	pre        []preStep
	byteLevel  bool // the pre-tokenizer ends in ByteLevel: map bytes before BPE
	// singleSplit is set when the pre-tokenizer amounts to one regex split
	// and no prefix space, the case Encode runs without building piece lists.
	singleSplit splitFunc
	model       *bpe
	template    *template // nil: AddSpecialTokens adds nothing
	decoder     string    // "ByteLevel" or "" (none: tokens joined by spaces)

	added          []AddedToken // as given (file order), ids resolved
	addedByContent map[string]int
	addedByID      map[int]AddedToken
	special        []string // special token contents, first-seen order
	specialSet     map[string]bool
	rawTrie        *trie // added tokens with normalized false
	normTrie       *trie // added tokens with normalized true (content normalized)

	// JSON of the components, re-emitted by MarshalJSON.
	rawNormalizer, rawPre, rawPost, rawDecoder []byte
}

// preStep is one pre-tokenizer of the (flattened) Sequence.
type preStep struct {
	split          splitFunc // Split with a known regex, or ByteLevel with use_regex
	literal        string    // Split with a String pattern (split == nil)
	isByteLevel    bool
	addPrefixSpace bool
}

// template is the single-sequence part of a TemplateProcessing
// post-processor: ids to put before and after the encoded text.
type template struct {
	before, after []int
}

// EncodeOptions are the options of EncodeWithOptions.
type EncodeOptions struct {
	// AddSpecialTokens applies the post-processor's template (BOS/EOS and
	// the like), as Hugging Face's add_special_tokens=True. Qwen's
	// tokenizers add nothing either way.
	AddSpecialTokens bool
}

// Load reads a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return fromJSON(data, path)
}

// FromJSON parses the contents of a tokenizer.json.
func FromJSON(data []byte) (*Tokenizer, error) { return fromJSON(data, "tokenizer.json") }

// Encode tokenizes text as Hugging Face's encode(text,
// add_special_tokens=False) does: added tokens (special ones included) that
// occur in the text are recognised and never split. Text that is not valid
// UTF-8 has each ill-formed sequence replaced by U+FFFD first.
func (t *Tokenizer) Encode(text string) []int {
	return t.EncodeWithOptions(text, EncodeOptions{})
}

// EncodeWithOptions is Encode with options.
func (t *Tokenizer) EncodeWithOptions(text string, opt EncodeOptions) []int {
	if !utf8.ValidString(text) {
		text = lossyUTF8([]byte(text))
	}
	var ids []int
	if opt.AddSpecialTokens && t.template != nil {
		ids = append(ids, t.template.before...)
	}
	var buf []byte
	var pieces []string
	for _, seg := range t.splitAdded(nil, text, t.rawTrie) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		s := t.normalize(seg.text)
		for _, seg2 := range t.splitAdded(nil, s, t.normTrie) {
			if seg2.id >= 0 {
				ids = append(ids, seg2.id)
				continue
			}
			if f := t.singleSplit; f != nil {
				// Fast path (Qwen2, GPT-2): one split, no prefix space.
				for i, s := 0, seg2.text; i < len(s); {
					e := max(f(s, i), i+1)
					ids = t.model.encodePiece(s[i:e], t.byteLevel, ids, &buf)
					i = e
				}
				continue
			}
			pieces = t.preTokenize(pieces[:0], seg2.text)
			for _, p := range pieces {
				ids = t.model.encodePiece(p, t.byteLevel, ids, &buf)
			}
		}
	}
	if opt.AddSpecialTokens && t.template != nil {
		ids = append(ids, t.template.after...)
	}
	if ids == nil {
		ids = []int{}
	}
	return ids
}

func (t *Tokenizer) normalize(s string) string {
	for _, f := range t.normalizer {
		s = f.String(s)
	}
	return s
}

// preTokenize cuts s into the words BPE sees, running each step over the
// pieces of the previous one. Empty pieces are dropped, as in Hugging Face.
func (t *Tokenizer) preTokenize(out []string, s string) []string {
	out = append(out, s)
	var next []string
	for _, st := range t.pre {
		next = next[:0]
		for _, p := range out {
			if st.addPrefixSpace && !strings.HasPrefix(p, " ") {
				p = " " + p
			}
			switch {
			case st.split != nil:
				next = splitIsolated(next, p, st.split)
			case st.isByteLevel:
				next = append(next, p)
			default:
				next = splitLiteral(next, p, st.literal)
			}
		}
		out, next = next, out
	}
	// Drop empty pieces.
	k := 0
	for _, p := range out {
		if p != "" {
			out[k] = p
			k++
		}
	}
	return out[:k]
}

// Decode turns ids back into text as Hugging Face's decode(ids,
// skip_special_tokens) does: unknown ids are skipped; with skipSpecial,
// special added tokens are too; the ByteLevel decoder turns tokens back into
// bytes, and bytes that are not valid UTF-8 become U+FFFD (per maximal
// ill-formed subsequence).
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	var toks []string
	for _, id := range ids {
		tok, ok := t.IDToToken(id)
		if !ok {
			continue
		}
		if skipSpecial && t.specialSet[tok] {
			continue
		}
		toks = append(toks, tok)
	}
	if t.decoder != "ByteLevel" {
		return strings.Join(toks, " ")
	}
	var b []byte
	for _, tok := range toks {
		b = byteLevelDecodeToken(b, tok)
	}
	return lossyUTF8(b)
}

// TokenToID returns the id of a token (added tokens first, then the BPE
// vocab). Model tokens are in their byte-level form ("Ġworld").
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	if id, ok := t.addedByContent[tok]; ok {
		return id, true
	}
	id, ok := t.model.vocab[tok]
	return int(id), ok
}

// IDToToken returns the token of an id (added tokens first).
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if tok, ok := t.addedByID[id]; ok {
		return tok.Content, true
	}
	return t.model.idToToken(id)
}

// VocabSize is Hugging Face's get_vocab_size(with_added_tokens=True): the
// number of distinct token strings of the BPE vocab and the added tokens.
func (t *Tokenizer) VocabSize() int {
	n := len(t.model.vocab)
	for c := range t.addedByContent {
		if _, ok := t.model.vocab[c]; !ok {
			n++
		}
	}
	return n
}

// ModelVocabSize is get_vocab_size(with_added_tokens=False).
func (t *Tokenizer) ModelVocabSize() int { return len(t.model.vocab) }

// SpecialTokens lists the special added tokens' contents in file order.
func (t *Tokenizer) SpecialTokens() []string { return slices.Clone(t.special) }

// AddedTokens lists the added tokens in file order, with their resolved ids.
func (t *Tokenizer) AddedTokens() []AddedToken { return slices.Clone(t.added) }

// setAdded registers added tokens the way Hugging Face's
// AddedVocabulary::add_tokens does when it loads a file: the ids written in
// the file are not trusted; a token already in the vocab (model or added)
// keeps that id, any other gets the next free id above the model vocab.
func (t *Tokenizer) setAdded(tokens []AddedToken) {
	t.addedByContent = map[string]int{}
	t.addedByID = map[int]AddedToken{}
	t.specialSet = map[string]bool{}
	t.special = nil
	t.added = nil
	var specialToks, classic []AddedToken
	for _, tok := range tokens {
		if tok.Special && tok.Content != "" && !t.specialSet[tok.Content] {
			specialToks = append(specialToks, tok)
			t.special = append(t.special, tok.Content)
			t.specialSet[tok.Content] = true
		}
	}
	modelSize := len(t.model.vocab)
	maxAdded := -1
	same := func(a, b AddedToken) bool { a.ID, b.ID = 0, 0; return a == b }
	for _, tok := range tokens {
		if tok.Content == "" {
			continue
		}
		dup := false
		for _, v := range t.addedByID {
			if same(v, tok) {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		id, ok := t.TokenToID(tok.Content)
		if !ok {
			switch {
			case maxAdded < 0:
				id = modelSize
			case maxAdded >= modelSize || modelSize == 0:
				id = maxAdded + 1
			default:
				id = modelSize
			}
		}
		if old, ok := t.addedByContent[tok.Content]; ok && old != id {
			delete(t.addedByID, old)
		}
		t.addedByContent[tok.Content] = id
		tok.ID = id
		t.addedByID[id] = tok
		if id > maxAdded {
			maxAdded = id
		}
		t.added = append(t.added, tok)
		if !t.specialSet[tok.Content] {
			classic = append(classic, tok)
		}
	}
	t.rawTrie, t.normTrie = newTrie(), newTrie()
	for _, tok := range append(specialToks, classic...) {
		id := t.addedByContent[tok.Content]
		if tok.Normalized {
			t.normTrie.add(t.normalize(tok.Content), id)
		} else {
			t.rawTrie.add(tok.Content, id)
		}
	}
}
