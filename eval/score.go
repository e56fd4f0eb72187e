package eval

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"mbq/testbed/world"
)

// ExactMatch reports whether a generated answer equals the reference after
// world.Normalize (lower case, outer space and final punctuation removed,
// inner space collapsed, a leading article dropped).
func ExactMatch(generated, reference string) bool {
	return world.Normalize(generated) == world.Normalize(reference)
}

// words splits s into lower-case words: maximal runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// containsWords reports whether seq occurs as a contiguous run of hay.
func containsWords(hay, seq []string) bool {
	if len(seq) == 0 {
		return false
	}
outer:
	for i := 0; i+len(seq) <= len(hay); i++ {
		for j, w := range seq {
			if hay[i+j] != w {
				continue outer
			}
		}
		return true
	}
	return false
}

// AttributeRecall is the fraction of attributes mentioned in text: an
// attribute is mentioned when its words (lower-cased runs of letters and
// digits; punctuation and spacing ignored) occur consecutively among the
// words of text, so "large red star" matches "A large red star." but not
// "a large red starfish" or "large, dark red star". It returns the
// fraction and, per attribute, whether it was found. No attributes give 0.
func AttributeRecall(text string, attributes []string) (float64, []bool) {
	if len(attributes) == 0 {
		return 0, nil
	}
	hay := words(text)
	found := make([]bool, len(attributes))
	n := 0
	for i, a := range attributes {
		if containsWords(hay, words(a)) {
			found[i] = true
			n++
		}
	}
	return float64(n) / float64(len(attributes)), found
}

// Failure types of a generated answer (the paper's case-study error types
// that can be detected mechanically).
const (
	NoOutput      = "no_output"
	Repetition    = "repetition"
	RandomSymbols = "random_symbols"
)

// FailureTypes lists the failure types in report order.
var FailureTypes = []string{NoOutput, Repetition, RandomSymbols}

// Thresholds of Classify (see the package documentation).
const (
	// A word loop is a unit of p >= 1 words repeated back to back at least
	// loopCopies times, spanning at least loopMinWords words.
	loopCopies   = 3
	loopMinWords = 9
	// A token loop at the limit is a unit of at most tokenLoopMaxPeriod
	// tokens repeated back to back at least loopCopies times at the end of
	// a generation cut by the token limit, spanning at least
	// tokenLoopMinTokens tokens.
	tokenLoopMaxPeriod = 32
	tokenLoopMinTokens = 12
	// symbolShare is the share of non-space characters that must be
	// symbols for random_symbols.
	symbolShare = 0.3
)

// Generated is what Classify looks at: the decoded text, and optionally
// the generated token ids and whether the token limit cut generation.
type Generated struct {
	Text     string
	Tokens   []int // new tokens (the stop token included if reached)
	HitLimit bool  // generation ended at MaxNewTokens without a stop token
}

// Classify returns the failure type of a generated answer, "" when it is
// none. Types are exclusive and checked in the order no_output,
// random_symbols, repetition:
//
//   - no_output: the text holds no letter or digit (empty, blank or only
//     punctuation).
//   - random_symbols: more than 30% of the non-space characters are
//     symbols: not a letter, digit or basic punctuation (. , ; : ! ? ' " (
//     ) - / % + & and the em/en dashes); invalid UTF-8, U+FFFD and control
//     characters count as symbols.
//   - repetition: the words (lower-cased runs of letters and digits) hold a
//     unit of p >= 1 words repeated back to back at least 3 times in a run
//     of at least 9 words ("red red red ... red" x9, "the blue star the
//     blue star the blue star"); or the token limit cut the generation
//     while its last tokens were a unit of at most 32 tokens repeated back
//     to back at least 3 times over at least 12 tokens (loops without
//     spaces, such as "!!!!" or "abababab").
func Classify(g Generated) string {
	if !hasAlnum(g.Text) {
		return NoOutput
	}
	if symbolFraction(g.Text) > symbolShare {
		return RandomSymbols
	}
	if wordLoop(words(g.Text)) || (g.HitLimit && tokenLoop(g.Tokens)) {
		return Repetition
	}
	return ""
}

func hasAlnum(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) })
}

// basicPunct are the punctuation characters that are not symbols.
const basicPunct = ".,;:!?'\"()-/%+&\u2013\u2014\u2019"

// symbolFraction is the share of non-space characters of s that are
// symbols (see Classify); 0 for s without such characters.
func symbolFraction(s string) float64 {
	total, sym := 0, 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r != utf8.RuneError && unicode.IsSpace(r) {
			continue
		}
		total++
		switch {
		case r == utf8.RuneError:
			sym++
		case unicode.IsLetter(r), unicode.IsDigit(r):
		case strings.ContainsRune(basicPunct, r):
		default:
			sym++
		}
	}
	if total == 0 {
		return 0
	}
	return float64(sym) / float64(total)
}

// wordLoop reports a unit of p words repeated back to back at least
// loopCopies times over at least loopMinWords words.
func wordLoop(w []string) bool {
	return hasLoop(len(w), len(w)/loopCopies, loopMinWords, false, func(i, j int) bool { return w[i] == w[j] })
}

// tokenLoop reports that the last tokens are a unit of at most
// tokenLoopMaxPeriod tokens repeated back to back at least loopCopies
// times over at least tokenLoopMinTokens tokens.
func tokenLoop(t []int) bool {
	return hasLoop(len(t), min(tokenLoopMaxPeriod, len(t)/loopCopies), tokenLoopMinTokens, true, func(i, j int) bool { return t[i] == t[j] })
}

// hasLoop looks, for each period p in 1..maxP, for a run of positions j
// with eq(j, j+p): r such positions in a row make a stretch of r+p
// elements with period p, that is (r+p)/p copies of a unit. It reports a
// stretch of at least loopCopies copies and minLen elements (one that ends
// the sequence, with suffix).
func hasLoop(n, maxP, minLen int, suffix bool, eq func(i, j int) bool) bool {
	for p := 1; p <= maxP; p++ {
		need := max(loopCopies*p, minLen) - p // positions in a row
		if suffix {
			r := 0
			for j := n - p - 1; j >= 0 && eq(j, j+p); j-- {
				r++
			}
			if r >= need {
				return true
			}
			continue
		}
		r := 0
		for j := 0; j+p < n; j++ {
			if eq(j, j+p) {
				r++
				if r >= need {
					return true
				}
			} else {
				r = 0
			}
		}
	}
	return false
}
