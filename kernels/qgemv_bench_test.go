package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The paper's Table 8 shapes, K x N (K input channels, N output channels),
// batch 1.
var gemvShapes = [][2]int{{3584, 3584}, {3584, 10752}, {3584, 18944}, {18944, 3584}}

// gemvOperand is one format's weight in enough copies that one pass over
// all of them exceeds the last-level cache, so that every product streams
// its weight from memory (as in a decode step).
type gemvOperand struct {
	name   string
	bytes  int // weight bytes one product reads
	run    func(copy int)
	stream func(copy int)
	copies int
}

const gemvMinBytes = 192 << 20 // total bytes of all copies of an operand

func newGEMVOperands(k, n int) []*gemvOperand {
	rng := rand.New(rand.NewPCG(uint64(k), uint64(n)))
	x := randVec(rng, k)
	y := make([]float32, n)
	randBytes := func(m int) []byte {
		b := make([]byte, m)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	copiesFor := func(bytes int) int { return max(1, ceilDiv(gemvMinBytes, bytes)) }
	var ops []*gemvOperand

	// fp32
	{
		nb := 4 * n * k
		c := copiesFor(nb)
		ws := make([][]float32, c)
		for i := range ws {
			ws[i] = make([]float32, n*k)
			for j := range ws[i] {
				ws[i][j] = float32(j%13) - 6
			}
		}
		ops = append(ops, &gemvOperand{name: "f32", bytes: nb, copies: c,
			run:    func(i int) { GEMVF32(y, x, ws[i], n, k, k) },
			stream: func(i int) { StreamBytes(f32Bytes(ws[i])) }})
		ops = append(ops, &gemvOperand{name: "f32-sgemm", bytes: nb, copies: c,
			run:    func(i int) { MatMulTransB(y, x, ws[i], 1, k, n) },
			stream: func(i int) { StreamBytes(f32Bytes(ws[i])) }})
	}
	// W8
	{
		nb := n * k
		c := copiesFor(nb + 4*n)
		data := make([][]byte, c)
		scales := make([]float32, n)
		for i := range scales {
			scales[i] = 0.01
		}
		for i := range data {
			data[i] = randBytes(n * k)
		}
		ops = append(ops, &gemvOperand{name: "w8", bytes: nb + 4*n, copies: c,
			run:    func(i int) { GEMVW8(y, x, data[i], scales, n, k, k) },
			stream: func(i int) { StreamBytes(data[i], f32Bytes(scales)) }})
	}
	for _, bits := range []int{4, 3} {
		ng := n * k / 128
		nb := n*k*bits/8 + 3*ng
		c := copiesFor(nb)
		data, sc, zs := make([][]byte, c), make([][]uint16, c), make([][]uint8, c)
		for i := range data {
			data[i] = randBytes(n * k * bits / 8)
			sc[i] = make([]uint16, ng)
			for j := range sc[i] {
				sc[i][j] = floatToHalfTest(0.01)
			}
			zs[i] = randBytes(ng)
			for j := range zs[i] {
				zs[i][j] &= 1<<bits - 1
			}
		}
		if bits == 4 {
			ops = append(ops, &gemvOperand{name: "w4", bytes: nb, copies: c,
				run:    func(i int) { GEMVW4(y, x, data[i], sc[i], zs[i], n, k, 128) },
				stream: func(i int) { StreamBytes(data[i], u16Bytes(sc[i]), zs[i]) }})
			ops = append(ops, &gemvOperand{name: "w4-a32", bytes: nb, copies: c,
				run:    func(i int) { GEMVW4Act(y, x, data[i], sc[i], zs[i], n, k, 128, 32) },
				stream: func(i int) { StreamBytes(data[i], u16Bytes(sc[i]), zs[i]) }})
			ops = append(ops, &gemvOperand{name: "w4-float", bytes: nb, copies: c,
				run:    func(i int) { GEMVW4Float(y, x, data[i], sc[i], zs[i], n, k, 128) },
				stream: func(i int) { StreamBytes(data[i], u16Bytes(sc[i]), zs[i]) }})
		} else {
			ops = append(ops, &gemvOperand{name: "w3", bytes: nb, copies: c,
				run:    func(i int) { GEMVW3(y, x, data[i], sc[i], zs[i], n, k, 128) },
				stream: func(i int) { StreamBytes(data[i], u16Bytes(sc[i]), zs[i]) }})
			ops = append(ops, &gemvOperand{name: "w3-float", bytes: nb, copies: c,
				run:    func(i int) { GEMVW3Float(y, x, data[i], sc[i], zs[i], n, k, 128) },
				stream: func(i int) { StreamBytes(data[i], u16Bytes(sc[i]), zs[i]) }})
			ops = append(ops, &gemvOperand{name: "w3-a32", bytes: nb, copies: c,
				run:    func(i int) { GEMVW3Act(y, x, data[i], sc[i], zs[i], n, k, 128, 32) },
				stream: func(i int) { StreamBytes(data[i], u16Bytes(sc[i]), zs[i]) }})
		}
	}
	return ops
}

// BenchmarkGEMV times each format's GEMV per shape (weights streamed from
// memory, cycling over copies) and reports ms, GB/s of weight bytes, and
// the speed-up over the fp32 GEMV measured in the same benchmark run
// (rounds interleave all formats: f32 (GEMVF32), f32-sgemm, w8, w4,
// w4-a32, w4-float, w3, w3-float, w3-a32, and each one's byte-streaming
// bound; -aNN: int8 activations per block of NN instead of the default,
// -float: float activations).
func BenchmarkGEMV(b *testing.B) {
	for _, s := range gemvShapes {
		k, n := s[0], s[1]
		b.Run(fmt.Sprintf("%dx%d", k, n), func(b *testing.B) {
			ops := newGEMVOperands(k, n)
			times := make([][]float64, len(ops))
			stimes := make([][]float64, len(ops))
			b.ResetTimer()
			for round := 0; b.Loop(); round++ {
				for i, op := range ops {
					c := round % op.copies
					t0 := time.Now()
					op.run(c)
					times[i] = append(times[i], time.Since(t0).Seconds())
					t0 = time.Now()
					op.stream((c + 1) % op.copies)
					stimes[i] = append(stimes[i], time.Since(t0).Seconds())
				}
			}
			f32 := median(times[0])
			for i, op := range ops {
				t := median(times[i])
				b.ReportMetric(t*1e3, op.name+"-ms")
				b.ReportMetric(float64(op.bytes)/t/1e9, op.name+"-GB/s")
				b.ReportMetric(f32/t, op.name+"-x-f32")
				b.ReportMetric(t/median(stimes[i]), op.name+"-x-bound")
			}
		})
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkGEMMW4W3 times the W4/W3 prefill (dequantize blocks of rows
// into the fp32 GEMM) against the fp32 GEMM on the same shape, interleaved.
func BenchmarkGEMMW4W3(b *testing.B) {
	m, k, n := 512, 3584, 18944
	rng := rand.New(rand.NewPCG(2, 2))
	a := randVec(rng, m*k)
	wf := randVec(rng, n*k)
	d4 := newQData(rng, 4, qgemvCase{n: 1, k: k, group: 128}) // one row, repeated
	d3 := newQData(rng, 3, qgemvCase{n: 1, k: k, group: 128})
	rep := func(d *qData, bits int) ([]byte, []uint16, []uint8) {
		data := make([]byte, 0, n*k*bits/8)
		var sc []uint16
		var zs []uint8
		for range n {
			data = append(data, d.data...)
			sc = append(sc, d.scales...)
			zs = append(zs, d.zeros...)
		}
		return data, sc, zs
	}
	w4, s4, z4 := rep(d4, 4)
	w3, s3, z3 := rep(d3, 3)
	c := make([]float32, m*n)
	var t4, t3, tf []float64
	for b.Loop() {
		t0 := time.Now()
		GEMMW4(c, n, a, k, m, w4, s4, z4, n, k, 128)
		t4 = append(t4, time.Since(t0).Seconds())
		t0 = time.Now()
		GEMMW3(c, n, a, k, m, w3, s3, z3, n, k, 128)
		t3 = append(t3, time.Since(t0).Seconds())
		t0 = time.Now()
		MatMulTransB(c, a, wf, m, k, n)
		tf = append(tf, time.Since(t0).Seconds())
	}
	b.ReportMetric(median(tf)*1e3, "f32-ms")
	b.ReportMetric(median(t4)*1e3, "w4-ms")
	b.ReportMetric(median(t3)*1e3, "w3-ms")
	b.ReportMetric(median(tf)/median(t4), "w4-x-f32")
	b.ReportMetric(median(tf)/median(t3), "w3-x-f32")
}
