package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// halfValue decodes binary16 from its definition, in float64, independently of
// HalfToFloat's bit manipulation.
func halfValue(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	man := float64(h & 0x3ff)
	switch exp {
	case 0x1f:
		if man != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	case 0:
		return sign * math.Ldexp(man, -24)
	}
	return sign * math.Ldexp(1+man/1024, exp-15)
}

func TestHalfToFloatExhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := float64(HalfToFloat(h))
		want := halfValue(h)
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Fatalf("HalfToFloat(%#04x) = %v, want NaN", h, got)
			}
			continue
		}
		if got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("HalfToFloat(%#04x) = %v, want %v", h, got, want)
		}
		// Every finite half and infinity round-trips exactly.
		if back := FloatToHalf(float32(got)); back != h {
			t.Fatalf("FloatToHalf(HalfToFloat(%#04x)) = %#04x", h, back)
		}
	}
}

// checkNearestHalf verifies that h is the binary16 value nearest to f, ties to
// even mantissa, with overflow to infinity as IEEE 754 defines it (a value at or
// beyond 65520 = max + half an ulp rounds to Inf).
func checkNearestHalf(t *testing.T, f float32, h uint16) {
	t.Helper()
	x := float64(f)
	if math.IsNaN(x) {
		if h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
			t.Fatalf("FloatToHalf(NaN %#08x) = %#04x, not a NaN", math.Float32bits(f), h)
		}
		return
	}
	if math.Abs(x) >= 65520 {
		want := uint16(0x7c00)
		if x < 0 {
			want |= 0x8000
		}
		if h != want {
			t.Fatalf("FloatToHalf(%g) = %#04x, want %#04x", x, h, want)
		}
		return
	}
	got := halfValue(h)
	if math.Signbit(got) != math.Signbit(x) {
		t.Fatalf("FloatToHalf(%g) = %#04x: sign differs", x, h)
	}
	err := math.Abs(got - x)
	for _, nb := range []uint16{h - 1, h + 1} {
		if nb&0x7fff > 0x7bff || (nb^h)&0x8000 != 0 {
			continue
		}
		d := math.Abs(halfValue(nb) - x)
		if d < err || (d == err && h&1 == 1) {
			t.Fatalf("FloatToHalf(%g) = %#04x (%g), but %#04x (%g) is nearer or the even tie", x, h, got, nb, halfValue(nb))
		}
	}
	// Crossing zero: the smallest magnitude candidate is 0 itself.
	if h&0x7fff == 1 && math.Abs(x) <= math.Ldexp(1, -25) {
		t.Fatalf("FloatToHalf(%g) = %#04x, want zero (tie or below goes to even 0)", x, h)
	}
}

func TestFloatToHalfRounding(t *testing.T) {
	// A dense stride over all float32 bit patterns, plus the boundaries.
	var cases []float32
	for b := uint64(0); b < 1<<32; b += 4099 {
		cases = append(cases, math.Float32frombits(uint32(b)))
	}
	for _, v := range []float64{0, 65504, 65519.99, 65520, 65536, 1e-8, math.Ldexp(1, -24), math.Ldexp(1, -25),
		math.Ldexp(1.5, -25), math.Ldexp(3, -26), math.Ldexp(1, -14), math.Ldexp(1023, -24), 1 + math.Ldexp(1, -11),
		1 + math.Ldexp(3, -11), 2049, 2051, -2049, math.Inf(1), math.Inf(-1), math.NaN()} {
		cases = append(cases, float32(v), -float32(v))
	}
	for _, f := range cases {
		checkNearestHalf(t, f, FloatToHalf(f))
	}
	// Exact ties: halfway between consecutive halves must go to the even one.
	for i := 0; i < 0x7bff; i++ {
		lo, hi := halfValue(uint16(i)), halfValue(uint16(i+1))
		mid := float32((lo + hi) / 2)
		want := uint16(i)
		if i&1 == 1 {
			want = uint16(i + 1)
		}
		if got := FloatToHalf(mid); got != want {
			t.Fatalf("tie %g between %#04x and %#04x: got %#04x, want %#04x", mid, i, i+1, got, want)
		}
	}
}

func TestBFloat16(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above tie
		{0x7f7fffff, 0x7f80}, // max float rounds to Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7f800001, 0x7fc0}, // signalling NaN stays NaN
		{0x00000001, 0x0000}, // tiny subnormal to zero
		{0x80000000, 0x8000}, // -0
	}
	for _, c := range cases {
		if got := FloatToBFloat16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("FloatToBFloat16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	for i := 0; i < 1<<16; i++ {
		f := BFloat16ToFloat(uint16(i))
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := FloatToBFloat16(f); back != uint16(i) {
			t.Fatalf("bf16 %#04x round trip gave %#04x", i, back)
		}
	}
}

// TestBulkMatchesScalar checks the bulk (F16C where present) conversions
// against the scalar Go definitions on awkward lengths with guard bands.
func TestBulkMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const guard = 9
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 1031} {
		src := make([]uint16, n)
		fsrc := make([]float32, n)
		for i := range src {
			src[i] = uint16(r.Uint32())
			fsrc[i] = math.Float32frombits(r.Uint32())
			if i%3 == 0 {
				fsrc[i] = float32(r.NormFloat64() * 100)
			}
		}
		fbuf := make([]float32, n+2*guard)
		for i := range fbuf {
			fbuf[i] = -12345
		}
		HalfsToFloats(fbuf[guard:guard+n], src)
		for i := range fbuf {
			if i < guard || i >= guard+n {
				if fbuf[i] != -12345 {
					t.Fatalf("n=%d: HalfsToFloats wrote outside dst at %d", n, i)
				}
				continue
			}
			want := HalfToFloat(src[i-guard])
			if math.Float32bits(fbuf[i]) != math.Float32bits(want) {
				t.Fatalf("n=%d i=%d: bulk %#08x, scalar %#08x", n, i-guard, math.Float32bits(fbuf[i]), math.Float32bits(want))
			}
		}
		hbuf := make([]uint16, n+2*guard)
		for i := range hbuf {
			hbuf[i] = 0xbeef
		}
		FloatsToHalfs(hbuf[guard:guard+n], fsrc)
		for i := range hbuf {
			if i < guard || i >= guard+n {
				if hbuf[i] != 0xbeef {
					t.Fatalf("n=%d: FloatsToHalfs wrote outside dst at %d", n, i)
				}
				continue
			}
			if want := FloatToHalf(fsrc[i-guard]); hbuf[i] != want {
				t.Fatalf("n=%d i=%d (%g): bulk %#04x, scalar %#04x", n, i-guard, fsrc[i-guard], hbuf[i], want)
			}
		}
	}
}

func BenchmarkHalfsToFloats(b *testing.B) {
	src := make([]uint16, 1<<16)
	dst := make([]float32, len(src))
	b.SetBytes(int64(len(src) * 2))
	for b.Loop() {
		HalfsToFloats(dst, src)
	}
}
