package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// The conformance suite: every implementation (and small-block variants of
// the packed ones, which cross every block boundary and run several
// goroutines even on small sizes) is compared with "ref" on all transpose
// combinations, alpha/beta variants and awkward sizes, with every matrix
// embedded in a buffer of sentinels that must come back unchanged.

// gemmsUnderTest returns Implementations() plus, for each packed
// implementation, a tiny-block variant that always packs and one that
// always reads B in place.
func gemmsUnderTest() []GEMM {
	out := Implementations()
	for _, g := range Implementations() {
		p, ok := g.(*packedGEMM)
		if !ok {
			continue
		}
		v := newPackedGEMM(p.name+"/tiny-blocks", p.kernel, p.dot, p.axpy)
		v.mc, v.kc, v.nc = 12, 11, 32
		v.direct, v.skinny = -1, 0 // always pack
		v.parMin, v.threads = 0, 3
		v.inPlaceMaxM, v.packBT16 = 0, p.packBT16
		out = append(out, v)
		// B read in place: A·B through the micro-kernel without packing B,
		// A·Bᵀ through the dot-block kernel where there is one, for every m
		// and with short k blocks.
		w := newPackedGEMM(p.name+"/in-place", p.kernel, p.dot, p.axpy)
		w.mc, w.kc, w.nc = 18, 13, 48
		w.direct, w.skinny = -1, 0
		w.parMin, w.threads = 0, 3
		w.inPlaceMaxM = 1 << 30
		w.nt, w.ntMaxM, w.ntMinK, w.ntKC = p.nt, 1<<30, 8, 16
		out = append(out, w)
	}
	return out
}

// sentinel is a NaN with a payload: reading it into a result poisons the
// result, and writing over it is seen by a bitwise comparison.
var sentinel = math.Float32frombits(0x7fc0_dead)

const guard = 19 // sentinels before and after each matrix

// matBuf is an r×c matrix with leading dimension ld inside a guarded buffer.
type matBuf struct {
	r, c, ld int
	buf      []float32
}

func newMatBuf(r, c, ld int) *matBuf {
	n := 0
	if r > 0 && c > 0 {
		n = (r-1)*ld + c
	}
	m := &matBuf{r: r, c: c, ld: ld, buf: make([]float32, n+2*guard)}
	for i := range m.buf {
		m.buf[i] = sentinel
	}
	return m
}

// slice is what is passed to Sgemm: exactly the minimal length, capacity
// capped, so that a Go implementation reading past it panics.
func (m *matBuf) slice() []float32 {
	n := len(m.buf) - 2*guard
	return m.buf[guard : guard+n : guard+n]
}

func (m *matBuf) at(i, j int) *float32 { return &m.buf[guard+i*m.ld+j] }

func (m *matBuf) fill(rng *rand.Rand) {
	for i := 0; i < m.r; i++ {
		for j := 0; j < m.c; j++ {
			*m.at(i, j) = float32(rng.Float64()*2 - 1)
		}
	}
}

func (m *matBuf) fillValue(v float32) {
	for i := 0; i < m.r; i++ {
		for j := 0; j < m.c; j++ {
			*m.at(i, j) = v
		}
	}
}

func (m *matBuf) clone() *matBuf {
	c := *m
	c.buf = append([]float32(nil), m.buf...)
	return &c
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra columns in every leading dimension
	nanA           bool
}

func (tc gemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	s := fmt.Sprintf("%s%s/%dx%dx%d/a=%g,b=%g/pad=%d", t(tc.transA), t(tc.transB), tc.m, tc.k, tc.n, tc.alpha, tc.beta, tc.pad)
	if tc.nanA {
		s += "/nanA"
	}
	return s
}

// inputs builds A, B and C for a case; C is NaN inside its window when
// beta == 0, since it must not be read.
func (tc gemmCase) inputs(seed uint64) (a, b, c *matBuf) {
	rng := rand.New(rand.NewPCG(seed, 0x6d6271))
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	a = newMatBuf(ar, ac, max(1, ac)+tc.pad)
	b = newMatBuf(br, bc, max(1, bc)+2*tc.pad)
	c = newMatBuf(tc.m, tc.n, max(1, tc.n)+3*tc.pad)
	a.fill(rng)
	b.fill(rng)
	if tc.nanA {
		a.fillValue(float32(math.NaN()))
	}
	if tc.beta == 0 {
		c.fillValue(float32(math.NaN()))
	} else {
		c.fill(rng)
	}
	return a, b, c
}

// bound returns |alpha|*sum_p |op(A)(i,p)*op(B)(p,j)| + |beta*C(i,j)|, the
// scale of the rounding error of element (i, j).
func (tc gemmCase) bound(a, b, c0 *matBuf, i, j int) float64 {
	var s float64
	if tc.alpha != 0 {
		for p := 0; p < tc.k; p++ {
			var x, y *float32
			if tc.transA {
				x = a.at(p, i)
			} else {
				x = a.at(i, p)
			}
			if tc.transB {
				y = b.at(j, p)
			} else {
				y = b.at(p, j)
			}
			s += math.Abs(float64(*x) * float64(*y))
		}
		s *= math.Abs(float64(tc.alpha))
	}
	if tc.beta != 0 {
		s += math.Abs(float64(tc.beta) * float64(*c0.at(i, j)))
	}
	return s
}

func run(g GEMM, tc gemmCase, a, b, c *matBuf) {
	g.Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a.slice(), a.ld, b.slice(), b.ld, tc.beta, c.slice(), c.ld)
}

// checkCase runs one case on every implementation and compares with ref.
func checkCase(t *testing.T, gemms []GEMM, tc gemmCase, seed uint64) {
	t.Helper()
	a, b, c0 := tc.inputs(seed)
	want := c0.clone()
	run(refGEMM{}, tc, a, b, want)
	a0, b0 := a.clone(), b.clone()
	bounds := make([]float64, tc.m*tc.n)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			bounds[i*tc.n+j] = tc.bound(a, b, c0, i, j)
		}
	}
	for _, g := range gemms {
		c := c0.clone()
		run(g, tc, a, b, c)
		for i := range a.buf {
			if math.Float32bits(a.buf[i]) != math.Float32bits(a0.buf[i]) {
				t.Fatalf("%s %v: A modified at buffer index %d", g.Name(), tc, i)
			}
		}
		for i := range b.buf {
			if math.Float32bits(b.buf[i]) != math.Float32bits(b0.buf[i]) {
				t.Fatalf("%s %v: B modified at buffer index %d", g.Name(), tc, i)
			}
		}
		// Outside the m×n window: bit-identical to before the call.
		inWindow := func(idx int) bool {
			idx -= guard
			if idx < 0 || tc.m == 0 || tc.n == 0 {
				return false
			}
			i, j := idx/c.ld, idx%c.ld
			return i < tc.m && j < tc.n
		}
		for idx := range c.buf {
			if !inWindow(idx) && math.Float32bits(c.buf[idx]) != math.Float32bits(c0.buf[idx]) {
				t.Fatalf("%s %v: C modified outside its window at buffer index %d", g.Name(), tc, idx)
			}
		}
		tol := float64(tc.k+4) * 0x1p-23
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				got, exp := float64(*c.at(i, j)), float64(*want.at(i, j))
				if math.IsNaN(got) || math.IsInf(got, 0) {
					t.Fatalf("%s %v: C[%d][%d] = %v, want %v", g.Name(), tc, i, j, got, exp)
				}
				if d := math.Abs(got - exp); d > tol*bounds[i*tc.n+j]+1e-30 {
					t.Fatalf("%s %v: C[%d][%d] = %v, want %v (|diff| %.3g > tol %.3g)", g.Name(), tc, i, j, got, exp, d, tol*bounds[i*tc.n+j])
				}
			}
		}
	}
}

var alphaBetas = [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {0.75, -1.25}, {2, 0}, {1, -1}}

var transposes = [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}

// TestSgemmSmallCube runs every triple of small sizes, every transpose
// combination, cycling through the alpha/beta pairs and leading-dimension
// paddings.
func TestSgemmSmallCube(t *testing.T) {
	gemms := gemmsUnderTest()
	sizes := []int{1, 2, 3, 5, 7, 13, 17}
	n := 0
	for _, tr := range transposes {
		for _, m := range sizes {
			for _, nn := range sizes {
				for _, k := range sizes {
					ab := alphaBetas[n%len(alphaBetas)]
					tc := gemmCase{transA: tr[0], transB: tr[1], m: m, n: nn, k: k, alpha: ab[0], beta: ab[1], pad: n % 3}
					checkCase(t, gemms, tc, uint64(n))
					n++
				}
			}
		}
	}
}

// TestSgemmAwkward runs larger odd sizes (around the 6×16 tile and the block
// sizes) on every transpose combination and alpha/beta pair.
func TestSgemmAwkward(t *testing.T) {
	gemms := gemmsUnderTest()
	shapes := [][3]int{ // m, n, k
		{31, 63, 65}, {63, 31, 127}, {65, 129, 13}, {127, 17, 255}, {129, 65, 31},
		{255, 33, 17}, {257, 18, 7}, {17, 257, 5}, {7, 255, 129}, {96, 4096 + 17, 3},
		{65, 127, 257}, {97, 33, 300}, {13, 5, 513}, {1, 257, 255}, {257, 1, 127},
		{2, 129, 63}, {129, 2, 65}, {3, 1000, 17}, {6, 16, 256}, {12, 32, 512},
		// Large enough (m·n·k >= parMin) for the default implementations to
		// split the direct, the dot-block and the packed paths across
		// goroutines.
		{1, 2100, 2050}, {2050, 1, 2100}, {13, 1200, 300}, {40, 350, 330},
	}
	n := 0
	for _, s := range shapes {
		for _, tr := range transposes {
			ab := alphaBetas[n%len(alphaBetas)]
			tc := gemmCase{transA: tr[0], transB: tr[1], m: s[0], n: s[1], k: s[2], alpha: ab[0], beta: ab[1], pad: (n % 4) * 3}
			t.Run(tc.String(), func(t *testing.T) { checkCase(t, gemms, tc, uint64(1000+n)) })
			n++
		}
	}
}

// TestSgemmAlphaBeta runs every alpha/beta pair on one shape for every
// transpose combination, on a shape large enough for several blocks and
// goroutines in the default packed implementations.
func TestSgemmAlphaBeta(t *testing.T) {
	gemms := gemmsUnderTest()
	n := 0
	for _, tr := range transposes {
		for _, ab := range alphaBetas {
			tc := gemmCase{transA: tr[0], transB: tr[1], m: 131, n: 147, k: 301, alpha: ab[0], beta: ab[1], pad: 1}
			t.Run(tc.String(), func(t *testing.T) { checkCase(t, gemms, tc, uint64(2000+n)) })
			n++
		}
	}
}

// TestSgemmQuickReturns: k == 0 and alpha == 0 give C = beta*C without
// reading A or B (A full of NaN here); m == 0 or n == 0 touch nothing.
func TestSgemmQuickReturns(t *testing.T) {
	gemms := gemmsUnderTest()
	cases := []gemmCase{
		{m: 5, n: 7, k: 0, alpha: 1, beta: 0},
		{m: 5, n: 7, k: 0, alpha: 1, beta: 0.5},
		{m: 9, n: 33, k: 4, alpha: 0, beta: 0, nanA: true},
		{m: 9, n: 33, k: 4, alpha: 0, beta: 1, nanA: true, transA: true},
		{m: 9, n: 33, k: 4, alpha: 0, beta: -3, nanA: true, transB: true},
		{m: 0, n: 7, k: 3, alpha: 1, beta: 1},
		{m: 4, n: 0, k: 3, alpha: 1, beta: 1, transA: true},
		{m: 0, n: 0, k: 0, alpha: 1, beta: 0},
	}
	for i, tc := range cases {
		checkCase(t, gemms, tc, uint64(3000+i))
	}
	for _, g := range gemms {
		g.Sgemm(false, false, 0, 0, 0, 1, nil, 1, nil, 1, 0, nil, 1) // must not panic
	}
}

// TestSgemmBetaZeroInf: beta == 0 with ±Inf and NaN in C, including -0.
func TestSgemmBetaZeroInf(t *testing.T) {
	for _, g := range gemmsUnderTest() {
		for _, beta := range []float32{0, float32(math.Copysign(0, -1))} {
			m, n, k := 13, 35, 9
			a := make([]float32, m*k)
			b := make([]float32, k*n)
			c := make([]float32, m*n)
			for i := range a {
				a[i] = 1
			}
			for i := range b {
				b[i] = 2
			}
			for i := range c {
				c[i] = []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}[i%3]
			}
			g.Sgemm(false, false, m, n, k, 1, a, k, b, n, beta, c, n)
			for i, v := range c {
				if v != 18 {
					t.Fatalf("%s beta=%g: c[%d] = %v, want 18", g.Name(), beta, i, v)
				}
			}
		}
	}
}

// TestRefKnown checks the reference itself on a product worked by hand.
func TestRefKnown(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6}     // 2×3
	b := []float32{7, 8, 9, 10, 11, 12}  // 3×2
	want := []float32{58, 64, 139, 154}  // A·B
	bt := []float32{7, 9, 11, 8, 10, 12} // B stored 2×3
	at := []float32{1, 4, 2, 5, 3, 6}    // A stored 3×2
	for _, g := range gemmsUnderTest() {
		for _, tr := range transposes {
			aa, lda := a, 3
			if tr[0] {
				aa, lda = at, 2
			}
			bb, ldb := b, 2
			if tr[1] {
				bb, ldb = bt, 3
			}
			c := []float32{1, 1, 1, 1}
			g.Sgemm(tr[0], tr[1], 2, 2, 3, 2, aa, lda, bb, ldb, -1, c, 2)
			for i := range c {
				if c[i] != 2*want[i]-1 {
					t.Errorf("%s %v: c = %v, want 2*%v-1", g.Name(), tr, c, want)
					break
				}
			}
		}
	}
}

// TestSgemmPanics: contract violations panic with a constant message.
func TestSgemmPanics(t *testing.T) {
	s := func(n int) []float32 { return make([]float32, n) }
	cases := []struct {
		name           string
		transA, transB bool
		m, n, k        int
		a              []float32
		lda            int
		b              []float32
		ldb            int
		c              []float32
		ldc            int
		want           string
	}{
		{"neg m", false, false, -1, 2, 2, s(4), 2, s(4), 2, s(4), 2, "negative dimension"},
		{"neg k", false, false, 2, 2, -1, s(4), 2, s(4), 2, s(4), 2, "negative dimension"},
		{"lda", false, false, 2, 2, 3, s(6), 2, s(6), 2, s(4), 2, "bad lda"},
		{"lda trans", true, false, 3, 2, 2, s(6), 2, s(4), 2, s(6), 2, "bad lda"},
		{"ldb", false, false, 2, 3, 2, s(4), 2, s(6), 2, s(6), 3, "bad ldb"},
		{"ldb trans", false, true, 2, 2, 3, s(6), 3, s(6), 2, s(4), 2, "bad ldb"},
		{"ldc", false, false, 2, 3, 2, s(4), 2, s(6), 3, s(6), 2, "bad ldc"},
		{"short A", false, false, 2, 2, 2, s(3), 2, s(4), 2, s(4), 2, "short A"},
		{"short A trans", true, false, 2, 2, 3, s(5), 2, s(6), 2, s(4), 2, "short A"},
		{"short B", false, false, 2, 2, 2, s(4), 2, s(3), 2, s(4), 2, "short B"},
		{"short B trans", false, true, 2, 3, 2, s(4), 2, s(5), 2, s(6), 3, "short B"},
		{"short C", false, false, 2, 2, 2, s(4), 2, s(4), 2, s(3), 2, "short C"},
		{"short C ldc", false, false, 2, 2, 2, s(4), 2, s(4), 2, s(4), 3, "short C"},
	}
	for _, g := range gemmsUnderTest() {
		for _, tc := range cases {
			func() {
				defer func() {
					r := recover()
					msg, _ := r.(string)
					if !strings.HasPrefix(msg, "kernels: Sgemm: ") || !strings.Contains(msg, tc.want) {
						t.Errorf("%s %s: recovered %v, want a panic containing %q", g.Name(), tc.name, r, tc.want)
					}
				}()
				g.Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, 1, tc.a, tc.lda, tc.b, tc.ldb, 0, tc.c, tc.ldc)
			}()
		}
	}
}

// TestMatMulHelpers checks the convenience wrappers against ref.
func TestMatMulHelpers(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	m, k, n := 37, 45, 71
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		return x
	}
	a, b, c0 := rnd(m*k), rnd(k*n), rnd(m*n)
	at, bt := rnd(k*m), rnd(n*k)
	type call struct {
		name           string
		f              func(c, a, b []float32, m, k, n int)
		a, b           []float32
		transA, transB bool
		beta           float32
	}
	for _, cl := range []call{
		{"MatMul", MatMul, a, b, false, false, 0},
		{"MatMulAcc", MatMulAcc, a, b, false, false, 1},
		{"MatMulTransB", MatMulTransB, a, bt, false, true, 0},
		{"MatMulTransBAcc", MatMulTransBAcc, a, bt, false, true, 1},
		{"MatMulTransA", MatMulTransA, at, b, true, false, 0},
		{"MatMulTransAAcc", MatMulTransAAcc, at, b, true, false, 1},
	} {
		lda, ldb := k, n
		if cl.transA {
			lda = m
		}
		if cl.transB {
			ldb = k
		}
		want := append([]float32(nil), c0...)
		refGEMM{}.Sgemm(cl.transA, cl.transB, m, n, k, 1, cl.a, lda, cl.b, ldb, cl.beta, want, n)
		got := append([]float32(nil), c0...)
		cl.f(got, cl.a, cl.b, m, k, n)
		for i := range got {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
				t.Fatalf("%s: c[%d] = %v, want %v", cl.name, i, got[i], want[i])
			}
		}
	}
}

// TestDispatch checks the default rule and the MBQ_GEMM override.
func TestDispatch(t *testing.T) {
	impls := Implementations()
	if len(impls) < 2 || impls[0].Name() != "ref" || impls[1].Name() != "go" {
		t.Fatalf("Implementations() = %v, want ref, go first", names(impls))
	}
	def := "go"
	if _, ok := Lookup("avx2"); ok {
		def = "avx2"
	}
	if _, ok := Lookup("openblas"); ok {
		def = "openblas"
	}
	if avx2GEMM != nil {
		if _, ok := Lookup("avx2"); !ok {
			t.Errorf("avx2 supported but not registered")
		}
	}
	for env, want := range map[string]string{"": def, "ref": "ref", "go": "go", "nonsense": def, "AVX2": def} {
		if got := defaultGEMM(env).Name(); got != want {
			t.Errorf("defaultGEMM(%q) = %s, want %s", env, got, want)
		}
	}
	if Active() != defaultGEMM(os.Getenv(EnvGEMM)) {
		t.Errorf("Active() = %s, want the dispatch rule's %s", Active().Name(), defaultGEMM(os.Getenv(EnvGEMM)).Name())
	}
	if _, ok := Lookup("nonsense"); ok {
		t.Errorf("Lookup(nonsense) succeeded")
	}
	t.Logf("implementations %v, active %s", names(impls), Active().Name())
}

func names(gs []GEMM) []string {
	var s []string
	for _, g := range gs {
		s = append(s, g.Name())
	}
	return s
}

// TestSgemmConcurrent runs the packed implementations from several
// goroutines at once (pack buffers come from a pool); run with -race.
func TestSgemmConcurrent(t *testing.T) {
	tc := gemmCase{m: 70, n: 90, k: 110, alpha: 1, beta: 0}
	a, b, c0 := tc.inputs(9)
	want := c0.clone()
	run(refGEMM{}, tc, a, b, want)
	for _, g := range gemmsUnderTest() {
		done := make(chan *matBuf)
		for range 4 {
			go func() {
				c := c0.clone()
				for range 3 {
					run(g, tc, a, b, c)
				}
				done <- c
			}()
		}
		for range 4 {
			c := <-done
			for i := 0; i < tc.m; i++ {
				for j := 0; j < tc.n; j++ {
					if d := math.Abs(float64(*c.at(i, j) - *want.at(i, j))); d > 1e-4 {
						t.Fatalf("%s: C[%d][%d] = %v, want %v", g.Name(), i, j, *c.at(i, j), *want.at(i, j))
					}
				}
			}
		}
	}
}
