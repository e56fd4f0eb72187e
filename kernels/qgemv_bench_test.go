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

const gemvMinBytes = 192 << 20 // total bytes of all copies of an operand

// BenchmarkGEMV times each format's GEMV per shape (weights streamed from
// memory, cycling over copies) and reports ms, GB/s of weight bytes, and
// the speed-up over the fp32 GEMV measured in the same benchmark run
// (rounds interleave all of NewGEMVBenches' formats with variants and each
// one's byte-streaming bound).
func BenchmarkGEMV(b *testing.B) {
	for _, s := range gemvShapes {
		k, n := s[0], s[1]
		b.Run(fmt.Sprintf("%dx%d", k, n), func(b *testing.B) {
			ops := NewGEMVBenches(k, n, gemvMinBytes, true)
			times := make([][]float64, len(ops))
			stimes := make([][]float64, len(ops))
			b.ResetTimer()
			for round := 0; b.Loop(); round++ {
				for i, op := range ops {
					c := round % op.Copies
					t0 := time.Now()
					op.Run(c)
					times[i] = append(times[i], time.Since(t0).Seconds())
					t0 = time.Now()
					op.Stream((c + 1) % op.Copies)
					stimes[i] = append(stimes[i], time.Since(t0).Seconds())
				}
			}
			f32 := median(times[0])
			for i, op := range ops {
				t := median(times[i])
				b.ReportMetric(t*1e3, op.Name+"-ms")
				b.ReportMetric(float64(op.Bytes)/t/1e9, op.Name+"-GB/s")
				b.ReportMetric(f32/t, op.Name+"-x-f32")
				b.ReportMetric(t/median(stimes[i]), op.Name+"-x-bound")
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
