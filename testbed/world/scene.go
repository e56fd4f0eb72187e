package world

import (
	"math/rand/v2"
	"strings"
)

// Object is one shape in a cell of the grid.
type Object struct {
	Shape string // one of Shapes
	Color string // one of Colors
	Size  string // "small" or "large"
	Row   int    // zero-based, from the top
	Col   int    // zero-based, from the left
	// jitter shifts the rendered colour slightly (+-8 per channel).
	jitter [3]int8
}

// Phrase is the object's noun phrase without article: "large red star".
func (o Object) Phrase() string { return o.Size + " " + o.Color + " " + o.Shape }

// Name is how questions refer to the object: "the red star". A scene never
// holds two objects of the same colour and shape, so the name is unique.
func (o Object) Name() string { return "the " + o.Color + " " + o.Shape }

// Position is the canonical name of the object's cell.
func (o Object) Position() string { return PositionName(o.Row, o.Col) }

// Sign is a white board with 1 to 4 capital letters or digits, spanning two
// horizontally adjacent cells: (Row, Col) and (Row, Col+1).
type Sign struct {
	Text string
	Row  int
	Col  int
}

// Scene is one image of the world: a background, objects on a grid and
// maybe a sign. It is drawn from a random source by NewScene and fully
// determines its image, captions, attributes and answers.
type Scene struct {
	Config     Config
	Background int // index into the background palette
	Objects    []Object
	Sign       *Sign
	noiseSeed  uint64
}

// objectCountWeights weights 1..6 objects towards 3 to 5.
var objectCountWeights = []int{0, 1, 2, 4, 4, 4, 2}

// NewScene draws a scene. It panics on an invalid Config (see Validate).
func NewScene(rng *rand.Rand, cfg Config) *Scene {
	return newScene(rng, cfg, false)
}

// newScene draws a scene, with a sign if wantSign.
func newScene(rng *rand.Rand, cfg Config, wantSign bool) *Scene {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	g := cfg.Grid
	s := &Scene{Config: cfg, Background: rng.IntN(len(backgrounds)), noiseSeed: rng.Uint64()}
	used := make([]bool, g*g)
	if wantSign || rng.Float64() < cfg.SignProb {
		sg := &Sign{Row: rng.IntN(g), Col: rng.IntN(g - 1), Text: signText(rng)}
		used[sg.Row*g+sg.Col] = true
		used[sg.Row*g+sg.Col+1] = true
		s.Sign = sg
	}
	// number of objects
	total := 0
	for n := cfg.MinObjects; n <= cfg.MaxObjects; n++ {
		total += countWeight(n)
	}
	pick := rng.IntN(total)
	n := cfg.MinObjects
	for ; n < cfg.MaxObjects; n++ {
		pick -= countWeight(n)
		if pick < 0 {
			break
		}
	}
	free := make([]int, 0, g*g)
	for i, u := range used {
		if !u {
			free = append(free, i)
		}
	}
	rng.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	for k := 0; k < n; k++ {
		var o Object
		for {
			// Reuse colours and shapes often so counting is interesting.
			if len(s.Objects) > 0 && rng.Float64() < 0.35 {
				o.Color = s.Objects[rng.IntN(len(s.Objects))].Color
			} else {
				o.Color = Colors[rng.IntN(len(Colors))]
			}
			if len(s.Objects) > 0 && rng.Float64() < 0.35 {
				o.Shape = s.Objects[rng.IntN(len(s.Objects))].Shape
			} else {
				o.Shape = Shapes[rng.IntN(len(Shapes))]
			}
			if s.find(o.Color, o.Shape) < 0 {
				break
			}
		}
		o.Size = Sizes[rng.IntN(2)]
		o.Row, o.Col = free[k]/g, free[k]%g
		for c := range o.jitter {
			o.jitter[c] = int8(rng.IntN(17) - 8)
		}
		s.Objects = append(s.Objects, o)
	}
	return s
}

func countWeight(n int) int {
	if n < len(objectCountWeights) {
		return objectCountWeights[n]
	}
	return 1
}

// signText draws 1 to 4 characters: a word of letters, a number or a mix.
func signText(rng *rand.Rand) string {
	n := 1 + rng.IntN(4)
	var b strings.Builder
	kind := rng.IntN(3)
	for i := 0; i < n; i++ {
		switch kind {
		case 0: // letters
			b.WriteByte(signAlphabet[rng.IntN(24)])
		case 1: // digits
			b.WriteByte(signAlphabet[24+rng.IntN(10)])
		default:
			b.WriteByte(signAlphabet[rng.IntN(len(signAlphabet))])
		}
	}
	return b.String()
}

// find returns the index of the object with the colour and shape, or -1.
func (s *Scene) find(color, shape string) int {
	for i, o := range s.Objects {
		if o.Color == color && o.Shape == shape {
			return i
		}
	}
	return -1
}

// At returns the index of the object in the cell, or -1.
func (s *Scene) At(row, col int) int {
	for i, o := range s.Objects {
		if o.Row == row && o.Col == col {
			return i
		}
	}
	return -1
}

// count is the number of objects for which f holds.
func (s *Scene) count(f func(Object) bool) int {
	n := 0
	for _, o := range s.Objects {
		if f(o) {
			n++
		}
	}
	return n
}

// readingOrder returns the object indices sorted by row, then column.
func (s *Scene) readingOrder() []int {
	idx := make([]int, 0, len(s.Objects))
	g := s.Config.Grid
	for cell := 0; cell < g*g; cell++ {
		if i := s.At(cell/g, cell%g); i >= 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

// signDigits returns the digits of the sign's text and whether it has a sign.
func (s *Scene) signDigits() []int {
	if s.Sign == nil {
		return nil
	}
	var d []int
	for _, r := range s.Sign.Text {
		if r >= '0' && r <= '9' {
			d = append(d, int(r-'0'))
		}
	}
	return d
}
