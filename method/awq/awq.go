// Package awq is AWQ's activation-aware scale search (Lin et al., 2024) as
// a block-level method: for each channel-wise equalization group of a
// decoder block, the AWQ grid (alpha = i/20, s = x_mean^alpha normalised,
// see mbq/quantize/block) is searched with a plain mean squared error over
// every calibration row (prompt, image and answer alike); the chosen scales
// are folded and the weights quantized round-to-nearest. AWQ's weight
// clipping search is not part of this baseline.
package awq

import "mbq/quantize/block"

// Method is AWQ.
type Method struct{}

// Name returns "awq".
func (Method) Name() string { return "awq" }

// Loss is the plain MSE over all rows.
func (Method) Loss(*block.Context) block.LossFunc { return block.MSE }

// Quantize searches and folds every group's scales, then quantizes.
func (m Method) Quantize(c *block.Context) error {
	if _, err := c.SearchAndFold(m.Loss(c)); err != nil {
		return err
	}
	return c.QuantizeRTN()
}
