package safetensors

import (
	"bytes"
	"fmt"
	"testing"
)

// A header shaped like a 7B-parameter model's: 2000 tensors, tiny data.
func benchFile(b *testing.B) []byte {
	var ts []Tensor
	for i := 0; i < 2000; i++ {
		ts = append(ts, Tensor{Name: fmt.Sprintf("model.language_model.layers.%d.self_attn.q_proj.weight", i), DType: BF16, Shape: []int{4, 0, 4096}})
	}
	var buf bytes.Buffer
	if err := Serialize(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkParseHeader(b *testing.B) {
	data := benchFile(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := FromBytes("bench", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloat32(b *testing.B) {
	vals := make([]float32, 1<<20)
	for i := range vals {
		vals[i] = float32(i)
	}
	for _, t := range []Tensor{F32Tensor("x", []int{len(vals)}, vals), BF16Tensor("x", []int{len(vals)}, vals), F16Tensor("x", []int{len(vals)}, vals)} {
		b.Run(string(t.DType), func(b *testing.B) {
			b.SetBytes(int64(len(t.Data)))
			for i := 0; i < b.N; i++ {
				if _, err := ToFloat32(t.DType, t.Data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
