package quant

import (
	"unsafe"

	"mbq/kernels"
)

// GEMV computes y[:Rows] = W·x[:Cols] for the packed weight with the fused
// kernels of package kernels: W3 and W4 with int8 activations per block of
// kernels.DefaultActBlock(Group) (kernels.GEMVW3, kernels.GEMVW4), W8 with
// int8 activations per block of 32 (kernels.GEMVW8). W4S weights (meant
// for the int8 GEMM of W4A8) are widened to a W8 copy first.
func (m *PackedMatrix) GEMV(y, x []float32) {
	if len(y) < m.Rows || len(x) < m.Cols {
		panic("quant: PackedMatrix.GEMV: y or x too short")
	}
	switch m.Format {
	case FormatW4:
		kernels.GEMVW4(y, x, m.Data, m.Scales, m.Zeros, m.Rows, m.Cols, m.Group)
	case FormatW3:
		kernels.GEMVW3(y, x, m.Data, m.Scales, m.Zeros, m.Rows, m.Cols, m.Group)
	case FormatW8:
		kernels.GEMVW8(y, x, m.Data, m.RowScales, m.Rows, m.Cols, m.Stride)
	case FormatW4S:
		// Widen the nibbles to the W8 layout (a stride of 2·Stride is a
		// multiple of 64) and run the W8 kernel: W4S exists for the int8
		// GEMM of W4A8; its GEMV is a convenience, not a fast path.
		stride := m.Stride * 2
		w8 := make([]byte, m.Rows*stride)
		for r := 0; r < m.Rows; r++ {
			row := w8[r*stride : (r+1)*stride]
			unpackNibbles(row, m.Data[r*m.Stride:(r+1)*m.Stride])
			for i, c := range row {
				row[i] = byte(int8(c<<4) >> 4)
			}
		}
		kernels.GEMVW8(y, x, w8, m.RowScales, m.Rows, m.Cols, stride)
	default:
		panic("quant: PackedMatrix.GEMV: unknown format")
	}
}

// GEMVFloat computes y[:Rows] = W·x[:Cols] for a W3 or W4 weight with
// float32 activations (kernels.GEMVW3Float, kernels.GEMVW4Float): the
// product of the dequantized weight with x up to float32 rounding, about
// 2.5x slower than GEMV. Other formats panic.
func (m *PackedMatrix) GEMVFloat(y, x []float32) {
	if len(y) < m.Rows || len(x) < m.Cols {
		panic("quant: PackedMatrix.GEMVFloat: y or x too short")
	}
	switch m.Format {
	case FormatW4:
		kernels.GEMVW4Float(y, x, m.Data, m.Scales, m.Zeros, m.Rows, m.Cols, m.Group)
	case FormatW3:
		kernels.GEMVW3Float(y, x, m.Data, m.Scales, m.Zeros, m.Rows, m.Cols, m.Group)
	default:
		panic("quant: PackedMatrix.GEMVFloat: not a W3 or W4 matrix")
	}
}

// MatMul computes C[tokens×Rows] = A[tokens×Cols] · Wᵀ (row-major, dense
// strides) for the prefill: W3 and W4 by dequantizing blocks of rows into
// the fp32 GEMM (kernels.GEMMW3/GEMMW4, float activations); W8 and W4S by
// the int8 GEMM with per-token dynamic activation quantization
// (kernels.Int8GEMM, i.e. W8A8 / W4A8), its weight panels prepared on first
// use and kept.
func (m *PackedMatrix) MatMul(c, a []float32, tokens int) {
	if tokens < 0 || len(a) < tokens*m.Cols || len(c) < tokens*m.Rows {
		panic("quant: PackedMatrix.MatMul: a or c too short")
	}
	if tokens == 0 {
		return
	}
	switch m.Format {
	case FormatW4:
		kernels.GEMMW4(c, m.Rows, a, m.Cols, tokens, m.Data, m.Scales, m.Zeros, m.Rows, m.Cols, m.Group)
	case FormatW3:
		kernels.GEMMW3(c, m.Rows, a, m.Cols, tokens, m.Data, m.Scales, m.Zeros, m.Rows, m.Cols, m.Group)
	case FormatW8, FormatW4S:
		kernels.Int8GEMM(c, m.Rows, a, m.Cols, tokens, m.Int8Panels())
	default:
		panic("quant: PackedMatrix.MatMul: unknown format")
	}
}

// Int8Panels returns the weight of a W8 or W4S matrix repacked for
// kernels.Int8GEMM (W4S codes widened to int8), built on first use.
func (m *PackedMatrix) Int8Panels() *kernels.Int8Panels {
	m.panelsOnce.Do(func() {
		switch m.Format {
		case FormatW8:
			codes := unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(m.Data))), len(m.Data))
			m.panels = kernels.PackInt8Panels(codes, m.Stride, m.Rows, m.Cols, m.RowScales)
		case FormatW4S:
			m.panels = kernels.PackInt8Panels(m.Unpack().S, m.Cols, m.Rows, m.Cols, m.RowScales)
		default:
			panic("quant: PackedMatrix.Int8Panels: not a W8 or W4S matrix")
		}
	})
	return m.panels
}
