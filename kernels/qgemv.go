package kernels

import (
	"math"
	"runtime"
	"sync"
	"unsafe"
)

// Quantized matrix–vector products (the decode stage): y = W·x for a weight
// W [n, k] (rows = output channels) stored in the packed layouts of package
// mbq/quant (see quant/pack.go for the bit diagrams; this package takes the
// raw slices so that quant can call it):
//
//	W4 (asymmetric 4-bit, group g, g % 64 == 0, k % g == 0): each row k/2
//	   bytes in units of 64 codes (byte i: code i low nibble, code 32+i high
//	   nibble); scales binary16 and zeros uint8 per group, [n*k/g] row-major.
//	W3 (asymmetric 3-bit, g % 128 == 0): each row 3k/8 bytes in units of 128
//	   codes: 32 bytes L (byte i bits 2t..2t+1 = low bits of code i+32t), 16
//	   bytes H (byte p bit m = high bit of code p+16m).
//	W8 (symmetric int8 per row): each row stride >= k bytes (k rounded up
//	   to 32, padded with 0), one float32 scale per row.
//
// y[r] = Σ_g s[r,g] · Σ_{c∈g} (q[r,c] - z[r,g]) · x[c]  (W3, W4) or
// y[r] = s[r] · Σ_c q[r,c] · x[c]  (W8).
//
// # Two ways to compute it
//
// int8 activations (GEMVW4, GEMVW3, GEMVW8; the fast default, as in
// llama.cpp): x is first quantized per block of B consecutive channels
// (B = 32, or 128 = one scale per group of 128: DefaultActBlock, the
// default for group-128 weights; W8 always uses 32),
//
//	d_b = max|x_b| / 127,  a_c = round-half-even(x_c · (127/max|x_b|)) in -127..127
//
// (AVX2: VCVTPS2DQ and saturating packs, quantActAVX2; the same numbers as
// the Go loop). Each 32-code block's integer dot product Σ q·a is computed
// exactly with VPMADDUBSW (unsigned codes × signed activations; W8 makes
// the weight unsigned with VPABSB and moves its sign onto a with VPSIGNB)
// and VPMADDWD with ones; with B = 128 the four int16 VPMADDUBSW results
// of a block are added before one VPMADDWD (|sum| <= 4·2·15·127 < 2^15).
// The int32 sums are converted and accumulated in float32 as d_b·Σ q·a,
// times the group scale s (binary16, VCVTPH2PS). The zero point is folded
// per row before the group loop as Σ_g s_g·z_g·(-Σ_{b∈g} d_b·Σ_{c∈b} a_c)
// (8 groups per step), so the result is the product of the dequantized W
// with the dequantized activations x̂ up to float32 rounding. Error bound
// against the exact W'·x:
//
//	|ŷ[r] - y[r]| <= Σ_c |W'[r,c]| · d_b(c)/2  (+ float32 rounding)
//
// i.e. each activation carries at most half a step of its block's int8 grid
// (1/254 of the block's absmax); B = 128 has up to 4x the error of B = 32
// on activations with outliers (llama.cpp's K-quants use blocks of 256).
// The tests check the bound and, tightly, the equality with W'·x̂.
//
// float (GEMVW4Float, GEMVW3Float): codes are widened to float32 in registers
// (VPMOVZXBD, VCVTDQ2PS) and multiplied with x by FMA; the zero is folded
// as z·Σ_{c∈g} x_c. Exact up to float32 rounding (no activation
// quantization), but about 2.5x slower than the int8 path (BENCHMARKS.md).
//
// Memory: the kernels read each row's packed weight once, sequentially;
// the activation side is kept small so that it stays in L1 while the rows
// stream (int8 codes plus one float scale per 32 codes, broadcast with
// VBROADCASTSS).
// Rows are split into one contiguous range per thread (all on new
// goroutines). Each function panics with a constant message on a contract
// violation.

// qact holds an activation vector quantized for the int8 kernels.
type qact struct {
	a   []int8    // [kp] codes, 0 past k
	d   []float32 // [kp/32]: the scale of the block of codes 32i..32i+31
	s   []int32   // per activation block: Σ of its codes
	xsn []float32 // [groups]: -Σ_{b∈g} d_b·Σ_{c∈b} a_c
	f   []float32 // float path: [groups] -Σ_{c∈g} x_c
}

var qactPool = sync.Pool{New: func() any { return new(qact) }}

func getQact(kp, groups int) *qact {
	q := qactPool.Get().(*qact)
	if cap(q.a) < kp {
		q.a = make([]int8, kp)
		q.d = make([]float32, kp/32)
	}
	if cap(q.xsn) < groups {
		q.xsn = make([]float32, groups)
		q.f = make([]float32, groups)
	}
	q.a, q.d, q.xsn, q.f = q.a[:kp], q.d[:kp/32], q.xsn[:groups], q.f[:groups]
	return q
}

// quantize quantizes x (len k <= kp) per block of ab (32 or 128, kp % ab
// == 0) into q.a and q.d (the scale of every 32 codes' block), and for groups of g codes (g % ab == 0, or
// 0 for none) fills q.xsn. Whole blocks inside x go through the AVX2
// quantizer where available; the result is the same either way.
func (q *qact) quantize(x []float32, g, ab int) {
	k := len(x)
	nb := len(q.a) / ab
	if cap(q.s) < nb {
		q.s = make([]int32, nb)
	}
	s := q.s[:nb]
	done := quantActBlocks(x, ab, q.a, q.d, s)
	for lo := done; lo < len(q.a); lo += ab {
		hi := min(lo+ab, k)
		var amax float32
		for _, v := range x[min(lo, hi):hi] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var inv float32
		if amax > 0 {
			inv = 127 / amax
		}
		var sum int32
		blk := q.a[lo : lo+ab]
		for i := range blk {
			var c int32
			if lo+i < k {
				c = int32(math.RoundToEven(float64(x[lo+i] * inv)))
				c = max(-127, min(127, c))
			}
			blk[i] = int8(c)
			sum += c
		}
		for i := lo / 32; i < (lo+ab)/32; i++ {
			q.d[i] = d
		}
		s[lo/ab] = sum
	}
	if g > 0 {
		for b, sum := range s {
			lo := b * ab
			if lo%g == 0 {
				q.xsn[lo/g] = 0
			}
			q.xsn[lo/g] -= q.d[lo/32] * float32(sum)
		}
	}
}

// parallelRows runs f over [0, n) cut into one contiguous range per
// thread (all on new goroutines), or on the caller when the work
// (n·bytesPerRow) is small.
func parallelRows(n, bytesPerRow int, f func(r0, r1 int)) {
	parts := runtime.GOMAXPROCS(0)
	if n*bytesPerRow < 1<<16 {
		parts = 1
	}
	parts = max(1, min(parts, n/4))
	if parts == 1 {
		f(0, n)
		return
	}
	step := ceilDiv(n, parts)
	var wg sync.WaitGroup
	for r0 := 0; r0 < n; r0 += step {
		r1 := min(n, r0+step)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(r0, r1)
		}()
	}
	wg.Wait()
}

func checkGroupGEMV(y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group, unit, bytesPerUnit int) {
	if n < 0 || k <= 0 || group <= 0 || group%unit != 0 || k%group != 0 {
		panic("kernels: quantized GEMV: bad n, k or group")
	}
	if len(y) < n || len(x) < k {
		panic("kernels: quantized GEMV: y or x too short")
	}
	if len(data) < n*(k/unit)*bytesPerUnit || len(scales) < n*(k/group) || len(zeros) < n*(k/group) {
		panic("kernels: quantized GEMV: weight slices too short")
	}
}

// DefaultActBlock is the activation block of GEMVW4 and GEMVW3 for a
// group size: 128 when the group is a multiple of 128, else 32.
func DefaultActBlock(group int) int {
	if group%128 == 0 {
		return 128
	}
	return 32
}

// GEMVW4 computes y[:n] = W·x[:k] for a W4 weight (see the top of
// qgemv.go) with int8 activations per block of DefaultActBlock(group).
func GEMVW4(y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group int) {
	GEMVW4Act(y, x, data, scales, zeros, n, k, group, DefaultActBlock(group))
}

// GEMVW4Act is GEMVW4 with int8 activations per block of actBlock (32, or
// 128 when group % 128 == 0) consecutive channels.
func GEMVW4Act(y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group, actBlock int) {
	checkGroupGEMV(y, x, data, scales, zeros, n, k, group, 64, 32)
	checkActBlock(group, actBlock)
	groupGEMV(gemvW4Impl, y, x[:k], data, scales, zeros, n, k, group, actBlock, k/2)
}

// GEMVW3 computes y[:n] = W·x[:k] for a W3 weight with int8 activations
// per block of DefaultActBlock(group).
func GEMVW3(y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group int) {
	GEMVW3Act(y, x, data, scales, zeros, n, k, group, DefaultActBlock(group))
}

// GEMVW3Act is GEMVW3 with int8 activations per block of actBlock (32 or
// 128) consecutive channels.
func GEMVW3Act(y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group, actBlock int) {
	checkGroupGEMV(y, x, data, scales, zeros, n, k, group, 128, 48)
	checkActBlock(group, actBlock)
	groupGEMV(gemvW3Impl, y, x[:k], data, scales, zeros, n, k, group, actBlock, 3*k/8)
}

func checkActBlock(group, ab int) {
	if ab != 32 && ab != 128 || group%ab != 0 {
		panic("kernels: quantized GEMV: activation block must be 32 or 128 and divide the group")
	}
}

// groupKernel computes rows of y (len(y) rows) from their packed data,
// scales and zeros (starting at the first row) and a quantized x.
type groupKernel func(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group, ab int, q *qact)

func groupGEMV(kern groupKernel, y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group, ab, stride int) {
	if n == 0 {
		return
	}
	groups := k / group
	q := getQact(k, groups)
	defer qactPool.Put(q)
	q.quantize(x, group, ab)
	parallelRows(n, stride, func(r0, r1 int) {
		kern(y[r0:r1], data[r0*stride:r1*stride], scales[r0*groups:r1*groups], zeros[r0*groups:r1*groups], groups, group, ab, q)
	})
}

// gemvW4Go is the pure-Go twin of the int8-activation W4 kernel: per row and
// group, acc = z·xsn + Σ_b d_b·Σ_{c∈b} q_c·a_c, y = Σ_g s_g·acc.
func gemvW4Go(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group int, q *qact) {
	p := 0
	for r := range y {
		var row float32
		for g := 0; g < groups; g++ {
			gi := r*groups + g
			acc := float32(zeros[gi]) * q.xsn[g]
			for c0 := g * group; c0 < (g+1)*group; c0 += 64 {
				u := data[p : p+32]
				p += 32
				a := q.a[c0 : c0+64]
				var s0, s1 int32
				for i := range 32 {
					s0 += int32(u[i]&15) * int32(a[i])
					s1 += int32(u[i]>>4) * int32(a[32+i])
				}
				acc += q.d[c0/32]*float32(s0) + q.d[c0/32+1]*float32(s1)
			}
			row += halfToFloat(scales[gi]) * acc
		}
		y[r] = row
	}
}

// gemvW3Go is the pure-Go twin of the int8-activation W3 kernel.
func gemvW3Go(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group int, q *qact) {
	p := 0
	var codes [128]uint8
	for r := range y {
		var row float32
		for g := 0; g < groups; g++ {
			gi := r*groups + g
			acc := float32(zeros[gi]) * q.xsn[g]
			for c0 := g * group; c0 < (g+1)*group; c0 += 128 {
				unpackW3(codes[:], data[p:p+48])
				p += 48
				a := q.a[c0 : c0+128]
				for b := range 4 {
					var s int32
					for i := b * 32; i < b*32+32; i++ {
						s += int32(codes[i]) * int32(a[i])
					}
					acc += q.d[c0/32+b] * float32(s)
				}
			}
			row += halfToFloat(scales[gi]) * acc
		}
		y[r] = row
	}
}

// GEMVW8 computes y[:n] = W·x[:k] for a W8 weight (row r at
// data[r*stride:], stride >= k a multiple of 32, codes past k zero) with
// int8 activations per block of 32: y[r] = rowScales[r]·Σ_b d_b·Σ q·a.
func GEMVW8(y, x []float32, data []byte, rowScales []float32, n, k, stride int) {
	if n < 0 || k <= 0 || stride < k || stride%32 != 0 {
		panic("kernels: GEMVW8: bad n, k or stride")
	}
	if len(y) < n || len(x) < k || len(data) < n*stride || len(rowScales) < n {
		panic("kernels: GEMVW8: slice too short")
	}
	if n == 0 {
		return
	}
	q := getQact(stride, 0)
	defer qactPool.Put(q)
	q.quantize(x[:k], 0, 32)
	parallelRows(n, stride, func(r0, r1 int) {
		gemvW8Impl(y[r0:r1], data[r0*stride:r1*stride], rowScales[r0:r1], stride, q)
	})
}

// gemvW8Go is the pure-Go twin of the int8-activation W8 kernel.
func gemvW8Go(y []float32, data []byte, rowScales []float32, stride int, q *qact) {
	for r := range y {
		row := data[r*stride : (r+1)*stride]
		var acc float32
		for c0 := 0; c0 < stride; c0 += 32 {
			var s int32
			for i := c0; i < c0+32; i++ {
				s += int32(int8(row[i])) * int32(q.a[i])
			}
			acc += q.d[c0/32] * float32(s)
		}
		y[r] = rowScales[r] * acc
	}
}

// GEMVW4Float computes y[:n] = W·x[:k] for a W4 weight with float32
// activations: codes widened to float in registers, FMA with x, the zero
// folded per group as z·Σ x (no activation quantization).
func GEMVW4Float(y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group int) {
	checkGroupGEMV(y, x, data, scales, zeros, n, k, group, 64, 32)
	floatGEMV(gemvW4FloatImpl, y, x, data, scales, zeros, n, k, group, k/2)
}

// GEMVW3Float is GEMVW4Float for a W3 weight.
func GEMVW3Float(y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group int) {
	checkGroupGEMV(y, x, data, scales, zeros, n, k, group, 128, 48)
	floatGEMV(gemvW3FloatImpl, y, x, data, scales, zeros, n, k, group, 3*k/8)
}

func floatGEMV(kern func(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group int, x, sxn []float32),
	y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group, stride int) {
	if n == 0 {
		return
	}
	groups := k / group
	q := getQact(32, groups)
	defer qactPool.Put(q)
	for g := range groups {
		var s float32
		for _, v := range x[g*group : (g+1)*group] {
			s += v
		}
		q.f[g] = -s
	}
	x = x[:k]
	parallelRows(n, stride, func(r0, r1 int) {
		kern(y[r0:r1], data[r0*stride:r1*stride], scales[r0*groups:r1*groups], zeros[r0*groups:r1*groups], groups, group, x, q.f)
	})
}

// gemvW4FloatGo is the pure-Go twin of the float W4 kernel.
func gemvW4FloatGo(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group int, x, sxn []float32) {
	p := 0
	for r := range y {
		var row float32
		for g := 0; g < groups; g++ {
			gi := r*groups + g
			acc := float32(zeros[gi]) * sxn[g]
			for c0 := g * group; c0 < (g+1)*group; c0 += 64 {
				u := data[p : p+32]
				p += 32
				for i := range 32 {
					acc += float32(u[i]&15)*x[c0+i] + float32(u[i]>>4)*x[c0+32+i]
				}
			}
			row += halfToFloat(scales[gi]) * acc
		}
		y[r] = row
	}
}

// gemvW3FloatGo is the pure-Go twin of the float W3 kernel.
func gemvW3FloatGo(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group int, x, sxn []float32) {
	p := 0
	var codes [128]uint8
	for r := range y {
		var row float32
		for g := 0; g < groups; g++ {
			gi := r*groups + g
			acc := float32(zeros[gi]) * sxn[g]
			for c0 := g * group; c0 < (g+1)*group; c0 += 128 {
				unpackW3(codes[:], data[p:p+48])
				p += 48
				for i, c := range codes {
					acc += float32(c) * x[c0+i]
				}
			}
			row += halfToFloat(scales[gi]) * acc
		}
		y[r] = row
	}
}

// unpackW3 rebuilds the 128 codes of one W3 unit (quant/pack.go layout).
func unpackW3(codes []uint8, u []byte) {
	for i := range 32 {
		b := u[i]
		codes[i], codes[32+i], codes[64+i], codes[96+i] = b&3, b>>2&3, b>>4&3, b>>6
	}
	for p := range 16 {
		h := u[32+p]
		for m := range 8 {
			codes[p+16*m] |= (h >> m & 1) << 2
		}
	}
}

// GEMVF32 computes y[:n] = W·x[:k] for a dense float32 W [n, k] with row
// stride ldw: the streaming fp32 GEMV, one row at a time (dotAVX2, eight
// partial sums), rows split across goroutines. (A variant reading four
// rows per pass over x was slower: on this machine each extra concurrent
// weight stream costs DRAM throughput.)
func GEMVF32(y, x, w []float32, n, k, ldw int) {
	if n < 0 || k <= 0 || ldw < k {
		panic("kernels: GEMVF32: bad n, k or ldw")
	}
	if len(y) < n || len(x) < k || n > 0 && len(w) < (n-1)*ldw+k {
		panic("kernels: GEMVF32: slice too short")
	}
	x = x[:k]
	parallelRows(n, 4*k, func(r0, r1 int) {
		gemvF32Impl(y[r0:r1], x, w[r0*ldw:], ldw)
	})
}

func gemvF32Go(y, x, w []float32, ldw int) {
	for r := range y {
		y[r] = dotGo(x, w[r*ldw:r*ldw+len(x)])
	}
}

// StreamBytes reads every byte of the given buffers (each split across the
// threads) and returns a value that depends on all of them; it is the
// physical bound of a kernel that must read those bytes once.
func StreamBytes(bufs ...[]byte) uint64 {
	var mu sync.Mutex
	var sum uint64
	parts := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for t := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s uint64
			for _, b := range bufs {
				step := roundUp(ceilDiv(len(b), parts), 128)
				lo := min(len(b), t*step)
				hi := min(len(b), lo+step)
				s += streamImpl(b[lo:hi])
			}
			mu.Lock()
			sum |= s
			mu.Unlock()
		}()
	}
	wg.Wait()
	return sum
}

func streamGo(b []byte) uint64 {
	var s uint64
	for len(b) >= 8 {
		s |= uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		b = b[8:]
	}
	for _, v := range b {
		s |= uint64(v)
	}
	return s
}

// halfToFloat converts an IEEE binary16 value to float32 (the kernels'
// reading of a stored scale; exact).
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// subnormal: man·2^-24
	f := float32(man) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// f32Bytes and u16Bytes view a slice's memory as bytes (for StreamBytes).
func f32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

func u16Bytes(v []uint16) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 2*len(v))
}
