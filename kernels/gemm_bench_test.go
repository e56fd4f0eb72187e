package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// benchShape is one product of the benchmarks: C[m×n] = A[m×k]·op(B).
type benchShape struct {
	m, k, n int
	transB  bool // B stored n×k, as a Linear weight
}

func (s benchShape) String() string { return fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n) }

func (s benchShape) flops() float64 { return 2 * float64(s.m) * float64(s.k) * float64(s.n) }

// sgemmShapes: the two gates, both A·B.
var sgemmShapes = []benchShape{
	{m: 512, k: 896, n: 4864},
	{m: 1024, k: 1024, n: 1024},
}

// linearShapes: decoder-ish Linear layers, x·Wᵀ with W [out, in] (the
// Qwen2-0.5B widths 896 and 4864): a decoded token, a short and a long
// prompt through up_proj, a prompt through down_proj; and the testbed
// decoder's up_proj (width 256, SwiGLU 1024) on a batch of 512 tokens.
var linearShapes = []benchShape{
	{m: 1, k: 896, n: 4864, transB: true},
	{m: 64, k: 896, n: 4864, transB: true},
	{m: 512, k: 896, n: 4864, transB: true},
	{m: 512, k: 4864, n: 896, transB: true},
	{m: 512, k: 256, n: 1024, transB: true},
}

type benchData struct{ a, b, c []float32 }

func newBenchData(s benchShape) benchData {
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		return x
	}
	return benchData{a: rnd(s.m * s.k), b: rnd(s.k * s.n), c: rnd(s.m * s.n)}
}

func (d benchData) run(g GEMM, s benchShape) {
	ldb := s.n
	if s.transB {
		ldb = s.k
	}
	g.Sgemm(false, s.transB, s.m, s.n, s.k, 1, d.a, s.k, d.b, ldb, 0, d.c, s.n)
}

// benchImpls: every implementation but the reference, which would take
// seconds per product.
func benchImpls() []GEMM {
	var out []GEMM
	for _, g := range Implementations() {
		if g.Name() != "ref" {
			out = append(out, g)
		}
	}
	return out
}

func benchShapes(b *testing.B, name string, shapes []benchShape) {
	for _, g := range benchImpls() {
		for _, s := range shapes {
			b.Run(g.Name()+"/"+s.String(), func(b *testing.B) {
				d := newBenchData(s)
				d.run(g, s) // warm the pools and caches
				b.ResetTimer()
				for b.Loop() {
					d.run(g, s)
				}
				b.ReportMetric(s.flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkSgemm/<impl>/<m>x<k>x<n>: C = A·B.
func BenchmarkSgemm(b *testing.B) { benchShapes(b, "Sgemm", sgemmShapes) }

// BenchmarkLinear/<impl>/<m>x<k>x<n>: C = A·Bᵀ with B [n, k].
func BenchmarkLinear(b *testing.B) { benchShapes(b, "Linear", linearShapes) }

// BenchmarkSgemmRatio/<shape> times every implementation on the same shape
// in interleaved rounds (per round and implementation, one untimed product
// and one timed; b.N rounds), reports
// each one's median GFLOP/s and, when built with -tags openblas, its ratio
// to openblas, so that the ratios come from the same run and the same
// moments of a noisy, shared machine:
//
//	go test ./kernels -run '^$' -bench SgemmRatio -tags openblas -benchtime 15x
func BenchmarkSgemmRatio(b *testing.B) {
	for _, s := range append(slices.Clone(sgemmShapes), linearShapes...) {
		name := s.String()
		if s.transB {
			name += "T"
		}
		b.Run(name, func(b *testing.B) {
			impls := benchImpls()
			d := newBenchData(s)
			times := make([][]time.Duration, len(impls))
			for _, g := range impls {
				d.run(g, s)
			}
			for b.Loop() {
				for i, g := range impls {
					// One untimed call first: it absorbs the switch from the
					// previous implementation (OpenBLAS's worker threads
					// keep spinning for a while after a call returns).
					d.run(g, s)
					t0 := time.Now()
					d.run(g, s)
					times[i] = append(times[i], time.Since(t0))
				}
			}
			gflops := make([]float64, len(impls))
			base := -1
			for i, g := range impls {
				slices.Sort(times[i])
				med := times[i][len(times[i])/2]
				gflops[i] = s.flops() / med.Seconds() / 1e9
				b.ReportMetric(gflops[i], g.Name()+"-GFLOP/s")
				if g.Name() == "openblas" {
					base = i
				}
			}
			line := fmt.Sprintf("%s rounds=%d", name, len(times[0]))
			for i, g := range impls {
				line += fmt.Sprintf("  %s %.1f GFLOP/s", g.Name(), gflops[i])
				if base >= 0 {
					r := gflops[i] / gflops[base]
					line += fmt.Sprintf(" (%.2fx openblas)", r)
					if i != base {
						b.ReportMetric(r, g.Name()+"/openblas")
					}
				}
			}
			b.Log(line)
		})
	}
}
