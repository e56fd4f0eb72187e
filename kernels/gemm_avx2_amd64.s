//go:build amd64

#include "textflag.h"

// One step p of the 6×16 micro-kernel: B row (16 floats at DI, which then
// advances by the B row stride R10) in Y12:Y13, A column (6 floats at ao(SI))
// broadcast through Y14/Y15, 12 FMAs into Y0..Y11 (row i of the tile in
// Y(2i):Y(2i+1)).
#define KSTEP(ao) \
	VMOVUPS      (DI), Y12; \
	VMOVUPS      32(DI), Y13; \
	ADDQ         R10, DI; \
	VBROADCASTSS ao(SI), Y14; \
	VBROADCASTSS ao+4(SI), Y15; \
	VFMADD231PS  Y12, Y14, Y0; \
	VFMADD231PS  Y13, Y14, Y1; \
	VFMADD231PS  Y12, Y15, Y2; \
	VFMADD231PS  Y13, Y15, Y3; \
	VBROADCASTSS ao+8(SI), Y14; \
	VBROADCASTSS ao+12(SI), Y15; \
	VFMADD231PS  Y12, Y14, Y4; \
	VFMADD231PS  Y13, Y14, Y5; \
	VFMADD231PS  Y12, Y15, Y6; \
	VFMADD231PS  Y13, Y15, Y7; \
	VBROADCASTSS ao+16(SI), Y14; \
	VBROADCASTSS ao+20(SI), Y15; \
	VFMADD231PS  Y12, Y14, Y8; \
	VFMADD231PS  Y13, Y14, Y9; \
	VFMADD231PS  Y12, Y15, Y10; \
	VFMADD231PS  Y13, Y15, Y11

// Row r of C at DX: r = beta*C + r, store, advance DX by ldc.
#define ROWBETA(r0, r1) \
	VFMADD231PS (DX), Y13, r0; \
	VFMADD231PS 32(DX), Y13, r1; \
	VMOVUPS     r0, (DX); \
	VMOVUPS     r1, 32(DX); \
	ADDQ        R8, DX

#define ROWSTORE(r0, r1) \
	VMOVUPS r0, (DX); \
	VMOVUPS r1, 32(DX); \
	ADDQ    R8, DX

// func sgemmKernel6x16AVX2(kc int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernel6x16AVX2(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R10
	SHLQ $2, R10
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8

	// Prefetch the C tile (6 rows of 64 bytes, possibly two lines each).
	MOVQ       DX, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)
	ADDQ       R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 63(R9)

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, BX
	SHRQ $2, BX
	JZ   tail

loop4:
	PREFETCHT0 384(SI)
	KSTEP(0)
	KSTEP(24)
	KSTEP(48)
	KSTEP(72)
	ADDQ       $96, SI
	DECQ       BX
	JNZ        loop4

tail:
	ANDQ $3, CX
	JZ   epilogue

loop1:
	KSTEP(0)
	ADDQ $24, SI
	DECQ CX
	JNZ  loop1

epilogue:
	VBROADCASTSS alpha+48(FP), Y12
	VMULPS       Y12, Y0, Y0
	VMULPS       Y12, Y1, Y1
	VMULPS       Y12, Y2, Y2
	VMULPS       Y12, Y3, Y3
	VMULPS       Y12, Y4, Y4
	VMULPS       Y12, Y5, Y5
	VMULPS       Y12, Y6, Y6
	VMULPS       Y12, Y7, Y7
	VMULPS       Y12, Y8, Y8
	VMULPS       Y12, Y9, Y9
	VMULPS       Y12, Y10, Y10
	VMULPS       Y12, Y11, Y11

	// beta == ±0: store without reading C.
	MOVL beta+52(FP), AX
	SHLL $1, AX
	JZ   store

	VBROADCASTSS beta+52(FP), Y13
	ROWBETA(Y0, Y1)
	ROWBETA(Y2, Y3)
	ROWBETA(Y4, Y5)
	ROWBETA(Y6, Y7)
	ROWBETA(Y8, Y9)
	ROWBETA(Y10, Y11)
	VZEROUPPER
	RET

store:
	ROWSTORE(Y0, Y1)
	ROWSTORE(Y2, Y3)
	ROWSTORE(Y4, Y5)
	ROWSTORE(Y6, Y7)
	ROWSTORE(Y8, Y9)
	ROWSTORE(Y10, Y11)
	VZEROUPPER
	RET

// func dotAVX2(x, y *float32, n int) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   y+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ   CX, $32
	JLT    dot8

dot32:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         dot32

dot8:
	CMPQ        CX, $8
	JLT         dotreduce
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         dot8

dotreduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	TESTQ        CX, CX
	JZ           dotdone

dot1:
	VMOVSS      (SI), X1
	VFMADD231SS (DI), X1, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JNZ         dot1

dotdone:
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func axpyAVX2(alpha float32, x, y *float32, n int)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y15
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX
	CMPQ         CX, $32
	JLT          axpy8

axpy32:
	VMOVUPS     (DI), Y0
	VMOVUPS     32(DI), Y1
	VMOVUPS     64(DI), Y2
	VMOVUPS     96(DI), Y3
	VFMADD231PS (SI), Y15, Y0
	VFMADD231PS 32(SI), Y15, Y1
	VFMADD231PS 64(SI), Y15, Y2
	VFMADD231PS 96(SI), Y15, Y3
	VMOVUPS     Y0, (DI)
	VMOVUPS     Y1, 32(DI)
	VMOVUPS     Y2, 64(DI)
	VMOVUPS     Y3, 96(DI)
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         axpy32

axpy8:
	CMPQ        CX, $8
	JLT         axpy1start
	VMOVUPS     (DI), Y0
	VFMADD231PS (SI), Y15, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         axpy8

axpy1start:
	TESTQ CX, CX
	JZ    axpydone

axpy1:
	VMOVSS      (DI), X0
	VFMADD231SS (SI), X15, X0
	VMOVSS      X0, (DI)
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JNZ         axpy1

axpydone:
	VZEROUPPER
	RET

// One group of 8 p for the 4×3 dot block: W rows (DI, R12, R13 at offset BX)
// in Y12..Y14, each A row (SI, R8, R9, R11) in Y15 in turn.
#define NTSTEP \
	VMOVUPS     (DI)(BX*1), Y12; \
	VMOVUPS     (R12)(BX*1), Y13; \
	VMOVUPS     (R13)(BX*1), Y14; \
	VMOVUPS     (SI)(BX*1), Y15; \
	VFMADD231PS Y15, Y12, Y0; \
	VFMADD231PS Y15, Y13, Y1; \
	VFMADD231PS Y15, Y14, Y2; \
	VMOVUPS     (R8)(BX*1), Y15; \
	VFMADD231PS Y15, Y12, Y3; \
	VFMADD231PS Y15, Y13, Y4; \
	VFMADD231PS Y15, Y14, Y5; \
	VMOVUPS     (R9)(BX*1), Y15; \
	VFMADD231PS Y15, Y12, Y6; \
	VFMADD231PS Y15, Y13, Y7; \
	VFMADD231PS Y15, Y14, Y8; \
	VMOVUPS     (R11)(BX*1), Y15; \
	VFMADD231PS Y15, Y12, Y9; \
	VFMADD231PS Y15, Y13, Y10; \
	VFMADD231PS Y15, Y14, Y11; \
	ADDQ        $32, BX

// Horizontal sums of four accumulators into 4 floats at off(DX).
#define HSUM4(r0, r1, r2, r3, x0, x2, off) \
	VHADDPS      r1, r0, r0; \
	VHADDPS      r3, r2, r2; \
	VHADDPS      r2, r0, r0; \
	VEXTRACTF128 $1, r0, X15; \
	VADDPS       X15, x0, x0; \
	VMOVUPS      x0, off(DX)

// func dotNT4x3AVX2(k8 int, a0, a1, a2, a3, b0, b1, b2 *float32, out *[12]float32)
TEXT ·dotNT4x3AVX2(SB), NOSPLIT, $0-72
	MOVQ k8+0(FP), CX
	MOVQ a0+8(FP), SI
	MOVQ a1+16(FP), R8
	MOVQ a2+24(FP), R9
	MOVQ a3+32(FP), R11
	MOVQ b0+40(FP), DI
	MOVQ b1+48(FP), R12
	MOVQ b2+56(FP), R13
	MOVQ out+64(FP), DX
	XORQ BX, BX
	SHLQ $2, CX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	// Two groups of 8 per iteration while at least 16 remain.
	MOVQ CX, AX
	ANDQ $-64, AX
	JZ   ntone

ntloop2:
	NTSTEP
	NTSTEP
	CMPQ BX, AX
	JLT  ntloop2

ntone:
	CMPQ BX, CX
	JGE  ntsum
	NTSTEP

ntsum:
	// out[i*3+j] = sum of accumulator Y(i*3+j)
	HSUM4(Y0, Y1, Y2, Y3, X0, X2, 0)
	HSUM4(Y4, Y5, Y6, Y7, X4, X6, 16)
	HSUM4(Y8, Y9, Y10, Y11, X8, X10, 32)
	VZEROUPPER
	RET

// Transpose 8 rows of 8 floats at (r0..r3 base A, r4..r7 base B, index BX)
// and store them as 8 rows of 8 floats at off(DI) with stride 64 bytes.
#define TRANSPOSE8(A, B, off) \
	VMOVUPS      (A)(BX*1), Y0; \
	VMOVUPS      (A)(R8*1), Y1; \
	VMOVUPS      (A)(R8*2), Y2; \
	VMOVUPS      (A)(R9*1), Y3; \
	VMOVUPS      (B)(BX*1), Y4; \
	VMOVUPS      (B)(R8*1), Y5; \
	VMOVUPS      (B)(R8*2), Y6; \
	VMOVUPS      (B)(R9*1), Y7; \
	VUNPCKLPS    Y1, Y0, Y8; \
	VUNPCKHPS    Y1, Y0, Y9; \
	VUNPCKLPS    Y3, Y2, Y10; \
	VUNPCKHPS    Y3, Y2, Y11; \
	VUNPCKLPS    Y5, Y4, Y12; \
	VUNPCKHPS    Y5, Y4, Y13; \
	VUNPCKLPS    Y7, Y6, Y14; \
	VUNPCKHPS    Y7, Y6, Y15; \
	VSHUFPS      $0x44, Y10, Y8, Y0; \
	VSHUFPS      $0xEE, Y10, Y8, Y1; \
	VSHUFPS      $0x44, Y11, Y9, Y2; \
	VSHUFPS      $0xEE, Y11, Y9, Y3; \
	VSHUFPS      $0x44, Y14, Y12, Y4; \
	VSHUFPS      $0xEE, Y14, Y12, Y5; \
	VSHUFPS      $0x44, Y15, Y13, Y6; \
	VSHUFPS      $0xEE, Y15, Y13, Y7; \
	VPERM2F128   $0x20, Y4, Y0, Y8; \
	VPERM2F128   $0x20, Y5, Y1, Y9; \
	VPERM2F128   $0x20, Y6, Y2, Y10; \
	VPERM2F128   $0x20, Y7, Y3, Y11; \
	VPERM2F128   $0x31, Y4, Y0, Y12; \
	VPERM2F128   $0x31, Y5, Y1, Y13; \
	VPERM2F128   $0x31, Y6, Y2, Y14; \
	VPERM2F128   $0x31, Y7, Y3, Y15; \
	VMOVUPS      Y8, off(DI); \
	VMOVUPS      Y9, off+64(DI); \
	VMOVUPS      Y10, off+128(DI); \
	VMOVUPS      Y11, off+192(DI); \
	VMOVUPS      Y12, off+256(DI); \
	VMOVUPS      Y13, off+320(DI); \
	VMOVUPS      Y14, off+384(DI); \
	VMOVUPS      Y15, off+448(DI)

// func packBT16AVX2(k8 int, b *float32, ldb int, dst *float32)
TEXT ·packBT16AVX2(SB), NOSPLIT, $0-32
	MOVQ k8+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ ldb+16(FP), R8
	MOVQ dst+24(FP), DI
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9    // 3 rows
	LEAQ (SI)(R8*4), R10   // row 4
	LEAQ (R10)(R8*4), R11  // row 8
	LEAQ (R11)(R8*4), R12  // row 12
	SHRQ $3, CX
	JZ   packdone

	// The row bases advance by 32 bytes per step; BX stays 0 (it is the
	// index register of the row-0 loads, so that one macro serves all rows).
	XORQ BX, BX

packloop:
	TRANSPOSE8(SI, R10, 0)
	TRANSPOSE8(R11, R12, 32)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $512, DI
	DECQ CX
	JNZ  packloop

packdone:
	VZEROUPPER
	RET
