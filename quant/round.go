package quant

import "math"

// RoundHalfEven rounds to the nearest integer, ties to even (torch.round
// semantics): 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> -0. NaN and ±Inf are
// returned unchanged. The conversion to float64 and back is exact.
func RoundHalfEven(x float32) float32 {
	return float32(math.RoundToEven(float64(x)))
}

// clampCode clamps an integer-valued float32 to [lo, hi] and converts it.
// NaN maps to lo.
func clampCode(v float32, lo, hi int32) int32 {
	if !(v >= float32(lo)) {
		return lo
	}
	if v > float32(hi) {
		return hi
	}
	return int32(v)
}
