package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"mbq/kernels"
)

func init() {
	register("bench", "measure this machine: bench gemm | bench kernels | bench decode", runBench)
}

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "decode" {
		return runBenchDecode(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "kernels" {
		return runBenchKernels(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "gemm" {
		fmt.Fprintln(stderr, "Usage: mbq bench gemm|kernels|decode [flags]")
		return errUsage
	}
	fs := newFlags("bench gemm", "", stderr)
	shapes := fs.String("shapes", "512x896x4864,1024x1024x1024", "comma-separated MxKxN shapes (C[M,N] = A[M,K]·B[K,N])")
	minTime := fs.Duration("time", time.Second, "minimum time per implementation and shape")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	var dims [][3]int
	for _, s := range strings.Split(*shapes, ",") {
		p := strings.Split(strings.TrimSpace(s), "x")
		if len(p) != 3 {
			return fmt.Errorf("--shapes: %q is not MxKxN", s)
		}
		var d [3]int
		for i, v := range p {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 1<<15 {
				return fmt.Errorf("--shapes: %q: dimension %q must be an integer in 1..32768", s, v)
			}
			d[i] = n
		}
		dims = append(dims, d)
	}
	impls := kernels.Implementations()
	fmt.Fprintf(stdout, "fp32 GEMM, GFLOP/s (active: %s; every figure from this run)\n", kernels.Active().Name())
	fmt.Fprintf(stdout, "%-18s", "M x K x N")
	for _, g := range impls {
		fmt.Fprintf(stdout, " %10s", g.Name())
	}
	fmt.Fprintf(stdout, " %12s\n", "active/best")
	for _, d := range dims {
		m, k, n := d[0], d[1], d[2]
		a := make([]float32, m*k)
		b := make([]float32, k*n)
		c := make([]float32, m*n)
		for i := range a {
			a[i] = float32(i%7) - 3
		}
		for i := range b {
			b[i] = float32(i%5) - 2
		}
		fmt.Fprintf(stdout, "%-18s", fmt.Sprintf("%dx%dx%d", m, k, n))
		var best, active float64
		for _, g := range impls {
			if g.Name() == "ref" && float64(m)*float64(n)*float64(k) > 2e8 {
				fmt.Fprintf(stdout, " %10s", "-")
				continue
			}
			gf := gflops(g, m, k, n, a, b, c, *minTime)
			if gf > best {
				best = gf
			}
			if g.Name() == kernels.Active().Name() {
				active = gf
			}
			fmt.Fprintf(stdout, " %10.1f", gf)
		}
		fmt.Fprintf(stdout, " %12.2f\n", active/best)
	}
	return nil
}

// gflops times C = A·B with one implementation: one warm-up call, then as
// many calls as fit in minTime; returns 2·M·N·K / seconds-per-call / 1e9.
func gflops(g kernels.GEMM, m, k, n int, a, b, c []float32, minTime time.Duration) float64 {
	g.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	calls := 0
	start := time.Now()
	for time.Since(start) < minTime || calls < 2 {
		g.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
		calls++
	}
	sec := time.Since(start).Seconds() / float64(calls)
	return 2 * float64(m) * float64(n) * float64(k) / sec / 1e9
}
