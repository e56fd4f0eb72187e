package world

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Categories of questions, as in the benchmark file's "category" field.
const (
	Perception = "perception"
	Counting   = "counting"
	Spatial    = "spatial"
	Text       = "text"
	Reasoning  = "reasoning"
	Language   = "language"
	CaptionCat = "caption"
)

// Categories lists every category in the benchmark's order.
var Categories = []string{Perception, Counting, Spatial, Text, Reasoning, Language, CaptionCat}

// imageCategories are the categories asked about an image.
var imageCategories = []string{Perception, Counting, Spatial, Text, Reasoning, CaptionCat}

// Letters label the options of a multiple-choice question.
var Letters = []string{"A", "B", "C", "D"}

// ImageToken is the placeholder for the image in a user turn.
const ImageToken = "<image>"

// Prompt suffixes, as lmms-eval writes them.
const (
	MCSuffix   = "Answer with the option's letter from the given choices directly."
	OpenSuffix = "Answer the question using a single word or phrase."
)

// Question is one benchmark or training question.
type Question struct {
	ID       string
	Category string // one of Categories
	// Kind names the generator, e.g. "color-of" or "count-shape"; it is not
	// written to the benchmark file.
	Kind     string
	Question string
	// Options holds the four choices of a multiple-choice question, nil for
	// an open-ended one.
	Options []string
	// Answer is the option's letter for multiple choice, the short answer for
	// an open-ended question and the reference caption for a caption question.
	Answer string
	// Attributes are what a caption must mention (caption questions only).
	Attributes []string
	// HasImage is false for language questions.
	HasImage bool
	// Focus lists the grid cells (row·Grid + column) whose content the
	// answer depends on: the objects the question is about, the sign's two
	// cells for sign questions; nil when no cell stands out (captions, the
	// most common colour, an absent object). A training aid (supervised
	// attention on the image, package testbed/train); not written to the
	// benchmark file. For PairKinds it is the two named objects' cells in
	// the order the question names them.
	Focus []int
	// Glyphs, for questions answered by reading the sign, gives for each
	// byte of Answer the index of the sign character it reads
	// (Scene.SignGlyphs); nil otherwise. A training aid like Focus; not
	// written to the benchmark file.
	Glyphs []int
	// Subject, for a question without an image, lists the words of
	// Question the answer depends on, in order: the country or capital, the
	// creature, the two colours mixed, the word whose opposite is asked,
	// the operands, the shape, the number or letter counted from, the word
	// a letter drill seeks. A training aid like Focus (supervised attention
	// on the question's words); not written to the benchmark file.
	Subject []string
}

// MultipleChoice reports whether the question has options.
func (q Question) MultipleChoice() bool { return len(q.Options) > 0 }

// Correct is the text of the right answer: the chosen option for multiple
// choice, else Answer.
func (q Question) Correct() string {
	if q.MultipleChoice() {
		for i, l := range Letters {
			if l == q.Answer && i < len(q.Options) {
				return q.Options[i]
			}
		}
		return ""
	}
	return q.Answer
}

// PairKinds are the question kinds about two objects the question names
// both of ("Where is A relative to B?", "Is A above B?", mixing the colours
// of A and B): their Focus is [A's cell, B's cell].
var PairKinds = map[string]bool{"relative": true, "is-rel": true, "mix-objects": true}

// openAmbiguous are the multiple-choice kinds whose answer is unique only
// among the options ("Which of these objects is left of the star?").
var openAmbiguous = map[string]bool{"which-rel": true, "relative": true, LookupKind: true}

// SubjectSpans are the byte spans [start, end) of q.Subject in q.Question,
// each the first whole-word occurrence (not preceded or followed by a
// letter or digit) after the previous one. A subject that is not found has
// no span.
func (q Question) SubjectSpans() [][2]int {
	var spans [][2]int
	text, at := q.Question, 0
	for _, w := range q.Subject {
		for from := at; w != "" && from+len(w) <= len(text); from++ {
			end := from + len(w)
			if text[from:end] == w && (from == 0 || !isWordByte(text[from-1])) && (end == len(text) || !isWordByte(text[end])) {
				spans = append(spans, [2]int{from, end})
				at = end
				break
			}
		}
	}
	return spans
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// AsOpen returns the multiple-choice question q asked open-ended: no
// options, the correct option's text as the answer. Training uses it to
// supervise the answer's content directly, apart from its letter. ok is
// false for open questions and for the kinds whose answer is unique only
// among the options.
func (q Question) AsOpen() (Question, bool) {
	if !q.MultipleChoice() || openAmbiguous[q.Kind] {
		return q, false
	}
	o := q
	o.Answer, o.Options = q.Correct(), nil
	return o, o.Answer != ""
}

// Prompt is the text the model sees after the image placeholder (if any):
//
//	Question
//	A. x
//	B. y
//	C. z
//	D. w
//	Answer with the option's letter from the given choices directly.
//
// for multiple choice; the question and OpenSuffix for an open-ended
// question; the bare question for a caption request.
func (q Question) Prompt() string {
	var b strings.Builder
	b.WriteString(q.Question)
	switch {
	case q.MultipleChoice():
		for i, o := range q.Options {
			fmt.Fprintf(&b, "\n%s. %s", Letters[i], o)
		}
		b.WriteString("\n" + MCSuffix)
	case q.Category != CaptionCat:
		b.WriteString("\n" + OpenSuffix)
	}
	return b.String()
}

// Target is what a trained model should answer: the letter for multiple
// choice, the short answer for open-ended questions, the caption for
// caption questions.
func (q Question) Target() string { return q.Answer }

// UserText is the user turn: the image placeholder and a newline when the
// question has an image, then Prompt.
func (q Question) UserText() string {
	if q.HasImage {
		return ImageToken + "\n" + q.Prompt()
	}
	return q.Prompt()
}

// Normalize maps an open-ended answer to the form compared by exact match:
// lower case, surrounding space and final punctuation removed, inner space
// collapsed, a leading article dropped.
func Normalize(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimRight(s, ".!?,;: ")
	s = strings.Join(strings.Fields(s), " ")
	for _, a := range []string{"the ", "a ", "an "} {
		if strings.HasPrefix(s, a) {
			s = s[len(a):]
			break
		}
	}
	return s
}

// setChoices makes q multiple choice: three distinct distractors, taken
// from preferred (in random order) and then fallback (in random order),
// and the correct answer at a uniformly random position. It reports false
// when there are not three distinct distractors.
func setChoices(rng *rand.Rand, q *Question, correct string, preferred, fallback []string) bool {
	pick := make([]string, 0, 3)
	seen := map[string]bool{correct: true}
	for _, list := range [][]string{preferred, fallback} {
		l := append([]string(nil), list...)
		rng.Shuffle(len(l), func(i, j int) { l[i], l[j] = l[j], l[i] })
		for _, x := range l {
			if len(pick) == 3 {
				break
			}
			if !seen[x] {
				seen[x] = true
				pick = append(pick, x)
			}
		}
	}
	if len(pick) < 3 {
		return false
	}
	pos := rng.IntN(4)
	opts := make([]string, 0, 4)
	opts = append(opts, pick[:pos]...)
	opts = append(opts, correct)
	opts = append(opts, pick[pos:]...)
	q.Options = opts
	q.Answer = Letters[pos]
	return true
}

// numberChoices makes q multiple choice over numbers near c (never below lo).
// wide adds the distractors of two-digit arithmetic (c+-10, c+-11, c+-9).
func numberChoices(rng *rand.Rand, q *Question, c, lo int, wide bool) bool {
	deltas := []int{-1, 1, -2, 2, 3, -3}
	if wide {
		deltas = []int{-1, 1, -10, 10, -11, 11, -9, 9, -2, 2}
	}
	var pref []string
	for _, d := range deltas {
		if c+d >= lo {
			pref = append(pref, fmt.Sprint(c+d))
		}
	}
	var fb []string
	for k := 4; k < 10; k++ {
		fb = append(fb, fmt.Sprint(c+k))
	}
	return setChoices(rng, q, fmt.Sprint(c), pref, fb)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func choose(rng *rand.Rand, variants ...string) string { return variants[rng.IntN(len(variants))] }
