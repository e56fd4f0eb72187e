package quant

import (
	"fmt"
	"sync"

	"mbq/kernels"
	"mbq/tensor"
)

// Packed low-bit layouts (design/algorithm.md §6). A [PackedMatrix] holds a
// weight matrix W [Rows, Cols] (rows = output channels N, cols = input
// channels K, the PyTorch Linear layout) in one of four formats. Every
// format stores each row in Stride bytes of Data (row r at
// Data[r*Stride:(r+1)*Stride]); the codes of a row are cut into fixed
// "units" of consecutive input channels, and inside a unit the codes are
// placed in the order that makes AVX2 unpacking one shift and one mask per
// 32 codes. The reference packers and unpackers below (PackW3, PackW4,
// PackW8, PackW4S, Unpack) implement exactly the diagrams given here, and
// the kernels of package mbq/kernels read them.
//
// # W4: asymmetric 4-bit, group-wise (FormatW4)
//
// Unit: 64 codes c[0..63] in 32 bytes. Byte i (0 <= i < 32) holds code i in
// its low nibble and code 32+i in its high nibble:
//
//	byte i:  bit 7..4 = c[32+i]   bit 3..0 = c[i]
//
// So one 32-byte load gives codes 0..31 (AND 0x0F) and 32..63 (shift right
// 4, AND 0x0F). (Unlike the sequential nibble order of GPTQ/AWQ exports,
// byte j = c[2j] | c[2j+1]<<4, which would need a byte interleave per 32
// codes in the kernel; the export formats repack from Unpack.) A row is Cols/64 units (Stride = Cols/2); Group must be a
// multiple of 64 (a group is Group/64 whole units). Per group (row-major,
// [Rows*Cols/Group]): Scales an IEEE binary16 scale, Zeros an 8-bit integer
// zero point (0..15). w' = (q - zero) * float32(scale).
//
// # W3: asymmetric 3-bit, group-wise (FormatW3): eight codes in three bytes
//
// Unit: 128 codes c[0..127] in 48 bytes, a 32-byte plane L of the low two
// bits of every code followed by a 16-byte plane H of the high bits:
//
//	L[i] (byte i,    0 <= i < 32):  bits 2t+1..2t = c[i + 32t] & 3,   t = 0..3
//	H[p] (byte 32+p, 0 <= p < 16):  bit m        = c[p + 16m] >> 2,  m = 0..7
//
// Read per triplet, this is the paper's "eight 3-bit codes in three bytes":
// the eight codes c[p + 16m] (m = 0..7) of triplet p live entirely in bytes
// p, p+16 and 32+p of the unit:
//
//	byte p:     [m=6 lo2][m=4 lo2][m=2 lo2][m=0 lo2]   (2 bits each, m=0 lowest)
//	byte p+16:  [m=7 lo2][m=5 lo2][m=3 lo2][m=1 lo2]
//	byte 32+p:  [h7 h6 h5 h4 h3 h2 h1 h0]               (bit m = high bit of m)
//
// i.e. 3 bits per weight exactly. For the kernel, one 32-byte load of L
// gives the low bits of the 32-code block t by (L >> 2t) & 3, and the 16
// bytes of H, broadcast to both 128-bit lanes, give its high bits in bit 2t
// (lane 0: codes 32t..32t+15) and bit 2t+1 (lane 1: codes 32t+16..32t+31).
// A row is Cols/128 units (Stride = 3*Cols/8); Group must be a multiple of
// 128. Scales (binary16) and Zeros (0..7, one byte) per group as for W4.
//
// # W8: symmetric int8 per output channel (FormatW8, for W8A8)
//
// Byte c of row r is the two's-complement code q[r, c] (-128..127; the
// symmetric quantizer gives -127..127). Stride = Cols rounded up to a
// multiple of 32, the padding codes are 0. RowScales[r] is the row's
// float32 scale; w' = q * RowScales[r]. Group = Cols.
//
// # W4S: symmetric signed 4-bit per output channel (FormatW4S, for W4A8)
//
// The W4 unit order (byte i: code i low nibble, code 32+i high nibble) with
// two's-complement nibbles (-8..7). Stride = (Cols rounded up to 64)/2,
// padding codes 0. RowScales as for W8.
//
// # Scales in binary16
//
// The group scales of W3 and W4 are stored rounded to binary16 (round to
// nearest even, [tensor.FloatToHalf]); [PackedMatrix.Dequantize] and the
// kernels use the rounded value, which differs from the float32 scale of
// [Params] by at most 2^-11 relatively. The codes are those of [Quantize]
// (computed with the float32 scale).

// Format names a packed layout.
type Format uint8

const (
	FormatW3  Format = 1 // 3-bit asymmetric group-wise, 8 codes in 3 bytes
	FormatW4  Format = 2 // 4-bit asymmetric group-wise, nibbles
	FormatW8  Format = 3 // int8 symmetric per output channel
	FormatW4S Format = 4 // signed 4-bit symmetric per output channel
)

func (f Format) String() string {
	switch f {
	case FormatW3:
		return "w3"
	case FormatW4:
		return "w4"
	case FormatW8:
		return "w8"
	case FormatW4S:
		return "w4s"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Unit returns the number of codes in one layout unit of the format.
func (f Format) Unit() int {
	switch f {
	case FormatW3:
		return 128
	case FormatW4, FormatW4S:
		return 64
	case FormatW8:
		return 32
	}
	return 0
}

// PackedMatrix is a quantized weight matrix [Rows, Cols] in a packed layout
// (see the layout comment at the top of pack.go). Its methods may be called
// concurrently; it must not be copied after first use (it caches the int8
// GEMM panels of W8/W4S weights).
type PackedMatrix struct {
	Format     Format
	Rows, Cols int
	// Group is the number of consecutive input channels sharing one
	// scale and zero (W3, W4); Cols for the per-channel formats.
	Group int
	// Stride is the number of bytes per row in Data.
	Stride int
	Data   []byte
	// Scales ([Rows*Cols/Group], binary16) and Zeros ([Rows*Cols/Group])
	// of the group-wise formats; nil otherwise.
	Scales []uint16
	Zeros  []uint8
	// RowScales ([Rows]) of the per-channel formats; nil otherwise.
	RowScales []float32

	panelsOnce sync.Once
	panels     *kernels.Int8Panels // W8/W4S weight prepared for the int8 GEMM
}

// Groups returns the number of groups per row.
func (m *PackedMatrix) Groups() int { return m.Cols / m.Group }

// Bytes returns the number of bytes a product with m reads for the weight:
// Data, Scales, Zeros and RowScales.
func (m *PackedMatrix) Bytes() int {
	return len(m.Data) + 2*len(m.Scales) + len(m.Zeros) + 4*len(m.RowScales)
}

func newGroupPacked(f Format, codes []uint8, rows, cols, group int, scale []float32, zero []int32, bits int) (*PackedMatrix, error) {
	unit := f.Unit()
	if rows <= 0 || cols <= 0 {
		return nil, fmt.Errorf("quant: pack %v: %d×%d matrix", f, rows, cols)
	}
	if group <= 0 || group%unit != 0 || cols%group != 0 {
		return nil, fmt.Errorf("quant: pack %v: group %d must be a positive multiple of %d dividing %d columns", f, group, unit, cols)
	}
	ng := rows * (cols / group)
	if len(codes) != rows*cols {
		return nil, fmt.Errorf("quant: pack %v: %d codes, want %d×%d", f, len(codes), rows, cols)
	}
	if len(scale) != ng || len(zero) != ng {
		return nil, fmt.Errorf("quant: pack %v: %d scales and %d zeros, want %d", f, len(scale), len(zero), ng)
	}
	hi := uint8(1<<bits - 1)
	for i, q := range codes {
		if q > hi {
			return nil, fmt.Errorf("quant: pack %v: code %d at index %d exceeds %d", f, q, i, hi)
		}
	}
	m := &PackedMatrix{Format: f, Rows: rows, Cols: cols, Group: group,
		Stride: cols * bits / 8, Scales: make([]uint16, ng), Zeros: make([]uint8, ng)}
	m.Data = make([]byte, rows*m.Stride)
	for i := range scale {
		if zero[i] < 0 || zero[i] > int32(hi) {
			return nil, fmt.Errorf("quant: pack %v: zero %d of group %d outside 0..%d", f, zero[i], i, hi)
		}
		m.Scales[i] = tensor.FloatToHalf(scale[i])
		m.Zeros[i] = uint8(zero[i])
	}
	return m, nil
}

// PackW4 packs asymmetric 4-bit codes (0..15, [rows*cols] row-major) with
// their group scales and zeros ([rows*cols/group] row-major, as in [Params])
// into FormatW4. group must be a multiple of 64 dividing cols.
func PackW4(codes []uint8, rows, cols, group int, scale []float32, zero []int32) (*PackedMatrix, error) {
	m, err := newGroupPacked(FormatW4, codes, rows, cols, group, scale, zero, 4)
	if err != nil {
		return nil, err
	}
	for r := 0; r < rows; r++ {
		packNibbles(m.Data[r*m.Stride:(r+1)*m.Stride], codes[r*cols:(r+1)*cols])
	}
	return m, nil
}

// packNibbles writes units of 64 codes (len(c) a multiple of 64): byte i of
// a unit = c[i] | c[32+i]<<4 (the low 4 bits of each code).
func packNibbles(dst []byte, c []uint8) {
	for u := 0; u < len(c)/64; u++ {
		cu, du := c[u*64:u*64+64], dst[u*32:u*32+32]
		for i := range 32 {
			du[i] = cu[i]&15 | cu[32+i]<<4
		}
	}
}

func unpackNibbles(dst []uint8, src []byte) {
	for u := 0; u < len(dst)/64; u++ {
		du, su := dst[u*64:u*64+64], src[u*32:u*32+32]
		for i := range 32 {
			du[i] = su[i] & 15
			du[32+i] = su[i] >> 4
		}
	}
}

// PackW3 packs asymmetric 3-bit codes (0..7, [rows*cols] row-major) with
// their group scales and zeros ([rows*cols/group]) into FormatW3 (eight
// codes in three bytes). group must be a multiple of 128 dividing cols.
func PackW3(codes []uint8, rows, cols, group int, scale []float32, zero []int32) (*PackedMatrix, error) {
	m, err := newGroupPacked(FormatW3, codes, rows, cols, group, scale, zero, 3)
	if err != nil {
		return nil, err
	}
	for r := 0; r < rows; r++ {
		row := codes[r*cols : (r+1)*cols]
		dst := m.Data[r*m.Stride : (r+1)*m.Stride]
		for u := 0; u < cols/128; u++ {
			packW3Unit(dst[u*48:u*48+48], row[u*128:u*128+128])
		}
	}
	return m, nil
}

func packW3Unit(d []byte, c []uint8) {
	for i := range 32 {
		var b byte
		for t := range 4 {
			b |= (c[i+32*t] & 3) << (2 * t)
		}
		d[i] = b
	}
	for p := range 16 {
		var b byte
		for m := range 8 {
			b |= (c[p+16*m] >> 2 & 1) << m
		}
		d[32+p] = b
	}
}

func unpackW3Unit(c []uint8, d []byte) {
	for i := range 32 {
		for t := range 4 {
			c[i+32*t] = d[i] >> (2 * t) & 3
		}
	}
	for p := range 16 {
		for m := range 8 {
			c[p+16*m] |= (d[32+p] >> m & 1) << 2
		}
	}
}

func newRowPacked(f Format, codes []int8, rows, cols int, scale []float32, lo, hi int8) (*PackedMatrix, error) {
	if rows <= 0 || cols <= 0 {
		return nil, fmt.Errorf("quant: pack %v: %d×%d matrix", f, rows, cols)
	}
	if len(codes) != rows*cols || len(scale) != rows {
		return nil, fmt.Errorf("quant: pack %v: %d codes and %d scales, want %d×%d and %d", f, len(codes), len(scale), rows, cols, rows)
	}
	for i, q := range codes {
		if q < lo || q > hi {
			return nil, fmt.Errorf("quant: pack %v: code %d at index %d outside %d..%d", f, q, i, lo, hi)
		}
	}
	unit := f.Unit()
	padded := (cols + unit - 1) / unit * unit
	stride := padded
	if f == FormatW4S {
		stride = padded / 2
	}
	return &PackedMatrix{Format: f, Rows: rows, Cols: cols, Group: cols, Stride: stride,
		Data: make([]byte, rows*stride), RowScales: append([]float32(nil), scale...)}, nil
}

// PackW8 packs symmetric int8 codes ([rows*cols] row-major) with one
// float32 scale per row into FormatW8 (rows padded to 32 bytes with 0).
func PackW8(codes []int8, rows, cols int, scale []float32) (*PackedMatrix, error) {
	m, err := newRowPacked(FormatW8, codes, rows, cols, scale, -128, 127)
	if err != nil {
		return nil, err
	}
	for r := 0; r < rows; r++ {
		for c, q := range codes[r*cols : (r+1)*cols] {
			m.Data[r*m.Stride+c] = byte(q)
		}
	}
	return m, nil
}

// PackW4S packs symmetric signed 4-bit codes (-8..7, [rows*cols]) with one
// float32 scale per row into FormatW4S (two's-complement nibbles in the W4
// unit order, rows padded to 64 codes with 0).
func PackW4S(codes []int8, rows, cols int, scale []float32) (*PackedMatrix, error) {
	m, err := newRowPacked(FormatW4S, codes, rows, cols, scale, -8, 7)
	if err != nil {
		return nil, err
	}
	row := make([]uint8, m.Stride*2)
	for r := 0; r < rows; r++ {
		clear(row)
		for c, q := range codes[r*cols : (r+1)*cols] {
			row[c] = uint8(q) & 15
		}
		packNibbles(m.Data[r*m.Stride:(r+1)*m.Stride], row)
	}
	return m, nil
}

// Pack packs codes quantized with p into the format its spec selects:
// asymmetric 3 or 4 bits with a group size that is a multiple of the unit
// (W3: 128, W4: 64) -> FormatW3 / FormatW4; symmetric 8 or 4 bits ->
// FormatW8 / FormatW4S. Other specs are an error.
func Pack(c Codes, p *Params) (*PackedMatrix, error) {
	if c.Len() != p.Rows*p.Cols {
		return nil, fmt.Errorf("quant: pack: %d codes, want %d×%d", c.Len(), p.Rows, p.Cols)
	}
	s := p.Spec
	switch {
	case !s.Symmetric && s.Bits == 3 && c.U != nil:
		return PackW3(c.U, p.Rows, p.Cols, p.GroupSize, p.Scale, p.Zero)
	case !s.Symmetric && s.Bits == 4 && c.U != nil:
		return PackW4(c.U, p.Rows, p.Cols, p.GroupSize, p.Scale, p.Zero)
	case s.Symmetric && s.Bits == 8 && c.S != nil:
		return PackW8(c.S, p.Rows, p.Cols, p.Scale)
	case s.Symmetric && s.Bits == 4 && c.S != nil:
		return PackW4S(c.S, p.Rows, p.Cols, p.Scale)
	}
	return nil, fmt.Errorf("quant: pack: no packed format for %v", s)
}

// PackWeights quantizes w ([rows*cols] row-major) with spec (ComputeParams,
// Quantize) and packs the codes.
func PackWeights(w []float32, rows, cols int, spec WeightSpec) (*PackedMatrix, error) {
	p, err := ComputeParams(w, rows, cols, spec)
	if err != nil {
		return nil, err
	}
	return Pack(Quantize(w, p), p)
}

// Unpack returns the codes of m, row-major [Rows*Cols]: U (0..2^b-1) for
// W3 and W4, S for W8 and W4S. It is the reference unpacker of the layouts.
func (m *PackedMatrix) Unpack() Codes {
	rows, cols := m.Rows, m.Cols
	switch m.Format {
	case FormatW4:
		u := make([]uint8, rows*cols)
		for r := 0; r < rows; r++ {
			unpackNibbles(u[r*cols:(r+1)*cols], m.Data[r*m.Stride:(r+1)*m.Stride])
		}
		return Codes{U: u}
	case FormatW3:
		u := make([]uint8, rows*cols)
		for r := 0; r < rows; r++ {
			for k := 0; k < cols/128; k++ {
				unpackW3Unit(u[r*cols+k*128:r*cols+k*128+128], m.Data[r*m.Stride+k*48:r*m.Stride+k*48+48])
			}
		}
		return Codes{U: u}
	case FormatW8:
		s := make([]int8, rows*cols)
		for r := 0; r < rows; r++ {
			for c := range cols {
				s[r*cols+c] = int8(m.Data[r*m.Stride+c])
			}
		}
		return Codes{S: s}
	case FormatW4S:
		s := make([]int8, rows*cols)
		row := make([]uint8, m.Stride*2)
		for r := 0; r < rows; r++ {
			unpackNibbles(row, m.Data[r*m.Stride:(r+1)*m.Stride])
			for c := range cols {
				s[r*cols+c] = int8(row[c]<<4) >> 4
			}
		}
		return Codes{S: s}
	}
	panic("quant: Unpack: unknown format")
}

// Params returns the quantization parameters of m with the scales as
// stored (binary16 scales widened to float32).
func (m *PackedMatrix) Params() *Params {
	switch m.Format {
	case FormatW3, FormatW4:
		bits := 3
		if m.Format == FormatW4 {
			bits = 4
		}
		p := &Params{Spec: WeightSpec{Bits: bits, Group: m.Group}, Rows: m.Rows, Cols: m.Cols,
			GroupSize: m.Group, Scale: make([]float32, len(m.Scales)), Zero: make([]int32, len(m.Zeros))}
		tensor.HalfsToFloats(p.Scale, m.Scales)
		for i, z := range m.Zeros {
			p.Zero[i] = int32(z)
		}
		return p
	case FormatW8, FormatW4S:
		bits := 8
		if m.Format == FormatW4S {
			bits = 4
		}
		return &Params{Spec: WeightSpec{Bits: bits, Symmetric: true}, Rows: m.Rows, Cols: m.Cols,
			GroupSize: m.Cols, Scale: append([]float32(nil), m.RowScales...), Zero: make([]int32, m.Rows)}
	}
	panic("quant: Params: unknown format")
}

// Dequantize writes the dequantized weights (q - zero) * scale, row-major
// [Rows*Cols], into dst (the reference dequantizer; scales as stored).
func (m *PackedMatrix) Dequantize(dst []float32) {
	if len(dst) != m.Rows*m.Cols {
		panic("quant: PackedMatrix.Dequantize: dst length does not match")
	}
	Dequantize(m.Unpack(), m.Params(), dst)
}
