package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

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

// gemvCase is one format's operand, in copies that together exceed the
// last-level cache so that every product streams its weight from memory.
type gemvCase struct {
	name   string
	bytes  int
	copies int
	run    func(i int)
	stream func(i int)
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
	rng := rand.New(rand.NewPCG(uint64(k), uint64(n)))
	x := make([]float32, k)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]float32, n)
	randBytes := func(m int) []byte {
		b := make([]byte, m)
		for i := 0; i+8 <= m; i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		return b
	}
	copiesFor := func(b int) int { return max(1, (copyBytes+b-1)/b) }
	var cases []*gemvCase

	nb := 4 * n * k
	c := copiesFor(nb)
	ws := make([][]float32, c)
	for i := range ws {
		ws[i] = make([]float32, n*k)
		for j := range ws[i] {
			ws[i][j] = float32(j%13-6) * 0.1
		}
	}
	f32Stream := func(i int) { kernels.StreamBytes(floatBytes(ws[i])) }
	cases = append(cases,
		&gemvCase{name: "f32-gemv", bytes: nb, copies: c, run: func(i int) { kernels.GEMVF32(y, x, ws[i], n, k, k) }, stream: f32Stream},
		&gemvCase{name: "f32-sgemm", bytes: nb, copies: c, run: func(i int) { kernels.MatMulTransB(y, x, ws[i], 1, k, n) }, stream: f32Stream})

	nb = n*k + 4*n
	c = copiesFor(nb)
	w8 := make([][]byte, c)
	for i := range w8 {
		w8[i] = randBytes(n * k)
		for j, v := range w8[i] {
			if v == 0x80 {
				w8[i][j] = 0x81 // -127: the symmetric quantizer's range
			}
		}
	}
	rs := make([]float32, n)
	for i := range rs {
		rs[i] = 0.01
	}
	cases = append(cases, &gemvCase{name: "w8", bytes: nb, copies: c,
		run:    func(i int) { kernels.GEMVW8(y, x, w8[i], rs, n, k, k) },
		stream: func(i int) { kernels.StreamBytes(w8[i], floatBytes(rs)) }})

	for _, bits := range []int{4, 3} {
		ng := n * k / 128
		nb := n*k*bits/8 + 3*ng
		c := copiesFor(nb)
		data, sc, zs := make([][]byte, c), make([][]uint16, c), make([][]byte, c)
		for i := range data {
			data[i] = randBytes(n * k * bits / 8)
			sc[i] = make([]uint16, ng)
			zs[i] = randBytes(ng)
			for j := range sc[i] {
				sc[i][j] = 0x211f // ≈ 0.01 in binary16
				zs[i][j] &= 1<<bits - 1
			}
		}
		stream := func(i int) { kernels.StreamBytes(data[i], halfBytes(sc[i]), zs[i]) }
		gemv := kernels.GEMVW4
		if bits == 3 {
			gemv = kernels.GEMVW3
		}
		cases = append(cases, &gemvCase{name: fmt.Sprintf("w%d", bits), bytes: nb, copies: c,
			run: func(i int) { gemv(y, x, data[i], sc[i], zs[i], n, k, 128) }, stream: stream})
	}

	times := make([][]float64, len(cases))
	stimes := make([][]float64, len(cases))
	start := time.Now()
	rounds := 0
	for ; rounds < 3 || time.Since(start) < minTime; rounds++ {
		for i, cs := range cases {
			ci := rounds % cs.copies
			t0 := time.Now()
			cs.run(ci)
			times[i] = append(times[i], time.Since(t0).Seconds())
			t0 = time.Now()
			cs.stream((ci + 1) % cs.copies)
			stimes[i] = append(stimes[i], time.Since(t0).Seconds())
		}
	}
	r := kernelRow{K: k, N: n, Rounds: rounds, Ms: map[string]float64{}, BoundMs: map[string]float64{},
		Bytes: map[string]int{}, SpeedUp: map[string]float64{}, OfBound: map[string]float64{}}
	for i, cs := range cases {
		r.Ms[cs.name] = medianOf(times[i]) * 1e3
		r.BoundMs[cs.name] = medianOf(stimes[i]) * 1e3
		r.Bytes[cs.name] = cs.bytes
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

func floatBytes(v []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

func halfBytes(v []uint16) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 2*len(v))
}
