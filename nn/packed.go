package nn

import (
	"errors"
	"os"
	"sync/atomic"

	"mbq/quant"
	"mbq/tensor"
)

// Packed (real low-bit) linears.
//
// A Linear whose Packed field is set holds its weight in one of the packed
// layouts of package mbq/quant (W3, W4: asymmetric group-wise, weight-only;
// W8, W4S: symmetric per output channel, for W8A8 / W4A8) and no float32
// copy (W is nil). Forward and ForwardInto then run the fused kernels:
//
//   - W3, W4, one row (decode): the fused GEMV. With the default kernel
//     (PackedKernelInt8) it is quant.PackedMatrix.GEMV, which quantizes the
//     activation to int8 per block of the group (128) and is not float-exact
//     (0.6–2 % relative error on a row, kernels/qgemv.go, BENCHMARKS.md);
//     with PackedKernelFloat it is GEMVFloat, the product of the dequantized
//     weight with x up to float32 rounding.
//   - W3, W4, several rows (prefill): PackedMatrix.MatMul, the
//     dequantize–fp32 GEMM (exact up to float32 rounding) whatever the
//     kernel setting.
//   - W8, W4S (any number of rows): PackedMatrix.MatMul, the int8 GEMM with
//     per-token dynamic 8-bit activation quantization (bit for bit
//     quant.QuantizeActPerToken), i.e. the W8A8 / W4A8 semantics of
//     ActBits = 8 on a fake-quantized weight, up to float32 rounding. ActBits
//     must be 0 or 8 for these formats (other activation widths are not
//     packed).
//
// The bias is added in float32 after the product. Backward panics with
// ErrPackedBackward: a packed model is for inference; train or compute
// sensitivities on the fake-quantized model.

// PackedKernel selects the decode GEMV of W3/W4 packed linears.
type PackedKernel int32

const (
	// PackedKernelInt8: int8 activations per block (fast, not float-exact).
	PackedKernelInt8 PackedKernel = iota
	// PackedKernelFloat: float32 activations (exact up to float rounding,
	// about 2.5x slower on the GEMV).
	PackedKernelFloat
)

func (k PackedKernel) String() string {
	if k == PackedKernelFloat {
		return "float"
	}
	return "int8"
}

// PackedKernelEnv is the environment variable read at start-up to choose the
// default PackedKernel: "int8" (or unset) or "float".
const PackedKernelEnv = "MBQ_QKERNEL"

var packedKernel atomic.Int32

func init() {
	if k, ok := ParsePackedKernel(os.Getenv(PackedKernelEnv)); ok {
		packedKernel.Store(int32(k))
	}
}

// ParsePackedKernel parses "int8" / "" (PackedKernelInt8) or "float".
func ParsePackedKernel(s string) (PackedKernel, bool) {
	switch s {
	case "", "int8":
		return PackedKernelInt8, true
	case "float":
		return PackedKernelFloat, true
	}
	return PackedKernelInt8, false
}

// SetPackedKernel sets the process-wide decode kernel of W3/W4 packed
// linears and returns the previous one. It is safe to call concurrently
// with Forward (a product already running finishes with the kernel it
// started with).
func SetPackedKernel(k PackedKernel) PackedKernel {
	return PackedKernel(packedKernel.Swap(int32(k)))
}

// ActivePackedKernel returns the current decode kernel of W3/W4 linears.
func ActivePackedKernel() PackedKernel { return PackedKernel(packedKernel.Load()) }

// ErrPackedBackward is the panic value of Backward on a packed linear.
var ErrPackedBackward = errors.New("nn: Linear.Backward: the weight is packed (quantized for inference); backward needs the fake-quantized float32 model")

// PackedLinear returns a Linear holding the packed weight p (W nil) and the
// bias b ([p.Rows], copied by reference; nil for none).
func PackedLinear(p *quant.PackedMatrix, b []float32) *Linear {
	if p == nil {
		panic("nn: PackedLinear: nil weight")
	}
	l := &Linear{Packed: p}
	if b != nil {
		if len(b) != p.Rows {
			panic("nn: PackedLinear: bias length must equal out features")
		}
		l.B = NewParam(&tensor.Tensor{Shape: []int{p.Rows}, Data: b})
	}
	return l
}

// packedInto writes x·Wᵀ ([t, Out]) into y with the packed weight (no bias).
func (l *Linear) packedInto(y, x []float32, t int) {
	p := l.Packed
	in := p.Cols
	x = x[:t*in]
	y = y[:t*p.Rows]
	switch p.Format {
	case quant.FormatW3, quant.FormatW4:
		if l.ActBits > 0 {
			x = append([]float32(nil), x...)
			quant.FakeQuantActPerToken(x, t, in, l.ActBits)
		}
		if t == 1 {
			if ActivePackedKernel() == PackedKernelFloat {
				p.GEMVFloat(y, x)
			} else {
				p.GEMV(y, x)
			}
			return
		}
		p.MatMul(y, x, t)
	case quant.FormatW8, quant.FormatW4S:
		if l.ActBits != 0 && l.ActBits != 8 {
			panic("nn: Linear.Forward: a packed W8/W4S weight runs with 8-bit activations only (ActBits 0 or 8)")
		}
		p.MatMul(y, x, t)
	default:
		panic("nn: Linear.Forward: unknown packed format")
	}
}
