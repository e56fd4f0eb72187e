// Package tensor holds mbq's dense float32 tensors and the conversions between
// float32 and the 16-bit floating-point formats checkpoints are stored in.
//
// A Tensor is a row-major (C-order) array: element (i0, i1, ..., ik) of a
// tensor with shape [d0, d1, ..., dk] lives at
//
//	Data[((i0*d1 + i1)*d2 + ... )*dk + ik]
//
// so the last axis is contiguous. A PyTorch Linear weight of shape
// [out, in] is therefore stored exactly as transformers saves it, and
// y = x·Wᵀ is kernels.MatMulTransB.
//
// 16-bit formats:
//
//	binary16 (fp16):  s eeeee mmmmmmmmmm       value = (-1)^s · 2^(e-15) · 1.m   (e = 0: 2^-14 · 0.m)
//	bfloat16 (bf16):  s eeeeeeee mmmmmmm       the top 16 bits of a float32
//
// Conversions from float32 round to nearest, ties to even, as PyTorch and
// the x86 F16C instructions (VCVTPS2PH with imm8 = 0) do; fp16 overflow gives
// ±Inf, fp16 underflow is gradual. NaNs stay NaNs with the quiet bit set. On
// amd64 with F16C the slice conversions use VCVTPH2PS/VCVTPS2PH for every
// full group of eight values and the scalar Go definitions for the rest; the
// tests check both agree bit for bit.
package tensor
