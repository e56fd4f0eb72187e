package quant

import (
	"fmt"
	"math"
)

// WeightSpec describes weight quantization.
type WeightSpec struct {
	// Bits is the code width, 2..8.
	Bits int
	// Group > 0: groups of Group consecutive input channels per output row
	// (asymmetric only; cols must be a multiple of Group). Group <= 0: one
	// group per output row (per-channel). Ignored when Symmetric.
	Group int
	// Symmetric selects the weight-activation quantizer: symmetric, one scale
	// per output channel, scale = max(absmax, 1e-5)/(2^(b-1)-1), codes in
	// [-2^(b-1), 2^(b-1)-1], Zero all 0. False: asymmetric with integer zero.
	Symmetric bool
}

// String formats the spec as e.g. "w4g128", "w3", "w8sym".
func (s WeightSpec) String() string {
	switch {
	case s.Symmetric:
		return fmt.Sprintf("w%dsym", s.Bits)
	case s.Group > 0:
		return fmt.Sprintf("w%dg%d", s.Bits, s.Group)
	default:
		return fmt.Sprintf("w%d", s.Bits)
	}
}

// Validate reports whether the spec's bit width is supported.
func (s WeightSpec) Validate() error {
	if s.Bits < 2 || s.Bits > 8 {
		return fmt.Errorf("quant: %d bits, want 2..8", s.Bits)
	}
	return nil
}

// Range returns the inclusive code range: [0, 2^b-1] for asymmetric,
// [-2^(b-1), 2^(b-1)-1] for symmetric.
func (s WeightSpec) Range() (lo, hi int32) {
	if s.Symmetric {
		return -(1 << (s.Bits - 1)), 1<<(s.Bits-1) - 1
	}
	return 0, 1<<s.Bits - 1
}

// GroupSize returns the effective number of consecutive input channels that
// share one scale for a matrix with cols columns: cols for symmetric and
// per-channel specs, Group otherwise. It fails when cols is not a positive
// multiple of Group.
func (s WeightSpec) GroupSize(cols int) (int, error) {
	if cols <= 0 {
		return 0, fmt.Errorf("quant: %d columns", cols)
	}
	if s.Symmetric || s.Group <= 0 {
		return cols, nil
	}
	if cols%s.Group != 0 {
		return 0, fmt.Errorf("quant: %d columns not a multiple of group size %d", cols, s.Group)
	}
	return s.Group, nil
}

// Params holds a quantized matrix's parameters: for rows×cols with
// G = Cols/GroupSize groups per row, Scale and Zero are [rows*G] (row-major);
// Zero is all 0 when symmetric. GroupSize is the effective group (Cols for
// per-channel and symmetric specs).
type Params struct {
	Spec       WeightSpec
	Rows, Cols int
	GroupSize  int
	Scale      []float32
	Zero       []int32
}

// Groups returns the number of groups per row.
func (p *Params) Groups() int { return p.Cols / p.GroupSize }

// Index returns the index into Scale and Zero of weight (r, c).
func (p *Params) Index(r, c int) int { return r*p.Groups() + c/p.GroupSize }

// NewParams allocates zeroed parameters for a rows×cols matrix.
func NewParams(rows, cols int, spec WeightSpec) (*Params, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if rows <= 0 {
		return nil, fmt.Errorf("quant: %d rows", rows)
	}
	g, err := spec.GroupSize(cols)
	if err != nil {
		return nil, err
	}
	n := rows * (cols / g)
	return &Params{Spec: spec, Rows: rows, Cols: cols, GroupSize: g,
		Scale: make([]float32, n), Zero: make([]int32, n)}, nil
}

// Codes are the integer codes, one per weight, row-major. Exactly one field
// is non-nil: U for asymmetric specs (codes 0..2^b-1), S for symmetric specs
// (codes -2^(b-1)..2^(b-1)-1).
type Codes struct {
	U []uint8
	S []int8
}

// NewCodes allocates n zero codes of the kind spec needs.
func NewCodes(spec WeightSpec, n int) Codes {
	if spec.Symmetric {
		return Codes{S: make([]int8, n)}
	}
	return Codes{U: make([]uint8, n)}
}

// Len returns the number of codes.
func (c Codes) Len() int {
	if c.S != nil {
		return len(c.S)
	}
	return len(c.U)
}

// At returns code i as an int32.
func (c Codes) At(i int) int32 {
	if c.S != nil {
		return int32(c.S[i])
	}
	return int32(c.U[i])
}

// Set stores code i; q must lie in the spec's range.
func (c Codes) Set(i int, q int32) {
	if c.S != nil {
		c.S[i] = int8(q)
		return
	}
	c.U[i] = uint8(q)
}

// GroupParams computes one group's scale and zero from its values (a row of
// a per-channel or symmetric matrix, or one group of a group-wise matrix)
// with the formulas of the package comment, in float32.
func GroupParams(w []float32, spec WeightSpec) (scale float32, zero int32) {
	if spec.Symmetric {
		var amax float32
		for _, v := range w {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax = a
			}
		}
		if !(amax >= 1e-5) {
			amax = 1e-5
		}
		_, hi := spec.Range()
		return amax / float32(hi), 0
	}
	mn, mx := w[0], w[0]
	for _, v := range w[1:] {
		if v < mn {
			mn = v
		}
		if v > mx {
			mx = v
		}
	}
	d := mx - mn
	if !(d >= 1e-5) {
		d = 1e-5
	}
	lo, hi := spec.Range()
	scale = d / float32(hi)
	zero = clampCode(-RoundHalfEven(mn/scale), lo, hi)
	return scale, zero
}

// Code quantizes one value: clamp(round(x/scale) + zero, lo, hi).
func Code(x, scale float32, zero, lo, hi int32) int32 {
	return clampCode(RoundHalfEven(x/scale)+float32(zero), lo, hi)
}

// Decode dequantizes one code: (q - zero) * scale.
func Decode(q int32, scale float32, zero int32) float32 {
	return float32(float32(q-zero) * scale)
}

func checkFinite(w []float32) error {
	for i, v := range w {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("quant: non-finite weight %v at index %d", v, i)
		}
	}
	return nil
}

// ComputeParams computes the scales and zeros of a rows×cols row-major
// matrix. It fails on an unsupported spec, a size mismatch, cols not a
// multiple of the group size, or a non-finite weight.
func ComputeParams(w []float32, rows, cols int, spec WeightSpec) (*Params, error) {
	p, err := NewParams(rows, cols, spec)
	if err != nil {
		return nil, err
	}
	if len(w) != rows*cols {
		return nil, fmt.Errorf("quant: %d weights, want %d×%d = %d", len(w), rows, cols, rows*cols)
	}
	if err := checkFinite(w); err != nil {
		return nil, err
	}
	g := p.GroupSize
	for i := range p.Scale {
		// Group i covers w[i*g : (i+1)*g]: groups are consecutive in row-major order.
		p.Scale[i], p.Zero[i] = GroupParams(w[i*g:(i+1)*g], spec)
	}
	return p, nil
}

// Quantize returns the codes of w under p. It panics if len(w) does not
// match p.
func Quantize(w []float32, p *Params) Codes {
	if len(w) != p.Rows*p.Cols {
		panic("quant: Quantize: weight length does not match params")
	}
	c := NewCodes(p.Spec, len(w))
	lo, hi := p.Spec.Range()
	g := p.GroupSize
	for gi := range p.Scale {
		s, z := p.Scale[gi], p.Zero[gi]
		for i := gi * g; i < (gi+1)*g; i++ {
			c.Set(i, Code(w[i], s, z, lo, hi))
		}
	}
	return c
}

// Dequantize writes (q - zero) * scale for every code into dst. It panics if
// the sizes do not match p.
func Dequantize(c Codes, p *Params, dst []float32) {
	n := p.Rows * p.Cols
	if c.Len() != n || len(dst) != n {
		panic("quant: Dequantize: size does not match params")
	}
	g := p.GroupSize
	for gi := range p.Scale {
		s, z := p.Scale[gi], p.Zero[gi]
		for i := gi * g; i < (gi+1)*g; i++ {
			dst[i] = Decode(c.At(i), s, z)
		}
	}
}

// FakeQuantParams replaces every weight by its quantized-dequantized value
// under p, in place. It panics if len(w) does not match p.
func FakeQuantParams(w []float32, p *Params) {
	if len(w) != p.Rows*p.Cols {
		panic("quant: FakeQuantParams: weight length does not match params")
	}
	lo, hi := p.Spec.Range()
	g := p.GroupSize
	for gi := range p.Scale {
		s, z := p.Scale[gi], p.Zero[gi]
		for i := gi * g; i < (gi+1)*g; i++ {
			w[i] = Decode(Code(w[i], s, z, lo, hi), s, z)
		}
	}
}

// FakeQuant quantizes and dequantizes w in place:
// w = Dequantize(Quantize(w, ComputeParams(w))).
func FakeQuant(w []float32, rows, cols int, spec WeightSpec) error {
	p, err := ComputeParams(w, rows, cols, spec)
	if err != nil {
		return err
	}
	FakeQuantParams(w, p)
	return nil
}
