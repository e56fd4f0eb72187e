package rtn

import (
	"slices"
	"testing"

	"mbq/quant"
)

func TestQuantize(t *testing.T) {
	tests := []struct {
		name       string
		spec       quant.WeightSpec
		rows, cols int
		w          []float32
		codes      []int32
		deq        []float32
	}{
		{"w2g2", quant.WeightSpec{Bits: 2, Group: 2}, 2, 4,
			[]float32{0, 3, -1, 2, 0, -3, 1, -2},
			[]int32{0, 3, 0, 3, 3, 0, 3, 0},
			[]float32{0, 3, -1, 2, 0, -3, 1, -2}},
		{"w2 per-channel", quant.WeightSpec{Bits: 2}, 1, 6,
			[]float32{0, 3, -1, 2, 5, 5},
			[]int32{0, 2, 0, 1, 2, 2},
			[]float32{0, 4, 0, 2, 4, 4}},
		{"w4sym", quant.WeightSpec{Bits: 4, Symmetric: true}, 1, 3,
			[]float32{-14, 3, 5},
			[]int32{-7, 2, 2},
			[]float32{-14, 4, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.w)
			p, c, err := Quantize(tc.w, tc.rows, tc.cols, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(orig, tc.w) {
				t.Fatal("Quantize modified w")
			}
			for i, want := range tc.codes {
				if c.At(i) != want {
					t.Fatalf("code %d = %d, want %d", i, c.At(i), want)
				}
			}
			deq := make([]float32, len(tc.w))
			quant.Dequantize(c, p, deq)
			if !slices.Equal(deq, tc.deq) {
				t.Fatalf("dequantized %v, want %v", deq, tc.deq)
			}
			fq := slices.Clone(tc.w)
			if _, err := FakeQuant(fq, tc.rows, tc.cols, tc.spec); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fq, tc.deq) {
				t.Fatalf("FakeQuant %v, want %v", fq, tc.deq)
			}
		})
	}
	if _, _, err := Quantize(make([]float32, 6), 1, 6, quant.WeightSpec{Bits: 3, Group: 4}); err == nil {
		t.Error("cols % group: no error")
	}
}
