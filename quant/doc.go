// Package quant implements the uniform integer quantizers of MBQ
// (design/algorithm.md §1): group-wise asymmetric weight quantization for the
// weight-only modes (W3A16, W4A16), symmetric per-output-channel weight
// quantization and per-token dynamic activation quantization for the
// weight-activation modes (W4A8, W8A8).
//
// # Weights, asymmetric (Spec.Symmetric == false)
//
// A weight matrix W is [rows, cols], row-major, rows = output channels,
// cols = input channels. Each row is cut into groups of g = Spec.Group
// consecutive input channels (g <= 0: the whole row is one group, i.e.
// per-channel); cols % g must be 0. For each group w, with b = Spec.Bits:
//
//	scale = max(max(w) - min(w), 1e-5) / (2^b - 1)
//	zero  = clamp(-round(min(w) / scale), 0, 2^b - 1)          (an integer)
//	q     = clamp(round(w / scale) + zero, 0, 2^b - 1)          (codes 0..2^b-1)
//	w'    = (q - zero) * scale
//
// # Weights, symmetric (Spec.Symmetric == true)
//
// One group per output row; Spec.Group is ignored (algorithm.md §1: "Group
// size is ignored in this mode"):
//
//	scale = max(max|w|, 1e-5) / (2^(b-1) - 1)
//	q     = clamp(round(w / scale), -2^(b-1), 2^(b-1) - 1)
//	w'    = q * scale                                            (Zero is 0)
//
// # Activations (per token, dynamic, symmetric)
//
// Each row x of an activation matrix [rows, cols] gets its own scale, computed
// at run time with the same formula as the symmetric weights:
//
//	scale = max(max|x|, 1e-5) / (2^(b-1) - 1)
//	x'    = clamp(round(x / scale), -2^(b-1), 2^(b-1) - 1) * scale
//
// # Arithmetic
//
// round is round-half-to-even (torch.round). Every step is done in float32 and
// rounded to float32 after each operation, in the order of the PyTorch
// reference (AWQ's / MBQ's pseudo_quantize_tensor on float32 tensors):
// max-min is a float32 subtraction, the clamp to 1e-5 uses float32(1e-5), the
// scale is a float32 division by the float32 constant 2^b-1, w/scale is a
// float32 division, and (q-zero)*scale is one float32 multiplication of an
// exact small integer. No fused multiply-add is involved (every product is
// forced to float32 by an explicit conversion), so results are meant to
// match PyTorch's CPU float32 results bit for bit (the tests use hand-worked
// values; no PyTorch golden is checked in yet). GPU results can differ where
// a backend uses approximate division.
//
// # Codes
//
// Codes holds one integer code per weight, row-major: Codes.U ([]uint8) for
// asymmetric specs (0..2^b-1, b <= 8 fits a byte) and Codes.S ([]int8) for
// symmetric specs (-2^(b-1)..2^(b-1)-1); exactly one of the two is non-nil.
// Params.Scale and Params.Zero are [rows * groupsPerRow], row-major
// (Scale[r*G + c/GroupSize] belongs to weight (r, c)).
//
// Packed layouts (W3 eight-codes-in-three-bytes, W4 nibbles, int8 and signed
// nibbles for the W-A modes) live in pack.go, with the bit diagrams; a
// PackedMatrix runs through the fused kernels of package kernels
// (PackedMatrix.GEMV, GEMVFloat, MatMul).
package quant
