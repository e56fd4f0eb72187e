package block

import (
	"fmt"
	"math"
)

// GridPoints is the number of alpha values of the grid search: i/20 for
// i = 0..19.
const GridPoints = 20

// GridScales returns the candidate scales for one alpha:
// s = max(x_mean^alpha, 1e-4), then s / sqrt(max(s)·min(s)).
func GridScales(xMean []float64, alpha float64) []float32 {
	s := make([]float64, len(xMean))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, v := range xMean {
		s[i] = math.Max(math.Pow(v, alpha), 1e-4)
		lo, hi = math.Min(lo, s[i]), math.Max(hi, s[i])
	}
	norm := math.Sqrt(hi * lo)
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v / norm)
	}
	return out
}

// SearchResult is the outcome of a grid search.
type SearchResult struct {
	Scales []float32 // the chosen scales
	Alpha  float64   // their alpha
	Losses []float64 // the loss of each grid point, alpha = i/GridPoints
}

// GridSearch searches group g's scales over the alpha grid against the
// original block, keeping the first scales with the smallest loss.
func (c *Context) GridSearch(g GroupID, loss LossFunc) (*SearchResult, error) {
	xm := c.InputAbsMean(g)
	res := &SearchResult{Alpha: math.NaN(), Losses: make([]float64, GridPoints)}
	best := math.Inf(1)
	for i := 0; i < GridPoints; i++ {
		alpha := float64(i) / GridPoints
		s := GridScales(xm, alpha)
		l, err := c.Loss(g, s, loss)
		if err != nil {
			return nil, err
		}
		res.Losses[i] = l
		if l < best {
			best, res.Scales, res.Alpha = l, s, alpha
		}
	}
	if res.Scales == nil {
		return nil, fmt.Errorf("block %d: group %s: no grid point has a finite loss", c.Index, g)
	}
	return res, nil
}

// SearchAndFold runs GridSearch on every group that is not skipped and then
// folds all chosen scales (all groups are searched against the original
// block first). It returns the results indexed by group (nil for skipped
// groups).
func (c *Context) SearchAndFold(loss LossFunc) ([]*SearchResult, error) {
	res := make([]*SearchResult, NumGroups)
	for g := QKV; g < NumGroups; g++ {
		if c.Skipped[g] {
			continue
		}
		r, err := c.GridSearch(g, loss)
		if err != nil {
			return nil, err
		}
		res[g] = r
	}
	for g, r := range res {
		if r == nil {
			continue
		}
		if err := c.Fold(GroupID(g), r.Scales, r.Alpha); err != nil {
			return nil, err
		}
	}
	return res, nil
}
