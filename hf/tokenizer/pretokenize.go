package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The two split regexes this package implements by hand. Hugging Face
// compiles them with Oniguruma; Go's regexp has no lookahead and its \s is
// ASCII-only, so neither can be handed to regexp.
const (
	// qwen2Pattern is the Split regex of Qwen2, Qwen2.5, Qwen2-VL, Qwen3 and
	// LLaVA-OneVision's Qwen2 tokenizer.json.
	qwen2Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// gpt2Pattern is the regex of the ByteLevel pre-tokenizer with
	// use_regex true (GPT-2, RoBERTa, ...); it is also accepted in a Split.
	gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// splitFunc returns the end (> i) of the match that starts at byte i of s.
// Both matchers match at every position, so a split never leaves gaps.
type splitFunc func(s string, i int) int

// Character classes of the regexes, as Oniguruma defines them for UTF-8:
// \p{L} is general category L, \p{N} is category N (Nd, Nl, No), \s is the
// Unicode White_Space property (which is what unicode.IsSpace tests).
func isL(r rune) bool {
	if r < 0x80 {
		return (r|0x20) >= 'a' && (r|0x20) <= 'z'
	}
	return unicode.IsLetter(r)
}

func isN(r rune) bool {
	if r < 0x80 {
		return r >= '0' && r <= '9'
	}
	return unicode.IsNumber(r)
}

func isS(r rune) bool {
	if r < 0x80 {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.IsSpace(r)
}

// isP is [^\s\p{L}\p{N}]: anything else (punctuation, symbols, controls,
// marks, invalid bytes).
func isP(r rune) bool { return !isS(r) && !isL(r) && !isN(r) }

func runeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// scan returns the end of the run of runes satisfying f that starts at i.
func scan(s string, i int, f func(rune) bool) int {
	for i < len(s) {
		r, n := runeAt(s, i)
		if !f(r) {
			break
		}
		i += n
	}
	return i
}

// matchContraction matches 's 't 're 've 'm 'll 'd at i (s[i] is an apostrophe) and
// returns the end, or -1. With fold, letters match in either case, and
// Oniguruma's case folding also lets U+017F LATIN SMALL LETTER LONG S stand
// for s.
func matchContraction(s string, i int, fold bool) int {
	j := i + 1
	if j >= len(s) {
		return -1
	}
	lower := func(k int) (rune, int) {
		if k >= len(s) {
			return 0, 0
		}
		r, n := runeAt(s, k)
		if fold {
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			} else if r == 'ſ' {
				r = 's'
			}
		}
		return r, n
	}
	r, n := lower(j)
	switch r {
	case 's', 't', 'm', 'd':
		return j + n
	case 'r', 'v':
		if r2, n2 := lower(j + n); r2 == 'e' {
			return j + n + n2
		}
	case 'l':
		if r2, n2 := lower(j + n); r2 == 'l' {
			return j + n + n2
		}
	}
	return -1
}

// wsTail handles a run of whitespace starting at i with the two last
// alternatives every byte-level regex ends with, `\s+(?!\S)|\s+`: the run
// up to the end of the text; else the run less its last rune, when it has two
// or more (the lookahead then sees that last whitespace rune); else the single
// whitespace rune.
func wsTail(s string, i int) int {
	j, runes, last := i, 0, 0
	for j < len(s) {
		r, n := runeAt(s, j)
		if !isS(r) {
			break
		}
		j += n
		runes++
		last = n
	}
	if j == len(s) || runes < 2 {
		return j
	}
	return j - last
}

// matchQwen2 implements qwen2Pattern at byte i, alternative by alternative,
// in the regex's order (the first alternative that matches wins):
//
//  1. (?i:'s|'t|'re|'ve|'m|'ll|'d)  an apostrophe and a contraction, any case.
//  2. [^\r\n\p{L}\p{N}]?\p{L}+      a letter run, optionally preceded by one
//     rune that is not CR, LF, letter or number (a space, tab, NBSP,
//     punctuation mark, apostrophe ...).
//  3. \p{N}                          one number rune: digits are never grouped.
//  4. ` ?[^\s\p{L}\p{N}]+[\r\n]*`    a run of "other" runes, optionally after
//     one ASCII space, followed by any CR/LF run.
//  5. \s*[\r\n]+                     a whitespace run that holds a CR or LF,
//     cut right after its last CR or LF (backtracking of \s*).
//  6. \s+(?!\S)                      see wsTail.
//  7. \s+
func matchQwen2(s string, i int) int {
	r, n := runeAt(s, i)
	if r == '\'' {
		if e := matchContraction(s, i, true); e > 0 {
			return e
		}
	}
	if isL(r) {
		return scan(s, i+n, isL)
	}
	if r != '\r' && r != '\n' && !isN(r) && i+n < len(s) {
		if r2, n2 := runeAt(s, i+n); isL(r2) {
			return scan(s, i+n+n2, isL)
		}
	}
	if isN(r) {
		return i + n
	}
	crlf := func(c rune) bool { return c == '\r' || c == '\n' }
	if r == ' ' && i+1 < len(s) {
		if r2, n2 := runeAt(s, i+1); isP(r2) {
			return scan(s, scan(s, i+1+n2, isP), crlf)
		}
	}
	if isP(r) {
		return scan(s, scan(s, i+n, isP), crlf)
	}
	// r is whitespace. Alternative 5: find the last CR/LF of the run.
	lastNL := -1
	for j := i; j < len(s); {
		c, m := runeAt(s, j)
		if !isS(c) {
			break
		}
		if crlf(c) {
			lastNL = j + m
		}
		j += m
	}
	if lastNL > 0 {
		return lastNL
	}
	return wsTail(s, i)
}

// matchGPT2 implements gpt2Pattern at byte i:
//
//  1. 's|'t|'re|'ve|'m|'ll|'d   lower case only.
//  2. ` ?\p{L}+`                a letter run, optionally after one ASCII space.
//  3. ` ?\p{N}+`                a number run, likewise.
//  4. ` ?[^\s\p{L}\p{N}]+`      a run of other runes, likewise.
//  5. \s+(?!\S) and 6. \s+      see wsTail.
func matchGPT2(s string, i int) int {
	r, n := runeAt(s, i)
	if r == '\'' {
		if e := matchContraction(s, i, false); e > 0 {
			return e
		}
	}
	if r == ' ' && i+1 < len(s) {
		r2, n2 := runeAt(s, i+1)
		switch {
		case isL(r2):
			return scan(s, i+1+n2, isL)
		case isN(r2):
			return scan(s, i+1+n2, isN)
		case isP(r2):
			return scan(s, i+1+n2, isP)
		}
	}
	switch {
	case isL(r):
		return scan(s, i+n, isL)
	case isN(r):
		return scan(s, i+n, isN)
	case isP(r):
		return scan(s, i+n, isP)
	}
	return wsTail(s, i)
}

// splitIsolated appends to out the pieces of s cut by f with the Isolated
// behaviour: every match is its own piece (the matchers leave no gaps).
func splitIsolated(out []string, s string, f splitFunc) []string {
	for i := 0; i < len(s); {
		e := f(s, i)
		if e <= i { // cannot happen; guard against an infinite loop
			e = i + 1
		}
		out = append(out, s[i:e])
		i = e
	}
	return out
}

// splitLiteral appends the pieces of s split on the literal pat with the
// Isolated behaviour (a Split pre-tokenizer with a String pattern).
func splitLiteral(out []string, s, pat string) []string {
	if pat == "" {
		return append(out, s)
	}
	for len(s) > 0 {
		k := strings.Index(s, pat)
		if k < 0 {
			return append(out, s)
		}
		if k > 0 {
			out = append(out, s[:k])
		}
		out = append(out, s[k:k+len(pat)])
		s = s[k+len(pat):]
	}
	return out
}
