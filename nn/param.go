package nn

import (
	"math/rand/v2"
	"runtime"
	"sync"

	"mbq/tensor"
)

// Param is one trainable tensor and, optionally, the gradient accumulated
// into it by the backward passes. Backward passes add into Grad when it is
// non-nil and skip the weight gradient entirely when it is nil, so a pass that
// needs only activation gradients (MBQ's sensitivity pass) costs nothing
// extra: simply never call AllocGrad.
type Param struct {
	Value *tensor.Tensor
	Grad  *tensor.Tensor // same shape as Value, or nil: gradient not tracked
}

// NewParam wraps a tensor as a parameter without a gradient.
func NewParam(v *tensor.Tensor) *Param { return &Param{Value: v} }

// AllocGrad gives p a zero gradient of its value's shape if it has none.
func (p *Param) AllocGrad() {
	if p.Grad == nil {
		p.Grad = tensor.New(p.Value.Shape...)
	}
}

// ZeroGrad sets the gradient to zero (no-op without one).
func (p *Param) ZeroGrad() {
	if p.Grad != nil {
		clear(p.Grad.Data)
	}
}

// DropGrad releases the gradient: later backward passes skip it.
func (p *Param) DropGrad() { p.Grad = nil }

// NamedParam is a parameter with its Hugging Face tensor name (relative to
// the prefix given to the Params method that produced it).
type NamedParam struct {
	Name string
	*Param
}

// AllocGrads, ZeroGrads and DropGrads apply the Param method of that name to
// every parameter in ps.
func AllocGrads(ps []NamedParam) {
	for _, p := range ps {
		p.AllocGrad()
	}
}

// ZeroGrads zeroes every gradient in ps.
func ZeroGrads(ps []NamedParam) {
	for _, p := range ps {
		p.ZeroGrad()
	}
}

// DropGrads releases every gradient in ps.
func DropGrads(ps []NamedParam) {
	for _, p := range ps {
		p.DropGrad()
	}
}

func fillNormal(rng *rand.Rand, x []float32, std float64) {
	for i := range x {
		x[i] = float32(rng.NormFloat64() * std)
	}
}

func fillConst(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}

// parallelFor runs fn(worker, i) for i in [0, n) on up to GOMAXPROCS
// goroutines; worker in [0, workers) identifies the goroutine so fn can use
// per-worker scratch space; workers(n) is the number of goroutines.
func parallelFor(n int, fn func(worker, i int)) {
	w := workers(n)
	if w <= 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				fn(g, i)
			}
		}(g)
	}
	wg.Wait()
}

// workers is the number of goroutines parallelFor uses for n jobs.
func workers(n int) int { return max(1, min(n, runtime.GOMAXPROCS(0))) }

// parallelRange splits [0, n) into contiguous chunks of at least minChunk
// items, one per available processor, and runs fn on each concurrently.
func parallelRange(n, minChunk int, fn func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if p <= 1 || n < 2*minChunk {
		fn(0, n)
		return
	}
	chunks := min(p, n/minChunk)
	var wg sync.WaitGroup
	for c := 0; c < chunks; c++ {
		lo, hi := c*n/chunks, (c+1)*n/chunks
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// matrix checks that t is a matrix view with cols columns and returns its
// number of rows.
func matrix(t *tensor.Tensor, cols int, msg string) int {
	if t == nil || t.Cols() != cols || len(t.Data) != t.Rows()*cols {
		panic(msg)
	}
	return t.Rows()
}

// like returns a zero tensor shaped like t.
func like(t *tensor.Tensor) *tensor.Tensor { return tensor.New(t.Shape...) }

// withCols returns a zero tensor with t's leading axes and a last axis of c.
func withCols(t *tensor.Tensor, c int) *tensor.Tensor {
	s := append([]int(nil), t.Shape...)
	if len(s) == 0 {
		s = []int{c}
	} else {
		s[len(s)-1] = c
	}
	return tensor.New(s...)
}
