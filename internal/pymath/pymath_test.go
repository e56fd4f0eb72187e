package pymath

import (
	"math"
	"testing"
)

// Values worked out with CPython 3.11.
func TestPython(t *testing.T) {
	for _, c := range []struct {
		x    float64
		want int
	}{
		{2.5, 2}, {11.99999999, 12}, {11.9999999, 11}, {383.99999996, 384}, {383.9999999, 383}, {-1.99999999, -2}, {0.12345675, 0},
	} {
		if got := Round7Int(c.x); got != c.want {
			t.Errorf("Round7Int(%v) = %d, want %d", c.x, got, c.want)
		}
	}
	for _, c := range []struct{ a, b, want int }{{7, 2, 3}, {-7, 2, -4}, {7, -2, -4}, {-7, -2, 3}, {6, 3, 2}, {-6, 2, -3}} {
		if got := FloorDivInt(c.a, c.b); got != c.want {
			t.Errorf("FloorDivInt(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	for _, c := range []struct{ a, b, want float64 }{
		{7, 2, 3}, {-7, 2, -4}, {1, 0.1, 9}, {0.5, 0.1, 4}, {math.Copysign(0, -1), 3, math.Copysign(0, -1)},
	} {
		got := FloorDiv(c.a, c.b)
		if got != c.want || math.Signbit(got) != math.Signbit(c.want) {
			t.Errorf("FloorDiv(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
