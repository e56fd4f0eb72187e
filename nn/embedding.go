package nn

import (
	"math/rand/v2"

	"mbq/tensor"
)

// Embedding is torch.nn.Embedding: row ids[t] of W ([vocab, dim]) for each t.
type Embedding struct {
	W *Param // [vocab, dim]
}

// NewEmbedding returns a zero-initialised embedding table.
func NewEmbedding(vocab, dim int) *Embedding {
	return &Embedding{W: NewParam(tensor.New(vocab, dim))}
}

// InitNormal fills the table with N(0, std²) samples.
func (e *Embedding) InitNormal(rng *rand.Rand, std float64) { fillNormal(rng, e.W.Value.Data, std) }

// Params lists prefix+"weight".
func (e *Embedding) Params(prefix string) []NamedParam {
	return []NamedParam{{prefix + "weight", e.W}}
}

// Forward returns the [len(ids), dim] matrix of looked-up rows. A negative
// id gives a zero row (a position whose embedding the caller replaces, such
// as an image token; Backward skips it too).
func (e *Embedding) Forward(ids []int) *tensor.Tensor {
	vocab, dim := e.W.Value.Shape[0], e.W.Value.Shape[1]
	y := tensor.New(len(ids), dim)
	for t, id := range ids {
		if id < 0 {
			continue
		}
		if id >= vocab {
			panic("nn: Embedding.Forward: id out of range")
		}
		copy(y.Data[t*dim:(t+1)*dim], e.W.Value.Data[id*dim:(id+1)*dim])
	}
	return y
}

// Backward scatter-adds dy's rows into the gradient rows ids[t]
// (dW[ids[t]] += dy[t]); a no-op when the gradient is not allocated. Rows
// with a negative id are skipped.
func (e *Embedding) Backward(ids []int, dy *tensor.Tensor) {
	vocab, dim := e.W.Value.Shape[0], e.W.Value.Shape[1]
	if matrix(dy, dim, "nn: Embedding.Backward: gradient width differs from dim") != len(ids) {
		panic("nn: Embedding.Backward: one gradient row per id")
	}
	if e.W.Grad == nil {
		return
	}
	g := e.W.Grad.Data
	for t, id := range ids {
		if id < 0 {
			continue
		}
		if id >= vocab {
			panic("nn: Embedding.Backward: id out of range")
		}
		dst, src := g[id*dim:(id+1)*dim], dy.Data[t*dim:(t+1)*dim]
		for j, v := range src {
			dst[j] += v
		}
	}
}
