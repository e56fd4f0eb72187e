package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestInt8GEMM(t *testing.T) {
	run := func(name string) {
		rng := rand.New(rand.NewPCG(9, 9))
		for _, s := range [][3]int{{1, 1, 1}, {1, 7, 5}, {6, 16, 16}, {7, 33, 17}, {13, 100, 31}, {64, 257, 130}, {37, 1000, 300}} {
			m, k, n := s[0], s[1], s[2]
			lda, ldc, stride := k+3, n+5, k+1
			a := randVec(rng, m*lda)
			codes := make([]int8, n*stride)
			for i := range codes {
				codes[i] = int8(rng.IntN(256) - 128)
			}
			sw := make([]float32, n)
			for i := range sw {
				sw[i] = float32(0.001 + 0.01*rng.Float64())
			}
			w := PackInt8Panels(codes, stride, n, k, sw)
			cb := newMatBuf(m, n, ldc)
			Int8GEMM(cb.slice(), ldc, a, lda, m, w)
			qa := make([]int8, k)
			for i := 0; i < m; i++ {
				sa := quantizeToken(a[i*lda:i*lda+k], qa)
				for j := 0; j < n; j++ {
					var want, mag float64
					for p := 0; p < k; p++ {
						v := float64(float32(qa[p])*sa) * float64(float32(codes[j*stride+p])*sw[j])
						want += v
						mag += math.Abs(v)
					}
					if got := float64(*cb.at(i, j)); math.Abs(got-want) > 1e-5*mag+1e-30 {
						t.Fatalf("%s %dx%dx%d: C[%d,%d] = %v, want %v", name, m, k, n, i, j, got, want)
					}
				}
			}
			// everything outside the m×n window must still be the sentinel
			for idx, v := range cb.buf {
				i, j := (idx-guard)/ldc, (idx-guard)%ldc
				inside := idx >= guard && i < m && j < n
				if !inside && math.Float32bits(v) != math.Float32bits(sentinel) {
					t.Fatalf("%s %dx%dx%d: element %d outside C's window written", name, m, k, n, idx)
				}
			}
		}
	}
	run("Int8GEMM")
	if useI8VNNI { // also the AVX2 kernel
		useI8VNNI = false
		run("Int8GEMM/avx2")
		useI8VNNI = true
	}
	withGo(func() { run("Int8GEMM/go") })
}

// BenchmarkInt8GEMM compares the W8A8 int8 GEMM (per-token activation
// quantization included) with the default fp32 GEMM (x·Wᵀ) on the same
// shapes, interleaved, and reports the ratio; where the VNNI kernel is
// active, the AVX2 kernel is timed in the same rounds too (int8avx2).
func BenchmarkInt8GEMM(b *testing.B) {
	for _, s := range [][3]int{{512, 3584, 18944}, {512, 896, 4864}, {512, 3584, 3584}} {
		m, k, n := s[0], s[1], s[2]
		b.Run(benchShape{m: m, k: k, n: n}.String(), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			a := randVec(rng, m*k)
			wf := randVec(rng, n*k)
			codes := make([]int8, n*k)
			for i := range codes {
				codes[i] = int8(rng.IntN(255) - 127)
			}
			sw := make([]float32, n)
			for i := range sw {
				sw[i] = 0.01
			}
			w := PackInt8Panels(codes, k, n, k, sw)
			c := make([]float32, m*n)
			var ti, ta, tf []float64
			vnni := useI8VNNI
			defer func() { useI8VNNI = vnni }()
			for b.Loop() {
				t0 := time.Now()
				Int8GEMM(c, n, a, k, m, w)
				ti = append(ti, time.Since(t0).Seconds())
				if vnni { // the AVX2 baseline kernel in the same round
					useI8VNNI = false
					t0 = time.Now()
					Int8GEMM(c, n, a, k, m, w)
					ta = append(ta, time.Since(t0).Seconds())
					useI8VNNI = true
				}
				t0 = time.Now()
				MatMulTransB(c, a, wf, m, k, n)
				tf = append(tf, time.Since(t0).Seconds())
			}
			fl := 2 * float64(m) * float64(n) * float64(k)
			b.ReportMetric(median(ti)*1e3, "int8-ms")
			b.ReportMetric(median(tf)*1e3, "f32-ms")
			b.ReportMetric(fl/median(ti)/1e9, "int8-GOP/s")
			b.ReportMetric(fl/median(tf)/1e9, "f32-GFLOP/s")
			b.ReportMetric(median(tf)/median(ti), "int8-x-f32")
			if vnni {
				b.ReportMetric(median(ta)*1e3, "int8avx2-ms")
				b.ReportMetric(median(tf)/median(ta), "int8avx2-x-f32")
			}
		})
	}
}

func TestGEMMW4W3(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, bits := range []int{4, 3} {
		for _, s := range []qgemvCase{{1, 128, 128}, {17, 256, 128}, {300, 384, 128}, {5, 1152, 384}, {1100, 128, 128}} {
			for _, m := range []int{1, 7, 40} {
				d := newQData(rng, bits, s)
				lda, ldc := s.k+1, s.n+3
				a := randVec(rng, m*lda)
				cb := newMatBuf(m, s.n, ldc)
				if bits == 4 {
					GEMMW4(cb.slice(), ldc, a, lda, m, d.data, d.scales, d.zeros, s.n, s.k, s.group)
				} else {
					GEMMW3(cb.slice(), ldc, a, lda, m, d.data, d.scales, d.zeros, s.n, s.k, s.group)
				}
				for i := 0; i < m; i++ {
					for j := 0; j < s.n; j++ {
						var want, mag float64
						for p := 0; p < s.k; p++ {
							v := float64(a[i*lda+p]) * float64(d.w[j*s.k+p])
							want += v
							mag += math.Abs(v)
						}
						if got := float64(*cb.at(i, j)); math.Abs(got-want) > 1e-5*mag+1e-30 {
							t.Fatalf("W%d m=%d %+v: C[%d,%d] = %v, want %v", bits, m, s, i, j, got, want)
						}
					}
				}
				for idx, v := range cb.buf {
					i, j := (idx-guard)/ldc, (idx-guard)%ldc
					if !(idx >= guard && i < m && j < s.n) && math.Float32bits(v) != math.Float32bits(sentinel) {
						t.Fatalf("W%d: element %d outside C's window written", bits, idx)
					}
				}
			}
		}
	}
}

// TestDequantRow checks the AVX2 row dequantizers against the Go twin, bit
// for bit.
func TestDequantRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 1))
	for _, bits := range []int{4, 3} {
		for _, c := range []qgemvCase{{1, 128, 128}, {1, 384, 128}, {1, 1152, 384}, {1, 256, 256}} {
			if bits == 4 && c.group%64 != 0 || bits == 3 && c.group%128 != 0 {
				continue
			}
			d := newQData(rng, bits, c)
			got := make([]float32, c.k+8)
			for i := range got {
				got[i] = sentinel
			}
			dequantRow(bits, got[:c.k], d.data, d.scales, d.zeros, c.group)
			for i := range c.k {
				if got[i] != d.w[i] {
					t.Fatalf("W%d %+v: w[%d] = %v, want %v", bits, c, i, got[i], d.w[i])
				}
			}
			for i := c.k; i < len(got); i++ {
				if math.Float32bits(got[i]) != math.Float32bits(sentinel) {
					t.Fatalf("W%d %+v: wrote past the row", bits, c)
				}
			}
		}
	}
}
