package gptq

import (
	"fmt"
	"math/rand"
	"testing"

	"mbq/quant"
)

func BenchmarkRun(b *testing.B) {
	for _, n := range []int{256, 1024} {
		b.Run(fmt.Sprintf("w4g128/%dx%d", n, n), func(b *testing.B) {
			rng := rand.New(rand.NewSource(1))
			w := randMat(rng, n, n, 0.1)
			h := NewHessian(n)
			h.Add(randMat(rng, 2*n, n, 1), 2*n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := Run(w, n, n, h, quant.WeightSpec{Bits: 4, Group: 128}, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
