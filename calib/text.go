package calib

import (
	"fmt"
	"os"
	"strings"

	"mbq/hf/chat"
	"mbq/hf/tokenizer"
	"mbq/model"
)

// DefaultBlockLen is the token length of a text calibration block when
// LoadText is given 0 (AWQ's pile calibration uses 512).
const DefaultBlockLen = 512

// TextPrompt is the user turn in front of each text calibration block.
const TextPrompt = "Continue the text."

// LoadText reads plain text for language-only calibration (the LLM-style
// baseline, as AWQ calibrates on the pile): the whole file is tokenized
// with tok, cut into consecutive blocks of blockLen tokens (0:
// DefaultBlockLen; the remainder shorter than a block is dropped), the
// blocks are shuffled with opts.Seed (see Shuffle) and the first opts.N
// (0: DefaultSamples, negative: all) are kept.
//
// Each block becomes a two-turn conversation, user TextPrompt and the
// block's text as the assistant's answer, so that the chat template wraps
// it like any other sample and every block token is an Answer token: it
// carries the loss and its rows are the ones a reconstruction loss counts
// (prompt rows are ignored there). Added tokens (special or not, e.g.
// <image> or <|im_end|>) that occur in the text are removed from the
// blocks, and a character cut in two at a block edge (U+FFFD after
// decoding) is dropped. The template re-tokenizes the block's text, so a
// block's answer may differ from blockLen by a token or two at its edges.
// opts.ImagesDir is not used.
func LoadText(path string, tok *tokenizer.Tokenizer, blockLen int, opts Options) ([]model.Sample, error) {
	if tok == nil {
		return nil, fmt.Errorf("%s: no tokenizer", path)
	}
	if blockLen == 0 {
		blockLen = DefaultBlockLen
	}
	if blockLen < 0 {
		return nil, fmt.Errorf("%s: block length %d is negative", path, blockLen)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	added := map[int]bool{}
	for _, a := range tok.AddedTokens() {
		added[a.ID] = true
	}
	all := tok.Encode(string(data))
	ids := all[:0]
	for _, id := range all {
		if !added[id] {
			ids = append(ids, id)
		}
	}
	nBlocks := len(ids) / blockLen
	if nBlocks == 0 {
		return nil, fmt.Errorf("%s: %w", path, formatErr("%d tokens, fewer than one block of %d", len(ids), blockLen))
	}
	order := Shuffle(nBlocks, opts.Seed)
	order = order[:opts.n(nBlocks)]
	out := make([]model.Sample, 0, len(order))
	for _, b := range order {
		text := tok.Decode(ids[b*blockLen:(b+1)*blockLen], false)
		text = strings.Trim(text, "\uFFFD")
		out = append(out, model.Sample{Messages: []chat.Message{
			chat.Parts("user", chat.TextPart(TextPrompt)),
			chat.Parts("assistant", chat.TextPart(text)),
		}})
	}
	return out, nil
}
