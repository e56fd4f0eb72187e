package nn

import (
	"fmt"
	"testing"
)

// Benchmarks of one decoder block's forward and backward at the testbed's
// size and at Qwen2-0.5B's (LLaVA-OneVision-0.5B) size.
func BenchmarkQwen2Block(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  Qwen2Config
		t    int
	}{
		{"testbed-h256-T256", Qwen2Config{Hidden: 256, Intermediate: 1024, NumHeads: 4, NumKVHeads: 2, RopeTheta: 1e6, RMSNormEps: 1e-6}, 256},
		{"qwen2-0.5b-T512", Qwen2Config{Hidden: 896, Intermediate: 4864, NumHeads: 14, NumKVHeads: 2, RopeTheta: 1e6, RMSNormEps: 1e-6}, 512},
	} {
		rng := newRNG(1)
		blk := NewQwen2Block(c.cfg)
		blk.InitNormal(rng, 0.02)
		x := randTensor(rng, 1, c.t, c.cfg.Hidden)
		dy := randTensor(rng, 1, c.t, c.cfg.Hidden)
		rope := NewRoPETable(Positions(c.t), c.cfg.RopeTheta, c.cfg.Hidden/c.cfg.NumHeads)
		b.Run(c.name+"/forward", func(b *testing.B) {
			for b.Loop() {
				blk.Forward(x, rope, nil, nil)
			}
		})
		for _, grads := range []bool{false, true} {
			ps := blk.Params("")
			if grads {
				AllocGrads(ps)
			} else {
				DropGrads(ps)
			}
			b.Run(fmt.Sprintf("%s/backward-weightgrads=%v", c.name, grads), func(b *testing.B) {
				acts := blk.Forward(x, rope, nil, nil)
				for b.Loop() {
					blk.Backward(acts, dy, nil)
				}
			})
		}
	}
}

func BenchmarkAttention(b *testing.B) {
	for _, t := range []int{256, 1024} {
		rng := newRNG(2)
		a := &Attention{NumHeads: 14, NumKVHeads: 2, HeadDim: 64, Causal: true}
		q := randTensor(rng, 1, t, 14*64)
		k := randTensor(rng, 1, t, 2*64)
		v := randTensor(rng, 1, t, 2*64)
		b.Run(fmt.Sprintf("T%d/forward", t), func(b *testing.B) {
			for b.Loop() {
				a.Forward(q, k, v, nil)
			}
		})
		b.Run(fmt.Sprintf("T%d/backward", t), func(b *testing.B) {
			for b.Loop() {
				a.Backward(q, k, v, q, nil)
			}
		})
	}
}
