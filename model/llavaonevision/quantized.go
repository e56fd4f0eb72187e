package llavaonevision

import (
	"encoding/json"
	"fmt"
)

// QuantizationConfigKey is the config.json key mbq quantize writes.
const QuantizationConfigKey = "quantization_config"

// quantizationHeader is the part of mbq's quantization_config the model
// needs at run time (the full object is documented in mbq/quantize).
type quantizationHeader struct {
	QuantMethod string `json:"quant_method"`
	Format      string `json:"format"`
	ABits       *int   `json:"abits"`
}

// configActBits returns the run-time activation bits that config.json's
// quantization_config asks for: abits when it is below 16 (weight-activation
// models such as W4A8), 0 for weight-only models and for a config without
// mbq's quantization_config (quant_method "mbq").
func (m *Model) configActBits() (int, error) {
	raw, ok := m.Cfg.Extra[QuantizationConfigKey]
	if !ok {
		return 0, nil
	}
	var q quantizationHeader
	if err := json.Unmarshal(raw, &q); err != nil {
		return 0, fmt.Errorf("%s: %w", QuantizationConfigKey, err)
	}
	if q.QuantMethod != "mbq" {
		return 0, nil
	}
	if q.Format != "fake_quant" && q.Format != PackedFormat {
		return 0, fmt.Errorf("%s: format %q is not supported (want fake_quant or %s)", QuantizationConfigKey, q.Format, PackedFormat)
	}
	if q.ABits == nil || *q.ABits >= 16 || *q.ABits == 0 {
		return 0, nil
	}
	if *q.ABits < 2 || *q.ABits > 8 {
		return 0, fmt.Errorf("%s: abits %d, want 2..8 or 16", QuantizationConfigKey, *q.ABits)
	}
	return *q.ABits, nil
}

// ApplyQuantizationConfig sets every decoder linear's run-time activation
// quantization (nn.Linear.ActBits) from config.json's quantization_config,
// as written by mbq quantize: for W-A models each decoder linear's input is
// quantized per token with abits bits in Forward, Generate and LossAndGrad.
// Load calls it; a model without the key is left in full precision.
func (m *Model) ApplyQuantizationConfig() error {
	bits, err := m.configActBits()
	if err != nil {
		return err
	}
	m.SetActBits(bits)
	return nil
}

// SetActBits sets the run-time per-token activation bits of every decoder
// linear (0: off).
func (m *Model) SetActBits(bits int) {
	for _, b := range m.Blocks {
		for _, l := range b.Linears() {
			l.ActBits = bits
		}
	}
}

// ActBits returns the run-time activation bits of the decoder linears (0:
// full-precision activations).
func (m *Model) ActBits() int {
	if len(m.Blocks) == 0 {
		return 0
	}
	return m.Blocks[0].Q.ActBits
}
