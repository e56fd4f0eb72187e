// Package smoothquant is SmoothQuant (Xiao et al., 2023) as a block-level
// method, the weight-activation baseline: one migration strength alpha
// (default 0.5) and, per input channel c of a group's consumers,
//
//	s[c] = max( max_t |X[t, c]|^alpha / max(max_r |W[r, c]|, 1e-5)^(1-alpha), 1e-5 )
//
// where the weight maximum runs over the rows of all the group's linears.
// No search. As in SmoothQuant's own code for Llama-style blocks, only the
// groups fed by a normalisation are smoothed (input_layernorm -> q/k/v and
// post_attention_layernorm -> gate/up) unless AllGroups is set; then the
// weights are quantized round-to-nearest.
package smoothquant

import (
	"math"

	"mbq/quantize/block"
)

// DefaultAlpha is the migration strength used when Method.Alpha is 0.
const DefaultAlpha = 0.5

// Method is SmoothQuant.
type Method struct {
	Alpha     float64 // migration strength; 0 means DefaultAlpha
	AllGroups bool    // also smooth v_proj -> o_proj and up_proj -> down_proj
}

// Name returns "smoothquant".
func (Method) Name() string { return "smoothquant" }

// Loss is the plain MSE over all rows (used only in reports).
func (Method) Loss(*block.Context) block.LossFunc { return block.MSE }

// Scales returns SmoothQuant's per-channel scales from the activation and
// weight maxima.
func Scales(xMax, wMax []float64, alpha float64) []float32 {
	s := make([]float32, len(xMax))
	for i, x := range xMax {
		w := math.Max(wMax[i], 1e-5)
		s[i] = float32(math.Max(math.Pow(x, alpha)/math.Pow(w, 1-alpha), 1e-5))
	}
	return s
}

// Quantize smooths the groups and quantizes the weights.
func (m Method) Quantize(c *block.Context) error {
	alpha := m.Alpha
	if alpha == 0 {
		alpha = DefaultAlpha
	}
	for g := block.QKV; g < block.NumGroups; g++ {
		if c.Skipped[g] || (!m.AllGroups && (g == block.VO || g == block.Down)) {
			continue
		}
		if err := c.Fold(g, Scales(c.InputAbsMax(g), c.WeightAbsMax(g), alpha), alpha); err != nil {
			return err
		}
	}
	return c.QuantizeRTN()
}
