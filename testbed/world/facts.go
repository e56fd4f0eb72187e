package world

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
)

// The fixed table of facts behind the language questions. It is drawn from
// factSeed, so training and every benchmark of a world share the same facts;
// Config.Countries and Config.Creatures size it (NumCountries and
// NumCreatures when zero). A larger table is the world's store of memorized,
// fine-grained knowledge (testbed spec: "more facts").
const (
	factSeed     = 0x4d4251_666163 // "MBQ" "fac"
	NumCountries = 32
	NumCreatures = 32
	// MaxFacts bounds Config.Countries and Config.Creatures.
	MaxFacts = 4096
)

// Country is an invented country and its capital.
type Country struct{ Name, Capital string }

// Creature is an invented animal with its colour, habitat and food.
type Creature struct{ Name, Color, Habitat, Food string }

// Facts is the fixed table of language-only knowledge.
type Facts struct {
	Countries []Country
	Creatures []Creature

	lookup [][]string // lookupClasses, built once
	once   sync.Once
}

var (
	habitats = []string{"forest", "desert", "lake", "mountains", "caves", "swamp", "meadow", "ocean"}
	foods    = []string{"berries", "fish", "leaves", "stones", "honey", "seeds", "mushrooms", "insects"}
)

// Mixes are the colour-mixing facts: two colours and what they make.
var Mixes = [][3]string{
	{"red", "yellow", "orange"},
	{"blue", "yellow", "green"},
	{"red", "blue", "purple"},
	{"red", "white", "pink"},
	{"black", "white", "gray"},
	{"blue", "green", "cyan"},
	{"red", "green", "brown"},
}

// Opposites are pairs of words with opposite meaning.
var Opposites = [][2]string{
	{"small", "large"}, {"up", "down"}, {"left", "right"}, {"above", "below"},
	{"hot", "cold"}, {"day", "night"}, {"black", "white"}, {"open", "closed"},
	{"fast", "slow"}, {"full", "empty"}, {"early", "late"}, {"light", "dark"},
	{"happy", "sad"}, {"old", "new"}, {"high", "low"}, {"inside", "outside"},
	{"first", "last"}, {"wet", "dry"}, {"hard", "soft"}, {"loud", "quiet"},
	{"near", "far"}, {"thick", "thin"}, {"more", "fewer"}, {"win", "lose"},
}

// sides is the number of sides (or points) of the shapes with corners.
var sides = map[string]int{"triangle": 3, "square": 4, "diamond": 4, "hexagon": 6, "star": 5}

var (
	factMu     sync.Mutex
	factTables = map[[2]int]*Facts{}
)

// FactTable returns the default world's facts (NumCountries countries and
// NumCreatures creatures; shared, do not modify).
func FactTable() *Facts { return factsOf(NumCountries, NumCreatures) }

// Facts returns the world's fact table (shared; do not modify): Countries
// and Creatures entries, NumCountries and NumCreatures where zero.
func (c Config) Facts() *Facts {
	nc, nk := c.Countries, c.Creatures
	if nc == 0 {
		nc = NumCountries
	}
	if nk == 0 {
		nk = NumCreatures
	}
	return factsOf(nc, nk)
}

func factsOf(countries, creatures int) *Facts {
	factMu.Lock()
	defer factMu.Unlock()
	k := [2]int{countries, creatures}
	if f := factTables[k]; f != nil {
		return f
	}
	f := buildFacts(countries, creatures)
	factTables[k] = f
	return f
}

// buildFacts draws the table: the countries, then the creatures, from one
// stream seeded by factSeed, so the default sizes give the table every
// earlier run and benchmark used.
func buildFacts(countries, creatures int) *Facts {
	rng := rand.New(rand.NewPCG(factSeed, factSeed^0x9e3779b97f4a7c15))
	used := map[string]bool{}
	for _, w := range vocabularyWords() {
		used[w] = true
	}
	cons := []string{"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "gl", "kr", "st", "th", "qu", "sh", "dr"}
	vows := []string{"a", "e", "i", "o", "u", "ai", "ou", "ee"}
	syl := func() string { return cons[rng.IntN(len(cons))] + vows[rng.IntN(len(vows))] }
	fresh := func(make func() string) string {
		for {
			w := make()
			if k := strings.ToLower(w); !used[k] {
				used[k] = true
				return w
			}
		}
	}
	f := &Facts{}
	for i := 0; i < countries; i++ {
		name := fresh(func() string {
			return capitalize(syl() + syl() + []string{"nia", "land", "stan", "ria", "mor"}[rng.IntN(5)])
		})
		capital := fresh(func() string {
			return capitalize(syl() + syl() + []string{"ton", "burg", "vik", "dor", "port"}[rng.IntN(5)])
		})
		f.Countries = append(f.Countries, Country{Name: name, Capital: capital})
	}
	finals := []string{"p", "b", "x", "m", "g", "t", "rk", "nd"}
	for i := 0; i < creatures; i++ {
		name := fresh(func() string { return syl() + syl()[:1] + vows[rng.IntN(len(vows))] + finals[rng.IntN(len(finals))] })
		f.Creatures = append(f.Creatures, Creature{
			Name:    name,
			Color:   Colors[rng.IntN(len(Colors))],
			Habitat: habitats[rng.IntN(len(habitats))],
			Food:    foods[rng.IntN(len(foods))],
		})
	}
	return f
}

// mixColor is what the two colours make, in either order.
func mixColor(a, b string) (string, bool) {
	for _, m := range Mixes {
		if (m[0] == a && m[1] == b) || (m[0] == b && m[1] == a) {
			return m[2], true
		}
	}
	return "", false
}

func mixResults() []string {
	var out []string
	for _, m := range Mixes {
		out = append(out, m[2])
	}
	return out
}

// allColorWords is Colors plus the mixing results that are not object colours.
func allColorWords() []string { return append(append([]string(nil), Colors...), "gray", "brown") }

type langGen struct {
	kind   string
	weight int
	gen    func(rng *rand.Rand, f *Facts, q *Question) bool
}

var languageGenerators = []langGen{
	{"capital", 3, genCapital},
	{"country", 1, genCountry},
	{"creature-color", 2, genCreatureColor},
	{"creature-home", 2, genCreatureHome},
	{"creature-food", 2, genCreatureFood},
	{"mix", 1, genMix},
	{"opposite", 1, genOpposite},
	{"add", 3, genAdd},
	{"subtract", 2, genSubtract},
	{"multiply", 1, genMultiply},
	{"sides", 1, genSides},
	{"next", 1, genNext},
}

// LanguageQuestion draws a question without an image from the facts f (a
// Config's Facts) or two-digit arithmetic.
func LanguageQuestion(rng *rand.Rand, f *Facts) Question {
	total := 0
	for _, g := range languageGenerators {
		total += g.weight
	}
	for {
		r := rng.IntN(total)
		g := languageGenerators[0]
		for _, x := range languageGenerators {
			if r < x.weight {
				g = x
				break
			}
			r -= x.weight
		}
		q := Question{Category: Language, Kind: g.kind}
		if g.gen(rng, f, &q) {
			return q
		}
	}
}

func genCapital(rng *rand.Rand, f *Facts, q *Question) bool {
	c := f.Countries[rng.IntN(len(f.Countries))]
	q.Question = fmt.Sprintf(choose(rng, "What is the capital of %s?", "Which city is the capital of %s?"), c.Name)
	q.Subject = []string{c.Name}
	var caps []string
	for _, x := range f.Countries {
		caps = append(caps, x.Capital)
	}
	return setChoices(rng, q, c.Capital, caps, nil)
}

func genCountry(rng *rand.Rand, f *Facts, q *Question) bool {
	c := f.Countries[rng.IntN(len(f.Countries))]
	q.Question = fmt.Sprintf("%s is the capital of which country?", c.Capital)
	q.Subject = []string{c.Capital}
	var names []string
	for _, x := range f.Countries {
		names = append(names, x.Name)
	}
	return setChoices(rng, q, c.Name, names, nil)
}

func genCreatureColor(rng *rand.Rand, f *Facts, q *Question) bool {
	c := f.Creatures[rng.IntN(len(f.Creatures))]
	q.Question = fmt.Sprintf(choose(rng, "What colour is a %s?", "What is the colour of the %s?"), c.Name)
	q.Subject = []string{c.Name}
	return setChoices(rng, q, c.Color, Colors, nil)
}

func genCreatureHome(rng *rand.Rand, f *Facts, q *Question) bool {
	c := f.Creatures[rng.IntN(len(f.Creatures))]
	q.Question = fmt.Sprintf(choose(rng, "Where does the %s live?", "In which place does the %s live?"), c.Name)
	q.Subject = []string{c.Name}
	return setChoices(rng, q, c.Habitat, habitats, nil)
}

func genCreatureFood(rng *rand.Rand, f *Facts, q *Question) bool {
	c := f.Creatures[rng.IntN(len(f.Creatures))]
	q.Question = fmt.Sprintf(choose(rng, "What does the %s eat?", "What is the food of the %s?"), c.Name)
	q.Subject = []string{c.Name}
	return setChoices(rng, q, c.Food, foods, nil)
}

func genMix(rng *rand.Rand, _ *Facts, q *Question) bool {
	m := Mixes[rng.IntN(len(Mixes))]
	a, b := m[0], m[1]
	if rng.IntN(2) == 0 {
		a, b = b, a
	}
	q.Question = fmt.Sprintf(choose(rng, "What colour do %s and %s make?", "Mixing %s and %s gives which colour?"), a, b)
	q.Subject = []string{a, b}
	var pref []string
	for _, c := range append(mixResults(), allColorWords()...) {
		if c != a && c != b {
			pref = append(pref, c)
		}
	}
	return setChoices(rng, q, m[2], pref, nil)
}

func genOpposite(rng *rand.Rand, _ *Facts, q *Question) bool {
	p := Opposites[rng.IntN(len(Opposites))]
	w, ans := p[0], p[1]
	if rng.IntN(2) == 0 {
		w, ans = ans, w
	}
	q.Question = fmt.Sprintf(choose(rng, "What is the opposite of %q?", "Which word means the opposite of %q?"), w)
	q.Subject = []string{w}
	var words []string
	for _, x := range Opposites {
		if x[0] != w && x[1] != w {
			words = append(words, x[0], x[1])
		}
	}
	return setChoices(rng, q, ans, words, nil)
}

// arithmetic is open-ended half of the time, multiple choice otherwise.
func arithmetic(rng *rand.Rand, q *Question, ans int) bool {
	if rng.IntN(2) == 0 {
		q.Answer = fmt.Sprint(ans)
		return true
	}
	return numberChoices(rng, q, ans, 0, true)
}

func genAdd(rng *rand.Rand, _ *Facts, q *Question) bool {
	a, b := 10+rng.IntN(90), 10+rng.IntN(90)
	q.Question = fmt.Sprintf(choose(rng, "%d + %d = ?", "What is %d plus %d?"), a, b)
	q.Subject = []string{fmt.Sprint(a), fmt.Sprint(b)}
	return arithmetic(rng, q, a+b)
}

func genSubtract(rng *rand.Rand, _ *Facts, q *Question) bool {
	a, b := 10+rng.IntN(90), 10+rng.IntN(90)
	if a < b {
		a, b = b, a
	}
	q.Question = fmt.Sprintf(choose(rng, "%d - %d = ?", "What is %d minus %d?"), a, b)
	q.Subject = []string{fmt.Sprint(a), fmt.Sprint(b)}
	return arithmetic(rng, q, a-b)
}

func genMultiply(rng *rand.Rand, _ *Facts, q *Question) bool {
	a, b := 2+rng.IntN(8), 2+rng.IntN(8)
	q.Question = fmt.Sprintf(choose(rng, "%d x %d = ?", "What is %d times %d?"), a, b)
	q.Subject = []string{fmt.Sprint(a), fmt.Sprint(b)}
	return arithmetic(rng, q, a*b)
}

func genSides(rng *rand.Rand, _ *Facts, q *Question) bool {
	sh := []string{"triangle", "square", "diamond", "hexagon", "star"}[rng.IntN(5)]
	if sh == "star" {
		q.Question = "How many points does a star have?"
	} else {
		q.Question = fmt.Sprintf("How many sides does %s %s have?", article(sh), sh)
	}
	q.Subject = []string{sh}
	return numberChoices(rng, q, sides[sh], 2, false)
}

func genNext(rng *rand.Rand, _ *Facts, q *Question) bool {
	if rng.IntN(2) == 0 {
		n := 1 + rng.IntN(98)
		if rng.IntN(2) == 0 {
			q.Question = fmt.Sprintf("What number comes after %d?", n)
			q.Answer = fmt.Sprint(n + 1)
			q.Subject = []string{fmt.Sprint(n)}
		} else {
			q.Question = fmt.Sprintf("What number comes before %d?", n+1)
			q.Answer = fmt.Sprint(n)
			q.Subject = []string{fmt.Sprint(n + 1)}
		}
		return true
	}
	const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	i := rng.IntN(25)
	q.Question = fmt.Sprintf("What letter comes after %s in the alphabet?", abc[i:i+1])
	q.Subject = []string{abc[i : i+1]}
	q.Answer = abc[i+1 : i+2]
	return true
}

// Sentences states every fact of the table as a sentence, in a fixed order
// (text for a tokenizer, documentation of the world).
func (f *Facts) Sentences() []string {
	var out []string
	for _, c := range f.Countries {
		out = append(out, fmt.Sprintf("The capital of %s is %s.", c.Name, c.Capital))
	}
	for _, c := range f.Creatures {
		out = append(out, fmt.Sprintf("The %s is %s, lives in the %s and eats %s.", c.Name, c.Color, c.Habitat, c.Food))
	}
	for _, m := range Mixes {
		out = append(out, fmt.Sprintf("%s and %s make %s.", capitalize(m[0]), m[1], m[2]))
	}
	for _, p := range Opposites {
		out = append(out, fmt.Sprintf("The opposite of %s is %s.", p[0], p[1]))
	}
	return out
}

// vocabularyWords are the fixed words of the world that invented names
// must not collide with.
func vocabularyWords() []string {
	var out []string
	out = append(out, Colors...)
	out = append(out, Shapes...)
	out = append(out, Sizes...)
	out = append(out, ordinals...)
	out = append(out, numberWords...)
	out = append(out, habitats...)
	out = append(out, foods...)
	for _, p := range Opposites {
		out = append(out, p[0], p[1])
	}
	for i := range out {
		out[i] = strings.ToLower(out[i])
	}
	return out
}
