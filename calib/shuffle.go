package calib

import "math/bits"

// Shuffle returns a permutation of 0..n-1 drawn from seed: a Fisher–Yates
// shuffle driven by SplitMix64.
//
//	state = seed
//	next():  state += 0x9e3779b97f4a7c15
//	         z = state
//	         z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
//	         z = (z ^ (z >> 27)) * 0x94d049bb133111eb
//	         return z ^ (z >> 31)
//	p = [0, 1, ..., n-1]
//	for i = n-1 down to 1:
//	    j = high 64 bits of next() * (i+1)      (uniform in [0, i], bias < 2^-40 for i < 2^24)
//	    swap p[i], p[j]
//
// It is spelled out (not math/rand) so the calibration set of a seed never
// changes with the Go release.
func Shuffle(n int, seed uint64) []int {
	p := make([]int, max(n, 0))
	for i := range p {
		p[i] = i
	}
	state := seed
	next := func() uint64 {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	for i := len(p) - 1; i > 0; i-- {
		j, _ := bits.Mul64(next(), uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}
