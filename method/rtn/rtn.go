package rtn

import (
	"fmt"

	"mbq/quant"
)

// Quantize computes the round-to-nearest parameters and codes of the
// rows×cols row-major weight matrix w. w is not modified.
func Quantize(w []float32, rows, cols int, spec quant.WeightSpec) (*quant.Params, quant.Codes, error) {
	p, err := quant.ComputeParams(w, rows, cols, spec)
	if err != nil {
		return nil, quant.Codes{}, fmt.Errorf("rtn: %w", err)
	}
	return p, quant.Quantize(w, p), nil
}

// FakeQuant replaces w by its round-to-nearest quantized-dequantized values,
// in place, and returns the parameters used.
func FakeQuant(w []float32, rows, cols int, spec quant.WeightSpec) (*quant.Params, error) {
	p, err := quant.ComputeParams(w, rows, cols, spec)
	if err != nil {
		return nil, fmt.Errorf("rtn: %w", err)
	}
	quant.FakeQuantParams(w, p)
	return p, nil
}
