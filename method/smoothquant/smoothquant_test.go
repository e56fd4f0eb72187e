package smoothquant

import (
	"math"
	"testing"
)

func TestScales(t *testing.T) {
	x := []float64{4, 0, 9, 1}
	w := []float64{1, 2, 0, 0.25}
	s := Scales(x, w, 0.5)
	want := []float64{
		2 / 1.0,             // sqrt(4)/sqrt(1)
		1e-5,                // sqrt(0)/sqrt(2) = 0, clamped
		3 / math.Sqrt(1e-5), // weight max floored at 1e-5
		1 / 0.5,             // sqrt(1)/sqrt(0.25)
	}
	for i := range want {
		if math.Abs(float64(s[i])-want[i]) > 1e-6*want[i] {
			t.Errorf("s[%d] = %v, want %v", i, s[i], want[i])
		}
	}
	// alpha 1: all migrated to the weights, s = max|X|.
	s = Scales([]float64{3}, []float64{7}, 1)
	if s[0] != 3 {
		t.Errorf("alpha 1: %v", s[0])
	}
}
