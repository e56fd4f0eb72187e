// Package pymath reproduces the Python arithmetic that Hugging Face's image
// processors and LLaVA-OneVision's feature packing use, where Go's obvious
// equivalent rounds differently on edge cases and would change token counts.
package pymath

import (
	"math"
	"strconv"
)

// Round7Int is Python's int(round(x, 7)): x correctly rounded to 7 decimals
// (ties to even, on the exact binary value), then truncated toward zero.
func Round7Int(x float64) int {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 7, 64), 64)
	return int(r)
}

// FloorDivInt is Python's a // b on ints (floor, not truncation). b != 0.
func FloorDivInt(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// FloorDiv is Python's float a // b (CPython float_floor_div): it goes
// through fmod, which can differ from math.Floor(a/b) when a/b rounds up to
// an integer.
func FloorDiv(a, b float64) float64 {
	mod := math.Mod(a, b)
	div := (a - mod) / b
	if mod != 0 && (b < 0) != (mod < 0) {
		div--
	}
	if div == 0 {
		return math.Copysign(0, a/b)
	}
	fl := math.Floor(div)
	if div-fl > 0.5 {
		fl++
	}
	return fl
}
