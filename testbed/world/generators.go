package world

import (
	"fmt"
	"math/rand/v2"
)

// generator makes one kind of question about a scene, or reports that the
// scene does not support it.
type generator struct {
	kind   string
	weight int
	gen    func(s *Scene, rng *rand.Rand, q *Question) bool
}

var generators = map[string][]generator{
	Perception: {
		{"color-of", 3, genColorOf},
		{"shape-of", 3, genShapeOf},
		{"size-of", 2, genSizeOf},
		{"exists", 2, genExists},
		{"color-at", 2, genColorAt},
	},
	Counting: {
		{"count-shape", 3, genCountShape},
		{"count-color", 3, genCountColor},
		{"count-all", 1, genCountAll},
		{"count-size", 2, genCountSize},
		{"count-line", 2, genCountLine},
	},
	Spatial: {
		{"where-is", 3, genWhereIs},
		{"relative", 3, genRelative},
		{"which-rel", 3, genWhichRel},
		{"what-at", 3, genWhatAt},
		{"sign-row", 1, genSignRow},
	},
	Text: {
		{"read-sign", 5, genReadSign},
		{"sign-char", 2, genSignChar},
		{"sign-length", 1, genSignLength},
	},
	Reasoning: {
		{"more-than", 2, genMoreThan},
		{"most-common", 2, genMostCommon},
		{"digit-sum", 2, genDigitSum},
		{"sign-plus", 2, genSignPlus},
		{"not-color", 2, genNotColor},
		{"remove-shape", 2, genRemoveShape},
		{"is-rel", 2, genIsRel},
		{"mix-objects", 2, genMixObjects},
		{"sum-counts", 2, genSumCounts},
	},
	CaptionCat: {
		{"caption", 1, genCaption},
	},
}

// Question draws one question of the category about the scene; false when
// the scene supports none (a text question needs a sign). Language
// questions have no scene: use LanguageQuestion.
func (s *Scene) Question(rng *rand.Rand, category string) (Question, bool) {
	gens := generators[category]
	if len(gens) == 0 {
		return Question{}, false
	}
	total := 0
	for _, g := range gens {
		total += g.weight
	}
	for try := 0; try < 24; try++ {
		r := rng.IntN(total)
		g := gens[0]
		for _, x := range gens {
			if r < x.weight {
				g = x
				break
			}
			r -= x.weight
		}
		q := Question{Category: category, Kind: g.kind, HasImage: true}
		if g.gen(s, rng, &q) {
			return q, true
		}
	}
	return Question{}, false
}

// Questions draws one question of every image category the scene supports.
func (s *Scene) Questions(rng *rand.Rand) []Question {
	var out []Question
	for _, c := range imageCategories {
		if q, ok := s.Question(rng, c); ok {
			out = append(out, q)
		}
	}
	return out
}

// --- references ---

// refByShape refers to o without naming its colour.
func (s *Scene) refByShape(o Object) string {
	if s.count(func(p Object) bool { return p.Shape == o.Shape }) == 1 {
		return "the " + o.Shape
	}
	if s.count(func(p Object) bool { return p.Shape == o.Shape && p.Size == o.Size }) == 1 {
		return "the " + o.Size + " " + o.Shape
	}
	return "the " + o.Shape + " in the " + o.Position()
}

// refByColor refers to o without naming its shape.
func (s *Scene) refByColor(o Object) string {
	if s.count(func(p Object) bool { return p.Color == o.Color }) == 1 {
		return "the " + o.Color + " object"
	}
	if s.count(func(p Object) bool { return p.Color == o.Color && p.Size == o.Size }) == 1 {
		return "the " + o.Size + " " + o.Color + " object"
	}
	return "the " + o.Color + " object in the " + o.Position()
}

func (s *Scene) sceneColors() []string {
	var out []string
	for _, c := range Colors {
		if s.count(func(o Object) bool { return o.Color == c }) > 0 {
			out = append(out, c)
		}
	}
	return out
}

func (s *Scene) sceneShapes() []string {
	var out []string
	for _, sh := range Shapes {
		if s.count(func(o Object) bool { return o.Shape == sh }) > 0 {
			out = append(out, sh)
		}
	}
	return out
}

func (s *Scene) randomObject(rng *rand.Rand) Object { return s.Objects[rng.IntN(len(s.Objects))] }

// absentNames are "the <colour> <shape>" names of objects not in the scene
// that share a colour or a shape with o.
func (s *Scene) absentNames(o Object, prefix string) []string {
	var out []string
	for _, c := range Colors {
		if s.find(c, o.Shape) < 0 {
			out = append(out, prefix+c+" "+o.Shape)
		}
	}
	for _, sh := range Shapes {
		if s.find(o.Color, sh) < 0 {
			out = append(out, prefix+o.Color+" "+sh)
		}
	}
	return out
}

// --- focus (Question.Focus) ---

// cellOf is the grid cell index of o.
func (s *Scene) cellOf(o Object) int { return o.Row*s.Config.Grid + o.Col }

// cellsOf are the cells of the objects.
func (s *Scene) cellsOf(objs ...Object) []int {
	out := make([]int, 0, len(objs))
	for _, o := range objs {
		out = append(out, s.cellOf(o))
	}
	return out
}

// cellsWhere are the cells of the objects for which f holds.
func (s *Scene) cellsWhere(f func(Object) bool) []int {
	var out []int
	for _, o := range s.Objects {
		if f(o) {
			out = append(out, s.cellOf(o))
		}
	}
	return out
}

// CellsWith are the cells of the objects that have the attribute w names
// (Object.Has).
func (s *Scene) CellsWith(w string) []int {
	return s.cellsWhere(func(o Object) bool { return o.Has(w) })
}

// signCells are the two cells the sign spans.
func (s *Scene) signCells() []int {
	c := s.Sign.Row*s.Config.Grid + s.Sign.Col
	return []int{c, c + 1}
}

// --- perception ---

func genColorOf(s *Scene, rng *rand.Rand, q *Question) bool {
	o := s.randomObject(rng)
	ref := s.refByShape(o)
	q.Focus = s.cellsOf(o)
	q.Question = fmt.Sprintf(choose(rng, "What colour is %s?", "What is the colour of %s?", "Which colour does %s have?"), ref)
	return setChoices(rng, q, o.Color, s.sceneColors(), Colors)
}

func genShapeOf(s *Scene, rng *rand.Rand, q *Question) bool {
	o := s.randomObject(rng)
	ref := s.refByColor(o)
	q.Focus = s.cellsOf(o)
	q.Question = fmt.Sprintf(choose(rng, "What shape is %s?", "Which shape is %s?", "What is the shape of %s?"), ref)
	return setChoices(rng, q, o.Shape, s.sceneShapes(), Shapes)
}

func genSizeOf(s *Scene, rng *rand.Rand, q *Question) bool {
	o := s.randomObject(rng)
	q.Focus = s.cellsOf(o)
	q.Question = fmt.Sprintf(choose(rng, "Is %s small or large?", "Is %s large or small?", "What size is %s?"), o.Name())
	q.Answer = o.Size
	return true
}

func genExists(s *Scene, rng *rand.Rand, q *Question) bool {
	o := s.randomObject(rng)
	name := o.Color + " " + o.Shape
	present := rng.IntN(2) == 0
	if !present {
		abs := s.absentNames(o, "")
		name = abs[rng.IntN(len(abs))]
	} else {
		q.Focus = s.cellsOf(o)
	}
	q.Question = fmt.Sprintf(choose(rng, "Is there %s %s in the image?", "Does the image contain %s %s?"), article(name), name)
	q.Answer = yesNo(present)
	return true
}

func genColorAt(s *Scene, rng *rand.Rand, q *Question) bool {
	o := s.randomObject(rng)
	q.Focus = s.cellsOf(o)
	q.Question = fmt.Sprintf(choose(rng, "What colour is the object in the %s?", "Which colour is the shape in the %s?"), o.Position())
	return setChoices(rng, q, o.Color, s.sceneColors(), Colors)
}

// --- counting ---

func genCountShape(s *Scene, rng *rand.Rand, q *Question) bool {
	sh := Shapes[rng.IntN(len(Shapes))]
	if rng.IntN(10) < 7 {
		sh = s.randomObject(rng).Shape
	}
	q.Focus = s.cellsWhere(func(o Object) bool { return o.Shape == sh })
	n := len(q.Focus)
	q.Question = fmt.Sprintf(choose(rng, "How many %s are there?", "How many %s are in the image?", "Count the %s. How many are there?"), plural(sh))
	return numberChoices(rng, q, n, 0, false)
}

func genCountColor(s *Scene, rng *rand.Rand, q *Question) bool {
	c := Colors[rng.IntN(len(Colors))]
	if rng.IntN(10) < 7 {
		c = s.randomObject(rng).Color
	}
	q.Focus = s.cellsWhere(func(o Object) bool { return o.Color == c })
	n := len(q.Focus)
	q.Question = fmt.Sprintf(choose(rng, "How many %s objects are there?", "How many %s shapes are in the image?"), c)
	return numberChoices(rng, q, n, 0, false)
}

func genCountAll(s *Scene, rng *rand.Rand, q *Question) bool {
	q.Focus = s.cellsOf(s.Objects...)
	q.Question = choose(rng, "How many objects are there, not counting the sign?", "How many shapes are in the image?", "How many objects are in the picture, not counting the sign?")
	return numberChoices(rng, q, len(s.Objects), 1, false)
}

func genCountSize(s *Scene, rng *rand.Rand, q *Question) bool {
	sz := Sizes[rng.IntN(2)]
	q.Focus = s.cellsWhere(func(o Object) bool { return o.Size == sz })
	n := len(q.Focus)
	q.Question = fmt.Sprintf(choose(rng, "How many %s objects are there?", "How many %s shapes are in the image?"), sz)
	return numberChoices(rng, q, n, 0, false)
}

func genCountLine(s *Scene, rng *rand.Rand, q *Question) bool {
	k := rng.IntN(s.Config.Grid)
	if rng.IntN(2) == 0 {
		q.Focus = s.cellsWhere(func(o Object) bool { return o.Row == k })
		n := len(q.Focus)
		q.Question = fmt.Sprintf("How many objects are in the %s row?", ordinals[k])
		return numberChoices(rng, q, n, 0, false)
	}
	q.Focus = s.cellsWhere(func(o Object) bool { return o.Col == k })
	n := len(q.Focus)
	q.Question = fmt.Sprintf("How many objects are in the %s column?", ordinals[k])
	return numberChoices(rng, q, n, 0, false)
}

// --- spatial ---

func genWhereIs(s *Scene, rng *rand.Rand, q *Question) bool {
	o := s.randomObject(rng)
	q.Focus = s.cellsOf(o)
	q.Question = fmt.Sprintf(choose(rng, "Where is %s?", "In which cell is %s?", "Where in the grid is %s?"), o.Name())
	var near, all []string
	g := s.Config.Grid
	for r := 0; r < g; r++ {
		for c := 0; c < g; c++ {
			d := abs(r-o.Row) + abs(c-o.Col)
			if d == 1 || (d == 2 && r != o.Row && c != o.Col) {
				near = append(near, PositionName(r, c))
			}
			all = append(all, PositionName(r, c))
		}
	}
	for _, p := range s.Objects {
		near = append(near, p.Position())
	}
	return setChoices(rng, q, o.Position(), near, all)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// relativeWords are Directions without the trailing " of", as answers.
var relativeWords = []string{
	"above", "below", "to the left", "to the right",
	"above and to the left", "above and to the right",
	"below and to the left", "below and to the right",
}

func (s *Scene) twoObjects(rng *rand.Rand) (Object, Object, bool) {
	if len(s.Objects) < 2 {
		return Object{}, Object{}, false
	}
	i := rng.IntN(len(s.Objects))
	j := rng.IntN(len(s.Objects) - 1)
	if j >= i {
		j++
	}
	return s.Objects[i], s.Objects[j], true
}

func genRelative(s *Scene, rng *rand.Rand, q *Question) bool {
	a, b, ok := s.twoObjects(rng)
	if !ok {
		return false
	}
	d := direction(a.Row, a.Col, b.Row, b.Col)
	q.Focus = s.cellsOf(a, b)
	q.Question = fmt.Sprintf(choose(rng, "Where is %s relative to %s?", "Where is %s compared with %s?"), a.Name(), b.Name())
	return setChoices(rng, q, relativeWords[d], nil, relativeWords)
}

func genWhichRel(s *Scene, rng *rand.Rand, q *Question) bool {
	a, b, ok := s.twoObjects(rng)
	if !ok {
		return false
	}
	d := direction(a.Row, a.Col, b.Row, b.Col)
	var pref []string
	for _, p := range s.Objects {
		if p != a && p != b && direction(p.Row, p.Col, b.Row, b.Col) != d {
			pref = append(pref, p.Name())
		}
	}
	// Objects absent from the scene are in no direction of b; b itself is never offered.
	fb := s.absentNames(a, "the ")
	q.Focus = s.cellsOf(a, b)
	q.Question = fmt.Sprintf(choose(rng, "Which object is %s %s?", "Which of these objects is %s %s?"), Directions[d], b.Name())
	return setChoices(rng, q, a.Name(), pref, fb)
}

func genWhatAt(s *Scene, rng *rand.Rand, q *Question) bool {
	o := s.randomObject(rng)
	var pref []string
	for _, p := range s.Objects {
		pref = append(pref, "a "+p.Color+" "+p.Shape)
	}
	var fb []string
	for _, n := range s.absentNames(o, "") {
		fb = append(fb, article(n)+" "+n)
	}
	q.Focus = s.cellsOf(o)
	q.Question = fmt.Sprintf(choose(rng, "What is in the %s?", "Which object is in the %s?"), o.Position())
	return setChoices(rng, q, article(o.Color)+" "+o.Color+" "+o.Shape, fixArticles(pref), fb)
}

// fixArticles corrects "a" to "an" before a vowel in "a <word> ..." phrases.
func fixArticles(list []string) []string {
	for i, x := range list {
		if len(x) > 2 && x[:2] == "a " {
			list[i] = article(x[2:]) + x[1:]
		}
	}
	return list
}

func genSignRow(s *Scene, rng *rand.Rand, q *Question) bool {
	if s.Sign == nil {
		return false
	}
	var rows []string
	for r := 0; r < s.Config.Grid; r++ {
		rows = append(rows, ordinals[r]+" row")
	}
	q.Focus = s.signCells()
	q.Question = choose(rng, "In which row is the sign?", "Which row is the sign in?")
	return setChoices(rng, q, rows[s.Sign.Row], nil, rows)
}

// --- text ---

func genReadSign(s *Scene, rng *rand.Rand, q *Question) bool {
	if s.Sign == nil {
		return false
	}
	q.Focus = s.signCells()
	q.Question = choose(rng, "What does the sign say?", "What is written on the sign?", "What text is on the sign?", "Read the text on the sign.")
	q.Answer = s.Sign.Text
	for k := range len(q.Answer) {
		q.Glyphs = append(q.Glyphs, k)
	}
	return true
}

func genSignChar(s *Scene, rng *rand.Rand, q *Question) bool {
	if s.Sign == nil || len(s.Sign.Text) < 2 {
		return false
	}
	t := s.Sign.Text
	q.Focus = s.signCells()
	if rng.IntN(2) == 0 {
		q.Question = "What is the first character on the sign?"
		q.Answer, q.Glyphs = t[:1], []int{0}
	} else {
		q.Question = "What is the last character on the sign?"
		q.Answer, q.Glyphs = t[len(t)-1:], []int{len(t) - 1}
	}
	return true
}

func genSignLength(s *Scene, rng *rand.Rand, q *Question) bool {
	if s.Sign == nil {
		return false
	}
	q.Focus = s.signCells()
	q.Question = choose(rng, "How many characters are on the sign?", "How many letters and digits does the sign show?")
	q.Answer = fmt.Sprint(len(s.Sign.Text))
	return true
}

// --- reasoning ---

func genMoreThan(s *Scene, rng *rand.Rand, q *Question) bool {
	a := s.randomObject(rng).Shape
	b := Shapes[rng.IntN(len(Shapes))]
	if rng.IntN(2) == 0 {
		b = s.randomObject(rng).Shape
	}
	if a == b {
		return false
	}
	if rng.IntN(2) == 0 {
		a, b = b, a
	}
	na := s.count(func(o Object) bool { return o.Shape == a })
	nb := s.count(func(o Object) bool { return o.Shape == b })
	q.Focus = s.cellsWhere(func(o Object) bool { return o.Shape == a || o.Shape == b })
	q.Question = fmt.Sprintf("Are there more %s than %s?", plural(a), plural(b))
	q.Answer = yesNo(na > nb)
	return true
}

func genMostCommon(s *Scene, rng *rand.Rand, q *Question) bool {
	if rng.IntN(2) == 0 {
		best, ok := uniqueMax(Colors, func(c string) int { return s.count(func(o Object) bool { return o.Color == c }) })
		if !ok {
			return false
		}
		q.Question = "Which colour appears most often among the objects?"
		return setChoices(rng, q, best, s.sceneColors(), Colors)
	}
	best, ok := uniqueMax(Shapes, func(sh string) int { return s.count(func(o Object) bool { return o.Shape == sh }) })
	if !ok {
		return false
	}
	q.Question = "Which shape appears most often?"
	return setChoices(rng, q, best, s.sceneShapes(), Shapes)
}

// uniqueMax returns the item with the largest count if that count is at
// least 2 and no other item has it.
func uniqueMax(items []string, count func(string) int) (string, bool) {
	best, bn, ties := "", 0, 0
	for _, it := range items {
		n := count(it)
		switch {
		case n > bn:
			best, bn, ties = it, n, 1
		case n == bn:
			ties++
		}
	}
	return best, bn >= 2 && ties == 1
}

func genDigitSum(s *Scene, rng *rand.Rand, q *Question) bool {
	d := s.signDigits()
	if len(d) < 2 {
		return false
	}
	sum := 0
	for _, x := range d {
		sum += x
	}
	q.Focus = s.signCells()
	q.Question = choose(rng, "What is the sum of the digits on the sign?", "If you add up the digits on the sign, what do you get?")
	return numberChoices(rng, q, sum, 0, false)
}

func genSignPlus(s *Scene, rng *rand.Rand, q *Question) bool {
	if s.Sign == nil {
		return false
	}
	t := s.Sign.Text
	if len(t) > 2 || len(s.signDigits()) != len(t) {
		return false
	}
	n := 0
	for _, r := range t {
		n = 10*n + int(r-'0')
	}
	k := 1 + rng.IntN(49)
	q.Focus = s.signCells()
	q.Question = fmt.Sprintf("What is the number on the sign plus %d?", k)
	return numberChoices(rng, q, n+k, 0, true)
}

func genNotColor(s *Scene, rng *rand.Rand, q *Question) bool {
	c := s.randomObject(rng).Color
	q.Focus = s.cellsWhere(func(o Object) bool { return o.Color != c })
	n := len(q.Focus)
	q.Question = fmt.Sprintf("How many objects are not %s?", c)
	return numberChoices(rng, q, n, 0, false)
}

func genRemoveShape(s *Scene, rng *rand.Rand, q *Question) bool {
	sh := s.randomObject(rng).Shape
	q.Focus = s.cellsWhere(func(o Object) bool { return o.Shape != sh })
	n := len(q.Focus)
	q.Question = fmt.Sprintf("If all the %s were removed, how many objects would remain?", plural(sh))
	return numberChoices(rng, q, n, 0, false)
}

func genIsRel(s *Scene, rng *rand.Rand, q *Question) bool {
	a, b, ok := s.twoObjects(rng)
	if !ok {
		return false
	}
	d := direction(a.Row, a.Col, b.Row, b.Col)
	truth := rng.IntN(2) == 0
	asked := d
	if !truth {
		asked = (d + 1 + rng.IntN(len(Directions)-1)) % len(Directions)
	}
	q.Focus = s.cellsOf(a, b)
	q.Question = fmt.Sprintf("Is %s %s %s?", a.Name(), Directions[asked], b.Name())
	q.Answer = yesNo(truth)
	return true
}

func genMixObjects(s *Scene, rng *rand.Rand, q *Question) bool {
	a, b, ok := s.twoObjects(rng)
	if !ok || a.Shape == b.Shape {
		return false
	}
	if s.count(func(o Object) bool { return o.Shape == a.Shape }) > 1 || s.count(func(o Object) bool { return o.Shape == b.Shape }) > 1 {
		return false
	}
	mix, ok := mixColor(a.Color, b.Color)
	if !ok {
		return false
	}
	q.Focus = s.cellsOf(a, b)
	q.Question = fmt.Sprintf("What colour do you get if you mix the colours of the %s and the %s?", a.Shape, b.Shape)
	return setChoices(rng, q, mix, mixResults(), allColorWords())
}

func genSumCounts(s *Scene, rng *rand.Rand, q *Question) bool {
	a := s.randomObject(rng).Shape
	b := Shapes[rng.IntN(len(Shapes))]
	if a == b {
		return false
	}
	q.Focus = s.cellsWhere(func(o Object) bool { return o.Shape == a || o.Shape == b })
	n := len(q.Focus)
	q.Question = fmt.Sprintf("How many %s and %s are there in total?", plural(a), plural(b))
	return numberChoices(rng, q, n, 0, false)
}

// --- caption ---

// CaptionPrompts are the ways of asking for a caption; the first is the one
// written to the calibration file.
var CaptionPrompts = []string{
	"Describe the image.",
	"Describe the image in detail.",
	"What do you see in this picture? Describe it in detail.",
	"Give a detailed description of the image.",
}

func genCaption(s *Scene, rng *rand.Rand, q *Question) bool {
	q.Question = CaptionPrompts[rng.IntN(len(CaptionPrompts))]
	q.Answer = s.Caption(rng)
	q.Attributes = s.Attributes()
	return true
}
