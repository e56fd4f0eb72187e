package tokenizer

import (
	"fmt"
	"strings"
)

// PreTokenizerKind selects the split rules of a tokenizer built with New.
type PreTokenizerKind int

const (
	// PreTokenizerQwen2 is Qwen2's Sequence[Split(qwen2 regex, Isolated),
	// ByteLevel(add_prefix_space false, use_regex false)].
	PreTokenizerQwen2 PreTokenizerKind = iota
	// PreTokenizerGPT2 is ByteLevel(add_prefix_space false, use_regex true).
	PreTokenizerGPT2
)

// Config describes the pipeline of a tokenizer built with New. Its zero
// value is Qwen2's pipeline without the NFC normalizer; Qwen2Config is the
// full Qwen2 one.
type Config struct {
	// Normalizer is "" (none) or one of "NFC", "NFD", "NFKC", "NFKD".
	Normalizer   string
	PreTokenizer PreTokenizerKind
	// IgnoreMerges: a word found whole in the vocab is one token without
	// running the merges (Llama 3 style).
	IgnoreMerges bool
}

// Qwen2Config is the pipeline of Qwen2/Qwen2.5/Qwen3 tokenizers.
var Qwen2Config = Config{Normalizer: "NFC", PreTokenizer: PreTokenizerQwen2}

// New builds a byte-level BPE tokenizer from a vocab (token in byte-level
// form -> id), merges in rank order, and added tokens (their ID fields are
// ignored: ids are assigned as when Hugging Face loads a file, see
// AddedTokens). Post-processor and decoder are ByteLevel. MarshalJSON /
// WriteFile save it as a tokenizer.json that Load (and Hugging Face) read.
func New(vocab map[string]int, merges [][2]string, added []AddedToken, cfg Config) (*Tokenizer, error) {
	const bl = `{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}`
	t := &Tokenizer{decoder: "ByteLevel", byteLevel: true}
	switch cfg.Normalizer {
	case "":
		t.rawNormalizer = []byte("null")
	case "NFC", "NFD", "NFKC", "NFKD":
		t.rawNormalizer = []byte(`{"type":"` + cfg.Normalizer + `"}`)
	default:
		return nil, fmt.Errorf("tokenizer: normalizer %q is not supported", cfg.Normalizer)
	}
	var err error
	if t.normalizer, err = parseNormalizer(t.rawNormalizer, "normalizer"); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	switch cfg.PreTokenizer {
	case PreTokenizerQwen2:
		t.rawPre = []byte(`{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":` +
			jsonString(qwen2Pattern) + `},"behavior":"Isolated","invert":false},` + bl + `]}`)
	case PreTokenizerGPT2:
		t.rawPre = []byte(`{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}`)
	default:
		return nil, fmt.Errorf("tokenizer: unknown PreTokenizerKind %d", cfg.PreTokenizer)
	}
	if t.pre, err = parsePre(t.rawPre, "pre_tokenizer"); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if err := t.checkPre("pre_tokenizer"); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t.rawPost = []byte(bl)
	t.rawDecoder = []byte(bl)
	for i, m := range merges {
		if strings.Contains(m[0], " ") || strings.Contains(m[1], " ") {
			return nil, fmt.Errorf("tokenizer: merges[%d]: token contains a space", i)
		}
	}
	empty := ""
	if t.model, err = newBPE(vocab, append([][2]string(nil), merges...), "model"); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t.model.contPrefix, t.model.eowSuffix = &empty, &empty
	t.model.ignoreMerges = cfg.IgnoreMerges
	if err := t.model.buildMerges("model"); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t.setAdded(added)
	return t, nil
}
