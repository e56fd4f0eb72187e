package tokenizer

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// TrainOptions are the options of Train.
type TrainOptions struct {
	// VocabSize is the size to reach, counting the 256 byte-level alphabet
	// tokens, the learned tokens and the special tokens (as Hugging Face's
	// BpeTrainer vocab_size). It must be positive; below 256 + len(Special)
	// no merge is learned.
	VocabSize int
	// MinFrequency stops training once the most frequent pair occurs fewer
	// times than this (0 and 1 both mean "until no pair is left").
	MinFrequency int
	// Special tokens are added, in this order, as special added tokens
	// (normalized false) with the ids after the learned vocab. Their
	// occurrences in the corpus are cut out before pre-tokenization, as
	// Encode does, so they never take part in merges. (Hugging Face's
	// trainer does not cut its special_tokens out of the text, and counts
	// tokens added to the tokenizer beforehand as whole words; either way
	// their characters feed merges that encoding never uses.)
	Special []string
	// Config is the pipeline of the trained tokenizer; the corpus is
	// normalized and pre-tokenized with it, so that training and encoding
	// agree. Its zero value means Qwen2Config (NFC + Qwen2 pre-tokenizer);
	// IgnoreMerges is passed on to the tokenizer and does not affect training.
	Config Config
}

// Train learns a byte-level BPE tokenizer from corpus, the way Hugging Face's
// BpeTrainer does when given the ByteLevel alphabet as initial_alphabet:
//
//  1. Each text has the special tokens cut out, is normalized and
//     pre-tokenized with opts.Config's pipeline, and every word (in its
//     byte-level form) is counted.
//  2. The vocab starts with the 256 byte-level runes in code-point order
//     (ids 0..255; "!" is 0, "Ā" U+0100 is 188), as Hugging Face sorts its
//     initial alphabet.
//  3. Every adjacent symbol pair is counted (a word's pairs weighted by the
//     word's count) and indexed by the words that hold it. A max-heap of
//     (count, pair, words) entries gives the next merge: highest count
//     first, ties to the smallest pair compared as (left id, right id) —
//     the Ord of Merge in tokenizers/src/models/bpe/trainer.rs. Entries are
//     lazy: one whose count is out of date is pushed back with the current
//     count. The pair is merged (left to right, non-overlapping) in the
//     entry's words only; the pairs that disappear and appear are counted,
//     and the new ones are pushed with the words where they appeared.
//  4. Merges stop when the vocab (with the special tokens) reaches
//     VocabSize, the heap is empty, or the best count is below MinFrequency.
//
// Like Hugging Face, a merge whose string is already a token reuses its id,
// and the merged pair's own count is not reset; in the rare case where a pair
// then merges twice, the merges list keeps its last position (as Hugging
// Face's saved tokenizer.json does). Where Hugging Face leaves an order to
// its hash maps (heap entries equal in count and pair), Train takes the older
// entry first, so its output depends only on corpus and options.
//
// The result is the same for the same corpus and options, down to the bytes
// of MarshalJSON.
func Train(corpus []string, opts TrainOptions) (*Tokenizer, error) {
	if opts.VocabSize <= 0 {
		return nil, errors.New("tokenizer: TrainOptions.VocabSize must be positive")
	}
	cfg := opts.Config
	if cfg == (Config{}) {
		cfg = Qwen2Config
	}
	var added []AddedToken
	seen := map[string]bool{}
	for _, s := range opts.Special {
		if s == "" {
			return nil, errors.New("tokenizer: empty special token")
		}
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("tokenizer: special token %q is not valid UTF-8", s)
		}
		if !seen[s] {
			seen[s] = true
			added = append(added, AddedToken{Content: s, Special: true})
		}
	}
	// A tokenizer with an empty model: its pipeline cuts the corpus into words.
	pipe, err := New(map[string]int{}, nil, added, cfg)
	if err != nil {
		return nil, err
	}
	tr := newTrainer()
	for _, text := range corpus {
		tr.addText(pipe, text)
	}
	merges := tr.train(opts.VocabSize, opts.MinFrequency, opts.Special)

	vocab := make(map[string]int, len(tr.tokens))
	for id, tok := range tr.tokens {
		vocab[tok] = id
	}
	return New(vocab, merges, added, cfg)
}

// trainAlphabet returns the byte-level alphabet in code-point order: the
// initial vocab of Train. (A function: byteToRune is filled by an init
// function, after package variables are initialized.)
func trainAlphabet() [256]string {
	runes := byteToRune
	slices.Sort(runes[:])
	var a [256]string
	for i, r := range runes {
		a[i] = string(r)
	}
	return a
}

// trainer holds the state of one training run.
type trainer struct {
	tokens  []string         // id -> token (byte-level form)
	tokenID map[string]int32 // token -> id
	byteID  [256]int32       // byte -> id of its byte-level rune

	wordIndex map[string]int32 // raw word -> index in words
	words     [][]int32        // symbols of each distinct word
	counts    []int64          // occurrences of each distinct word

	pieces []string // scratch for pre-tokenization
}

func newTrainer() *trainer {
	tr := &trainer{tokenID: make(map[string]int32, 1024), wordIndex: map[string]int32{}}
	for _, tok := range trainAlphabet() {
		tr.tokenID[tok] = int32(len(tr.tokens))
		tr.tokens = append(tr.tokens, tok)
	}
	for b := range 256 {
		tr.byteID[b] = tr.tokenID[byteToString[b]]
	}
	return tr
}

// addText counts the words of one text, cut as pipe's Encode cuts it.
func (tr *trainer) addText(pipe *Tokenizer, text string) {
	if !utf8.ValidString(text) {
		text = lossyUTF8([]byte(text))
	}
	for _, seg := range pipe.splitAdded(nil, text, pipe.rawTrie) {
		if seg.id >= 0 {
			continue
		}
		s := pipe.normalize(seg.text)
		for _, seg2 := range pipe.splitAdded(nil, s, pipe.normTrie) {
			if seg2.id >= 0 {
				continue
			}
			if f := pipe.singleSplit; f != nil {
				for i, s := 0, seg2.text; i < len(s); {
					e := max(f(s, i), i+1)
					tr.addWord(s[i:e])
					i = e
				}
				continue
			}
			tr.pieces = pipe.preTokenize(tr.pieces[:0], seg2.text)
			for _, p := range tr.pieces {
				tr.addWord(p)
			}
		}
	}
}

func (tr *trainer) addWord(w string) {
	if w == "" {
		return
	}
	if i, ok := tr.wordIndex[w]; ok {
		tr.counts[i]++
		return
	}
	syms := make([]int32, len(w))
	for i := 0; i < len(w); i++ {
		syms[i] = tr.byteID[w[i]]
	}
	tr.wordIndex[w] = int32(len(tr.words))
	tr.words = append(tr.words, syms)
	tr.counts = append(tr.counts, 1)
}

// mergeEntry is a heap entry: a pair, its count when pushed, and the words
// that were found to hold it.
type mergeEntry struct {
	pair  uint64 // pairKey(left, right)
	count int64
	seq   int64 // push order, for entries equal in count and pair
	words []int32
}

// before orders the heap: higher count first, then the smaller pair (left id,
// then right id), then the older entry.
func (a *mergeEntry) before(b *mergeEntry) bool {
	if a.count != b.count {
		return a.count > b.count
	}
	if a.pair != b.pair {
		return a.pair < b.pair
	}
	return a.seq < b.seq
}

// entryHeap is a binary max-heap of merge entries under before.
type entryHeap struct {
	items []mergeEntry
	seq   int64
}

func (h *entryHeap) push(pair uint64, count int64, words []int32) {
	h.seq++
	h.items = append(h.items, mergeEntry{pair: pair, count: count, seq: h.seq, words: words})
	it := h.items
	i := len(it) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !it[i].before(&it[p]) {
			break
		}
		it[i], it[p] = it[p], it[i]
		i = p
	}
}

func (h *entryHeap) pop() (mergeEntry, bool) {
	it := h.items
	if len(it) == 0 {
		return mergeEntry{}, false
	}
	top := it[0]
	n := len(it) - 1
	it[0] = it[n]
	it[n] = mergeEntry{}
	it = it[:n]
	h.items = it
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && it[r].before(&it[l]) {
			c = r
		}
		if !it[c].before(&it[i]) {
			break
		}
		it[i], it[c] = it[c], it[i]
		i = c
	}
	return top, true
}

// pairWords collects, for each pair, the words where it was seen, each word
// once (words are visited one at a time, so checking the last suffices).
type pairWords map[uint64][]int32

func (pw pairWords) add(p uint64, w int32) {
	l := pw[p]
	if n := len(l); n > 0 && l[n-1] == w {
		return
	}
	pw[p] = append(l, w)
}

// train runs the merges and returns them in rank order, in byte-level form.
func (tr *trainer) train(vocabSize, minFrequency int, special []string) [][2]string {
	// Vocab size as Hugging Face counts it: distinct strings among the
	// model's tokens and the special tokens.
	specialSet := map[string]bool{}
	for _, s := range special {
		specialSet[s] = true
	}
	size := len(tr.tokens)
	for s := range specialSet {
		if _, ok := tr.tokenID[s]; !ok {
			size++
		}
	}

	pairCounts := make(map[uint64]int64)
	where := pairWords{}
	for i, w := range tr.words {
		c := tr.counts[i]
		for j := 0; j+1 < len(w); j++ {
			p := pairKey(w[j], w[j+1])
			pairCounts[p] += c
			where.add(p, int32(i))
		}
	}
	var h entryHeap
	pushAll := func() {
		// Pushed in pair order, so that seq (and so the heap) does not
		// depend on map iteration order.
		keys := make([]uint64, 0, len(where))
		for p := range where {
			keys = append(keys, p)
		}
		slices.Sort(keys)
		for _, p := range keys {
			if c := pairCounts[p]; c > 0 {
				h.push(p, c, where[p])
			}
		}
		clear(where)
	}
	pushAll()

	type merge struct{ a, b int32 }
	var merges []merge
	for size < vocabSize {
		top, ok := h.pop()
		if !ok {
			break
		}
		if cur := pairCounts[top.pair]; top.count != cur {
			h.push(top.pair, cur, top.words)
			continue
		}
		if top.count < 1 || int64(minFrequency) > top.count {
			break
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		newTok := tr.tokens[a] + tr.tokens[b]
		id, ok := tr.tokenID[newTok]
		if !ok {
			id = int32(len(tr.tokens))
			tr.tokens = append(tr.tokens, newTok)
			tr.tokenID[newTok] = id
			if !specialSet[newTok] {
				size++
			}
		}
		merges = append(merges, merge{a, b})
		for _, iw := range top.words {
			tr.words[iw] = tr.mergeWord(tr.words[iw], a, b, id, iw, pairCounts, where)
		}
		pushAll()
	}

	// A pair merged twice keeps its last rank, as in Hugging Face's saved
	// file (its merges map is built from the list, later entries winning).
	last := make(map[merge]int, len(merges))
	for i, m := range merges {
		last[m] = i
	}
	out := make([][2]string, 0, len(last))
	for i, m := range merges {
		if last[m] == i {
			out = append(out, [2]string{tr.tokens[m.a], tr.tokens[m.b]})
		}
	}
	return out
}

// mergeWord replaces each occurrence of the pair (a, b) in w, scanning left
// to right, by id, as Hugging Face's Word::merge does, and records the pair
// count changes (weighted by the word's count) and the words where pairs
// appeared.
func (tr *trainer) mergeWord(w []int32, a, b, id, iw int32, pairCounts map[uint64]int64, where pairWords) []int32 {
	c := tr.counts[iw]
	for i := 0; i < len(w); i++ {
		if w[i] != a || i+1 >= len(w) || w[i+1] != b {
			continue
		}
		if i > 0 {
			pairCounts[pairKey(w[i-1], a)] -= c
			p := pairKey(w[i-1], id)
			pairCounts[p] += c
			where.add(p, iw)
		}
		w[i] = id
		w = append(w[:i+1], w[i+2:]...)
		if i+1 < len(w) {
			pairCounts[pairKey(b, w[i+1])] -= c
			p := pairKey(id, w[i+1])
			pairCounts[p] += c
			where.add(p, iw)
		}
	}
	return w
}
