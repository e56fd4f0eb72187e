//go:build amd64

#include "textflag.h"

DATA qnib<>+0(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA qnib<>+8(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA qnib<>+16(SB)/8, $0x0f0f0f0f0f0f0f0f
DATA qnib<>+24(SB)/8, $0x0f0f0f0f0f0f0f0f
GLOBL qnib<>(SB), RODATA|NOPTR, $32

DATA qones16<>+0(SB)/8, $0x0001000100010001
DATA qones16<>+8(SB)/8, $0x0001000100010001
DATA qones16<>+16(SB)/8, $0x0001000100010001
DATA qones16<>+24(SB)/8, $0x0001000100010001
GLOBL qones16<>(SB), RODATA|NOPTR, $32

DATA q33<>+0(SB)/8, $0x3333333333333333
DATA q33<>+8(SB)/8, $0x3333333333333333
DATA q33<>+16(SB)/8, $0x3333333333333333
DATA q33<>+24(SB)/8, $0x3333333333333333
GLOBL q33<>(SB), RODATA|NOPTR, $32

DATA q44<>+0(SB)/8, $0x4444444444444444
DATA q44<>+8(SB)/8, $0x4444444444444444
DATA q44<>+16(SB)/8, $0x4444444444444444
DATA q44<>+24(SB)/8, $0x4444444444444444
GLOBL q44<>(SB), RODATA|NOPTR, $32

// Dword shift counts: lane 0 by 0, lane 1 by 1 (VPSRLVD).
DATA qsh01<>+0(SB)/8, $0
DATA qsh01<>+8(SB)/8, $0
DATA qsh01<>+16(SB)/8, $0x0000000100000001
DATA qsh01<>+24(SB)/8, $0x0000000100000001
GLOBL qsh01<>(SB), RODATA|NOPTR, $32

// Group prologue: Y10 = s (8 lanes), DX = end offset of the group's codes.
#define GROUPSTART \
	VPBROADCASTW (R8), X10; \
	VCVTPH2PS    X10, Y10; \
	LEAQ         (AX)(R11*1), DX

// Group epilogue: row += s·(Y12+Y11); next scale, zero, group.
#define GROUPEND \
	VADDPS      Y11, Y12, Y12; \
	VFMADD231PS Y12, Y10, Y13; \
	ADDQ        $2, R8; \
	INCQ        R9; \
	INCQ        BX

// y[row] (+)= sum of the 8 lanes of Y13 (added to the old y[row] when
// acc != 0); DI advances; SI, R8, R9 skip the rest of the row (dskip bytes
// of data, gskip groups) when the kernel computes a slab of the columns.
#define ROWSTORE(dskip, gskip, acc, lbl) \
	VEXTRACTF128 $1, Y13, X0; \
	VADDPS       X0, X13, X0; \
	VHADDPS      X0, X0, X0; \
	VHADDPS      X0, X0, X0; \
	CMPQ         acc, $0; \
	JEQ          lbl; \
	VADDSS       (DI), X0, X0; \
lbl:; \
	VMOVSS       X0, (DI); \
	ADDQ         $4, DI; \
	ADDQ         dskip, SI; \
	MOVQ         gskip, AX; \
	ADDQ         AX, R9; \
	SHLQ         $1, AX; \
	ADDQ         AX, R8

// One block of 32 codes (bytes in reg) against a[AX+off] into acc, scaled
// by its activation scale d[(AX+off)/32] (R10 = AX/8; tmp is clobbered).
#define IBLOCK(reg, off, doff, tmp, acc) \
	VPMADDUBSW   off(R12)(AX*1), reg, reg; \
	VPMADDWD     Y14, reg, reg; \
	VCVTDQ2PS    reg, reg; \
	VBROADCASTSS doff(R13)(R10*1), tmp; \
	VFMADD231PS  tmp, reg, acc

// func gemvW4AVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, a *int8, d, xsn *float32, dskip, gskip, acc int)
TEXT ·gemvW4AVX2(SB), NOSPLIT, $0-104
	MOVQ    y+0(FP), DI
	MOVQ    rows+8(FP), CX
	MOVQ    data+16(FP), SI
	MOVQ    scales+24(FP), R8
	MOVQ    zeros+32(FP), R9
	MOVQ    group+48(FP), R11
	MOVQ    a+56(FP), R12
	MOVQ    d+64(FP), R13
	MOVQ    xsn+72(FP), R14
	VMOVDQU qnib<>(SB), Y15
	VMOVDQU qones16<>(SB), Y14

w4row:
	// Row prologue: Y13 = Σ_g s_g·z_g·xsn[g] over the row's groups, 8
	// groups per step, the rest one by one (into lane 0).
	VXORPS Y13, Y13, Y13
	XORQ   BX, BX
	MOVQ   groups+40(FP), DX
	SUBQ   $8, DX

w4z8:
	CMPQ        BX, DX
	JGT         w4z1
	VCVTPH2PS   (R8)(BX*2), Y0
	VPMOVZXBD   (R9)(BX*1), Y1
	VCVTDQ2PS   Y1, Y1
	VMULPS      Y1, Y0, Y0
	VFMADD231PS (R14)(BX*4), Y0, Y13
	ADDQ        $8, BX
	JMP         w4z8

w4z1:
	CMPQ         BX, groups+40(FP)
	JGE          w4zdone
	VPBROADCASTW (R8)(BX*2), X0
	VCVTPH2PS    X0, X0
	MOVBLZX      (R9)(BX*1), AX
	VCVTSI2SSL   AX, X1, X1
	VMULSS       X1, X0, X0
	VMULSS       (R14)(BX*4), X0, X0
	VXORPS       X1, X1, X1
	VMOVSS       X0, X1, X1
	VADDPS       Y1, Y13, Y13
	INCQ         BX
	JMP          w4z1

w4zdone:
	XORQ AX, AX
	XORQ BX, BX

w4group:
	GROUPSTART
	VXORPS  Y12, Y12, Y12
	VXORPS  Y11, Y11, Y11

w4unit:
	MOVQ    AX, R10
	SHRQ    $3, R10
	VMOVDQU (SI), Y0
	VPSRLW  $4, Y0, Y1
	VPAND   Y15, Y0, Y0
	VPAND   Y15, Y1, Y1
	IBLOCK(Y0, 0, 0, Y2, Y12)
	IBLOCK(Y1, 32, 4, Y2, Y11)
	ADDQ    $32, SI
	ADDQ    $64, AX
	CMPQ    AX, DX
	JLT     w4unit

	GROUPEND
	CMPQ BX, groups+40(FP)
	JLT  w4group

	ROWSTORE(dskip+80(FP), gskip+88(FP), acc+96(FP), gemvW4AVX2_noacc)
	DECQ CX
	JNZ  w4row
	VZEROUPPER
	RET

// func gemvW3AVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, a *int8, d, xsn *float32, dskip, gskip, acc int)
TEXT ·gemvW3AVX2(SB), NOSPLIT, $0-104
	MOVQ    y+0(FP), DI
	MOVQ    rows+8(FP), CX
	MOVQ    data+16(FP), SI
	MOVQ    scales+24(FP), R8
	MOVQ    zeros+32(FP), R9
	MOVQ    group+48(FP), R11
	MOVQ    a+56(FP), R12
	MOVQ    d+64(FP), R13
	MOVQ    xsn+72(FP), R14
	VMOVDQU q33<>(SB), Y15
	VMOVDQU qones16<>(SB), Y14
	VMOVDQU q44<>(SB), Y8
	VMOVDQU qsh01<>(SB), Y7
	VMOVDQU qnib<>(SB), Y6

w3row:
	// Row prologue: Y13 = Σ_g s_g·z_g·xsn[g] over the row's groups, 8
	// groups per step, the rest one by one (into lane 0).
	VXORPS Y13, Y13, Y13
	XORQ   BX, BX
	MOVQ   groups+40(FP), DX
	SUBQ   $8, DX

w3z8:
	CMPQ        BX, DX
	JGT         w3z1
	VCVTPH2PS   (R8)(BX*2), Y0
	VPMOVZXBD   (R9)(BX*1), Y1
	VCVTDQ2PS   Y1, Y1
	VMULPS      Y1, Y0, Y0
	VFMADD231PS (R14)(BX*4), Y0, Y13
	ADDQ        $8, BX
	JMP         w3z8

w3z1:
	CMPQ         BX, groups+40(FP)
	JGE          w3zdone
	VPBROADCASTW (R8)(BX*2), X0
	VCVTPH2PS    X0, X0
	MOVBLZX      (R9)(BX*1), AX
	VCVTSI2SSL   AX, X1, X1
	VMULSS       X1, X0, X0
	VMULSS       (R14)(BX*4), X0, X0
	VXORPS       X1, X1, X1
	VMOVSS       X0, X1, X1
	VADDPS       Y1, Y13, Y13
	INCQ         BX
	JMP          w3z1

w3zdone:
	XORQ AX, AX
	XORQ BX, BX

w3group:
	GROUPSTART
	VXORPS Y12, Y12, Y12
	VXORPS Y11, Y11, Y11

w3unit:
	MOVQ           AX, R10
	SHRQ           $3, R10
	VMOVDQU        (SI), Y0      // L: low bits, code i+32t at bits 2t of byte i
	VBROADCASTI128 32(SI), Y1    // H in both lanes
	VPSRLVD        Y7, Y1, Y1    // lane 1 >> 1: block t's high bit at bit 2t in both lanes

	// blocks 0 and 2: C = L & 0x33 | (H << 2) & 0x44 holds block 0's codes
	// in bits 0..2 and block 2's in bits 4..6.
	VPAND  Y15, Y0, Y2
	VPSLLW $2, Y1, Y3
	VPAND  Y8, Y3, Y3
	VPOR   Y3, Y2, Y2
	VPAND  Y6, Y2, Y3
	IBLOCK(Y3, 0, 0, Y9, Y12)
	VPSRLW $4, Y2, Y2
	VPAND  Y6, Y2, Y2
	IBLOCK(Y2, 64, 8, Y9, Y11)

	// blocks 1 and 3: C = (L >> 2) & 0x33 | H & 0x44.
	VPSRLW $2, Y0, Y4
	VPAND  Y15, Y4, Y4
	VPAND  Y8, Y1, Y5
	VPOR   Y5, Y4, Y4
	VPAND  Y6, Y4, Y5
	IBLOCK(Y5, 32, 4, Y9, Y12)
	VPSRLW $4, Y4, Y4
	VPAND  Y6, Y4, Y4
	IBLOCK(Y4, 96, 12, Y9, Y11)

	ADDQ $48, SI
	ADDQ $128, AX
	CMPQ AX, DX
	JLT  w3unit

	GROUPEND
	CMPQ BX, groups+40(FP)
	JLT  w3group

	ROWSTORE(dskip+80(FP), gskip+88(FP), acc+96(FP), gemvW3AVX2_noacc)
	DECQ CX
	JNZ  w3row
	VZEROUPPER
	RET

// One W8 block of 32 at offset off: acc += d·cvt(maddwd(maddubs(|w|, sign(w)·a))), d at doff(BX).
#define W8BLOCK(off, doff, acc) \
	VMOVDQU      off(SI)(AX*1), Y0; \
	VMOVDQU      off(R12)(AX*1), Y1; \
	VPSIGNB      Y0, Y1, Y1; \
	VPABSB       Y0, Y0; \
	VPMADDUBSW   Y1, Y0, Y0; \
	VPMADDWD     Y14, Y0, Y0; \
	VCVTDQ2PS    Y0, Y0; \
	VBROADCASTSS doff(BX), Y2; \
	VFMADD231PS  Y2, Y0, acc

// func gemvW8AVX2(y *float32, rows int, data *byte, stride, klen int, rowScales *float32, a *int8, d *float32, acc int)
TEXT ·gemvW8AVX2(SB), NOSPLIT, $0-72
	MOVQ    y+0(FP), DI
	MOVQ    rows+8(FP), CX
	MOVQ    data+16(FP), SI
	MOVQ    stride+24(FP), R14
	MOVQ    klen+32(FP), R10
	MOVQ    rowScales+40(FP), R8
	MOVQ    a+48(FP), R12
	MOVQ    d+56(FP), R13
	MOVQ    acc+64(FP), R9
	VMOVDQU qones16<>(SB), Y14
	MOVQ    R10, R11
	ANDQ    $-64, R11

w8row:
	VXORPS Y12, Y12, Y12
	VXORPS Y11, Y11, Y11
	XORQ   AX, AX
	MOVQ   R13, BX
	CMPQ   R11, $0
	JEQ    w8tail

w8loop:
	W8BLOCK(0, 0, Y12)
	W8BLOCK(32, 4, Y11)
	ADDQ $8, BX
	ADDQ $64, AX
	CMPQ AX, R11
	JLT  w8loop

w8tail:
	CMPQ AX, R10
	JGE  w8done
	W8BLOCK(0, 0, Y12)

w8done:
	VADDPS       Y11, Y12, Y13
	VEXTRACTF128 $1, Y13, X0
	VADDPS       X0, X13, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMULSS       (R8), X0, X0
	CMPQ         R9, $0
	JEQ          w8store
	VADDSS       (DI), X0, X0

w8store:
	VMOVSS       X0, (DI)
	ADDQ         $4, DI
	ADDQ         $4, R8
	ADDQ         R14, SI
	DECQ         CX
	JNZ          w8row
	VZEROUPPER
	RET

// Eight codes (low 8 bytes of xmm src) widened to floats, FMA with x[off] into acc.
#define FBLOCK(src, off, acc) \
	VPMOVZXBD   src, Y2; \
	VCVTDQ2PS   Y2, Y2; \
	VFMADD231PS off(R12)(AX*4), Y2, acc

// func gemvW4FloatAVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, x, sxn *float32)
TEXT ·gemvW4FloatAVX2(SB), NOSPLIT, $0-96
	MOVQ    y+0(FP), DI
	MOVQ    rows+8(FP), CX
	MOVQ    data+16(FP), SI
	MOVQ    scales+24(FP), R8
	MOVQ    zeros+32(FP), R9
	MOVQ    groups+40(FP), R10
	MOVQ    group+48(FP), R11
	MOVQ    x+56(FP), R12
	MOVQ    sxn+64(FP), R14
	VMOVDQU qnib<>(SB), Y15

f4row:
	// Row prologue: Y13 = Σ_g s_g·z_g·xsn[g] over the row's groups, 8
	// groups per step, the rest one by one (into lane 0).
	VXORPS Y13, Y13, Y13
	XORQ   BX, BX
	LEAQ   -8(R10), DX

f4z8:
	CMPQ        BX, DX
	JGT         f4z1
	VCVTPH2PS   (R8)(BX*2), Y0
	VPMOVZXBD   (R9)(BX*1), Y1
	VCVTDQ2PS   Y1, Y1
	VMULPS      Y1, Y0, Y0
	VFMADD231PS (R14)(BX*4), Y0, Y13
	ADDQ        $8, BX
	JMP         f4z8

f4z1:
	CMPQ         BX, R10
	JGE          f4zdone
	VPBROADCASTW (R8)(BX*2), X0
	VCVTPH2PS    X0, X0
	MOVBLZX      (R9)(BX*1), AX
	VCVTSI2SSL   AX, X1, X1
	VMULSS       X1, X0, X0
	VMULSS       (R14)(BX*4), X0, X0
	VXORPS       X1, X1, X1
	VMOVSS       X0, X1, X1
	VADDPS       Y1, Y13, Y13
	INCQ         BX
	JMP          f4z1

f4zdone:
	XORQ AX, AX
	XORQ BX, BX

f4group:
	GROUPSTART
	VXORPS Y12, Y12, Y12
	VXORPS Y11, Y11, Y11

f4unit:
	VMOVDQU      (SI), Y0
	VPSRLW       $4, Y0, Y1
	VPAND        Y15, Y0, Y0
	VPAND        Y15, Y1, Y1
	FBLOCK(X0, 0, Y12)
	VPSRLDQ      $8, X0, X3
	FBLOCK(X3, 32, Y11)
	VEXTRACTI128 $1, Y0, X4
	FBLOCK(X4, 64, Y12)
	VPSRLDQ      $8, X4, X4
	FBLOCK(X4, 96, Y11)
	FBLOCK(X1, 128, Y12)
	VPSRLDQ      $8, X1, X3
	FBLOCK(X3, 160, Y11)
	VEXTRACTI128 $1, Y1, X4
	FBLOCK(X4, 192, Y12)
	VPSRLDQ      $8, X4, X4
	FBLOCK(X4, 224, Y11)
	ADDQ         $32, SI
	ADDQ         $64, AX
	CMPQ         AX, DX
	JLT          f4unit

	GROUPEND
	CMPQ BX, R10
	JLT  f4group

	ROWSTORE(dskip+72(FP), gskip+80(FP), acc+88(FP), gemvW4FloatAVX2_noacc)
	DECQ CX
	JNZ  f4row
	VZEROUPPER
	RET

// FBLOCK with Y9 as the temporary (W3 decoding uses Y2).
#define FBLOCK3(src, off, acc) \
	VPMOVZXBD   src, Y9; \
	VCVTDQ2PS   Y9, Y9; \
	VFMADD231PS off(R12)(AX*4), Y9, acc

// gemvW4FloatAVX2 for W3 (codes rebuilt as in gemvW3AVX2).
//
// func gemvW3FloatAVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, x, sxn *float32)
TEXT ·gemvW3FloatAVX2(SB), NOSPLIT, $0-96
	MOVQ    y+0(FP), DI
	MOVQ    rows+8(FP), CX
	MOVQ    data+16(FP), SI
	MOVQ    scales+24(FP), R8
	MOVQ    zeros+32(FP), R9
	MOVQ    groups+40(FP), R10
	MOVQ    group+48(FP), R11
	MOVQ    x+56(FP), R12
	MOVQ    sxn+64(FP), R14
	VMOVDQU q33<>(SB), Y15
	VMOVDQU q44<>(SB), Y8
	VMOVDQU qsh01<>(SB), Y7
	VMOVDQU qnib<>(SB), Y6

f3row:
	// Row prologue: Y13 = Σ_g s_g·z_g·xsn[g] over the row's groups, 8
	// groups per step, the rest one by one (into lane 0).
	VXORPS Y13, Y13, Y13
	XORQ   BX, BX
	LEAQ   -8(R10), DX

f3z8:
	CMPQ        BX, DX
	JGT         f3z1
	VCVTPH2PS   (R8)(BX*2), Y0
	VPMOVZXBD   (R9)(BX*1), Y1
	VCVTDQ2PS   Y1, Y1
	VMULPS      Y1, Y0, Y0
	VFMADD231PS (R14)(BX*4), Y0, Y13
	ADDQ        $8, BX
	JMP         f3z8

f3z1:
	CMPQ         BX, R10
	JGE          f3zdone
	VPBROADCASTW (R8)(BX*2), X0
	VCVTPH2PS    X0, X0
	MOVBLZX      (R9)(BX*1), AX
	VCVTSI2SSL   AX, X1, X1
	VMULSS       X1, X0, X0
	VMULSS       (R14)(BX*4), X0, X0
	VXORPS       X1, X1, X1
	VMOVSS       X0, X1, X1
	VADDPS       Y1, Y13, Y13
	INCQ         BX
	JMP          f3z1

f3zdone:
	XORQ AX, AX
	XORQ BX, BX

f3group:
	GROUPSTART
	VXORPS Y12, Y12, Y12
	VXORPS Y11, Y11, Y11

f3unit:
	VMOVDQU        (SI), Y0
	VBROADCASTI128 32(SI), Y1
	VPSRLVD        Y7, Y1, Y1
	VPAND          Y15, Y0, Y2
	VPSLLW         $2, Y1, Y3
	VPAND          Y8, Y3, Y3
	VPOR           Y3, Y2, Y2
	VPSRLW         $2, Y0, Y4
	VPAND          Y15, Y4, Y4
	VPAND          Y8, Y1, Y5
	VPOR           Y5, Y4, Y4
	VPAND          Y6, Y2, Y3      // block 0
	VPSRLW         $4, Y2, Y2
	VPAND          Y6, Y2, Y2      // block 2
	VPAND          Y6, Y4, Y5      // block 1
	VPSRLW         $4, Y4, Y4
	VPAND          Y6, Y4, Y4      // block 3
	FBLOCK3(X3, 0, Y12)
	VPSRLDQ        $8, X3, X14
	FBLOCK3(X14, 32, Y11)
	VEXTRACTI128   $1, Y3, X14
	FBLOCK3(X14, 64, Y12)
	VPSRLDQ        $8, X14, X14
	FBLOCK3(X14, 96, Y11)
	FBLOCK3(X5, 128, Y12)
	VPSRLDQ        $8, X5, X14
	FBLOCK3(X14, 160, Y11)
	VEXTRACTI128   $1, Y5, X14
	FBLOCK3(X14, 192, Y12)
	VPSRLDQ        $8, X14, X14
	FBLOCK3(X14, 224, Y11)
	FBLOCK3(X2, 256, Y12)
	VPSRLDQ        $8, X2, X14
	FBLOCK3(X14, 288, Y11)
	VEXTRACTI128   $1, Y2, X14
	FBLOCK3(X14, 320, Y12)
	VPSRLDQ        $8, X14, X14
	FBLOCK3(X14, 352, Y11)
	FBLOCK3(X4, 384, Y12)
	VPSRLDQ        $8, X4, X14
	FBLOCK3(X14, 416, Y11)
	VEXTRACTI128   $1, Y4, X14
	FBLOCK3(X14, 448, Y12)
	VPSRLDQ        $8, X14, X14
	FBLOCK3(X14, 480, Y11)
	ADDQ           $48, SI
	SUBQ           $-128, AX
	CMPQ           AX, DX
	JLT            f3unit

	GROUPEND
	CMPQ BX, R10
	JLT  f3group

	ROWSTORE(dskip+72(FP), gskip+80(FP), acc+88(FP), gemvW3FloatAVX2_noacc)
	DECQ CX
	JNZ  f3row
	VZEROUPPER
	RET

// func streamAVX2(p *byte, n int) uint64
TEXT ·streamAVX2(SB), NOSPLIT, $0-24
	MOVQ  p+0(FP), SI
	MOVQ  n+8(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3

streamloop:
	VPOR (SI), Y0, Y0
	VPOR 32(SI), Y1, Y1
	VPOR 64(SI), Y2, Y2
	VPOR 96(SI), Y3, Y3
	ADDQ $128, SI
	SUBQ $128, CX
	JNZ  streamloop

	VPOR         Y1, Y0, Y0
	VPOR         Y3, Y2, Y2
	VPOR         Y2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPOR         X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPOR         X1, X0, X0
	VMOVQ        X0, AX
	MOVQ         AX, ret+16(FP)
	VZEROUPPER
	RET

// func gemvW4B128AVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, a *int8, d, xsn *float32, dskip, gskip, acc int)
//
// gemvW4AVX2 with one activation scale per 128 codes (group % 128 == 0):
// the four VPMADDUBSW results of a 128-code block are summed in int16
// (|sum| <= 4·2·15·127 = 15240) before one VPMADDWD, VCVTDQ2PS and FMA.
TEXT ·gemvW4B128AVX2(SB), NOSPLIT, $0-104
	MOVQ    y+0(FP), DI
	MOVQ    rows+8(FP), CX
	MOVQ    data+16(FP), SI
	MOVQ    scales+24(FP), R8
	MOVQ    zeros+32(FP), R9
	MOVQ    group+48(FP), R11
	MOVQ    a+56(FP), R12
	MOVQ    d+64(FP), R13
	MOVQ    xsn+72(FP), R14
	VMOVDQU qnib<>(SB), Y15
	VMOVDQU qones16<>(SB), Y14

b4row:
	// Row prologue: Y13 = Σ_g s_g·z_g·xsn[g] over the row's groups, 8
	// groups per step, the rest one by one (into lane 0).
	VXORPS Y13, Y13, Y13
	XORQ   BX, BX
	MOVQ   groups+40(FP), DX
	SUBQ   $8, DX

b4z8:
	CMPQ        BX, DX
	JGT         b4z1
	VCVTPH2PS   (R8)(BX*2), Y0
	VPMOVZXBD   (R9)(BX*1), Y1
	VCVTDQ2PS   Y1, Y1
	VMULPS      Y1, Y0, Y0
	VFMADD231PS (R14)(BX*4), Y0, Y13
	ADDQ        $8, BX
	JMP         b4z8

b4z1:
	CMPQ         BX, groups+40(FP)
	JGE          b4zdone
	VPBROADCASTW (R8)(BX*2), X0
	VCVTPH2PS    X0, X0
	MOVBLZX      (R9)(BX*1), AX
	VCVTSI2SSL   AX, X1, X1
	VMULSS       X1, X0, X0
	VMULSS       (R14)(BX*4), X0, X0
	VXORPS       X1, X1, X1
	VMOVSS       X0, X1, X1
	VADDPS       Y1, Y13, Y13
	INCQ         BX
	JMP          b4z1

b4zdone:
	XORQ AX, AX
	XORQ BX, BX

b4group:
	GROUPSTART
	VXORPS Y12, Y12, Y12

b4blk:
	PREFETCHNTA 1024(SI)         // the weight stream, 1 KB ahead, non-temporal
	VMOVDQU     (SI), Y0
	VMOVDQU     32(SI), Y2
	VPSRLW      $4, Y0, Y1
	VPSRLW      $4, Y2, Y3
	VPAND       Y15, Y0, Y0
	VPAND       Y15, Y1, Y1
	VPAND       Y15, Y2, Y2
	VPAND       Y15, Y3, Y3
	VPMADDUBSW  (R12)(AX*1), Y0, Y0
	VPMADDUBSW  32(R12)(AX*1), Y1, Y1
	VPMADDUBSW  64(R12)(AX*1), Y2, Y2
	VPMADDUBSW  96(R12)(AX*1), Y3, Y3
	VPADDW      Y1, Y0, Y0
	VPADDW      Y3, Y2, Y2
	VPADDW      Y2, Y0, Y0
	VPMADDWD    Y14, Y0, Y0
	VCVTDQ2PS   Y0, Y0
	MOVQ        AX, R10
	SHRQ        $3, R10
	VBROADCASTSS (R13)(R10*1), Y4
	VFMADD231PS Y4, Y0, Y12
	ADDQ        $64, SI
	SUBQ        $-128, AX
	CMPQ        AX, DX
	JLT         b4blk

	VFMADD231PS Y12, Y10, Y13
	ADDQ        $2, R8
	INCQ        R9
	INCQ        BX
	CMPQ        BX, groups+40(FP)
	JLT         b4group

	ROWSTORE(dskip+80(FP), gskip+88(FP), acc+96(FP), gemvW4B128AVX2_noacc)
	DECQ CX
	JNZ  b4row
	VZEROUPPER
	RET

// func gemvW3B128AVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, a *int8, d, xsn *float32, dskip, gskip, acc int)
//
// gemvW3AVX2 with one activation scale per 128 codes (group % 128 == 0);
// the four blocks' int16 sums (|sum| <= 4·2·7·127) are added before one
// VPMADDWD, VCVTDQ2PS and FMA.
TEXT ·gemvW3B128AVX2(SB), NOSPLIT, $0-104
	MOVQ    y+0(FP), DI
	MOVQ    rows+8(FP), CX
	MOVQ    data+16(FP), SI
	MOVQ    scales+24(FP), R8
	MOVQ    zeros+32(FP), R9
	MOVQ    group+48(FP), R11
	MOVQ    a+56(FP), R12
	MOVQ    d+64(FP), R13
	MOVQ    xsn+72(FP), R14
	VMOVDQU q33<>(SB), Y15
	VMOVDQU qones16<>(SB), Y14
	VMOVDQU q44<>(SB), Y8
	VMOVDQU qsh01<>(SB), Y7
	VMOVDQU qnib<>(SB), Y6

b3row:
	// Row prologue: Y13 = Σ_g s_g·z_g·xsn[g] over the row's groups, 8
	// groups per step, the rest one by one (into lane 0).
	VXORPS Y13, Y13, Y13
	XORQ   BX, BX
	MOVQ   groups+40(FP), DX
	SUBQ   $8, DX

b3z8:
	CMPQ        BX, DX
	JGT         b3z1
	VCVTPH2PS   (R8)(BX*2), Y0
	VPMOVZXBD   (R9)(BX*1), Y1
	VCVTDQ2PS   Y1, Y1
	VMULPS      Y1, Y0, Y0
	VFMADD231PS (R14)(BX*4), Y0, Y13
	ADDQ        $8, BX
	JMP         b3z8

b3z1:
	CMPQ         BX, groups+40(FP)
	JGE          b3zdone
	VPBROADCASTW (R8)(BX*2), X0
	VCVTPH2PS    X0, X0
	MOVBLZX      (R9)(BX*1), AX
	VCVTSI2SSL   AX, X1, X1
	VMULSS       X1, X0, X0
	VMULSS       (R14)(BX*4), X0, X0
	VXORPS       X1, X1, X1
	VMOVSS       X0, X1, X1
	VADDPS       Y1, Y13, Y13
	INCQ         BX
	JMP          b3z1

b3zdone:
	XORQ AX, AX
	XORQ BX, BX

b3group:
	GROUPSTART
	VXORPS Y12, Y12, Y12

b3blk:
	VMOVDQU        (SI), Y0
	VBROADCASTI128 32(SI), Y1
	VPSRLVD        Y7, Y1, Y1
	VPAND          Y15, Y0, Y2
	VPSLLW         $2, Y1, Y3
	VPAND          Y8, Y3, Y3
	VPOR           Y3, Y2, Y2      // blocks 0 (bits 0..2) and 2 (bits 4..6)
	VPSRLW         $2, Y0, Y4
	VPAND          Y15, Y4, Y4
	VPAND          Y8, Y1, Y5
	VPOR           Y5, Y4, Y4      // blocks 1 and 3
	VPAND          Y6, Y2, Y3
	VPSRLW         $4, Y2, Y2
	VPAND          Y6, Y2, Y2
	VPAND          Y6, Y4, Y5
	VPSRLW         $4, Y4, Y4
	VPAND          Y6, Y4, Y4
	VPMADDUBSW     (R12)(AX*1), Y3, Y3
	VPMADDUBSW     32(R12)(AX*1), Y5, Y5
	VPMADDUBSW     64(R12)(AX*1), Y2, Y2
	VPMADDUBSW     96(R12)(AX*1), Y4, Y4
	VPADDW         Y5, Y3, Y3
	VPADDW         Y4, Y2, Y2
	VPADDW         Y3, Y2, Y2
	VPMADDWD       Y14, Y2, Y2
	VCVTDQ2PS      Y2, Y2
	MOVQ           AX, R10
	SHRQ           $3, R10
	VBROADCASTSS   (R13)(R10*1), Y3
	VFMADD231PS    Y3, Y2, Y12
	ADDQ           $48, SI
	SUBQ           $-128, AX
	CMPQ           AX, DX
	JLT            b3blk

	VFMADD231PS Y12, Y10, Y13
	ADDQ        $2, R8
	INCQ        R9
	INCQ        BX
	CMPQ        BX, groups+40(FP)
	JLT         b3group

	ROWSTORE(dskip+80(FP), gskip+88(FP), acc+96(FP), gemvW3B128AVX2_noacc)
	DECQ CX
	JNZ  b3row
	VZEROUPPER
	RET

DATA qabs<>+0(SB)/4, $0x7fffffff
GLOBL qabs<>(SB), RODATA|NOPTR, $4

DATA q127<>+0(SB)/4, $127.0
GLOBL q127<>(SB), RODATA|NOPTR, $4

DATA qperm<>+0(SB)/4, $0
DATA qperm<>+4(SB)/4, $4
DATA qperm<>+8(SB)/4, $1
DATA qperm<>+12(SB)/4, $5
DATA qperm<>+16(SB)/4, $2
DATA qperm<>+20(SB)/4, $6
DATA qperm<>+24(SB)/4, $3
DATA qperm<>+28(SB)/4, $7
GLOBL qperm<>(SB), RODATA|NOPTR, $32

// func quantActAVX2(x *float32, blocks, bs int, a *int8, d *float32, s *int32)
//
// For each of blocks blocks of bs (a multiple of 32) floats: amax = max|x|,
// d = amax/127 (stored once per 32 codes), inv = 127/amax (0 when amax is
// 0), a = int8(round-half-even(x·inv)) (VCVTPS2DQ, saturating packs), and
// s = Σ a over the block.
TEXT ·quantActAVX2(SB), NOSPLIT, $0-48
	MOVQ         x+0(FP), SI
	MOVQ         blocks+8(FP), CX
	MOVQ         bs+16(FP), R8
	MOVQ         a+24(FP), DI
	MOVQ         d+32(FP), R9
	MOVQ         s+40(FP), R10
	VBROADCASTSS qabs<>(SB), Y15
	VMOVDQU      qperm<>(SB), Y14
	VMOVSS       q127<>(SB), X13

qablock:
	// amax over the block
	VXORPS Y0, Y0, Y0
	XORQ   AX, AX

qamax:
	VANDPS (SI)(AX*4), Y15, Y1
	VMAXPS Y1, Y0, Y0
	VANDPS 32(SI)(AX*4), Y15, Y1
	VMAXPS Y1, Y0, Y0
	VANDPS 64(SI)(AX*4), Y15, Y1
	VMAXPS Y1, Y0, Y0
	VANDPS 96(SI)(AX*4), Y15, Y1
	VMAXPS Y1, Y0, Y0
	ADDQ   $32, AX
	CMPQ   AX, R8
	JLT    qamax

	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0      // amax in every lane of X0
	VDIVSS       X13, X0, X2     // d = amax / 127
	VXORPS       X3, X3, X3
	VUCOMISS     X3, X0
	JEQ          qazero
	VDIVSS       X0, X13, X3     // inv = 127 / amax

qazero:
	VBROADCASTSS X3, Y3
	VPXOR        Y12, Y12, Y12   // code sum
	XORQ         AX, AX

qacodes:
	VMULPS    (SI)(AX*4), Y3, Y4
	VMULPS    32(SI)(AX*4), Y3, Y5
	VMULPS    64(SI)(AX*4), Y3, Y6
	VMULPS    96(SI)(AX*4), Y3, Y7
	VCVTPS2DQ Y4, Y4
	VCVTPS2DQ Y5, Y5
	VCVTPS2DQ Y6, Y6
	VCVTPS2DQ Y7, Y7
	VPADDD    Y4, Y12, Y12
	VPADDD    Y5, Y12, Y12
	VPADDD    Y6, Y12, Y12
	VPADDD    Y7, Y12, Y12
	VPACKSSDW Y5, Y4, Y4
	VPACKSSDW Y7, Y6, Y6
	VPACKSSWB Y6, Y4, Y4
	VPERMD    Y4, Y14, Y4
	VMOVDQU   Y4, (DI)
	VMOVSS    X2, (R9)
	ADDQ      $32, DI
	ADDQ      $4, R9
	ADDQ      $32, AX
	CMPQ      AX, R8
	JLT       qacodes

	VEXTRACTI128 $1, Y12, X1
	VPADDD       X1, X12, X1
	VPSHUFD      $0x4e, X1, X0
	VPADDD       X0, X1, X1
	VPSHUFD      $0xb1, X1, X0
	VPADDD       X0, X1, X1
	VMOVD        X1, (R10)
	ADDQ         $4, R10
	LEAQ         (SI)(R8*4), SI
	DECQ         CX
	JNZ          qablock
	VZEROUPPER
	RET

// 32 codes (bytes of reg/xreg) to floats (q - z)·s at off(DI): z in Y9
// (int32), s in Y10; uses Y11, X12.
#define DQ32(reg, xreg, off) \
	VPMOVZXBD    xreg, Y11; \
	VPSUBD       Y9, Y11, Y11; \
	VCVTDQ2PS    Y11, Y11; \
	VMULPS       Y10, Y11, Y11; \
	VMOVUPS      Y11, off(DI); \
	VPSRLDQ      $8, xreg, X12; \
	VPMOVZXBD    X12, Y11; \
	VPSUBD       Y9, Y11, Y11; \
	VCVTDQ2PS    Y11, Y11; \
	VMULPS       Y10, Y11, Y11; \
	VMOVUPS      Y11, off+32(DI); \
	VEXTRACTI128 $1, reg, X12; \
	VPMOVZXBD    X12, Y11; \
	VPSUBD       Y9, Y11, Y11; \
	VCVTDQ2PS    Y11, Y11; \
	VMULPS       Y10, Y11, Y11; \
	VMOVUPS      Y11, off+64(DI); \
	VPSRLDQ      $8, X12, X12; \
	VPMOVZXBD    X12, Y11; \
	VPSUBD       Y9, Y11, Y11; \
	VCVTDQ2PS    Y11, Y11; \
	VMULPS       Y10, Y11, Y11; \
	VMOVUPS      Y11, off+96(DI)

// Per group: Y9 = z (int32 lanes), Y10 = s; DX = end of the group's codes
// (in floats written, counted in AX).
#define DQGROUP \
	VPBROADCASTB (R9), X9; \
	VPMOVZXBD    X9, Y9; \
	VPBROADCASTW (R8), X10; \
	VCVTPH2PS    X10, Y10; \
	LEAQ         (AX)(R11*1), DX

// func dequantW4AVX2(dst *float32, src *byte, scales *uint16, zeros *uint8, groups, group int)
//
// dst[c] = float32(q[c] - z)·s for the groups·group codes of one W4 row.
TEXT ·dequantW4AVX2(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    scales+16(FP), R8
	MOVQ    zeros+24(FP), R9
	MOVQ    groups+32(FP), CX
	MOVQ    group+40(FP), R11
	VMOVDQU qnib<>(SB), Y15
	XORQ    AX, AX

dq4group:
	DQGROUP

dq4unit:
	VMOVDQU (SI), Y0
	VPSRLW  $4, Y0, Y1
	VPAND   Y15, Y0, Y0
	VPAND   Y15, Y1, Y1
	DQ32(Y0, X0, 0)
	DQ32(Y1, X1, 128)
	ADDQ    $32, SI
	ADDQ    $256, DI
	ADDQ    $64, AX
	CMPQ    AX, DX
	JLT     dq4unit

	ADDQ $2, R8
	INCQ R9
	DECQ CX
	JNZ  dq4group
	VZEROUPPER
	RET

// func dequantW3AVX2(dst *float32, src *byte, scales *uint16, zeros *uint8, groups, group int)
//
// dequantW4AVX2 for one W3 row.
TEXT ·dequantW3AVX2(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    scales+16(FP), R8
	MOVQ    zeros+24(FP), R9
	MOVQ    groups+32(FP), CX
	MOVQ    group+40(FP), R11
	VMOVDQU q33<>(SB), Y15
	VMOVDQU q44<>(SB), Y8
	VMOVDQU qsh01<>(SB), Y7
	VMOVDQU qnib<>(SB), Y6
	XORQ    AX, AX

dq3group:
	DQGROUP

dq3unit:
	VMOVDQU        (SI), Y0
	VBROADCASTI128 32(SI), Y1
	VPSRLVD        Y7, Y1, Y1
	VPAND          Y15, Y0, Y2
	VPSLLW         $2, Y1, Y3
	VPAND          Y8, Y3, Y3
	VPOR           Y3, Y2, Y2
	VPSRLW         $2, Y0, Y4
	VPAND          Y15, Y4, Y4
	VPAND          Y8, Y1, Y5
	VPOR           Y5, Y4, Y4
	VPAND          Y6, Y2, Y3      // block 0
	VPSRLW         $4, Y2, Y2
	VPAND          Y6, Y2, Y2      // block 2
	VPAND          Y6, Y4, Y5      // block 1
	VPSRLW         $4, Y4, Y4
	VPAND          Y6, Y4, Y4      // block 3
	DQ32(Y3, X3, 0)
	DQ32(Y5, X5, 128)
	DQ32(Y2, X2, 256)
	DQ32(Y4, X4, 384)
	ADDQ           $48, SI
	ADDQ           $512, DI
	SUBQ           $-128, AX
	CMPQ           AX, DX
	JLT            dq3unit

	ADDQ $2, R8
	INCQ R9
	DECQ CX
	JNZ  dq3group
	VZEROUPPER
	RET
