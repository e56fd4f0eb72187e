//go:build amd64

package kernels

import "golang.org/x/sys/cpu"

// useQAVX2 selects the AVX2/FMA/F16C quantized GEMV kernels.
var useQAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// gemvW4AVX2 is the assembly form of gemvW4Go over rows rows: data, scales
// and zeros start at the first row and are read sequentially; a, d, xsn
// are the quantized activation (see qact). Per row, the 8-lane row sum
// starts at the zero correction Σ_g s_g·z_g·xsn[g] (8 groups per step);
// per group, acc = Σ_blocks d_b·cvt(VPMADDWD(VPMADDUBSW(codes, a), 1)) and
// row += s·acc; y = the sum of the row's lanes. When the kernel covers a
// slab of the columns, dskip bytes of data and gskip groups are skipped at
// the end of each row, and acc != 0 adds to y instead of storing.
//
//go:noescape
func gemvW4AVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, a *int8, d, xsn *float32, dskip, gskip, acc int)

// gemvW3AVX2 is the assembly form of gemvW3Go (see gemvW4AVX2); the codes
// of a 128-code unit are rebuilt as (L >> 2t) & 3 | high bit from H.
//
//go:noescape
func gemvW3AVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, a *int8, d, xsn *float32, dskip, gskip, acc int)

// gemvW4B128AVX2 is gemvW4AVX2 with one activation scale per 128 codes:
// the int16 VPMADDUBSW results of a 128-code block are summed before one
// VPMADDWD, VCVTDQ2PS and FMA.
//
//go:noescape
func gemvW4B128AVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, a *int8, d, xsn *float32, dskip, gskip, acc int)

// gemvW3B128AVX2 is gemvW3AVX2 with one activation scale per 128 codes.
//
//go:noescape
func gemvW3B128AVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, a *int8, d, xsn *float32, dskip, gskip, acc int)

// gemvW8AVX2 is the assembly form of gemvW8Go over the klen (a multiple
// of 32) columns at data of each row (rows stride bytes apart): per block
// of 32, VPMADDUBSW(|w|, sign(w)·a), VPMADDWD with ones, VCVTDQ2PS, FMA
// with d_b; y[r] = rowScales[r]·sum, added to y[r] when acc != 0.
//
//go:noescape
func gemvW8AVX2(y *float32, rows int, data *byte, stride, klen int, rowScales *float32, a *int8, d *float32, acc int)

// gemvW4FloatAVX2 is the assembly form of gemvW4FloatGo.
//
//go:noescape
func gemvW4FloatAVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, x, sxn *float32, dskip, gskip, acc int)

// quantActAVX2 quantizes blocks of bs floats (bs % 32 == 0) to int8: see
// the assembly; it computes exactly what the Go loop of qact.quantize
// computes.
//
//go:noescape
func quantActAVX2(x *float32, blocks, bs int, a *int8, d *float32, s *int32)

// quantActBlocks quantizes the whole blocks of x with AVX2 and returns how
// many codes it covered.
func quantActBlocks(x []float32, bs int, a []int8, d []float32, s []int32) int {
	nb := len(x) / bs
	if !useQAVX2 || nb == 0 {
		return 0
	}
	_, _, _ = a[nb*bs-1], d[nb*bs/32-1], s[nb-1]
	quantActAVX2(&x[0], nb, bs, &a[0], &d[0], &s[0])
	return nb * bs
}

// streamAVX2 reads n bytes (n % 128 == 0) and returns an OR of them.
//
//go:noescape
func streamAVX2(p *byte, n int) uint64

// qSlabCodes is the number of columns (codes) a kernel covers per pass
// over the rows; a longer row is computed slab by slab, accumulating into y.
// Slabs keep a long row's activation side in L1, but measured on 18944x3584
// they were 1.7–2.4x slower than whole rows (each row's weight is then read
// in short strided runs that defeat the hardware prefetchers), so by
// default a row is one slab; the tests set it small to cover the path.
var qSlabCodes = 1 << 30

// slabs calls f for each slab [g0, g1) of a row's groups.
func slabs(groups, group, bytesPerCode int, f func(g0, g1 int)) {
	gs := max(1, qSlabCodes*2/bytesPerCode/group)
	for g0 := 0; g0 < groups; g0 += gs {
		f(g0, min(groups, g0+gs))
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

type groupAsm func(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, a *int8, d, xsn *float32, dskip, gskip, acc int)

// groupSlabs runs a group kernel over all rows of y, slab by slab; bpu/cpu
// are the bytes and codes of one layout unit.
func groupSlabs(kern groupAsm, y []float32, data []byte, scales []uint16, zeros []uint8, groups, group, bpu, cpu int, q *qact) {
	stride := groups * group / cpu * bpu
	_ = data[len(y)*stride-1]
	_, _ = scales[len(y)*groups-1], zeros[len(y)*groups-1]
	slabs(groups, group, 2, func(g0, g1 int) {
		c0, c1 := g0*group, g1*group
		kern(&y[0], len(y), &data[c0/cpu*bpu], &scales[g0], &zeros[g0], g1-g0, group, &q.a[c0], &q.d[c0/32], &q.xsn[g0],
			stride-(c1-c0)/cpu*bpu, groups-(g1-g0), b2i(g0 > 0))
	})
}

func gemvW4Impl(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group, ab int, q *qact) {
	switch {
	case !useQAVX2:
		gemvW4Go(y, data, scales, zeros, groups, group, q)
	case ab == 128:
		groupSlabs(gemvW4B128AVX2, y, data, scales, zeros, groups, group, 32, 64, q)
	default:
		groupSlabs(gemvW4AVX2, y, data, scales, zeros, groups, group, 32, 64, q)
	}
}

func gemvW3Impl(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group, ab int, q *qact) {
	switch {
	case !useQAVX2:
		gemvW3Go(y, data, scales, zeros, groups, group, q)
	case ab == 128:
		groupSlabs(gemvW3B128AVX2, y, data, scales, zeros, groups, group, 48, 128, q)
	default:
		groupSlabs(gemvW3AVX2, y, data, scales, zeros, groups, group, 48, 128, q)
	}
}

func gemvW8Impl(y []float32, data []byte, rowScales []float32, stride int, q *qact) {
	if !useQAVX2 {
		gemvW8Go(y, data, rowScales, stride, q)
		return
	}
	_ = data[len(y)*stride-1]
	_ = rowScales[len(y)-1]
	for c0 := 0; c0 < stride; c0 += qSlabCodes {
		c1 := min(stride, c0+qSlabCodes)
		gemvW8AVX2(&y[0], len(y), &data[c0], stride, c1-c0, &rowScales[0], &q.a[c0], &q.d[c0/32], b2i(c0 > 0))
	}
}

// gemvW3FloatAVX2 is the assembly form of gemvW3FloatGo.
//
//go:noescape
func gemvW3FloatAVX2(y *float32, rows int, data *byte, scales *uint16, zeros *uint8, groups, group int, x, sxn *float32, dskip, gskip, acc int)

func gemvW3FloatImpl(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group int, x, sxn []float32) {
	if !useQAVX2 {
		gemvW3FloatGo(y, data, scales, zeros, groups, group, x, sxn)
		return
	}
	stride := groups * group * 3 / 8
	_ = data[len(y)*stride-1]
	_, _ = scales[len(y)*groups-1], zeros[len(y)*groups-1]
	slabs(groups, group, 4, func(g0, g1 int) {
		c0, c1 := g0*group, g1*group
		gemvW3FloatAVX2(&y[0], len(y), &data[c0*3/8], &scales[g0], &zeros[g0], g1-g0, group, &x[c0], &sxn[g0],
			stride-(c1-c0)*3/8, groups-(g1-g0), b2i(g0 > 0))
	})
}

func gemvW4FloatImpl(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group int, x, sxn []float32) {
	if !useQAVX2 {
		gemvW4FloatGo(y, data, scales, zeros, groups, group, x, sxn)
		return
	}
	stride := groups * group / 2
	_ = data[len(y)*stride-1]
	_, _ = scales[len(y)*groups-1], zeros[len(y)*groups-1]
	slabs(groups, group, 4, func(g0, g1 int) {
		c0, c1 := g0*group, g1*group
		gemvW4FloatAVX2(&y[0], len(y), &data[c0/2], &scales[g0], &zeros[g0], g1-g0, group, &x[c0], &sxn[g0],
			stride-(c1-c0)/2, groups-(g1-g0), b2i(g0 > 0))
	})
}

func gemvF32Impl(y, x, w []float32, ldw int) {
	if !useQAVX2 {
		gemvF32Go(y, x, w, ldw)
		return
	}
	k := len(x)
	for r := range y {
		y[r] = dotAVX2Slices(x, w[r*ldw:r*ldw+k])
	}
}

func streamImpl(b []byte) uint64 {
	n := len(b) &^ 127
	var s uint64
	if useQAVX2 && n > 0 {
		s = streamAVX2(&b[0], n)
	}
	return s | streamGo(b[n:])
}

func useQAVX2Flag() bool { return useQAVX2 }

func setQAVX2(on bool) { useQAVX2 = on && cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C }

// dequantW4AVX2 and dequantW3AVX2 write one row's dequantized weights,
// dst[c] = float32(q[c] - z)·s (as dequantRowGo, bit for bit).
//
//go:noescape
func dequantW4AVX2(dst *float32, src *byte, scales *uint16, zeros *uint8, groups, group int)

//go:noescape
func dequantW3AVX2(dst *float32, src *byte, scales *uint16, zeros *uint8, groups, group int)

func dequantRow(bits int, dst []float32, row []byte, scales []uint16, zeros []uint8, group int) {
	groups := len(dst) / group
	if !useQAVX2 || groups == 0 {
		dequantRowGo(bits, dst, row, scales, zeros, group)
		return
	}
	_, _ = scales[groups-1], zeros[groups-1]
	if bits == 4 {
		_ = row[len(dst)/2-1]
		dequantW4AVX2(&dst[0], &row[0], &scales[0], &zeros[0], groups, group)
		return
	}
	_ = row[len(dst)*3/8-1]
	dequantW3AVX2(&dst[0], &row[0], &scales[0], &zeros[0], groups, group)
}
