package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// AddedToken is one entry of tokenizer.json's added_tokens. Added tokens are
// matched in the text before the pre-tokenizer runs and are never split.
type AddedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	// SingleWord: only match when not preceded or followed by a word
	// character (\w: letters, marks, decimal digits, connector punctuation).
	SingleWord bool `json:"single_word"`
	// LStrip / RStrip: the match swallows the whitespace on its left / right.
	LStrip bool `json:"lstrip"`
	RStrip bool `json:"rstrip"`
	// Normalized: matched against the normalized text (its own content
	// normalized too) instead of the raw text.
	Normalized bool `json:"normalized"`
	// Special: skipped by Decode(ids, true), listed by SpecialTokens.
	Special bool `json:"special"`
}

// trie matches a set of patterns leftmost-longest and without overlaps, as
// Hugging Face's Aho-Corasick automaton (MatchKind::LeftmostLongest) does.
type trie struct {
	nodes []trieNode
	first [256]bool // bytes that can start a pattern
	ids   []int     // pattern index -> token id
}

type trieNode struct {
	edges []trieEdge
	term  int // pattern index ending here, -1 if none
}

type trieEdge struct {
	b    byte
	next int32
}

func newTrie() *trie { return &trie{nodes: []trieNode{{term: -1}}} }

func (t *trie) add(pattern string, id int) {
	if pattern == "" {
		return
	}
	n := 0
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		next := int32(-1)
		for _, e := range t.nodes[n].edges {
			if e.b == c {
				next = e.next
				break
			}
		}
		if next < 0 {
			next = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{term: -1})
			t.nodes[n].edges = append(t.nodes[n].edges, trieEdge{c, next})
		}
		n = int(next)
	}
	t.first[pattern[0]] = true
	if t.nodes[n].term < 0 { // the first of equal patterns wins
		t.nodes[n].term = len(t.ids)
		t.ids = append(t.ids, id)
	}
}

func (t *trie) empty() bool { return len(t.ids) == 0 }

// find returns the leftmost-longest match at or after byte from: its bounds
// and token id, or ok false.
func (t *trie) find(s string, from int) (start, end, id int, ok bool) {
	for i := from; i < len(s); i++ {
		if !t.first[s[i]] {
			continue
		}
		n, best := 0, -1
		for j := i; j < len(s); j++ {
			next := int32(-1)
			for _, e := range t.nodes[n].edges {
				if e.b == s[j] {
					next = e.next
					break
				}
			}
			if next < 0 {
				break
			}
			n = int(next)
			if t.nodes[n].term >= 0 {
				best = j + 1
				id = t.ids[t.nodes[n].term]
			}
		}
		if best > 0 {
			return i, best, id, true
		}
	}
	return 0, 0, 0, false
}

// segment is a piece of the text: an added token (id >= 0) or text still to
// be pre-tokenized (id < 0).
type segment struct {
	text string
	id   int
}

// isWordRune is \w of Rust's regex crate: Alphabetic, M, Nd, Pc and
// Join_Control.
func isWordRune(r rune) bool {
	if r < 0x80 {
		return r == '_' || (r >= '0' && r <= '9') || ((r|0x20) >= 'a' && (r|0x20) <= 'z')
	}
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) ||
		unicode.Is(unicode.Join_Control, r)
}

// splitAdded cuts s at the added tokens that t finds, honouring each token's
// single_word, lstrip and rstrip flags exactly as Hugging Face's
// AddedVocabulary::find_matches does: a match that fails single_word is
// dropped (the search resumes after it, not inside it); lstrip extends the
// match left over whitespace not already taken by the previous match; rstrip
// extends it right over whitespace.
func (tk *Tokenizer) splitAdded(out []segment, s string, t *trie) []segment {
	if s == "" {
		return out
	}
	if t.empty() {
		return append(out, segment{s, -1})
	}
	startOffset := 0
	for pos := 0; pos < len(s); {
		start, stop, id, ok := t.find(s, pos)
		if !ok {
			break
		}
		pos = stop
		tok := tk.addedByID[id]
		if tok.SingleWord {
			startSpace := start == 0
			if !startSpace {
				r := lastRune(s[:start])
				startSpace = !isWordRune(r)
			}
			stopSpace := stop == len(s)
			if !stopSpace {
				r, _ := runeAt(s, stop)
				stopSpace = !isWordRune(r)
			}
			if !startSpace || !stopSpace {
				continue
			}
		}
		if tok.LStrip {
			ns := start
			for ns > 0 {
				r, n := utf8.DecodeLastRuneInString(s[:ns])
				if !unicode.IsSpace(r) {
					break
				}
				ns -= n
			}
			start = max(ns, startOffset)
		}
		if tok.RStrip {
			for stop < len(s) {
				r, n := runeAt(s, stop)
				if !unicode.IsSpace(r) {
					break
				}
				stop += n
			}
			// The search resumes at the end of the match proper, as the
			// Aho-Corasick iterator does, not after the stripped spaces.
		}
		if startOffset < start {
			out = append(out, segment{s[startOffset:start], -1})
		}
		out = append(out, segment{s[start:stop], id})
		startOffset = stop
	}
	if startOffset < len(s) {
		out = append(out, segment{s[startOffset:], -1})
	}
	return out
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}
