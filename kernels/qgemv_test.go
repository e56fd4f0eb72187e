package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// qgemvCase is one quantized GEMV conformance case.
type qgemvCase struct{ n, k, group int }

// guardedY returns y (len n, cap n) inside a buffer of sentinels, and a
// check that the sentinels survived.
func guardedY(t *testing.T, n int) ([]float32, func()) {
	buf := make([]float32, n+2*guard)
	for i := range buf {
		buf[i] = sentinel
	}
	y := buf[guard : guard+n : guard+n]
	return y, func() {
		t.Helper()
		for i := range guard {
			if math.Float32bits(buf[i]) != math.Float32bits(sentinel) ||
				math.Float32bits(buf[guard+n+i]) != math.Float32bits(sentinel) {
				t.Fatalf("guard band overwritten")
			}
		}
	}
}

// qData is a random packed weight with its dequantized form.
type qData struct {
	n, k, group int
	data        []byte
	scales      []uint16
	zeros       []uint8
	w           []float32 // dequantized [n*k], decoded from the layout diagram
}

// decodeW4 / decodeW3 read code c of a row from its bytes per the diagrams
// of quant/pack.go (independently of the packers and kernels).
func decodeW4(row []byte, c int) int {
	u, i := c/64, c%64
	b := row[u*32+i%32]
	if i < 32 {
		return int(b & 15)
	}
	return int(b >> 4)
}

func decodeW3(row []byte, c int) int {
	u, j := c/128, c%128
	unit := row[u*48 : u*48+48]
	lo := int(unit[j%32]>>(2*(j/32))) & 3
	hi := int(unit[32+j%16]>>(j/16)) & 1
	return lo | hi<<2
}

func newQData(rng *rand.Rand, bits int, c qgemvCase) *qData {
	d := &qData{n: c.n, k: c.k, group: c.group}
	stride := c.k * bits / 8
	d.data = make([]byte, c.n*stride)
	for i := range d.data {
		d.data[i] = byte(rng.IntN(256))
	}
	ng := c.n * c.k / c.group
	d.scales = make([]uint16, ng)
	d.zeros = make([]uint8, ng)
	for i := range d.scales {
		d.scales[i] = floatToHalfTest(float32(0.001 + 0.1*rng.Float64()))
		d.zeros[i] = uint8(rng.IntN(1 << bits))
	}
	d.w = make([]float32, c.n*c.k)
	for r := 0; r < c.n; r++ {
		row := d.data[r*stride : (r+1)*stride]
		for col := 0; col < c.k; col++ {
			var q int
			if bits == 4 {
				q = decodeW4(row, col)
			} else {
				q = decodeW3(row, col)
			}
			gi := r*(c.k/c.group) + col/c.group
			d.w[r*c.k+col] = float32(q-int(d.zeros[gi])) * halfToFloat(d.scales[gi])
		}
	}
	return d
}

// floatToHalfTest rounds a normal positive float32 to binary16 (truncating
// the mantissa is fine for test data).
func floatToHalfTest(f float32) uint16 {
	b := math.Float32bits(f)
	exp := int(b>>23&0xff) - 127 + 15
	return uint16(exp)<<10 | uint16(b>>13&0x3ff)
}

func randVec(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
		if rng.IntN(50) == 0 {
			x[i] *= 20 // outliers
		}
	}
	return x
}

// refGEMV returns Σ w·x in float64 and Σ|w·x| per row.
func refGEMV(w, x []float32, n, k int) (y, mag []float64) {
	y, mag = make([]float64, n), make([]float64, n)
	for r := 0; r < n; r++ {
		for c := 0; c < k; c++ {
			p := float64(w[r*k+c]) * float64(x[c])
			y[r] += p
			mag[r] += math.Abs(p)
		}
	}
	return y, mag
}

// dequantAct returns x̂ (the int8 activations of q times their scales) and
// the per-element bound d_b/2.
func dequantAct(x []float32, ab int) (xh, half []float32) {
	k := len(x)
	q := getQact(roundUp(k, ab), 0)
	defer qactPool.Put(q)
	q.quantize(x, 0, ab)
	xh, half = make([]float32, k), make([]float32, k)
	for c := range k {
		xh[c] = float32(q.a[c]) * q.d[c/32]
		half[c] = q.d[c/32] / 2
	}
	return xh, half
}

var w4Cases = []qgemvCase{{1, 64, 64}, {3, 128, 128}, {17, 256, 128}, {5, 192, 64}, {33, 512, 256}, {130, 1152, 128}, {301, 1152, 128}, {2, 384, 384}, {3, 16896, 128}, {2, 9216, 1152}}
var w3Cases = []qgemvCase{{1, 128, 128}, {3, 256, 128}, {17, 384, 128}, {7, 512, 256}, {130, 1152, 128}, {301, 1152, 128}, {2, 384, 384}, {3, 16896, 128}, {2, 9216, 1152}}

type groupFn func(y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group int)

// checkInt8Act checks an int8-activation kernel's y against W'·x̂ (tight)
// and against W'·x within the documented bound Σ|W'|·d_b/2.
func checkInt8Act(t *testing.T, name string, y []float32, d *qData, x []float32, ab int) {
	t.Helper()
	xh, half := dequantAct(x, ab)
	yh, mag := refGEMV(d.w, xh, d.n, d.k)
	y0, _ := refGEMV(d.w, x, d.n, d.k)
	for r := 0; r < d.n; r++ {
		if diff := math.Abs(float64(y[r]) - yh[r]); diff > 2e-6*mag[r]+1e-30 {
			t.Fatalf("%s n=%d k=%d g=%d: y[%d] = %v, want %v (W'·x̂), |diff| %g > %g", name, d.n, d.k, d.group, r, y[r], yh[r], diff, 2e-6*mag[r])
		}
		var bound float64
		for c := 0; c < d.k; c++ {
			bound += math.Abs(float64(d.w[r*d.k+c])) * float64(half[c])
		}
		bound = bound*(1+1e-6) + 2e-6*mag[r]
		if diff := math.Abs(float64(y[r]) - y0[r]); diff > bound {
			t.Fatalf("%s n=%d k=%d: y[%d] = %v, exact %v: error %g above the bound %g", name, d.n, d.k, r, y[r], y0[r], diff, bound)
		}
	}
}

func runGroupCases(t *testing.T, name string, bits int, cases []qgemvCase, fn groupFn, float bool, ab int) {
	rng := rand.New(rand.NewPCG(uint64(bits), 7))
	for _, c := range cases {
		d := newQData(rng, bits, c)
		x := randVec(rng, c.k+5)[:c.k]
		y, check := guardedY(t, c.n)
		fn(y, x, d.data, d.scales, d.zeros, c.n, c.k, c.group)
		check()
		if float {
			want, mag := refGEMV(d.w, x, c.n, c.k)
			for r := range want {
				if diff := math.Abs(float64(y[r]) - want[r]); diff > 2e-6*mag[r]+1e-30 {
					t.Fatalf("%s n=%d k=%d g=%d: y[%d] = %v, want %v", name, c.n, c.k, c.group, r, y[r], want[r])
				}
			}
		} else {
			checkInt8Act(t, name, y, d, x, ab)
		}
	}
}

// withGo runs f with the assembly kernels disabled (the pure-Go twins).
func withGo(f func()) {
	saved := useQAVX2Flag()
	setQAVX2(false)
	defer setQAVX2(saved)
	f()
}

// actFn binds an activation block to a *Act GEMV.
func actFn(f func(y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group, ab int), ab int) groupFn {
	return func(y, x []float32, data []byte, scales []uint16, zeros []uint8, n, k, group int) {
		f(y, x, data, scales, zeros, n, k, group, ab)
	}
}

func TestGEMVW4(t *testing.T) {
	var c128 []qgemvCase
	for _, c := range w4Cases {
		if c.group%128 == 0 {
			c128 = append(c128, c)
		}
	}
	runGroupCases(t, "GEMVW4/32", 4, w4Cases, actFn(GEMVW4Act, 32), false, 32)
	runGroupCases(t, "GEMVW4/128", 4, c128, actFn(GEMVW4Act, 128), false, 128)
	runGroupCases(t, "GEMVW4", 4, c128, GEMVW4, false, 128)
	withGo(func() {
		runGroupCases(t, "GEMVW4/32/go", 4, w4Cases, actFn(GEMVW4Act, 32), false, 32)
		runGroupCases(t, "GEMVW4/128/go", 4, c128, actFn(GEMVW4Act, 128), false, 128)
	})
}

func TestGEMVW3(t *testing.T) {
	runGroupCases(t, "GEMVW3/32", 3, w3Cases, actFn(GEMVW3Act, 32), false, 32)
	runGroupCases(t, "GEMVW3/128", 3, w3Cases, actFn(GEMVW3Act, 128), false, 128)
	runGroupCases(t, "GEMVW3", 3, w3Cases, GEMVW3, false, 128)
	withGo(func() {
		runGroupCases(t, "GEMVW3/32/go", 3, w3Cases, actFn(GEMVW3Act, 32), false, 32)
		runGroupCases(t, "GEMVW3/128/go", 3, w3Cases, actFn(GEMVW3Act, 128), false, 128)
	})
}

func TestGEMVW4Float(t *testing.T) {
	runGroupCases(t, "GEMVW4Float", 4, w4Cases, GEMVW4Float, true, 0)
	withGo(func() { runGroupCases(t, "GEMVW4Float/go", 4, w4Cases, GEMVW4Float, true, 0) })
	runGroupCases(t, "GEMVW3Float", 3, w3Cases, GEMVW3Float, true, 0)
	withGo(func() { runGroupCases(t, "GEMVW3Float/go", 3, w3Cases, GEMVW3Float, true, 0) })
}

// TestGEMVSlabs reruns the int8-activation kernels with rows cut into
// slabs of 1024 columns (accumulating into y).
func TestGEMVSlabs(t *testing.T) {
	saved := qSlabCodes
	qSlabCodes = 1024
	defer func() { qSlabCodes = saved }()
	TestGEMVW4(t)
	TestGEMVW3(t)
	TestGEMVW4Float(t)
	TestGEMVW8(t)
}

func TestGEMVW8(t *testing.T) {
	run := func(name string) {
		rng := rand.New(rand.NewPCG(8, 8))
		for _, c := range [][2]int{{1, 1}, {3, 31}, {17, 33}, {130, 100}, {5, 64}, {64, 1000}, {301, 1111}, {3, 17000}} {
			n, k := c[0], c[1]
			stride := roundUp(k, 32)
			data := make([]byte, n*stride)
			d := &qData{n: n, k: k, group: k, w: make([]float32, n*k)}
			scales := make([]float32, n)
			for r := range n {
				scales[r] = float32(0.001 + 0.01*rng.Float64())
				for col := range k {
					q := rng.IntN(255) - 127
					if rng.IntN(100) == 0 {
						q = -128
					}
					data[r*stride+col] = byte(int8(q))
					d.w[r*k+col] = float32(q) * scales[r]
				}
			}
			x := randVec(rng, k)
			y, check := guardedY(t, n)
			GEMVW8(y, x, data, scales, n, k, stride)
			check()
			checkInt8Act(t, name, y, d, x, 32)
		}
	}
	run("GEMVW8")
	withGo(func() { run("GEMVW8/go") })
}

func TestGEMVF32(t *testing.T) {
	run := func(name string) {
		rng := rand.New(rand.NewPCG(3, 2))
		for _, n := range []int{1, 3, 4, 5, 17, 130, 1031} {
			for _, k := range []int{1, 15, 16, 17, 100, 1000} {
				ldw := k + 3
				w := randVec(rng, n*ldw)
				x := randVec(rng, k)
				y, check := guardedY(t, n)
				GEMVF32(y, x, w, n, k, ldw)
				check()
				for r := range n {
					var want, mag float64
					for c := range k {
						p := float64(w[r*ldw+c]) * float64(x[c])
						want += p
						mag += math.Abs(p)
					}
					if math.Abs(float64(y[r])-want) > 1e-6*mag+1e-30 {
						t.Fatalf("%s n=%d k=%d: y[%d] = %v, want %v", name, n, k, r, y[r], want)
					}
				}
			}
		}
	}
	run("GEMVF32")
	withGo(func() { run("GEMVF32/go") })
}

func TestStreamBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{0, 8, 128, 136, 1 << 12, 100000 * 8} {
		b := make([]byte, n)
		var want uint64
		for i := 0; i+8 <= n; i += 8 {
			if rng.IntN(64) == 0 { // sparse bits, so that a missed word shows
				b[i+rng.IntN(8)] = 1 << rng.IntN(8)
			}
			for j := range 8 {
				want |= uint64(b[i+j]) << (8 * j)
			}
		}
		if got := StreamBytes(b); got != want {
			t.Fatalf("StreamBytes(%d bytes) = %#x, want %#x", n, got, want)
		}
	}
}

func TestQGEMVPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	y, x := make([]float32, 4), make([]float32, 128)
	mustPanic("group not multiple of 64", func() { GEMVW4(y, x, make([]byte, 256), make([]uint16, 8), make([]uint8, 8), 4, 128, 32) })
	mustPanic("short data", func() { GEMVW4(y, x, make([]byte, 100), make([]uint16, 4), make([]uint8, 4), 4, 128, 128) })
	mustPanic("W3 group", func() { GEMVW3(y, x, make([]byte, 256), make([]uint16, 8), make([]uint8, 8), 4, 128, 64) })
	mustPanic("short y", func() { GEMVW8(y[:2], x, make([]byte, 512), make([]float32, 4), 4, 128, 128) })
	mustPanic("W8 stride", func() { GEMVW8(y, x, make([]byte, 512), make([]float32, 4), 4, 100, 100) })
	_ = runtime.GOMAXPROCS(0)
}

// TestQuantizeAct checks the AVX2 activation quantizer against the Go one,
// bit for bit, on blocks with zeros, ties and outliers.
func TestQuantizeAct(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, ab := range []int{32, 128} {
		for _, k := range []int{ab, 4 * ab, 1152, 1000} {
			kp := roundUp(k, ab)
			x := randVec(rng, k)
			clear(x[:min(k, 32)]) // an all-zero block
			for i := 40; i < min(k, 60); i++ {
				x[i] = float32(i%5) - 2.5 // ties after scaling by 127/2.5? a mix anyway
			}
			g := 0
			if k%128 == 0 {
				g = 128
			}
			run := func() *qact {
				q := &qact{}
				q.a, q.d = make([]int8, kp), make([]float32, kp/32)
				q.xsn, q.f = make([]float32, kp/128+1), nil
				q.quantize(x, g, ab)
				return q
			}
			fast := run()
			var slow *qact
			withGo(func() { slow = run() })
			for i := range fast.a {
				if fast.a[i] != slow.a[i] {
					t.Fatalf("ab=%d k=%d: a[%d] = %d, Go %d (x %v)", ab, k, i, fast.a[i], slow.a[i], x[min(i, k-1)])
				}
			}
			for i := range fast.d {
				if fast.d[i] != slow.d[i] {
					t.Fatalf("ab=%d k=%d: d[%d] = %v, Go %v", ab, k, i, fast.d[i], slow.d[i])
				}
			}
			for i := range fast.xsn {
				if fast.xsn[i] != slow.xsn[i] {
					t.Fatalf("ab=%d k=%d: xsn[%d] = %v, Go %v", ab, k, i, fast.xsn[i], slow.xsn[i])
				}
			}
		}
	}
}
