package tensor

import "math"

// HalfToFloat converts an IEEE 754 binary16 value (1 sign, 5 exponent, 10
// mantissa bits, bias 15) to float32. Every binary16 value, including
// subnormals, infinities and NaNs, is exactly representable in float32.
func HalfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f && man == 0: // infinity
		return math.Float32frombits(sign | 0x7f800000)
	case exp == 0x1f: // NaN: payload kept, quiet bit set (as VCVTPH2PS does)
		return math.Float32frombits(sign | 0x7fc00000 | man<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal: value = man * 2^-24; normalise into a float32 normal.
	e := uint32(113) // exponent of 2^-14 in float32 bias, before shifting
	for man&0x400 == 0 {
		man <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
}

// FloatToHalf converts float32 to IEEE 754 binary16 with round-to-nearest-even,
// overflow to ±Inf, gradual underflow to subnormals, and NaN kept a NaN
// (quiet bit set, top payload bits kept).
func FloatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(man>>13)
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign // rounds to zero (values below half the smallest subnormal)
		}
		// Subnormal result: shift the full 24-bit significand.
		m := man | 0x800000
		shift := uint32(14 - e) // 1-e extra bits beyond the normal 13
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, up to Inf: that is correct rounding
	}
	return sign | uint16(r)
}

// BFloat16ToFloat converts a bfloat16 (the top 16 bits of a float32) to float32.
func BFloat16ToFloat(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// FloatToBFloat16 converts float32 to bfloat16 with round-to-nearest-even on the
// 16 dropped bits, as PyTorch does; NaNs stay NaN (quiet bit forced).
func FloatToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// HalfsToFloats converts len(src) binary16 values into dst[:len(src)].
func HalfsToFloats(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	halfsToFloats(dst, src)
}

// FloatsToHalfs converts len(src) float32 values into dst[:len(src)] (round to nearest even).
func FloatsToHalfs(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	floatsToHalfs(dst, src)
}

// BFloat16sToFloats converts len(src) bfloat16 values into dst[:len(src)].
func BFloat16sToFloats(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = math.Float32frombits(uint32(v) << 16)
	}
}

// FloatsToBFloat16s converts len(src) float32 values into dst[:len(src)] (round to nearest even).
func FloatsToBFloat16s(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = FloatToBFloat16(v)
	}
}

func halfsToFloatsGo(dst []float32, src []uint16) {
	for i, v := range src {
		dst[i] = HalfToFloat(v)
	}
}

func floatsToHalfsGo(dst []uint16, src []float32) {
	for i, v := range src {
		dst[i] = FloatToHalf(v)
	}
}
