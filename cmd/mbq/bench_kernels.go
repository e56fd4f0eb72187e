package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"mbq/kernels"
)

// kernelRow is one shape's result of `mbq bench kernels` (times in ms,
// medians over the interleaved rounds of this run).
type kernelRow struct {
	K, N   int
	Rounds int
	// Per format ("f32", "f32-gemv", "f32-sgemm", "w8", "w4", "w3"): kernel
	// time, streaming bound (time to read the same bytes), bytes read.
	Ms      map[string]float64
	BoundMs map[string]float64
	Bytes   map[string]int
	// SpeedUp over the best fp32 GEMV ("f32") of this run; OfBound = kernel
	// time / bound time.
	SpeedUp map[string]float64
	OfBound map[string]float64
}

func runBenchKernels(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench kernels", "", stderr)
	shapes := fs.String("shapes", "3584x3584,3584x10752,3584x18944,18944x3584", "comma-separated KxN shapes (K input, N output channels; batch 1)")
	minTime := fs.Duration("time", 3*time.Second, "minimum time per shape (rounds interleave all formats)")
	jsonOut := fs.String("json", "", "write the results as JSON to this file")
	copyMB := fs.Int("copy-mb", 192, "bytes of weight copies per format, in MiB: more than the last-level cache, so that weights stream from memory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var dims [][2]int
	for _, s := range strings.Split(*shapes, ",") {
		p := strings.Split(strings.TrimSpace(s), "x")
		if len(p) != 2 {
			return fmt.Errorf("--shapes: %q is not KxN", s)
		}
		var d [2]int
		for i, v := range p {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 1<<16 {
				return fmt.Errorf("--shapes: %q: dimension %q must be an integer in 1..65536", s, v)
			}
			d[i] = n
		}
		if d[0]%128 != 0 {
			return fmt.Errorf("--shapes: %q: K must be a multiple of 128 (group size)", s)
		}
		dims = append(dims, d)
	}
	fmt.Fprintln(stdout, "Quantized GEMV, batch 1, weights streamed from memory; medians of interleaved rounds, every figure from this run.")
	fmt.Fprintln(stdout, "fp32 = best of our fp32 GEMVs (GEMVF32, MatMulTransB); W8 = int8 per channel; W4/W3 = group-128 asymmetric; int8 activations.")
	fmt.Fprintln(stdout, "bound = time to stream the same bytes (AVX2 loads, all threads); ofBound = kernel / bound.")
	fmt.Fprintf(stdout, "%-12s %8s %8s %6s %8s %6s %8s %6s | %-27s | %s\n", "K x N", "fp32 ms", "W8 ms", "x", "W4 ms", "x", "W3 ms", "x",
		"bound ms fp32/W8/W4/W3", "ofBound fp32/W8/W4/W3")
	var rows []kernelRow
	for _, d := range dims {
		r := benchKernelShape(d[0], d[1], *minTime, max(1, *copyMB)<<20)
		rows = append(rows, r)
		fmt.Fprintf(stdout, "%-12s %8.3f %8.3f %6.2f %8.3f %6.2f %8.3f %6.2f | %6.3f %6.3f %6.3f %6.3f | %4.2f %4.2f %4.2f %4.2f\n",
			fmt.Sprintf("%dx%d", d[0], d[1]), r.Ms["f32"], r.Ms["w8"], r.SpeedUp["w8"], r.Ms["w4"], r.SpeedUp["w4"], r.Ms["w3"], r.SpeedUp["w3"],
			r.BoundMs["f32"], r.BoundMs["w8"], r.BoundMs["w4"], r.BoundMs["w3"],
			r.OfBound["f32"], r.OfBound["w8"], r.OfBound["w4"], r.OfBound["w3"])
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	return nil
}

func benchKernelShape(k, n int, minTime time.Duration, copyBytes int) kernelRow {
	cases := kernels.NewGEMVBenches(k, n, copyBytes, false)
	times := make([][]float64, len(cases))
	stimes := make([][]float64, len(cases))
	start := time.Now()
	rounds := 0
	for ; rounds < 3 || time.Since(start) < minTime; rounds++ {
		for i, cs := range cases {
			ci := rounds % cs.Copies
			t0 := time.Now()
			cs.Run(ci)
			times[i] = append(times[i], time.Since(t0).Seconds())
			t0 = time.Now()
			cs.Stream((ci + 1) % cs.Copies)
			stimes[i] = append(stimes[i], time.Since(t0).Seconds())
		}
	}
	r := kernelRow{K: k, N: n, Rounds: rounds, Ms: map[string]float64{}, BoundMs: map[string]float64{},
		Bytes: map[string]int{}, SpeedUp: map[string]float64{}, OfBound: map[string]float64{}}
	for i, cs := range cases {
		r.Ms[cs.Name] = medianOf(times[i]) * 1e3
		r.BoundMs[cs.Name] = medianOf(stimes[i]) * 1e3
		r.Bytes[cs.Name] = cs.Bytes
	}
	best := "f32-gemv"
	if r.Ms["f32-sgemm"] < r.Ms[best] {
		best = "f32-sgemm"
	}
	r.Ms["f32"], r.BoundMs["f32"], r.Bytes["f32"] = r.Ms[best], r.BoundMs[best], r.Bytes[best]
	for name := range r.Ms {
		r.SpeedUp[name] = r.Ms["f32"] / r.Ms[name]
		r.OfBound[name] = r.Ms[name] / r.BoundMs[name]
	}
	return r
}

func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
