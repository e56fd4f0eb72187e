package safetensors

import "fmt"

// DType names an element type exactly as it is spelled in a safetensors
// header ("F32", "BF16", ...).
type DType string

// The element types the reference implementation (huggingface/safetensors,
// safetensors/src/tensor.rs, enum Dtype) knows, in its declaration order.
// That order is the "alignment order" its writer sorts by: tensors of a later
// (wider) type are written first.
const (
	BOOL        DType = "BOOL"        // 1 byte, 0 or 1
	F4          DType = "F4"          // 4 bits: OCP MX FP4 (E2M1); two per byte
	F6_E2M3     DType = "F6_E2M3"     // 6 bits: OCP MX FP6 (E2M3)
	F6_E3M2     DType = "F6_E3M2"     // 6 bits: OCP MX FP6 (E3M2)
	U8          DType = "U8"          // 1 byte unsigned
	I8          DType = "I8"          // 1 byte signed
	F8_E5M2     DType = "F8_E5M2"     // 1 byte float, 5 exponent 2 mantissa bits (IEEE-like, has Inf)
	F8_E4M3     DType = "F8_E4M3"     // 1 byte float, "E4M3FN": no Inf, S.1111.111 is NaN
	F8_E8M0     DType = "F8_E8M0"     // 1 byte power-of-two scale (OCP MX), 0xFF is NaN
	F8_E4M3FNUZ DType = "F8_E4M3FNUZ" // 1 byte float, bias 8, no Inf, 0x80 is NaN, no -0
	F8_E5M2FNUZ DType = "F8_E5M2FNUZ" // 1 byte float, bias 16, no Inf, 0x80 is NaN, no -0
	I16         DType = "I16"
	U16         DType = "U16"
	F16         DType = "F16" // IEEE 754 binary16
	BF16        DType = "BF16"
	I32         DType = "I32"
	U32         DType = "U32"
	F32         DType = "F32"
	C64         DType = "C64" // complex: two F32 (real, imaginary)
	F64         DType = "F64"
	I64         DType = "I64"
	U64         DType = "U64"
)

// dtypeTable lists every known dtype in the reference's enum order with its
// width in bits. The index is the rank the writer sorts by.
var dtypeTable = [...]struct {
	d    DType
	bits int
}{
	{BOOL, 8}, {F4, 4}, {F6_E2M3, 6}, {F6_E3M2, 6}, {U8, 8}, {I8, 8},
	{F8_E5M2, 8}, {F8_E4M3, 8}, {F8_E8M0, 8}, {F8_E4M3FNUZ, 8}, {F8_E5M2FNUZ, 8},
	{I16, 16}, {U16, 16}, {F16, 16}, {BF16, 16}, {I32, 32}, {U32, 32},
	{F32, 32}, {C64, 64}, {F64, 64}, {I64, 64}, {U64, 64},
}

var dtypeIndex = func() map[DType]int {
	m := make(map[DType]int, len(dtypeTable))
	for i, e := range dtypeTable {
		m[e.d] = i
	}
	return m
}()

// DTypes returns every dtype the package knows, in the reference's order.
func DTypes() []DType {
	out := make([]DType, len(dtypeTable))
	for i, e := range dtypeTable {
		out[i] = e.d
	}
	return out
}

// Valid reports whether d is a dtype the reference implementation knows.
func (d DType) Valid() bool { _, ok := dtypeIndex[d]; return ok }

// BitSize is the width of one element in bits (4 for F4, 6 for the F6 types),
// or 0 for an unknown dtype.
func (d DType) BitSize() int {
	if i, ok := dtypeIndex[d]; ok {
		return dtypeTable[i].bits
	}
	return 0
}

// Size is the number of bytes per element. It is 0 for the sub-byte types
// (F4, F6_E2M3, F6_E3M2), whose tensors pack elements across byte boundaries
// and whose byte length is numel*BitSize()/8 (which must be whole), and 0 for
// an unknown dtype. Use BitSize for those.
func (d DType) Size() int {
	b := d.BitSize()
	if b%8 != 0 {
		return 0
	}
	return b / 8
}

// rank is the dtype's position in the reference's enum (-1 if unknown).
func (d DType) rank() int {
	if i, ok := dtypeIndex[d]; ok {
		return i
	}
	return -1
}

func (d DType) String() string { return string(d) }

// byteLen returns the number of bytes a tensor of this dtype and shape holds,
// with the reference's checks: the element count and bit count must not
// overflow, and the bit count must be a whole number of bytes.
func byteLen(d DType, shape []int) (int64, error) {
	bits := d.BitSize()
	if bits == 0 {
		return 0, fmt.Errorf("unknown dtype %q", string(d))
	}
	n := uint64(1)
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("shape %v: negative dimension %d", shape, s)
		}
		var ok bool
		n, ok = mulU64(n, uint64(s))
		if !ok {
			return 0, fmt.Errorf("shape %v: element count overflows: %w", shape, ErrOverflow)
		}
	}
	nb, ok := mulU64(n, uint64(bits))
	if !ok {
		return 0, fmt.Errorf("shape %v %s: bit count overflows: %w", shape, d, ErrOverflow)
	}
	if nb%8 != 0 {
		return 0, fmt.Errorf("shape %v %s holds %d bits, not a whole number of bytes: %w", shape, d, nb, ErrMisaligned)
	}
	if nb/8 > 1<<63-1 {
		return 0, fmt.Errorf("shape %v %s: byte count overflows: %w", shape, d, ErrOverflow)
	}
	return int64(nb / 8), nil
}

func mulU64(a, b uint64) (uint64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	c := a * b
	if c/b != a {
		return 0, false
	}
	return c, true
}
