//go:build amd64

#include "textflag.h"

// Constants of expf (exp.go), one float32 each, broadcast at entry.
DATA expconst<>+0(SB)/4, $0x42b00000  // expHi 88
DATA expconst<>+4(SB)/4, $0xc2aeac4f  // expLo -87.33654
DATA expconst<>+8(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expconst<>+12(SB)/4, $0x3f000000 // 0.5
DATA expconst<>+16(SB)/4, $0x3f318000 // C1
DATA expconst<>+20(SB)/4, $0xb95e8083 // C2
DATA expconst<>+24(SB)/4, $0x39506967 // p0
DATA expconst<>+28(SB)/4, $0x3ab743ce // p1
DATA expconst<>+32(SB)/4, $0x3c088908 // p2
DATA expconst<>+36(SB)/4, $0x3d2aa9c1 // p3
DATA expconst<>+40(SB)/4, $0x3e2aaaaa // p4
DATA expconst<>+44(SB)/4, $0x3f000000 // p5
DATA expconst<>+48(SB)/4, $0x3f800000 // 1
DATA expconst<>+52(SB)/4, $0x0000007f // 127 (integer)
GLOBL expconst<>(SB), RODATA|NOPTR, $56

// One Horner step of the polynomial: Y2 = Y2·r + (the constant at off).
#define HORNER(off) \
	VMULPS       Y0, Y2, Y2; \
	VBROADCASTSS expconst<>+off(SB), Y4; \
	VADDPS       Y4, Y2, Y2

// func expAffineAVX2(dst, src *float32, n int, a, b float32)
//
// Registers: Y15 a, Y14 b, Y13 hi, Y12 lo, Y11 log2e, Y10 0.5, Y9 1, Y8 127;
// per step Y0 t then r, Y1 fx then 2ⁿ, Y2 y, Y3 r², Y4 broadcast constant,
// Y5 the t < lo mask. A NaN t stays NaN through every step (VMINPS/VMAXPS
// return their second operand, t, when it is NaN).
TEXT ·expAffineAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y15
	VBROADCASTSS b+28(FP), Y14
	VBROADCASTSS expconst<>+0(SB), Y13
	VBROADCASTSS expconst<>+4(SB), Y12
	VBROADCASTSS expconst<>+8(SB), Y11
	VBROADCASTSS expconst<>+12(SB), Y10
	VBROADCASTSS expconst<>+48(SB), Y9
	VPBROADCASTD expconst<>+52(SB), Y8
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (SI), Y0
	VMULPS  Y15, Y0, Y0          // a·x
	VADDPS  Y14, Y0, Y0          // t = a·x + b
	VCMPPS  $0x11, Y12, Y0, Y5   // t < lo (ordered, quiet: false for NaN)
	VMINPS  Y0, Y13, Y1          // min(hi, t)
	VMAXPS  Y1, Y12, Y0          // max(lo, ·)
	VMULPS  Y11, Y0, Y1          // t·log2e
	VADDPS  Y10, Y1, Y1          // + 0.5
	VROUNDPS $9, Y1, Y1          // fx = floor(·)
	VBROADCASTSS expconst<>+16(SB), Y4
	VMULPS  Y4, Y1, Y2           // fx·C1
	VSUBPS  Y2, Y0, Y0           // r = t - fx·C1
	VBROADCASTSS expconst<>+20(SB), Y4
	VMULPS  Y4, Y1, Y2           // fx·C2
	VSUBPS  Y2, Y0, Y0           // r -= fx·C2
	VMULPS  Y0, Y0, Y3           // r²
	VBROADCASTSS expconst<>+24(SB), Y2 // p0
	HORNER(28)                   // ·r + p1
	HORNER(32)                   // ·r + p2
	HORNER(36)                   // ·r + p3
	HORNER(40)                   // ·r + p4
	HORNER(44)                   // ·r + p5
	VMULPS  Y3, Y2, Y2           // ·r²
	VADDPS  Y0, Y2, Y2           // + r
	VADDPS  Y9, Y2, Y2           // + 1
	VCVTTPS2DQ Y1, Y1            // n
	VPADDD  Y8, Y1, Y1           // n + 127
	VPSLLD  $23, Y1, Y1          // the bits of 2ⁿ
	VMULPS  Y1, Y2, Y2           // y·2ⁿ
	VANDNPS Y2, Y5, Y2           // 0 where t < lo
	VMOVUPS Y2, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop

done:
	VZEROUPPER
	RET
