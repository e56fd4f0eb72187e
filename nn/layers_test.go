package nn

import (
	"math"
	"testing"

	"mbq/tensor"
)

func TestLinearGrad(t *testing.T) {
	rng := newRNG(1)
	for _, bias := range []bool{true, false} {
		l := NewLinear(7, 5, bias)
		l.InitNormal(rng, 0.5)
		if bias {
			fillNormal(rng, l.B.Value.Data, 0.5)
		}
		ps := l.Params("")
		AllocGrads(ps)
		x := randTensor(rng, 1, 2, 3, 7) // leading axes flatten into rows
		r := randTensor(rng, 1, 2, 3, 5)
		loss := func() float64 { return dot(l.Forward(x), r) }
		dx := l.Backward(x, r)
		checkGrad(t, "x", x.Data, dx.Data, loss, 20, rng)
		checkParams(t, ps, loss, 20, rng)
	}
}

func TestLinearForwardByHand(t *testing.T) {
	w, _ := tensor.FromData([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b, _ := tensor.FromData([]float32{10, 20}, 2)
	x, _ := tensor.FromData([]float32{1, 0, -1, 2, 1, 0}, 2, 3)
	y := LinearOf(w, b).Forward(x)
	want := []float32{1 - 3 + 10, 4 - 6 + 20, 2 + 2 + 10, 8 + 5 + 20}
	for i, v := range want {
		if y.Data[i] != v {
			t.Fatalf("y = %v, want %v", y.Data, want)
		}
	}
}

func TestLinearSkipsWeightGrads(t *testing.T) {
	rng := newRNG(2)
	l := NewLinear(4, 3, true)
	l.InitNormal(rng, 1)
	x, dy := randTensor(rng, 1, 5, 4), randTensor(rng, 1, 5, 3)
	dx := l.Backward(x, dy) // no grads allocated: must not panic
	l2 := LinearOf(l.W.Value, l.B.Value)
	AllocGrads(l2.Params(""))
	dx2 := l2.Backward(x, dy)
	for i := range dx.Data {
		if dx.Data[i] != dx2.Data[i] {
			t.Fatal("dx depends on whether weight gradients are tracked")
		}
	}
	// Accumulation: a second backward doubles the gradients; acc adds into dx.
	g1 := l2.W.Grad.Clone()
	l2.BackwardInto(dx2, x, dy, true)
	for i := range g1.Data {
		if math.Abs(float64(l2.W.Grad.Data[i]-2*g1.Data[i])) > 1e-5 {
			t.Fatal("weight gradient does not accumulate")
		}
	}
	for i := range dx.Data {
		if math.Abs(float64(dx2.Data[i]-2*dx.Data[i])) > 1e-5 {
			t.Fatal("BackwardInto with acc does not accumulate")
		}
	}
}

func TestRMSNormGrad(t *testing.T) {
	rng := newRNG(3)
	l := NewRMSNorm(9, 1e-6)
	fillNormal(rng, l.W.Value.Data, 1)
	AllocGrads(l.Params(""))
	x := randTensor(rng, 1, 40, 9) // enough rows to run in parallel
	r := randTensor(rng, 1, 40, 9)
	loss := func() float64 { return dot(l.Forward(x), r) }
	dx := l.Backward(x, r)
	checkGrad(t, "x", x.Data, dx.Data, loss, 30, rng)
	checkParams(t, l.Params(""), loss, 9, rng)
}

func TestLayerNormGrad(t *testing.T) {
	rng := newRNG(4)
	l := NewLayerNorm(11, 1e-6)
	fillNormal(rng, l.W.Value.Data, 1)
	fillNormal(rng, l.B.Value.Data, 1)
	AllocGrads(l.Params(""))
	x := randTensor(rng, 1, 40, 11)
	r := randTensor(rng, 1, 40, 11)
	loss := func() float64 { return dot(l.Forward(x), r) }
	dx := l.Backward(x, r)
	checkGrad(t, "x", x.Data, dx.Data, loss, 30, rng)
	checkParams(t, l.Params(""), loss, 11, rng)
}

func TestNormForwardByHand(t *testing.T) {
	x, _ := tensor.FromData([]float32{3, 4}, 1, 2)
	rms := NewRMSNorm(2, 0)
	rms.W.Value.Data[1] = 2
	y := rms.Forward(x) // rms = sqrt(12.5)
	s := float32(math.Sqrt(12.5))
	if math.Abs(float64(y.Data[0]-3/s)) > 1e-6 || math.Abs(float64(y.Data[1]-8/s)) > 1e-6 {
		t.Errorf("RMSNorm = %v", y.Data)
	}
	ln := NewLayerNorm(2, 0)
	ln.B.Value.Data[0] = 1
	y = ln.Forward(x) // mean 3.5, sd 0.5
	if math.Abs(float64(y.Data[0]-0)) > 1e-6 || math.Abs(float64(y.Data[1]-1)) > 1e-6 {
		t.Errorf("LayerNorm = %v", y.Data)
	}
}

func TestActivationGrads(t *testing.T) {
	rng := newRNG(5)
	for _, a := range []Activation{SiLU, GELU, GELUTanh} {
		x := randTensor(rng, 2, 64)
		r := randTensor(rng, 1, 64)
		y := like(x)
		loss := func() float64 { a.Forward(y.Data, x.Data); return dot(y, r) }
		dx := make([]float32, 64)
		a.Backward(dx, x.Data, r.Data)
		checkGrad(t, a.String(), x.Data, dx, loss, 64, rng)
		n, err := ActivationByName(a.String())
		if err != nil || n != a {
			t.Errorf("ActivationByName(%q) = %v, %v", a.String(), n, err)
		}
	}
	if _, err := ActivationByName("relu6"); err == nil {
		t.Error("ActivationByName accepted an unknown name")
	}
	// SwiGLU.
	g, u, r := randTensor(rng, 2, 64), randTensor(rng, 1, 64), randTensor(rng, 1, 64)
	y := like(g)
	loss := func() float64 { SwiGLU(y.Data, g.Data, u.Data); return dot(y, r) }
	dg, du := make([]float32, 64), make([]float32, 64)
	SwiGLUBackward(dg, du, g.Data, u.Data, r.Data)
	checkGrad(t, "swiglu gate", g.Data, dg, loss, 64, rng)
	checkGrad(t, "swiglu up", u.Data, du, loss, 64, rng)
}

func TestActivationParallelMatchesSerial(t *testing.T) {
	rng := newRNG(6)
	n := 3*elemChunk + 17
	x, dy := randTensor(rng, 2, n), randTensor(rng, 1, n)
	for _, a := range []Activation{SiLU, GELU, GELUTanh} {
		y, dx := make([]float32, n), make([]float32, n)
		a.Forward(y, x.Data)
		a.Backward(dx, x.Data, dy.Data)
		y2, dx2 := make([]float32, n), make([]float32, n)
		switch a {
		case SiLU:
			SiLUBackward(dx2, x.Data, dy.Data)
		case GELU:
			GELUBackward(dx2, x.Data, dy.Data)
		case GELUTanh:
			GELUTanhBackward(dx2, x.Data, dy.Data)
		}
		for i := 0; i < n; i += elemChunk / 3 {
			a.Forward(y2[i:i+1], x.Data[i:i+1])
			if y[i] != y2[i] || dx[i] != dx2[i] {
				t.Fatalf("%v: element %d differs between parallel and serial", a, i)
			}
		}
	}
}

func TestCrossEntropy(t *testing.T) {
	rng := newRNG(7)
	logits := randTensor(rng, 2, 6, 10)
	labels := []int{3, IgnoreIndex, 0, 9, IgnoreIndex, 5}
	loss, dl := CrossEntropy(logits, labels)
	f := func() float64 { l, _ := CrossEntropy(logits, labels); return l }
	checkGrad(t, "logits", logits.Data, dl.Data, f, 60, rng)
	// By hand: uniform logits give log V per counted row.
	u := tensor.New(3, 4)
	l, d := CrossEntropy(u, []int{1, IgnoreIndex, 2})
	if math.Abs(l-math.Log(4)) > 1e-12 {
		t.Errorf("uniform loss = %v, want log 4", l)
	}
	if d.Data[1] != (0.25-1)/2 || d.Data[0] != 0.25/2 || d.Data[4] != 0 {
		t.Errorf("uniform dlogits = %v", d.Data)
	}
	// Sum form agrees with the mean form.
	s, n := CrossEntropySum(nil, logits, labels, 1)
	if n != 4 || math.Abs(s/4-loss) > 1e-12 {
		t.Errorf("CrossEntropySum = %v, %d; mean %v", s, n, loss)
	}
	// All ignored: zero loss, zero gradient.
	l, d = CrossEntropy(u, []int{IgnoreIndex, IgnoreIndex, IgnoreIndex})
	if l != 0 || d.Data[0] != 0 {
		t.Error("all-ignored cross-entropy is not zero")
	}
	sh := ShiftLabels([]int{1, 2, 3})
	if sh[0] != 2 || sh[1] != 3 || sh[2] != IgnoreIndex {
		t.Errorf("ShiftLabels = %v", sh)
	}
}

func TestEmbedding(t *testing.T) {
	rng := newRNG(8)
	e := NewEmbedding(6, 4)
	e.InitNormal(rng, 1)
	AllocGrads(e.Params(""))
	ids := []int{2, 5, 2, -1, 0}
	r := randTensor(rng, 1, 5, 4)
	y := e.Forward(ids)
	for j := 0; j < 4; j++ {
		if y.Data[j] != e.W.Value.Data[2*4+j] || y.Data[3*4+j] != 0 {
			t.Fatal("embedding lookup wrong")
		}
	}
	e.Backward(ids, r)
	checkGrad(t, "embedding", e.W.Value.Data, e.W.Grad.Data, func() float64 { return dot(e.Forward(ids), r) }, 24, rng)
}
