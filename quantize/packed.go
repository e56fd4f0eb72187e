package quantize

import (
	"bytes"
	"fmt"
	"math"

	"mbq/model/llavaonevision"
	"mbq/quant"
	"mbq/safetensors"
)

// OutputOptions select how Save (SaveWith, DirWith) stores the quantized
// decoder linears.
type OutputOptions struct {
	// Pack stores the decoder linears as real packed low-bit weights
	// (quantization_config.format "packed", the layouts of package
	// mbq/quant, documented in model/llavaonevision/packed.go) when the
	// spec has a packed format:
	//
	//	weight-only asymmetric 4 bits, group a multiple of 64   -> W4  (w4g<G>-nibbles-v1)
	//	weight-only asymmetric 3 bits, group a multiple of 128  -> W3  (w3g<G>-planes-v1)
	//	W8A8 (symmetric 8-bit weights, 8-bit activations)       -> W8  (w8-rows-v1)
	//	W4A8 (symmetric 4-bit weights, 8-bit activations)       -> W4S (w4s-rows-v1)
	//
	// Other specs (2 bits, per-channel asymmetric, activations other than
	// 8 bits, ...) are written fake-quantized as without Pack (Packable
	// tells which). The packed codes are those of the fake-quantized
	// weights (requantized with the linear's parameters and checked to
	// reproduce them exactly); the W3/W4 group scales are stored in
	// binary16 (quant/pack.go), so the packed weights differ from the
	// fake-quantized ones by the scale rounding, at most 2^-11 relatively.
	Pack bool
}

// Packable reports whether the quantization config has a packed format
// (see OutputOptions.Pack).
func Packable(c Config) bool {
	switch {
	case c.ABits == 16 && !c.Symmetric && c.WBits == 4:
		return c.GroupSize > 0 && c.GroupSize%quant.FormatW4.Unit() == 0
	case c.ABits == 16 && !c.Symmetric && c.WBits == 3:
		return c.GroupSize > 0 && c.GroupSize%quant.FormatW3.Unit() == 0
	case c.ABits == 8 && c.Symmetric:
		return c.WBits == 8 || c.WBits == 4
	}
	return false
}

// packLinears packs every decoder linear of lm from its fake-quantized
// float32 weight and its parameters in r.
func packLinears(lm *llavaonevision.Model, r *Result) (map[string]*quant.PackedMatrix, error) {
	params := map[string]*quant.Params{}
	for _, lp := range r.Params {
		params[lp.Name] = lp.Params
	}
	packed := map[string]*quant.PackedMatrix{}
	for _, l := range lm.DecoderLinears() {
		p, ok := params[l.Name]
		if !ok || l.W == nil {
			return nil, fmt.Errorf("save: pack: %s has no quantization parameters or weight", l.Name)
		}
		w := l.W.Value.Data
		if p.Rows != l.Out() || p.Cols != l.In() {
			return nil, fmt.Errorf("save: pack: %s: parameters for [%d %d], weight [%d %d]", l.Name, p.Rows, p.Cols, l.Out(), l.In())
		}
		codes := quant.Quantize(w, p)
		deq := make([]float32, len(w))
		quant.Dequantize(codes, p, deq)
		for i := range w {
			if math.Float32bits(deq[i]) != math.Float32bits(w[i]) && deq[i] != w[i] {
				return nil, fmt.Errorf("save: pack: %s: weight %d is %g, not a quantized value (%g)", l.Name, i, w[i], deq[i])
			}
		}
		pm, err := quant.Pack(codes, p)
		if err != nil {
			return nil, fmt.Errorf("save: pack: %s: %w", l.Name, err)
		}
		packed[l.Name] = pm
	}
	return packed, nil
}

// packedModelFile returns the bytes of a packed model.safetensors.
func packedModelFile(lm *llavaonevision.Model, packed map[string]*quant.PackedMatrix) ([]byte, error) {
	ts, meta, err := lm.PackedCheckpointTensors(packed)
	if err != nil {
		return nil, fmt.Errorf("save: %w", err)
	}
	var buf bytes.Buffer
	if err := safetensors.Serialize(&buf, ts, meta); err != nil {
		return nil, fmt.Errorf("save: %s: %w", safetensors.SingleFileName, err)
	}
	return buf.Bytes(), nil
}
