package kernels

import "math/rand/v2"

// GEMVBench is one weight format's batch-1 product y = W·x, set up for
// timing: the weight is held in Copies copies that together exceed the
// last-level cache, so that cycling over them makes every product stream
// its weight from memory, as a decode step does. Shared by the kernels'
// benchmarks and `mbq bench kernels`.
type GEMVBench struct {
	Name   string
	Bytes  int // weight bytes (codes, scales, zeros) one product reads
	Copies int
	Run    func(copy int) // the product with weight copy i
	Stream func(copy int) // StreamBytes over copy i's bytes: the physical bound
}

// NewGEMVBenches builds the products for K input and N output channels
// (N·K a multiple of 128), each format's copies totalling at least
// minBytes: "f32-gemv" (GEMVF32), "f32-sgemm" (MatMulTransB at m = 1),
// "w8" (GEMVW8), "w4" and "w3" (group 128, the default int8 activations)
// and, with variants, "w4-a32" and "w3-a32" (int8 activations per block
// of 32), "w4-float" and "w3-float" (float activations). Weights and codes
// are pseudo-random from (K, N); scales are 0.01.
func NewGEMVBenches(k, n, minBytes int, variants bool) []*GEMVBench {
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
	copiesFor := func(b int) int { return max(1, (minBytes+b-1)/b) }
	var out []*GEMVBench

	nb := 4 * n * k
	c := copiesFor(nb)
	ws := make([][]float32, c)
	for i := range ws {
		ws[i] = make([]float32, n*k)
		for j := range ws[i] {
			ws[i][j] = float32(j%13-6) * 0.1
		}
	}
	f32Stream := func(i int) { StreamBytes(f32Bytes(ws[i])) }
	out = append(out,
		&GEMVBench{Name: "f32-gemv", Bytes: nb, Copies: c, Run: func(i int) { GEMVF32(y, x, ws[i], n, k, k) }, Stream: f32Stream},
		&GEMVBench{Name: "f32-sgemm", Bytes: nb, Copies: c, Run: func(i int) { MatMulTransB(y, x, ws[i], 1, k, n) }, Stream: f32Stream})

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
	out = append(out, &GEMVBench{Name: "w8", Bytes: nb, Copies: c,
		Run:    func(i int) { GEMVW8(y, x, w8[i], rs, n, k, k) },
		Stream: func(i int) { StreamBytes(w8[i], f32Bytes(rs)) }})

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
		stream := func(i int) { StreamBytes(data[i], u16Bytes(sc[i]), zs[i]) }
		add := func(name string, run func(i int)) {
			out = append(out, &GEMVBench{Name: name, Bytes: nb, Copies: c, Run: run, Stream: stream})
		}
		if bits == 4 {
			add("w4", func(i int) { GEMVW4(y, x, data[i], sc[i], zs[i], n, k, 128) })
			if variants {
				add("w4-a32", func(i int) { GEMVW4Act(y, x, data[i], sc[i], zs[i], n, k, 128, 32) })
				add("w4-float", func(i int) { GEMVW4Float(y, x, data[i], sc[i], zs[i], n, k, 128) })
			}
		} else {
			add("w3", func(i int) { GEMVW3(y, x, data[i], sc[i], zs[i], n, k, 128) })
			if variants {
				add("w3-float", func(i int) { GEMVW3Float(y, x, data[i], sc[i], zs[i], n, k, 128) })
				add("w3-a32", func(i int) { GEMVW3Act(y, x, data[i], sc[i], zs[i], n, k, 128, 32) })
			}
		}
	}
	return out
}
