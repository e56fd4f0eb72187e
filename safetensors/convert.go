package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"mbq/tensor"
)

// hostLittleEndian is true on little-endian hosts, where F32/F16/BF16 bytes
// are copied straight into the destination's memory (an unsafe byte view of
// a Go-allocated, hence aligned, slice). On big-endian hosts every element is
// decoded with encoding/binary.LittleEndian instead.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// ToFloat32 decodes len(b) bytes of little-endian dtype d into a new []float32.
// See File.Float32 for the dtypes accepted.
func ToFloat32(d DType, b []byte) ([]float32, error) {
	size := d.Size()
	if size == 0 || d == C64 {
		return nil, fmt.Errorf("cannot convert dtype %s to float32", d)
	}
	if len(b)%size != 0 {
		return nil, fmt.Errorf("%d bytes are not a whole number of %s elements", len(b), d)
	}
	n := len(b) / size
	out := make([]float32, n)
	if n == 0 {
		return out, nil
	}
	switch d {
	case F32:
		if hostLittleEndian {
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*n), b)
		} else {
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		}
	case F16, BF16:
		var buf [4096]uint16
		for i := 0; i < n; i += len(buf) {
			m := min(len(buf), n-i)
			src := buf[:m]
			chunk := b[2*i : 2*(i+m)]
			if hostLittleEndian {
				copy(unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 2*m), chunk)
			} else {
				for j := range src {
					src[j] = binary.LittleEndian.Uint16(chunk[2*j:])
				}
			}
			if d == F16 {
				tensor.HalfsToFloats(out[i:i+m], src)
			} else {
				tensor.BFloat16sToFloats(out[i:i+m], src)
			}
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case BOOL, U8:
		for i, v := range b {
			out[i] = float32(v)
		}
	case I8:
		for i, v := range b {
			out[i] = float32(int8(v))
		}
	case I16:
		for i := range out {
			out[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:])))
		}
	case U16:
		for i := range out {
			out[i] = float32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case I32:
		for i := range out {
			out[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	case U32:
		for i := range out {
			out[i] = float32(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case I64:
		for i := range out {
			out[i] = float32(int64(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case U64:
		for i := range out {
			out[i] = float32(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ:
		lut := fp8Table(d)
		for i, v := range b {
			out[i] = lut[v]
		}
	default:
		return nil, fmt.Errorf("cannot convert dtype %s to float32", d)
	}
	return out, nil
}

// FP8ToFloat32 decodes one byte of an 8-bit float dtype:
//
//	F8_E5M2      sign, 5 exponent bits (bias 15), 2 mantissa bits; IEEE-like
//	             with ±Inf and NaNs (the top byte of a binary16).
//	F8_E4M3      "E4M3FN": 4 exponent bits (bias 7), 3 mantissa bits, no Inf;
//	             S.1111.111 is NaN, max 448.
//	F8_E4M3FNUZ  bias 8, no Inf, no -0; 0x80 is the only NaN.
//	F8_E5M2FNUZ  bias 16, no Inf, no -0; 0x80 is the only NaN.
//	F8_E8M0      unsigned power of two 2^(b-127); 0xFF is NaN.
//
// It returns NaN for other dtypes.
func FP8ToFloat32(d DType, b byte) float32 {
	nan := float32(math.NaN())
	sign := float32(1)
	if b&0x80 != 0 {
		sign = -1
	}
	mini := func(ebits, mbits uint, bias int) float32 {
		e := int(b>>mbits) & (1<<ebits - 1)
		m := float64(b & (1<<mbits - 1))
		if e == 0 {
			return sign * float32(math.Ldexp(m, 1-bias-int(mbits)))
		}
		return sign * float32(math.Ldexp(1+m/float64(int(1)<<mbits), e-bias))
	}
	switch d {
	case F8_E5M2:
		return tensor.HalfToFloat(uint16(b) << 8)
	case F8_E4M3:
		if b&0x7f == 0x7f {
			return nan
		}
		return mini(4, 3, 7)
	case F8_E4M3FNUZ:
		if b == 0x80 {
			return nan
		}
		return mini(4, 3, 8)
	case F8_E5M2FNUZ:
		if b == 0x80 {
			return nan
		}
		return mini(5, 2, 16)
	case F8_E8M0:
		if b == 0xff {
			return nan
		}
		return float32(math.Ldexp(1, int(b)-127))
	}
	return nan
}

var fp8Tables = func() map[DType]*[256]float32 {
	m := make(map[DType]*[256]float32)
	for _, d := range []DType{F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ} {
		t := new([256]float32)
		for i := range t {
			t[i] = FP8ToFloat32(d, byte(i))
		}
		m[d] = t
	}
	return m
}()

func fp8Table(d DType) *[256]float32 { return fp8Tables[d] }
