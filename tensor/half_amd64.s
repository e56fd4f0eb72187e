#include "textflag.h"

// func cvtPH2PS(dst *float32, src *uint16, n int)
TEXT ·cvtPH2PS(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   ph2psdone

ph2psloop:
	VCVTPH2PS (SI), Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       ph2psloop
	VZEROUPPER

ph2psdone:
	RET

// func cvtPS2PH(dst *uint16, src *float32, n int)
TEXT ·cvtPS2PH(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   ps2phdone

ps2phloop:
	VMOVUPS   (SI), Y0
	VCVTPS2PH $0, Y0, X1
	VMOVDQU   X1, (DI)
	ADDQ      $32, SI
	ADDQ      $16, DI
	DECQ      CX
	JNZ       ps2phloop
	VZEROUPPER

ps2phdone:
	RET
