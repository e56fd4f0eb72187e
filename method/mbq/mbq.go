// Package mbq is Modality-Balanced Quantization's block-level method: the
// AWQ grid search of mbq/quantize/block with the modality-balanced
// reconstruction loss (design/algorithm.md §4, paper Eq. 14-17). With ΔY
// the difference between the full-precision and the candidate output of a
// group's compared module, r the block's vision/caption gradient ratio of
// the group's branch (attention or MLP), N_c and N_v the caption (answer)
// and vision rows and C the channels:
//
//	MAE (default):  loss = ( Σ_caption |ΔY| + r · Σ_vision |ΔY| ) / ( (N_c + N_v) · C )
//	MSE:            loss = mean_caption(ΔY²) + r · mean_vision(ΔY²)
//
// Prompt rows (chat markup, user text) are ignored; a mean over no rows is
// 0. r comes from the sensitivities with the median clamp (BalanceAuto,
// Context.Ratio), is fixed (BalanceFixed: the paper's Table 1 oracle is
// r = 0.1 with MSE), or balancing is off (BalanceOff): the plain, unweighted
// loss pooled over the vision and caption rows,
//
//	MAE: Σ_{caption ∪ vision} |ΔY| / ((N_c + N_v) · C),   MSE: Σ_{caption ∪ vision} ΔY² / ((N_c + N_v) · C),
//
// which with --loss mse is Table 4's "CWE with image-caption calibration".
package mbq

import (
	"fmt"
	"math"

	"mbq/model"
	"mbq/quantize/block"
	"mbq/tensor"
)

// LossKind selects the reconstruction error.
type LossKind int

const (
	// MAE is the mean absolute error (MBQ's default).
	MAE LossKind = iota
	// MSE is the mean squared error.
	MSE
)

// String returns "mae" or "mse".
func (k LossKind) String() string {
	if k == MSE {
		return "mse"
	}
	return "mae"
}

// ParseLoss parses "mae" or "mse".
func ParseLoss(s string) (LossKind, error) {
	switch s {
	case "mae", "":
		return MAE, nil
	case "mse":
		return MSE, nil
	}
	return 0, fmt.Errorf("loss %q: want mae or mse", s)
}

// Balance selects where r comes from.
type Balance int

const (
	// BalanceAuto takes r per block and branch from the sensitivities
	// (Context.Ratio, filled by the pipeline).
	BalanceAuto Balance = iota
	// BalanceFixed uses Method.Factor for every block and branch.
	BalanceFixed
	// BalanceOff is the unweighted loss pooled over vision and caption rows.
	BalanceOff
)

// Method is MBQ.
type Method struct {
	Kind    LossKind
	Balance Balance
	Factor  float64 // r under BalanceFixed
}

// Name returns "mbq".
func (Method) Name() string { return "mbq" }

// Loss returns the balanced loss for block c.
func (m Method) Loss(c *block.Context) block.LossFunc {
	mod := c.Mod
	return func(b block.Branch, ref, got *tensor.Tensor) float64 {
		switch m.Balance {
		case BalanceOff:
			return PooledLoss(ref.Data, got.Data, ref.Cols(), mod, m.Kind)
		case BalanceFixed:
			return BalancedLoss(ref.Data, got.Data, ref.Cols(), mod, m.Factor, m.Kind)
		}
		return BalancedLoss(ref.Data, got.Data, ref.Cols(), mod, c.Ratio[b], m.Kind)
	}
}

// Quantize searches and folds every group's scales with the balanced loss,
// then quantizes the weights round-to-nearest.
func (m Method) Quantize(c *block.Context) error {
	if _, err := c.SearchAndFold(m.Loss(c)); err != nil {
		return err
	}
	return c.QuantizeRTN()
}

// sums returns, for caption (answer) and vision rows, the sum of |Δ| (MAE)
// or Δ² (MSE) and the number of rows.
func sums(ref, got []float32, cols int, mod []model.Modality, kind LossKind) (sc, sv float64, nc, nv int) {
	for t, m := range mod {
		if m != model.Answer && m != model.Vision {
			continue
		}
		var s float64
		for j := t * cols; j < (t+1)*cols; j++ {
			d := float64(ref[j]) - float64(got[j])
			if kind == MSE {
				s += d * d
			} else {
				s += math.Abs(d)
			}
		}
		if m == model.Answer {
			sc += s
			nc++
		} else {
			sv += s
			nv++
		}
	}
	return sc, sv, nc, nv
}

// BalancedLoss is the modality-balanced loss of the package comment for
// outputs ref and got ([len(mod), cols], row-major) with ratio r.
func BalancedLoss(ref, got []float32, cols int, mod []model.Modality, r float64, kind LossKind) float64 {
	sc, sv, nc, nv := sums(ref, got, cols, mod, kind)
	if kind == MSE {
		var l float64
		if nc > 0 {
			l += sc / float64(nc*cols)
		}
		if nv > 0 {
			l += r * sv / float64(nv*cols)
		}
		return l
	}
	if nc+nv == 0 || cols == 0 {
		return 0
	}
	return (sc + r*sv) / float64((nc+nv)*cols)
}

// PooledLoss is the unweighted loss over the vision and caption rows
// together (BalanceOff).
func PooledLoss(ref, got []float32, cols int, mod []model.Modality, kind LossKind) float64 {
	sc, sv, nc, nv := sums(ref, got, cols, mod, kind)
	if nc+nv == 0 || cols == 0 {
		return 0
	}
	return (sc + sv) / float64((nc+nv)*cols)
}
