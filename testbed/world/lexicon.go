package world

import (
	"fmt"
	"slices"
	"strings"
)

// Colors are the named colours of objects, in a fixed order. They were
// picked to stay distinguishable against every background at small sizes.
var Colors = []string{"red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "black", "white"}

// colorRGB is the rendering of each entry of Colors.
var colorRGB = [][3]uint8{
	{220, 30, 30},   // red
	{255, 140, 0},   // orange
	{250, 230, 40},  // yellow
	{20, 150, 40},   // green
	{40, 225, 235},  // cyan
	{30, 70, 230},   // blue
	{140, 45, 200},  // purple
	{255, 140, 205}, // pink
	{15, 15, 15},    // black
	{252, 252, 252}, // white
}

// Shapes are the object shapes, in a fixed order.
var Shapes = []string{"circle", "square", "triangle", "star", "cross", "diamond", "heart", "hexagon"}

// Sizes are the two object sizes.
var Sizes = []string{"small", "large"}

// backgrounds are mid-luminance colours so that black and white objects
// both stand out.
var backgrounds = [][3]uint8{
	{150, 150, 150},
	{172, 162, 138},
	{150, 160, 178},
	{165, 150, 160},
}

// ordinals name rows and columns: the position vocabulary is
// "<ordinal> row, <ordinal> column", counted from the top left.
var ordinals = []string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"}

var numberWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}

// signAlphabet is the characters a sign may show: capital letters without
// the easily confused I and O, and digits.
const signAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"

// PositionName is the canonical name of a cell, e.g. "second row, third
// column" for row 1, column 2 (zero-based).
func PositionName(row, col int) string {
	return ordinals[row] + " row, " + ordinals[col] + " column"
}

// plural is the plural of a shape name.
func plural(shape string) string {
	if strings.HasSuffix(shape, "s") {
		return shape + "es"
	}
	return shape + "s"
}

func numberWord(n int) string {
	if n >= 0 && n < len(numberWords) {
		return numberWords[n]
	}
	return fmt.Sprint(n)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// article is "a" or "an" for the word w.
func article(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an"
	}
	return "a"
}

// Directions name where one cell lies relative to another, indexed by
// direction(dr, dc).
var Directions = []string{
	"above", "below", "to the left of", "to the right of",
	"above and to the left of", "above and to the right of",
	"below and to the left of", "below and to the right of",
}

// direction is the index into Directions of cell (r1, c1) seen from cell
// (r2, c2); the cells must differ.
func direction(r1, c1, r2, c2 int) int {
	dr, dc := r1-r2, c1-c2
	switch {
	case dc == 0 && dr < 0:
		return 0
	case dc == 0 && dr > 0:
		return 1
	case dr == 0 && dc < 0:
		return 2
	case dr == 0 && dc > 0:
		return 3
	case dr < 0 && dc < 0:
		return 4
	case dr < 0:
		return 5
	case dc < 0:
		return 6
	default:
		return 7
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// Ordinal is the ordinal word of 0-based index k ("first" for 0), "" past
// the eighth.
func Ordinal(k int) string {
	if k < 0 || k >= len(ordinals) {
		return ""
	}
	return ordinals[k]
}

// OrdinalIndex is the 0-based index of an ordinal word ("first" → 0,
// lower case), -1 for any other word: the grid lines are named "the third
// row", "the first column".
func OrdinalIndex(w string) int { return slices.Index(ordinals, w) }

// IsAttributeWord reports whether w (lower case) names a colour, a shape
// (singular or plural) or a size: the words a question refers to objects by.
func IsAttributeWord(w string) bool {
	if slices.Contains(Colors, w) || slices.Contains(Sizes, w) {
		return true
	}
	for _, s := range Shapes {
		if w == s || w == plural(s) {
			return true
		}
	}
	return false
}

// IsOrdinal reports whether w (lower case) is one of the ordinals that name
// grid rows and columns.
func IsOrdinal(w string) bool { return slices.Contains(ordinals, w) }

// Has reports whether the object has the attribute that w (lower case)
// names: its colour, its size, or its shape in the singular or plural
// ("star", "stars").
func (o Object) Has(w string) bool {
	return w == o.Color || w == o.Size || w == o.Shape || w == plural(o.Shape)
}
