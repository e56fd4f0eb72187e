package world

import (
	"image"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Turn is one message of a conversation in the ShareGPT4V layout: From is
// "human" or "gpt".
type Turn struct {
	From  string `json:"from"`
	Value string `json:"value"`
}

// Sample is one training example: a user turn (with ImageToken first when
// there is an image) and the assistant's answer.
type Sample struct {
	Question Question
	Scene    *Scene      // nil for language questions
	Image    *image.RGBA // nil for language questions
	Turns    []Turn
}

// TrainingSample draws a training example: a caption request with
// probability cfg.CaptionShare, a language-only question with probability
// cfg.LanguageShare, the letter drill of LookupQuestion with probability
// cfg.LookupShare, otherwise a question of a uniformly chosen image
// category (perception, counting, spatial, text, reasoning) about a fresh
// scene. Scenes for text questions always have a sign.
func TrainingSample(rng *rand.Rand, cfg Config) Sample {
	var q Question
	var s *Scene
	r := rng.Float64()
	switch {
	case r < cfg.CaptionShare:
		s = NewScene(rng, cfg)
		q, _ = s.Question(rng, CaptionCat)
	case r < cfg.CaptionShare+cfg.LanguageShare:
		q = LanguageQuestion(rng, cfg.Facts())
	case r < cfg.CaptionShare+cfg.LanguageShare+cfg.LookupShare:
		q = LookupQuestion(rng, cfg.Facts())
	default:
		cat := questionCategory(rng)
		for {
			s = newScene(rng, cfg, cat == Text)
			var ok bool
			if q, ok = s.Question(rng, cat); ok {
				break
			}
		}
	}
	sm := Sample{Question: q, Scene: s, Turns: []Turn{{"human", q.UserText()}, {"gpt", q.Target()}}}
	if s != nil {
		sm.Image = s.Render()
	}
	return sm
}

// Corpus returns n texts representative of the world, for training a
// tokenizer: the prompts and answers of training samples (without
// rendering images), then the fact sentences and Vocabulary.
//
// Two things keep the tokens aligned with what the model must read and
// write. Sign codes ("KQ3Z", isCode) are left out of the sample texts: they are
// random, so merges learned from them ("KQ") would only make a code's
// tokens differ from its characters; a code is spelled one character per
// token. And the vocabulary is listed twice, once after spaces (as words
// occur inside sentences) and, LineStartRepeats times, one word per line
// (as an open answer starts its turn), so "green" at the start of an
// answer is one token like " green" inside a sentence.
func Corpus(rng *rand.Rand, cfg Config, n int) []string {
	out := make([]string, 0, n+64)
	for i := 0; i < n; i++ {
		var q Question
		var s *Scene
		r := rng.Float64()
		switch {
		case r < cfg.CaptionShare:
			s = NewScene(rng, cfg)
			q, _ = s.Question(rng, CaptionCat)
		case r < cfg.CaptionShare+cfg.LanguageShare:
			q = LanguageQuestion(rng, cfg.Facts())
		default:
			cat := questionCategory(rng)
			for {
				var ok bool
				s = newScene(rng, cfg, cat == Text)
				if q, ok = s.Question(rng, cat); ok {
					break
				}
			}
		}
		text := q.UserText() + "\n" + q.Target()
		if s != nil && s.Sign != nil && isCode(s.Sign.Text) {
			text = removeWord(text, s.Sign.Text)
		}
		out = append(out, text)
	}
	out = append(out, cfg.Facts().Sentences()...)
	voc := Vocabulary(cfg.Facts())
	out = append(out, strings.Join(voc, " "))
	out = append(out, strings.Repeat(strings.Join(voc, "\n")+"\n", LineStartRepeats))
	return out
}

// LineStartRepeats is how often Corpus lists the vocabulary one word per
// line.
const LineStartRepeats = 64

// isCode reports whether a sign's text is left out of the tokenizer
// corpus: two characters or more with a letter among them. A one-character
// or all-digit text is spelled one token per character anyway (the
// pre-tokenizer splits digits from letters and the BPE never merges digits
// here), and as a whole word it also stands for numbers and letters in
// the text ("C. 2"), which must stay.
func isCode(text string) bool {
	return len(text) >= 2 && strings.ContainsAny(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

// removeWord deletes every occurrence of w in text that is a whole word:
// not preceded or followed by a letter or digit.
func removeWord(text, w string) string {
	if w == "" {
		return text
	}
	alnum := func(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }
	var b strings.Builder
	for i := 0; i < len(text); {
		if strings.HasPrefix(text[i:], w) && (i == 0 || !alnum(text[i-1])) && (i+len(w) == len(text) || !alnum(text[i+len(w)])) {
			i += len(w)
			continue
		}
		b.WriteByte(text[i])
		i++
	}
	return b.String()
}

// Vocabulary lists the fixed words and phrases of the world in a fixed
// order: colours, shapes, sizes, position and direction words, numbers,
// sign characters, invented names, habitats, foods, opposites, prompt
// suffixes and caption prompts. The invented names are those of f (a
// Config's Facts).
func Vocabulary(f *Facts) []string {
	var out []string
	seen := map[string]bool{}
	add := func(ws ...string) {
		for _, w := range ws {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	add(Colors...)
	add("gray", "brown")
	add(Shapes...)
	for _, s := range Shapes {
		add(plural(s))
	}
	add(Sizes...)
	add(ordinals...)
	add("row", "column")
	add(Directions...)
	add(relativeWords...)
	add(numberWords...)
	for i := 0; i <= 200; i++ {
		add(strconv.Itoa(i))
	}
	for _, r := range "ABCDEFGHIJKLMNOPQRSTUVWXYZ" {
		add(string(r))
	}
	for _, c := range f.Countries {
		add(c.Name, c.Capital)
	}
	for _, c := range f.Creatures {
		add(c.Name)
	}
	add(habitats...)
	add(foods...)
	for _, p := range Opposites {
		add(p[0], p[1])
	}
	add("yes", "no", ImageToken, MCSuffix, OpenSuffix)
	add(CaptionPrompts...)
	return out
}

// LookupQuestion is a training-only multiple-choice drill (category
// language, kind "lookup", no image): "Which option is the word red?" with
// four options of one word class (colours, shapes, numbers, countries,
// creatures) and the letter of the matching one as the answer. It teaches
// the letter binding every multiple-choice answer needs apart from any
// knowledge; the benchmark never asks it. The countries and creatures are
// those of f (a Config's Facts).
func LookupQuestion(rng *rand.Rand, f *Facts) Question {
	classes := f.lookupClasses()
	words := classes[rng.IntN(len(classes))]
	w := words[rng.IntN(len(words))]
	q := Question{Category: Language, Kind: LookupKind,
		Question: choose(rng, "Which option is ", "Which option says ", "Find the option ") + w + "?", Subject: []string{w}}
	setChoices(rng, &q, w, words, nil)
	return q
}

// lookupClasses are the word classes of the letter drills (built once per
// table).
func (f *Facts) lookupClasses() [][]string {
	f.once.Do(func() { f.lookup = f.buildLookupClasses() })
	return f.lookup
}

func (f *Facts) buildLookupClasses() [][]string {
	var nums, countries, creatures []string
	for i := 0; i <= 99; i++ {
		nums = append(nums, strconv.Itoa(i))
	}
	for _, c := range f.Countries {
		countries = append(countries, c.Name)
	}
	for _, c := range f.Creatures {
		creatures = append(creatures, c.Name)
	}
	return [][]string{Colors, Shapes, nums, countries, creatures}
}

// LookupKind is the kind of the letter drill's questions (LookupQuestion).
const LookupKind = "lookup"

// questionCategory draws an image category for a question: any but
// caption, uniformly.
func questionCategory(rng *rand.Rand) string {
	return imageCategories[rng.IntN(len(imageCategories)-1)] // caption is last
}

// FollowUps draws up to n more questions about the scene for a
// conversation of several question turns on one image (the image tokens, the
// costly part of a sample, then serve every turn): each of a category drawn
// by questionCategory, none whose prompt repeats an earlier turn's. It
// returns fewer when the scene runs out of distinct questions (a few tries
// per turn).
func (s *Scene) FollowUps(rng *rand.Rand, n int, asked ...Question) []Question {
	return distinctQuestions(n, asked, func() (Question, bool) { return s.Question(rng, questionCategory(rng)) })
}

// LanguageFollowUps draws up to n more language-only questions about the
// facts f for a conversation of several question turns, none whose prompt
// repeats an earlier turn's.
func LanguageFollowUps(rng *rand.Rand, f *Facts, n int, asked ...Question) []Question {
	return distinctQuestions(n, asked, func() (Question, bool) { return LanguageQuestion(rng, f), true })
}

// distinctQuestions calls draw until it has n questions whose prompts differ
// from each other and from asked's, or 4n calls have been made.
func distinctQuestions(n int, asked []Question, draw func() (Question, bool)) []Question {
	seen := map[string]bool{}
	for _, q := range asked {
		seen[q.Prompt()] = true
	}
	var out []Question
	for try := 0; len(out) < n && try < 4*n; try++ {
		q, ok := draw()
		if !ok || seen[q.Prompt()] {
			continue
		}
		seen[q.Prompt()] = true
		out = append(out, q)
	}
	return out
}
