package world

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func testRNG(i uint64) *rand.Rand { return rand.New(rand.NewPCG(i, 0x7465737431)) }

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []func(*Config){
		func(c *Config) { c.Grid = 1 },
		func(c *Config) { c.Size = 40 },
		func(c *Config) { c.MaxObjects = 15 },
		func(c *Config) { c.MinObjects = 0 },
		func(c *Config) { c.SignProb = 2 },
		func(c *Config) { c.CaptionShare = 0.9; c.LanguageShare = 0.2 },
	}
	for i, f := range bad {
		c := DefaultConfig()
		f(&c)
		if c.Validate() == nil {
			t.Errorf("case %d: invalid config %+v accepted", i, c)
		}
	}
}

func TestScenes(t *testing.T) {
	cfg := DefaultConfig()
	hist := make([]int, cfg.MaxObjects+1)
	signs := 0
	const n = 3000
	for i := 0; i < n; i++ {
		rng := testRNG(uint64(i))
		s := NewScene(rng, cfg)
		hist[len(s.Objects)]++
		cells := map[[2]int]bool{}
		if sg := s.Sign; sg != nil {
			signs++
			if len(sg.Text) < 1 || len(sg.Text) > 4 || strings.Trim(sg.Text, signAlphabet) != "" {
				t.Fatalf("scene %d: sign text %q", i, sg.Text)
			}
			if sg.Row < 0 || sg.Row >= cfg.Grid || sg.Col < 0 || sg.Col+1 >= cfg.Grid {
				t.Fatalf("scene %d: sign at %d,%d", i, sg.Row, sg.Col)
			}
			cells[[2]int{sg.Row, sg.Col}] = true
			cells[[2]int{sg.Row, sg.Col + 1}] = true
		}
		pairs := map[string]bool{}
		for _, o := range s.Objects {
			c := [2]int{o.Row, o.Col}
			if o.Row < 0 || o.Row >= cfg.Grid || o.Col < 0 || o.Col >= cfg.Grid || cells[c] {
				t.Fatalf("scene %d: object %+v out of the grid or overlapping", i, o)
			}
			cells[c] = true
			if pairs[o.Color+o.Shape] {
				t.Fatalf("scene %d: two %s %s", i, o.Color, o.Shape)
			}
			pairs[o.Color+o.Shape] = true
			if indexOf(Colors, o.Color) < 0 || indexOf(Shapes, o.Shape) < 0 || indexOf(Sizes, o.Size) < 0 {
				t.Fatalf("scene %d: object %+v", i, o)
			}
		}
		// Every caption mentions every attribute, every colour and shape.
		for k := 0; k < 3; k++ {
			c := s.Caption(rng)
			for _, a := range s.Attributes() {
				if !strings.Contains(c, a) {
					t.Fatalf("scene %d: caption %q lacks attribute %q", i, c, a)
				}
			}
			for _, o := range s.Objects {
				if !strings.Contains(c, o.Color+" "+o.Shape) {
					t.Fatalf("scene %d: caption %q lacks %s %s", i, c, o.Color, o.Shape)
				}
			}
		}
	}
	if hist[0] != 0 {
		t.Errorf("scenes without objects: %d", hist[0])
	}
	for k := 3; k <= 5; k++ {
		if hist[k] < hist[1] || hist[k] < hist[6] {
			t.Errorf("object counts %v not weighted towards 3..5", hist)
		}
	}
	if f := float64(signs) / n; f < 0.35 || f > 0.45 {
		t.Errorf("sign share %.3f, want about 0.4", f)
	}
}

func TestRender(t *testing.T) {
	cfg := DefaultConfig()
	for i := 0; i < 300; i++ {
		s := newScene(testRNG(uint64(i)), cfg, true)
		img := s.Render()
		if img.Rect.Dx() != cfg.Size || img.Rect.Dy() != cfg.Size {
			t.Fatalf("image %v", img.Rect)
		}
		// The centre of every object has the object's colour.
		for _, o := range s.Objects {
			cell := cfg.cell()
			x, y := o.Col*cell+cell/2, o.Row*cell+cell/2
			got := img.RGBAAt(x, y)
			want := colorRGB[indexOf(Colors, o.Color)]
			for c, v := range []uint8{got.R, got.G, got.B} {
				if d := int(v) - int(want[c]); d > 8 || d < -8 {
					t.Fatalf("scene %d: %s at (%d,%d) is %v, want about %v", i, o.Phrase(), x, y, got, want)
				}
			}
		}
		// The sign shows ink under every character.
		board := s.signRect()
		sc := s.signScale(board)
		text := s.Sign.Text
		x0 := board.Min.X + (board.Dx()-(6*len(text)-1)*sc)/2
		y0 := board.Min.Y + (board.Dy()-7*sc)/2
		for k := range text {
			ink := 0
			for y := y0; y < y0+7*sc; y++ {
				for x := x0 + 6*k*sc; x < x0+(6*k+5)*sc; x++ {
					if p := img.RGBAAt(x, y); p.R < 60 && p.G < 60 && p.B < 60 {
						ink++
					}
				}
			}
			if ink < 7*sc*sc {
				t.Fatalf("scene %d: sign %q character %d has %d ink pixels", i, text, k, ink)
			}
		}
		if p := img.RGBAAt(board.Min.X+1, board.Min.Y+1); p.R < 200 {
			t.Fatalf("scene %d: sign board at %v is %v", i, board.Min, p)
		}
	}
	// Rendering is a function of the scene.
	s := NewScene(testRNG(1), cfg)
	a, b := s.Render(), s.Render()
	if string(a.Pix) != string(b.Pix) {
		t.Fatal("two renderings of a scene differ")
	}
}

// --- an independent oracle for the answers ---

var (
	reHowManyShape = regexp.MustCompile(`^(?:How many (\w+) are (?:there|in the image)\?|Count the (\w+)\. How many are there\?)$`)
	reHowManyAttr  = regexp.MustCompile(`^How many (\w+) (?:objects are there|shapes are in the image)\?$`)
	reLine         = regexp.MustCompile(`^How many objects are in the (\w+) (row|column)\?$`)
	rePos          = regexp.MustCompile(`(\w+) row, (\w+) column`)
	reName         = regexp.MustCompile(`the (\w+) (\w+)`)
)

func singular(p string) string {
	for _, s := range Shapes {
		if plural(s) == p {
			return s
		}
	}
	return ""
}

func parsePos(t *testing.T, s string) (int, int) {
	m := rePos.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no position in %q", s)
	}
	return indexOf(ordinals, m[1]), indexOf(ordinals, m[2])
}

// resolve finds the one object a reference like "the large star in the
// second row, first column" or "the red object" denotes.
func resolve(t *testing.T, s *Scene, ref string) Object {
	ref = strings.TrimPrefix(ref, "the ")
	r, c := -1, -1
	if i := strings.Index(ref, " in the "); i >= 0 {
		r, c = parsePos(t, ref[i:])
		ref = ref[:i]
	}
	var found []Object
	for _, o := range s.Objects {
		ok := (r < 0 || (o.Row == r && o.Col == c))
		for _, w := range strings.Fields(ref) {
			switch {
			case w == "object":
			case indexOf(Sizes, w) >= 0:
				ok = ok && o.Size == w
			case indexOf(Colors, w) >= 0:
				ok = ok && o.Color == w
			case indexOf(Shapes, w) >= 0:
				ok = ok && o.Shape == w
			default:
				t.Fatalf("reference %q: word %q", ref, w)
			}
		}
		if ok {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("reference %q matches %d objects of %+v", ref, len(found), s.Objects)
	}
	return found[0]
}

func (s *Scene) countShape(sh string) int {
	return s.count(func(o Object) bool { return o.Shape == sh })
}

// oracle recomputes the answer text of q from the scene.
func oracle(t *testing.T, s *Scene, q Question) string {
	text := q.Question
	switch q.Kind {
	case "color-of":
		for _, p := range []string{"What colour is ", "What is the colour of ", "Which colour does "} {
			if strings.HasPrefix(text, p) {
				ref := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(text, p), "?"), " have")
				return resolve(t, s, ref).Color
			}
		}
	case "shape-of":
		for _, p := range []string{"What shape is ", "Which shape is ", "What is the shape of "} {
			if strings.HasPrefix(text, p) {
				return resolve(t, s, strings.TrimSuffix(strings.TrimPrefix(text, p), "?")).Shape
			}
		}
	case "size-of":
		m := reName.FindStringSubmatch(text)
		return resolve(t, s, m[0]).Size
	case "exists":
		m := regexp.MustCompile(`an? (\w+) (\w+)(?: in the image)?\?$`).FindStringSubmatch(text)
		return yesNo(s.find(m[1], m[2]) >= 0)
	case "color-at":
		r, c := parsePos(t, text)
		return s.Objects[s.At(r, c)].Color
	case "count-shape":
		m := reHowManyShape.FindStringSubmatch(text)
		return fmt.Sprint(s.countShape(singular(m[1] + m[2])))
	case "count-color", "count-size":
		m := reHowManyAttr.FindStringSubmatch(text)
		return fmt.Sprint(s.count(func(o Object) bool { return o.Color == m[1] || o.Size == m[1] }))
	case "count-all":
		return fmt.Sprint(len(s.Objects))
	case "count-line":
		m := reLine.FindStringSubmatch(text)
		k := indexOf(ordinals, m[1])
		return fmt.Sprint(s.count(func(o Object) bool { return (m[2] == "row" && o.Row == k) || (m[2] == "column" && o.Col == k) }))
	case "where-is":
		m := regexp.MustCompile(`(the \w+ \w+)\?$`).FindStringSubmatch(text)
		return resolve(t, s, m[1]).Position()
	case "relative":
		m := reName.FindAllString(text, 2)
		a, b := resolve(t, s, m[0]), resolve(t, s, m[1])
		return strings.TrimSuffix(Directions[direction(a.Row, a.Col, b.Row, b.Col)], " of")
	case "which-rel":
		m := regexp.MustCompile(`is (.+) (the \w+ \w+)\?$`).FindStringSubmatch(text)
		b := resolve(t, s, m[2])
		var right []string
		for _, opt := range q.Options {
			w := strings.Fields(opt)
			if i := s.find(w[1], w[2]); i >= 0 {
				o := s.Objects[i]
				if o != b && Directions[direction(o.Row, o.Col, b.Row, b.Col)] == m[1] {
					right = append(right, opt)
				}
			}
		}
		if len(right) != 1 {
			t.Fatalf("%q: options %q: %d right", text, q.Options, len(right))
		}
		return right[0]
	case "what-at":
		r, c := parsePos(t, text)
		o := s.Objects[s.At(r, c)]
		return article(o.Color) + " " + o.Color + " " + o.Shape
	case "sign-row":
		return ordinals[s.Sign.Row] + " row"
	case "read-sign":
		return s.Sign.Text
	case "sign-char":
		if strings.Contains(text, "first") {
			return s.Sign.Text[:1]
		}
		return s.Sign.Text[len(s.Sign.Text)-1:]
	case "sign-length":
		return fmt.Sprint(len(s.Sign.Text))
	case "more-than":
		m := regexp.MustCompile(`more (\w+) than (\w+)\?`).FindStringSubmatch(text)
		return yesNo(s.countShape(singular(m[1])) > s.countShape(singular(m[2])))
	case "most-common":
		cnt := map[string]int{}
		for _, o := range s.Objects {
			if strings.Contains(text, "colour") {
				cnt[o.Color]++
			} else {
				cnt[o.Shape]++
			}
		}
		best, bn, ties := "", 0, 0
		for k, v := range cnt {
			if v > bn {
				best, bn, ties = k, v, 1
			} else if v == bn {
				ties++
			}
		}
		if ties != 1 {
			t.Fatalf("%q: no unique most common in %+v", text, s.Objects)
		}
		return best
	case "digit-sum":
		sum := 0
		for _, r := range s.Sign.Text {
			if r >= '0' && r <= '9' {
				sum += int(r - '0')
			}
		}
		return fmt.Sprint(sum)
	case "sign-plus":
		n, err := strconv.Atoi(s.Sign.Text)
		k, err2 := strconv.Atoi(strings.TrimSuffix(text[strings.LastIndex(text, " ")+1:], "?"))
		if err != nil || err2 != nil {
			t.Fatalf("%q: sign %q", text, s.Sign.Text)
		}
		return fmt.Sprint(n + k)
	case "not-color":
		c := strings.TrimSuffix(text[strings.LastIndex(text, " ")+1:], "?")
		return fmt.Sprint(s.count(func(o Object) bool { return o.Color != c }))
	case "remove-shape":
		m := regexp.MustCompile(`all the (\w+) were`).FindStringSubmatch(text)
		return fmt.Sprint(len(s.Objects) - s.countShape(singular(m[1])))
	case "is-rel":
		m := regexp.MustCompile(`^Is (the \w+ \w+) (.+) (the \w+ \w+)\?$`).FindStringSubmatch(text)
		a, b := resolve(t, s, m[1]), resolve(t, s, m[3])
		return yesNo(Directions[direction(a.Row, a.Col, b.Row, b.Col)] == m[2])
	case "mix-objects":
		m := regexp.MustCompile(`colours of the (\w+) and the (\w+)\?`).FindStringSubmatch(text)
		a, b := resolve(t, s, m[1]), resolve(t, s, m[2])
		for _, x := range Mixes {
			if (x[0] == a.Color && x[1] == b.Color) || (x[1] == a.Color && x[0] == b.Color) {
				return x[2]
			}
		}
		t.Fatalf("%q: %s and %s do not mix", text, a.Color, b.Color)
	case "sum-counts":
		m := regexp.MustCompile(`How many (\w+) and (\w+) are`).FindStringSubmatch(text)
		return fmt.Sprint(s.countShape(singular(m[1])) + s.countShape(singular(m[2])))
	case "caption":
		return q.Answer
	}
	t.Fatalf("no oracle for %s question %q", q.Kind, text)
	return ""
}

func checkOptions(t *testing.T, q Question) {
	t.Helper()
	if !q.MultipleChoice() {
		if q.Answer == "" {
			t.Fatalf("%q: empty answer", q.Question)
		}
		return
	}
	if len(q.Options) != 4 || indexOf(Letters, q.Answer) < 0 {
		t.Fatalf("%q: options %q, answer %q", q.Question, q.Options, q.Answer)
	}
	seen := map[string]bool{}
	for _, o := range q.Options {
		if o == "" || seen[o] {
			t.Fatalf("%q: options %q not distinct", q.Question, q.Options)
		}
		seen[o] = true
	}
}

func TestQuestionsAgainstOracle(t *testing.T) {
	cfg := DefaultConfig()
	kinds := map[string]int{}
	letters := map[string]int{}
	for i := 0; i < 4000; i++ {
		rng := testRNG(uint64(1e6 + i))
		cat := imageCategories[i%len(imageCategories)]
		s := newScene(rng, cfg, cat == Text)
		q, ok := s.Question(rng, cat)
		if !ok {
			t.Fatalf("scene %d: no %s question", i, cat)
		}
		if q.Category != cat || !q.HasImage {
			t.Fatalf("question %+v", q)
		}
		checkOptions(t, q)
		if got, want := q.Correct(), oracle(t, s, q); got != want {
			t.Fatalf("scene %+v sign %+v\n%s question %q options %q: answer %q, oracle %q", s.Objects, s.Sign, q.Kind, q.Question, q.Options, got, want)
		}
		kinds[q.Kind]++
		if q.MultipleChoice() {
			letters[q.Answer]++
		}
	}
	for _, gens := range generators {
		for _, g := range gens {
			if kinds[g.kind] == 0 {
				t.Errorf("kind %s never drawn", g.kind)
			}
		}
	}
	total := 0
	for _, n := range letters {
		total += n
	}
	for _, l := range Letters {
		if f := float64(letters[l]) / float64(total); f < 0.21 || f > 0.29 {
			t.Errorf("answer %s in %.3f of multiple-choice questions, want about 0.25", l, f)
		}
	}
	// Questions gives one per supported category.
	s := newScene(testRNG(5), cfg, true)
	qs := s.Questions(testRNG(6))
	if len(qs) != len(imageCategories) {
		t.Errorf("Questions gave %d, want %d", len(qs), len(imageCategories))
	}
}

func TestLanguageQuestions(t *testing.T) {
	f := FactTable()
	capital := map[string]string{}
	creature := map[string]Creature{}
	names := map[string]bool{}
	for _, c := range f.Countries {
		capital[c.Name] = c.Capital
		for _, n := range []string{c.Name, c.Capital} {
			if names[strings.ToLower(n)] {
				t.Fatalf("name %q twice", n)
			}
			names[strings.ToLower(n)] = true
		}
	}
	for _, c := range f.Creatures {
		creature[c.Name] = c
		if names[c.Name] {
			t.Fatalf("name %q twice", c.Name)
		}
		names[c.Name] = true
	}
	kinds := map[string]int{}
	for i := 0; i < 3000; i++ {
		q := LanguageQuestion(testRNG(uint64(i)), FactTable())
		checkOptions(t, q)
		if q.HasImage || q.Category != Language {
			t.Fatalf("question %+v", q)
		}
		kinds[q.Kind]++
		got := q.Correct()
		var want string
		words := strings.Fields(strings.TrimSuffix(q.Question, "?"))
		last := words[len(words)-1]
		switch q.Kind {
		case "capital":
			want = capital[last]
		case "creature-color", "creature-home", "creature-food":
			var c Creature
			for _, w := range words {
				if x, ok := creature[w]; ok {
					c = x
				}
			}
			want = map[string]string{"creature-color": c.Color, "creature-home": c.Habitat, "creature-food": c.Food}[q.Kind]
		case "add", "subtract", "multiply":
			var a, b int
			var op string
			if _, err := fmt.Sscanf(q.Question, "%d %s %d", &a, &op, &b); err != nil {
				fmt.Sscanf(q.Question, "What is %d %s %d", &a, &op, &b)
			}
			switch op {
			case "+", "plus":
				want = fmt.Sprint(a + b)
			case "-", "minus":
				want = fmt.Sprint(a - b)
			default:
				want = fmt.Sprint(a * b)
			}
		default:
			continue
		}
		if got != want {
			t.Fatalf("%s %q options %q: answer %q, want %q", q.Kind, q.Question, q.Options, got, want)
		}
	}
	for _, g := range languageGenerators {
		if kinds[g.kind] == 0 {
			t.Errorf("language kind %s never drawn", g.kind)
		}
	}
}

// The fact table is part of the trained model's world: changing it
// invalidates committed weights. Update factDigest only on purpose.
func TestFactTableFixed(t *testing.T) {
	s := strings.Join(FactTable().Sentences(), "\n")
	f := FactTable()
	if len(f.Countries) != NumCountries || len(f.Creatures) != NumCreatures {
		t.Fatalf("%d countries, %d creatures", len(f.Countries), len(f.Creatures))
	}
	got := fmt.Sprintf("%s / %s / %s", f.Countries[0].Name, f.Countries[0].Capital, f.Creatures[0].Name)
	if got != factDigest {
		t.Errorf("first facts %q, want %q (the table changed)\n%s", got, factDigest, s[:200])
	}
}

func TestPromptAndTarget(t *testing.T) {
	q := Question{Category: Counting, Question: "How many stars are there?", Options: []string{"1", "2", "3", "4"}, Answer: "B", HasImage: true}
	want := "<image>\nHow many stars are there?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer with the option's letter from the given choices directly."
	if got := q.UserText(); got != want {
		t.Errorf("UserText %q, want %q", got, want)
	}
	if q.Target() != "B" || q.Correct() != "2" {
		t.Errorf("target %q correct %q", q.Target(), q.Correct())
	}
	o := Question{Category: Text, Question: "What does the sign say?", Answer: "AB3", HasImage: true}
	if got := o.Prompt(); got != "What does the sign say?\n"+OpenSuffix || o.Target() != "AB3" {
		t.Errorf("open prompt %q target %q", got, o.Target())
	}
	c := Question{Category: CaptionCat, Question: "Describe the image.", Answer: "A caption."}
	if c.Prompt() != "Describe the image." || c.Target() != "A caption." {
		t.Errorf("caption prompt %q", c.Prompt())
	}
	for in, want := range map[string]string{" The Red Star. ": "red star", "AB3": "ab3", "an  apple": "apple", "Yes!": "yes"} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTrainingSample(t *testing.T) {
	cfg := DefaultConfig()
	rng := testRNG(99)
	cats := map[string]int{}
	const n = 2000
	for i := 0; i < n; i++ {
		sm := TrainingSample(rng, cfg)
		cats[sm.Question.Category]++
		if sm.Question.Kind == "lookup" {
			cats["lookup"]++
			q := sm.Question
			if !q.MultipleChoice() || !strings.HasSuffix(q.Question, q.Correct()+"?") {
				t.Fatalf("sample %d: lookup %+v", i, q)
			}
		}
		if (sm.Image == nil) != (sm.Question.Category == Language) || (sm.Scene == nil) != (sm.Image == nil) {
			t.Fatalf("sample %d: %s with image %v", i, sm.Question.Category, sm.Image != nil)
		}
		if len(sm.Turns) != 2 || sm.Turns[0].From != "human" || sm.Turns[1].From != "gpt" || sm.Turns[1].Value != sm.Question.Target() {
			t.Fatalf("sample %d: turns %+v", i, sm.Turns)
		}
		if strings.HasPrefix(sm.Turns[0].Value, ImageToken+"\n") != (sm.Image != nil) {
			t.Fatalf("sample %d: user turn %q", i, sm.Turns[0].Value)
		}
	}
	if f := float64(cats[CaptionCat]) / n; f < 0.26 || f > 0.34 {
		t.Errorf("caption share %.3f, want about 0.3", f)
	}
	if f := float64(cats[Language]-cats["lookup"]) / n; f < 0.12 || f > 0.18 {
		t.Errorf("language share %.3f, want about 0.15", f)
	}
	if f := float64(cats["lookup"]) / n; f < 0.12 || f > 0.18 {
		t.Errorf("lookup share %.3f, want about 0.15", f)
	}
	for _, c := range Categories {
		if cats[c] == 0 {
			t.Errorf("no %s samples", c)
		}
	}
	a := Corpus(testRNG(3), cfg, 50)
	b := Corpus(testRNG(3), cfg, 50)
	if strings.Join(a, "\x00") != strings.Join(b, "\x00") || len(a) < 50 {
		t.Error("Corpus is not deterministic")
	}
	v := Vocabulary(FactTable())
	for _, w := range []string{"red", "hexagon", "fourth", "to the left of", FactTable().Countries[0].Name, MCSuffix} {
		if indexOf(v, w) < 0 {
			t.Errorf("Vocabulary lacks %q", w)
		}
	}
}

// TestSignGlyphs: each glyph box holds ink (dark pixels) of the rendered
// sign, lies on the board, and the boxes run left to right.
func TestSignGlyphs(t *testing.T) {
	cfg := DefaultConfig()
	rng := testRNG(5)
	for n := 0; n < 30; n++ {
		s := newScene(rng, cfg, true)
		img := s.Render()
		boxes := s.SignGlyphs()
		if len(boxes) != len(s.Sign.Text) {
			t.Fatalf("%q: %d boxes", s.Sign.Text, len(boxes))
		}
		board := s.signRect()
		for k, b := range boxes {
			if !b.In(board) || (k > 0 && b.Min.X <= boxes[k-1].Max.X) {
				t.Fatalf("%q: box %d %v (board %v, previous %v)", s.Sign.Text, k, b, board, boxes[max(k-1, 0)])
			}
			ink := 0
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					if c := img.RGBAAt(x, y); c.R < 50 && c.G < 50 && c.B < 50 {
						ink++
					}
				}
			}
			if ink == 0 {
				t.Fatalf("%q: glyph %d box %v has no ink", s.Sign.Text, k, b)
			}
		}
	}
	if (&Scene{Config: cfg}).SignGlyphs() != nil {
		t.Fatal("glyphs without a sign")
	}
}

// TestFocus: every focus cell holds an object or the sign, without
// repeats; single-object questions focus on one cell, sign questions on the
// sign's two; captions have none.
func TestFocus(t *testing.T) {
	cfg := DefaultConfig()
	rng := rand.New(rand.NewPCG(41, 42))
	single := map[string]bool{"color-of": true, "shape-of": true, "size-of": true, "color-at": true, "where-is": true, "what-at": true}
	seen := map[string]bool{}
	for range 300 {
		s := NewScene(rng, cfg)
		occupied := map[int]bool{}
		for _, o := range s.Objects {
			occupied[o.Row*cfg.Grid+o.Col] = true
		}
		var sign map[int]bool
		if s.Sign != nil {
			c := s.Sign.Row*cfg.Grid + s.Sign.Col
			sign = map[int]bool{c: true, c + 1: true}
		}
		for _, q := range s.Questions(rng) {
			seen[q.Kind] = seen[q.Kind] || len(q.Focus) > 0
			dup := map[int]bool{}
			for _, c := range q.Focus {
				if dup[c] || !(occupied[c] || sign[c]) {
					t.Fatalf("%s %q: focus %v (objects %v, sign %v)", q.Kind, q.Question, q.Focus, occupied, sign)
				}
				dup[c] = true
			}
			switch {
			case single[q.Kind] && len(q.Focus) != 1:
				t.Errorf("%s: focus %v, want one cell", q.Kind, q.Focus)
			case q.Category == Text && (len(q.Focus) != 2 || !sign[q.Focus[0]] || !sign[q.Focus[1]]):
				t.Errorf("%s: focus %v, want the sign's cells", q.Kind, q.Focus)
			case q.Category == CaptionCat && q.Focus != nil:
				t.Errorf("caption with focus %v", q.Focus)
			}
			// Glyphs: reading questions only, one per answer byte, each
			// the sign character that byte reads.
			reading := q.Kind == "read-sign" || q.Kind == "sign-char"
			if reading != (q.Glyphs != nil) || reading && len(q.Glyphs) != len(q.Answer) {
				t.Fatalf("%s %q: answer %q, glyphs %v", q.Kind, q.Question, q.Answer, q.Glyphs)
			}
			for i, g := range q.Glyphs {
				seen["glyphs"] = true
				if g < 0 || g >= len(s.Sign.Text) || s.Sign.Text[g] != q.Answer[i] {
					t.Fatalf("%s: answer %q byte %d reads glyph %d of %q", q.Kind, q.Answer, i, g, s.Sign.Text)
				}
			}
		}
	}
	for _, k := range []string{"color-of", "count-shape", "relative", "read-sign", "digit-sum", "remove-shape", "glyphs"} {
		if !seen[k] {
			t.Errorf("no %s question with a focus", k)
		}
	}
}

// TestFollowUps: follow-up questions are image questions about the same
// scene (answers checked by the oracle), never a caption, never a repeated
// prompt, and the count asked for when the scene supports it.
func TestFollowUps(t *testing.T) {
	cfg := DefaultConfig()
	full, cats := 0, map[string]bool{}
	for i := range 300 {
		rng := testRNG(uint64(2e6 + i))
		s := newScene(rng, cfg, i%2 == 0)
		first, ok := s.Question(rng, Counting)
		if !ok {
			t.Fatal("no counting question")
		}
		qs := s.FollowUps(rng, 5, first)
		if len(qs) > 5 {
			t.Fatalf("%d follow-ups, asked for 5", len(qs))
		}
		if len(qs) == 5 {
			full++
		}
		seen := map[string]bool{first.Prompt(): true}
		for _, q := range qs {
			if q.Category == CaptionCat || !q.HasImage {
				t.Fatalf("follow-up %+v", q)
			}
			if seen[q.Prompt()] {
				t.Fatalf("scene %d: prompt %q asked twice", i, q.Prompt())
			}
			seen[q.Prompt()] = true
			cats[q.Category] = true
			if got, want := q.Correct(), oracle(t, s, q); got != want {
				t.Fatalf("scene %+v: %s %q: answer %q, oracle %q", s.Objects, q.Kind, q.Question, got, want)
			}
		}
	}
	if full < 290 {
		t.Errorf("only %d of 300 scenes gave 5 follow-ups", full)
	}
	if len(cats) != len(imageCategories)-1 {
		t.Errorf("follow-up categories %v, want every image category but caption", cats)
	}
	// Language follow-ups: language questions, distinct prompts.
	first := LanguageQuestion(testRNG(11), FactTable())
	lq := LanguageFollowUps(testRNG(12), FactTable(), 7, first)
	if len(lq) != 7 {
		t.Errorf("%d language follow-ups, want 7", len(lq))
	}
	seen := map[string]bool{first.Prompt(): true}
	for _, q := range lq {
		if q.Category != Language || q.HasImage || seen[q.Prompt()] {
			t.Errorf("language follow-up %+v (repeated: %v)", q, seen[q.Prompt()])
		}
		seen[q.Prompt()] = true
	}
	// Deterministic.
	a := newScene(testRNG(9), cfg, true).FollowUps(testRNG(10), 4)
	b := newScene(testRNG(9), cfg, true).FollowUps(testRNG(10), 4)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("same seed, different follow-ups")
	}
}

// TestAsOpen: every multiple-choice kind but the ambiguous ones has an
// open form whose answer is the correct option; open questions have none.
func TestAsOpen(t *testing.T) {
	cfg := DefaultConfig()
	rng := testRNG(77)
	opened := map[string]bool{}
	for range 400 {
		s := newScene(rng, cfg, true)
		qs := append(s.Questions(rng), LanguageQuestion(rng, FactTable()), LookupQuestion(rng, FactTable()))
		for _, q := range qs {
			o, ok := q.AsOpen()
			switch {
			case !q.MultipleChoice() || q.Kind == "which-rel" || q.Kind == "relative" || q.Kind == LookupKind:
				if ok {
					t.Fatalf("%s (options %v) has an open form", q.Kind, q.Options)
				}
			case !ok:
				t.Fatalf("%s %q: no open form", q.Kind, q.Question)
			default:
				opened[q.Kind] = true
				if o.MultipleChoice() || o.Answer != q.Correct() || o.Question != q.Question || !strings.HasSuffix(o.Prompt(), OpenSuffix) {
					t.Fatalf("%s: open form %+v of %+v", q.Kind, o, q)
				}
			}
		}
	}
	for _, k := range []string{"color-of", "shape-of", "count-shape", "where-is", "capital"} {
		if !opened[k] {
			t.Errorf("no open form of %s seen", k)
		}
	}
}

// TestCorpus: the tokenizer corpus holds no sign code (a whole word of
// capitals and digits with a capital, two characters or more), though
// the same stream's text questions are full of them, and lists the
// vocabulary one word per line LineStartRepeats times.
func TestCorpus(t *testing.T) {
	for _, c := range []struct{ text, w, want string }{
		{"The sign says KQ3Z.", "KQ3Z", "The sign says ."},
		{"AB ABC xAB AB", "AB", " ABC xAB "},
		{"A red A\nA", "A", " red \n"},
		{"Q7", "", "Q7"},
	} {
		if got := removeWord(c.text, c.w); got != c.want {
			t.Errorf("removeWord(%q, %q) = %q, want %q", c.text, c.w, got, c.want)
		}
	}
	for _, c := range []struct {
		text string
		want bool
	}{{"KQ3Z", true}, {"A5", true}, {"ZZ", true}, {"Q", false}, {"7", false}, {"47", false}, {"", false}} {
		if got := isCode(c.text); got != c.want {
			t.Errorf("isCode(%q) = %v", c.text, got)
		}
	}
	code := regexp.MustCompile(`\b[A-Z0-9]*[A-Z][A-Z0-9]*[0-9A-Z]\b`)
	cfg := DefaultConfig()
	texts := Corpus(testRNG(5), cfg, 2000)
	for i, s := range texts[:2000] {
		if m := code.FindString(s); m != "" {
			t.Fatalf("text %d holds %q: %q", i, m, s)
		}
	}
	codes := 0
	rng := testRNG(5)
	for range 200 {
		s := newScene(rng, cfg, true)
		if q, ok := s.Question(rng, Text); ok && code.MatchString(q.UserText()+"\n"+q.Target()) {
			codes++
		}
	}
	if codes < 20 {
		t.Fatalf("control: %d of 200 text questions show a code", codes)
	}
	// A removed code never leaves a space before a line end (a one-digit
	// sign once took the "2" out of "C. 2", and the BPE learned " \n").
	for i, s := range texts[:2000] {
		if strings.Contains(s, " \n") {
			t.Fatalf("text %d has a space before a newline: %q", i, s)
		}
	}
	last := texts[len(texts)-1]
	for _, w := range []string{"green", "star", "small"} {
		if n := strings.Count(last, "\n"+w+"\n"); n != LineStartRepeats {
			t.Errorf("%q on its own line %d times, want %d", w, n, LineStartRepeats)
		}
	}
}

// TestSubject: every question without an image names its Subject words in
// order, as whole words of its text (Question.SubjectSpans finds them), and
// they determine the answer.
func TestSubject(t *testing.T) {
	f := FactTable()
	capital, country := map[string]string{}, map[string]string{}
	for _, c := range f.Countries {
		capital[c.Name], country[c.Capital] = c.Capital, c.Name
	}
	creature := map[string]Creature{}
	for _, c := range f.Creatures {
		creature[c.Name] = c
	}
	mix, opposite := map[[2]string]string{}, map[string]string{}
	for _, m := range Mixes {
		mix[[2]string{m[0], m[1]}], mix[[2]string{m[1], m[0]}] = m[2], m[2]
	}
	for _, o := range Opposites {
		opposite[o[0]], opposite[o[1]] = o[1], o[0]
	}
	num := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("subject %q: %v", s, err)
		}
		return n
	}
	var qs []Question
	for i := 0; i < 3000; i++ {
		qs = append(qs, LanguageQuestion(testRNG(uint64(i)), FactTable()))
	}
	for i := 0; i < 500; i++ {
		qs = append(qs, LookupQuestion(testRNG(uint64(i)), FactTable()))
	}
	for _, q := range qs {
		if len(q.Subject) == 0 {
			t.Fatalf("%s %q: no subject", q.Kind, q.Question)
		}
		spans := q.SubjectSpans()
		if len(spans) != len(q.Subject) {
			t.Fatalf("%s %q: subject %q found at %v", q.Kind, q.Question, q.Subject, spans)
		}
		at := 0
		for k, sp := range spans {
			// In order, the subject's text, a whole word.
			if sp[0] < at || q.Question[sp[0]:sp[1]] != q.Subject[k] ||
				sp[0] > 0 && isWordByte(q.Question[sp[0]-1]) || sp[1] < len(q.Question) && isWordByte(q.Question[sp[1]]) {
				t.Fatalf("%s %q: subject %q at %v, not a word after byte %d", q.Kind, q.Question, q.Subject[k], sp, at)
			}
			at = sp[1]
		}
		s := q.Subject
		var want string
		switch q.Kind {
		case "capital":
			want = capital[s[0]]
		case "country":
			want = country[s[0]]
		case "creature-color":
			want = creature[s[0]].Color
		case "creature-home":
			want = creature[s[0]].Habitat
		case "creature-food":
			want = creature[s[0]].Food
		case "mix":
			want = mix[[2]string{s[0], s[1]}]
		case "opposite":
			want = opposite[s[0]]
		case "add":
			want = fmt.Sprint(num(s[0]) + num(s[1]))
		case "subtract":
			want = fmt.Sprint(num(s[0]) - num(s[1]))
		case "multiply":
			want = fmt.Sprint(num(s[0]) * num(s[1]))
		case "sides":
			want = fmt.Sprint(sides[s[0]])
		case "next":
			switch {
			case strings.Contains(q.Question, "letter"):
				want = string(rune(s[0][0] + 1))
			case strings.Contains(q.Question, "after"):
				want = fmt.Sprint(num(s[0]) + 1)
			default:
				want = fmt.Sprint(num(s[0]) - 1)
			}
		case LookupKind:
			want = s[0]
		default:
			t.Fatalf("kind %s not checked", q.Kind)
		}
		if got := q.Correct(); got != want {
			t.Fatalf("%s %q subject %q: answer %q, want %q", q.Kind, q.Question, s, got, want)
		}
	}
}

// TestFactTableSizes checks Config.Countries/Creatures: zero is the default
// table itself, a larger table is fixed, keeps every name unique and apart
// from the world's words, and is what the language questions and letter
// drills of that world ask about.
func TestFactTableSizes(t *testing.T) {
	def := DefaultConfig()
	if def.Facts() != FactTable() {
		t.Fatal("the default config's Facts is not FactTable")
	}
	cfg := DefaultConfig()
	cfg.Countries, cfg.Creatures = 200, 150
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	f := cfg.Facts()
	if len(f.Countries) != 200 || len(f.Creatures) != 150 {
		t.Fatalf("%d countries, %d creatures, want 200 and 150", len(f.Countries), len(f.Creatures))
	}
	if g := buildFacts(200, 150); !slices.Equal(g.Sentences(), f.Sentences()) {
		t.Fatal("the table is not fixed: a second build differs")
	}
	if f.Countries[0] != FactTable().Countries[0] {
		t.Errorf("first country %v, want the default table's %v (the same stream)", f.Countries[0], FactTable().Countries[0])
	}
	seen := map[string]bool{}
	for _, w := range vocabularyWords() {
		seen[w] = true
	}
	for _, c := range f.Countries {
		for _, w := range []string{c.Name, c.Capital} {
			if k := strings.ToLower(w); seen[k] {
				t.Fatalf("name %q repeats", w)
			} else {
				seen[k] = true
			}
		}
	}
	for _, c := range f.Creatures {
		if k := strings.ToLower(c.Name); seen[k] {
			t.Fatalf("creature %q repeats", c.Name)
		} else {
			seen[k] = true
		}
	}
	capitals := map[string]bool{}
	for _, c := range f.Countries {
		capitals[c.Capital] = true
	}
	big := 0
	for i := 0; i < 400; i++ {
		q := LanguageQuestion(testRNG(uint64(i)), f)
		if q.Kind == "capital" && q.Correct() != "" && !capitals[q.Correct()] {
			t.Fatalf("%q: answer %q is not a capital of the table", q.Question, q.Correct())
		}
		for _, c := range f.Countries[NumCountries:] {
			if strings.Contains(q.Question, c.Name) {
				big++
			}
		}
	}
	if big == 0 {
		t.Error("400 language questions never asked about a country beyond the default 32")
	}
	drill := 0
	for i := 0; i < 400; i++ {
		q := LookupQuestion(testRNG(uint64(i)), f)
		for _, c := range f.Creatures[NumCreatures:] {
			if slices.Contains(q.Options, c.Name) {
				drill++
			}
		}
	}
	if drill == 0 {
		t.Error("400 letter drills never offered a creature beyond the default 32")
	}
	for _, bad := range [][2]int{{-1, 0}, {0, MaxFacts + 1}, {3, 0}, {0, 2}} {
		c := DefaultConfig()
		c.Countries, c.Creatures = bad[0], bad[1]
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "countries") {
			t.Errorf("countries %d creatures %d: error %v, want one naming the fact table", bad[0], bad[1], err)
		}
	}
}
