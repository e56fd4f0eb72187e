//go:build amd64

#include "textflag.h"

// One token i of the 6×16 tile: broadcast its int16 pair, two VPMADDWD
// against the weight pairs in Y12:Y13, accumulate in r0:r1.
#define I8ROW(off, r0, r1) \
	VPBROADCASTD off(SI), Y14; \
	VPMADDWD     Y12, Y14, Y15; \
	VPADDD       Y15, r0, r0; \
	VPMADDWD     Y13, Y14, Y15; \
	VPADDD       Y15, r1, r1

// Row i of C: float(acc) * sb * sa[i], stored at DX; DX advances by ldc.
#define I8STORE(off, r0, r1) \
	VCVTDQ2PS    r0, r0; \
	VCVTDQ2PS    r1, r1; \
	VBROADCASTSS off(R9), Y14; \
	VMULPS       Y12, r0, r0; \
	VMULPS       Y13, r1, r1; \
	VMULPS       Y14, r0, r0; \
	VMULPS       Y14, r1, r1; \
	VMOVUPS      r0, (DX); \
	VMOVUPS      r1, 32(DX); \
	ADDQ         R8, DX

// func int8Kernel6x16AVX2(kp int, a *int32, b *int8, c *float32, ldc int, sa, sb *float32)
TEXT ·int8Kernel6x16AVX2(SB), NOSPLIT, $0-56
	MOVQ   kp+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), BX
	MOVQ   c+24(FP), DX
	MOVQ   ldc+32(FP), R8
	SHLQ   $2, R8
	MOVQ   sa+40(FP), R9
	MOVQ   sb+48(FP), R10
	VPXOR  Y0, Y0, Y0
	VPXOR  Y1, Y1, Y1
	VPXOR  Y2, Y2, Y2
	VPXOR  Y3, Y3, Y3
	VPXOR  Y4, Y4, Y4
	VPXOR  Y5, Y5, Y5
	VPXOR  Y6, Y6, Y6
	VPXOR  Y7, Y7, Y7
	VPXOR  Y8, Y8, Y8
	VPXOR  Y9, Y9, Y9
	VPXOR  Y10, Y10, Y10
	VPXOR  Y11, Y11, Y11

i8loop:
	VPMOVSXBW (BX), Y12
	VPMOVSXBW 16(BX), Y13
	I8ROW(0, Y0, Y1)
	I8ROW(4, Y2, Y3)
	I8ROW(8, Y4, Y5)
	I8ROW(12, Y6, Y7)
	I8ROW(16, Y8, Y9)
	I8ROW(20, Y10, Y11)
	ADDQ      $24, SI
	ADDQ      $32, BX
	DECQ      CX
	JNZ       i8loop

	VMOVUPS (R10), Y12
	VMOVUPS 32(R10), Y13
	I8STORE(0, Y0, Y1)
	I8STORE(4, Y2, Y3)
	I8STORE(8, Y4, Y5)
	I8STORE(12, Y6, Y7)
	I8STORE(16, Y8, Y9)
	I8STORE(20, Y10, Y11)
	VZEROUPPER
	RET

// I8ROW with VPDPWSSD (AVX512-VNNI, EVEX-encoded on ymm): acc += pairs·pairs.
#define I8ROWV(off, r0, r1) \
	VPBROADCASTD off(SI), Y14; \
	VPDPWSSD     Y12, Y14, r0; \
	VPDPWSSD     Y13, Y14, r1

// func int8Kernel6x16VNNI(kp int, a *int32, b *int8, c *float32, ldc int, sa, sb *float32)
TEXT ·int8Kernel6x16VNNI(SB), NOSPLIT, $0-56
	MOVQ   kp+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), BX
	MOVQ   c+24(FP), DX
	MOVQ   ldc+32(FP), R8
	SHLQ   $2, R8
	MOVQ   sa+40(FP), R9
	MOVQ   sb+48(FP), R10
	VPXOR  Y0, Y0, Y0
	VPXOR  Y1, Y1, Y1
	VPXOR  Y2, Y2, Y2
	VPXOR  Y3, Y3, Y3
	VPXOR  Y4, Y4, Y4
	VPXOR  Y5, Y5, Y5
	VPXOR  Y6, Y6, Y6
	VPXOR  Y7, Y7, Y7
	VPXOR  Y8, Y8, Y8
	VPXOR  Y9, Y9, Y9
	VPXOR  Y10, Y10, Y10
	VPXOR  Y11, Y11, Y11

i8vloop:
	VPMOVSXBW (BX), Y12
	VPMOVSXBW 16(BX), Y13
	I8ROWV(0, Y0, Y1)
	I8ROWV(4, Y2, Y3)
	I8ROWV(8, Y4, Y5)
	I8ROWV(12, Y6, Y7)
	I8ROWV(16, Y8, Y9)
	I8ROWV(20, Y10, Y11)
	ADDQ      $24, SI
	ADDQ      $32, BX
	DECQ      CX
	JNZ       i8vloop

	VMOVUPS (R10), Y12
	VMOVUPS 32(R10), Y13
	I8STORE(0, Y0, Y1)
	I8STORE(4, Y2, Y3)
	I8STORE(8, Y4, Y5)
	I8STORE(12, Y6, Y7)
	I8STORE(16, Y8, Y9)
	I8STORE(20, Y10, Y11)
	VZEROUPPER
	RET
