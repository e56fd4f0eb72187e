package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExpfAccuracy checks the scalar expf against float64 exp over its whole
// range, including the ends, and the special inputs.
func TestExpfAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	worst := 0.0
	check := func(x float32) {
		got := float64(expf(x))
		want := math.Exp(float64(x))
		if x > expHi {
			want = math.Exp(float64(expHi))
		}
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	for i := 0; i < 200000; i++ {
		check(expLo + float32(r.Float64())*(expHi-expLo))
	}
	for _, x := range []float32{0, -0.0, 1, -1, 0.5, -0.5, 1e-8, -1e-8, expHi, expLo, 88, -87, 10, -10, 100, 1e30} {
		check(x)
	}
	if worst > 3e-7 {
		t.Fatalf("expf: worst relative error %.3g, want <= 3e-7 (~2.5 ulp)", worst)
	}
	t.Logf("expf worst relative error %.3g", worst)
	if expf(0) != 1 {
		t.Errorf("expf(0) = %v, want exactly 1", expf(0))
	}
	for _, x := range []float32{float32(math.Inf(-1)), -87.4, -100, -1e30} {
		if v := expf(x); v != 0 || math.Signbit(float64(v)) {
			t.Errorf("expf(%v) = %v, want +0", x, v)
		}
	}
	if v := expf(float32(math.Inf(1))); v != float32(math.Exp(88)) {
		t.Errorf("expf(+Inf) = %v, want the saturation value e^88", v)
	}
	if v := expf(float32(math.NaN())); v == v {
		t.Errorf("expf(NaN) = %v, want NaN", v)
	}
}

// TestExpAffineMatchesScalar checks ExpAffine (the AVX2 path where the CPU
// has it) bit for bit against the scalar expAffineGo on awkward lengths,
// with special values mixed in, for several (a, b) and in place.
func TestExpAffineMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	specials := []float32{float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.NaN()), 0, -87.33654, -87.33655, 88, 88.0001, 1e30, -1e30}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 63, 100, 257} {
		for _, ab := range [][2]float32{{1, 0}, {1, -3.5}, {-1, 0}, {-2, 0.25}, {0.7, 1}} {
			src := make([]float32, n)
			for i := range src {
				if r.IntN(8) == 0 {
					src[i] = specials[r.IntN(len(specials))]
				} else {
					src[i] = float32(r.NormFloat64() * 30)
				}
			}
			want := make([]float32, n)
			expAffineGo(want, src, ab[0], ab[1])
			got := make([]float32, n)
			ExpAffine(got, src, ab[0], ab[1])
			inPlace := append([]float32(nil), src...)
			ExpAffine(inPlace, inPlace, ab[0], ab[1])
			for i := range want {
				w := math.Float32bits(want[i])
				if math.Float32bits(got[i]) != w || math.Float32bits(inPlace[i]) != w {
					if want[i] != want[i] && got[i] != got[i] && inPlace[i] != inPlace[i] {
						continue // NaN payloads may differ
					}
					t.Fatalf("n=%d a,b=%v: x=%v: ExpAffine %v (in place %v), scalar %v", n, ab, src[i], got[i], inPlace[i], want[i])
				}
			}
		}
	}
}

func BenchmarkExpAffine(b *testing.B) {
	src := make([]float32, 4096)
	for i := range src {
		src[i] = -float32(i%97) * 0.3
	}
	dst := make([]float32, len(src))
	b.Run("vector", func(b *testing.B) {
		for b.Loop() {
			ExpAffine(dst, src, 1, 0)
		}
	})
	b.Run("scalar", func(b *testing.B) {
		for b.Loop() {
			expAffineGo(dst, src, 1, 0)
		}
	})
	b.Run("math.Exp", func(b *testing.B) {
		for b.Loop() {
			for i, x := range src {
				dst[i] = float32(math.Exp(float64(x)))
			}
		}
	})
}
