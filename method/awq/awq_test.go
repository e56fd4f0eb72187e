package awq

import (
	"math"
	"testing"

	"mbq/quantize/block"
	"mbq/tensor"
)

// AWQ's loss weighs every row alike, whatever its modality: a hand-worked
// mean squared error over all rows and channels.
func TestLossIsPlainMSE(t *testing.T) {
	m := Method{}
	if m.Name() != "awq" {
		t.Fatalf("Name() = %q", m.Name())
	}
	ref, _ := tensor.FromData([]float32{1, 2, 3, 4}, 2, 2)
	got, _ := tensor.FromData([]float32{1, 1, 3, 6}, 2, 2)
	loss := m.Loss(nil)
	want := (0.0 + 1 + 0 + 4) / 4
	for _, b := range []block.Branch{block.Attention, block.MLP} {
		if l := loss(b, ref, got); math.Abs(l-want) > 1e-12 {
			t.Fatalf("%s loss %g, want %g", b, l, want)
		}
	}
}
