package kernels

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"
)

var rowSizes = []int{1, 2, 3, 7, 17, 64, 127, 896, 1001}

func randRow(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

func TestRMSNormProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range rowSizes {
		x := randRow(r, n, 5)
		w := randRow(r, n, 1)
		// Unit weight: the output has root-mean-square 1 (eps tiny).
		y := make([]float32, n)
		RMSNorm(y, x, nil, 1e-12)
		var ss float64
		for _, v := range y {
			ss += float64(v) * float64(v)
		}
		if !near(math.Sqrt(ss/float64(n)), 1, 1e-5) {
			t.Fatalf("n=%d: rms of RMSNorm output = %g", n, math.Sqrt(ss/float64(n)))
		}
		// With weight: scale invariance of the input, weight applied per channel.
		x2 := make([]float32, n)
		for i := range x {
			x2[i] = 3 * x[i]
		}
		RMSNorm(x2, x2, w, 1e-12) // aliasing dst == x
		for i := range y {
			if !near(float64(x2[i]), float64(w[i]*y[i]), 1e-5) {
				t.Fatalf("n=%d i=%d: %g, want %g", n, i, x2[i], w[i]*y[i])
			}
		}
	}
	// eps matters when the row is tiny: x = [1e-3] with eps 1e-6 gives 1e-3/sqrt(1e-6+1e-6).
	y := []float32{0}
	RMSNorm(y, []float32{1e-3}, nil, 1e-6)
	if !near(float64(y[0]), 1e-3/math.Sqrt(2e-6), 1e-6) {
		t.Fatalf("eps: %g", y[0])
	}
}

func TestLayerNormProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range rowSizes[1:] {
		x := randRow(r, n, 4)
		for i := range x {
			x[i] += 10 // a large mean must not hurt precision
		}
		y := make([]float32, n)
		LayerNorm(y, x, nil, nil, 1e-12)
		var s, ss float64
		for _, v := range y {
			s += float64(v)
		}
		for _, v := range y {
			ss += (float64(v) - s/float64(n)) * (float64(v) - s/float64(n))
		}
		if math.Abs(s/float64(n)) > 1e-5 || !near(ss/float64(n), 1, 1e-4) {
			t.Fatalf("n=%d: mean %g var %g", n, s/float64(n), ss/float64(n))
		}
		w, b := randRow(r, n, 1), randRow(r, n, 1)
		z := append([]float32(nil), x...)
		LayerNorm(z, z, w, b, 1e-12)
		for i := range z {
			if !near(float64(z[i]), float64(y[i]*w[i]+b[i]), 1e-5) {
				t.Fatalf("n=%d i=%d: affine %g, want %g", n, i, z[i], y[i]*w[i]+b[i])
			}
		}
	}
	// Hand-worked: x = [1, 2, 3, 4]: mean 2.5, var 1.25; eps 0.25 -> divide by sqrt(1.5).
	y := make([]float32, 4)
	LayerNorm(y, []float32{1, 2, 3, 4}, []float32{1, 1, 2, 2}, []float32{0, 1, 0, 1}, 0.25)
	d := math.Sqrt(1.5)
	want := []float64{-1.5 / d, -0.5/d + 1, 2 * 0.5 / d, 2*1.5/d + 1}
	for i := range y {
		if !near(float64(y[i]), want[i], 1e-6) {
			t.Fatalf("LayerNorm hand case: %v, want %v", y, want)
		}
	}
}

func TestSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range rowSizes {
		x := randRow(r, n, 30)
		x[0] = 1e4 // huge logits must not overflow
		orig := append([]float32(nil), x...)
		Softmax(x)
		var s float64
		for i, v := range x {
			s += float64(v)
			if i > 0 && orig[i] > orig[0] {
				t.Fatal("test setup")
			}
		}
		if !near(s, 1, 1e-5) {
			t.Fatalf("n=%d: softmax sums to %g", n, s)
		}
		lse := LogSumExp(orig)
		for i, v := range x {
			want := math.Exp(float64(orig[i]) - lse)
			if math.Abs(float64(v)-want) > 1e-6 {
				t.Fatalf("n=%d i=%d: %g, want %g", n, i, v, want)
			}
		}
	}
	inf := float32(math.Inf(-1))
	x := []float32{0, inf, 0, inf}
	Softmax(x)
	if x[0] != 0.5 || x[1] != 0 || x[2] != 0.5 || x[3] != 0 {
		t.Fatalf("masked softmax = %v", x)
	}
	x = []float32{inf, inf}
	Softmax(x)
	if x[0] != 0 || x[1] != 0 {
		t.Fatalf("all-masked softmax = %v", x)
	}
	if got := LogSumExp([]float32{0, 0, 0, 0}); !near(got, math.Log(4), 1e-12) {
		t.Fatalf("LogSumExp zeros = %g", got)
	}
}

func TestActivations(t *testing.T) {
	// Values from the definitions, worked to 10 digits.
	cases := []struct {
		x, silu, geluTanh, gelu float64
	}{
		{0, 0, 0, 0},
		{1, 0.7310585786, 0.8411919906, 0.8413447461},
		{-1, -0.2689414214, -0.1588080094, -0.1586552539},
		{3, 2.8577223804, 2.9963627834, 2.9959507583},
		{-6, -0.0148357389, -0.0000000000, -0.0000000059},
	}
	for _, c := range cases {
		in := []float32{float32(c.x)}
		out := make([]float32, 1)
		SiLU(out, in)
		if math.Abs(float64(out[0])-c.silu) > 1e-6 {
			t.Errorf("SiLU(%g) = %.10f, want %.10f", c.x, out[0], c.silu)
		}
		GELUTanh(out, in)
		if math.Abs(float64(out[0])-c.geluTanh) > 1e-6 {
			t.Errorf("GELUTanh(%g) = %.10f, want %.10f", c.x, out[0], c.geluTanh)
		}
		GELU(out, in)
		if math.Abs(float64(out[0])-c.gelu) > 1e-6 {
			t.Errorf("GELU(%g) = %.10f, want %.10f", c.x, out[0], c.gelu)
		}
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range rowSizes {
		g, u := randRow(r, n, 3), randRow(r, n, 3)
		s := make([]float32, n)
		SiLU(s, g)
		d := make([]float32, n)
		SwiGLU(d, g, u)
		for i := range d {
			if !near(float64(d[i]), float64(s[i]*u[i]), 1e-6) {
				t.Fatalf("SwiGLU n=%d i=%d", n, i)
			}
			// Against float64: x·σ(x)·up.
			x := float64(g[i])
			if want := x / (1 + math.Exp(-x)) * float64(u[i]); !near(float64(d[i]), want, 1e-6) {
				t.Fatalf("SwiGLU(%g, %g) = %g, want %g", g[i], u[i], d[i], want)
			}
		}
		// In place over either input gives the same values.
		for _, in := range []int{0, 1} {
			gg, uu := slices.Clone(g), slices.Clone(u)
			dst := [][]float32{gg, uu}[in]
			SwiGLU(dst, gg, uu)
			if !slices.Equal(dst, d) {
				t.Fatalf("SwiGLU n=%d in place over input %d differs", n, in)
			}
		}
		// The tanh form approximates the exact GELU to ~1e-3.
		a, b := make([]float32, n), make([]float32, n)
		GELUTanh(a, g)
		GELU(b, g)
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 2e-3 {
				t.Fatalf("GELUTanh vs GELU at %g: %g vs %g", g[i], a[i], b[i])
			}
		}
	}
}

// TestRoPE checks the half-split rotation against complex multiplication:
// pairing z_i = x[i] + j·x[i+d/2], RoPE is z_i · e^{j·pos·θ^(-2i/d)}.
func TestRoPE(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, dim := range []int{2, 8, 64, 128} {
		for _, pos := range []int{0, 1, 7, 1000, 32767} {
			for _, theta := range []float64{1e4, 1e6} {
				x := randRow(r, dim, 1)
				h := dim / 2
				cos, sin := make([]float32, h), make([]float32, h)
				RoPEAngles(cos, sin, pos, theta, dim)
				y := append([]float32(nil), x...)
				RoPE(y, cos, sin)
				for i := 0; i < h; i++ {
					ang := float64(pos) * math.Pow(theta, -2*float64(i)/float64(dim))
					z := complex(float64(x[i]), float64(x[i+h])) * cmplx.Exp(complex(0, ang))
					// float32 angles lose precision at large pos·freq: tolerance grows with it.
					tol := 1e-5 + 4e-7*ang
					if math.Abs(float64(y[i])-real(z)) > tol || math.Abs(float64(y[i+h])-imag(z)) > tol {
						t.Fatalf("dim=%d pos=%d theta=%g i=%d: (%g,%g), want (%g,%g)", dim, pos, theta, i, y[i], y[i+h], real(z), imag(z))
					}
				}
				RoPEInverse(y, cos, sin)
				for i := range y {
					if math.Abs(float64(y[i]-x[i])) > 1e-5 {
						t.Fatalf("inverse: dim=%d pos=%d: %v vs %v", dim, pos, y, x)
					}
				}
			}
		}
	}
}

// TestRoPEInverseIsAdjoint checks the backward claim: <RoPE(x), g> = <x, RoPEInverse(g)>.
func TestRoPEInverseIsAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	dim := 32
	cos, sin := make([]float32, dim/2), make([]float32, dim/2)
	RoPEAngles(cos, sin, 5, 1e6, dim)
	x, g := randRow(r, dim, 1), randRow(r, dim, 1)
	rx := append([]float32(nil), x...)
	RoPE(rx, cos, sin)
	ig := append([]float32(nil), g...)
	RoPEInverse(ig, cos, sin)
	var a, b float64
	for i := range x {
		a += float64(rx[i]) * float64(g[i])
		b += float64(x[i]) * float64(ig[i])
	}
	if !near(a, b, 1e-5) {
		t.Fatalf("<RoPE x, g> = %g, <x, RoPEInverse g> = %g", a, b)
	}
}
