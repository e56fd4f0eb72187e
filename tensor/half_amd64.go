package tensor

import "golang.org/x/sys/cpu"

// useF16C selects the F16C (VCVTPH2PS/VCVTPS2PH) bulk conversions; the
// instructions round to nearest even, exactly like the Go twins below.
var useF16C = cpu.X86.HasAVX && cpu.X86.HasF16C

// cvtPH2PS converts n binary16 values at src to float32 at dst; n % 8 == 0.
//
//go:noescape
func cvtPH2PS(dst *float32, src *uint16, n int)

// cvtPS2PH converts n float32 values at src to binary16 at dst (round to
// nearest even, imm8 = 0); n % 8 == 0.
//
//go:noescape
func cvtPS2PH(dst *uint16, src *float32, n int)

func halfsToFloats(dst []float32, src []uint16) {
	n := len(src) &^ 7
	if useF16C && n > 0 {
		cvtPH2PS(&dst[0], &src[0], n)
	} else {
		n = 0
	}
	halfsToFloatsGo(dst[n:], src[n:])
}

func floatsToHalfs(dst []uint16, src []float32) {
	n := len(src) &^ 7
	if useF16C && n > 0 {
		cvtPS2PH(&dst[0], &src[0], n)
	} else {
		n = 0
	}
	floatsToHalfsGo(dst[n:], src[n:])
}
