package quantize

import (
	"fmt"
	"strconv"
	"strings"

	"mbq/method/awq"
	"mbq/method/gptq"
	"mbq/method/mbq"
	"mbq/method/smoothquant"
	"mbq/quantize/block"
)

// Methods lists the method names NewMethod accepts.
var Methods = []string{"rtn", "awq", "smoothquant", "gptq", "mbq"}

// rtnMethod is round-to-nearest without equalization.
type rtnMethod struct{}

func (rtnMethod) Name() string                       { return "rtn" }
func (rtnMethod) Loss(*block.Context) block.LossFunc { return block.MSE }
func (rtnMethod) Quantize(c *block.Context) error    { return c.QuantizeRTN() }

// gptqMethod is GPTQ (mbq/method/gptq) on each linear, with the Hessian of
// the linear's full-precision input over the calibration rows (the linears
// sharing an input share it). No equalization.
type gptqMethod struct{ opts gptq.Options }

func (gptqMethod) Name() string                       { return "gptq" }
func (gptqMethod) Loss(*block.Context) block.LossFunc { return block.MSE }

func (m gptqMethod) Quantize(c *block.Context) error {
	for g := block.QKV; g < block.NumGroups; g++ {
		x := c.FoldedInput(g)
		h := gptq.NewHessian(x.Cols())
		h.Add(x.Data, x.Rows())
		for i, l := range block.Linears(c.Block, g) {
			name := g.Info().Linears[i]
			p, _, deq, err := gptq.Quantize(l.W.Value.Data, l.Out(), l.In(), h, c.Spec.Weight(), m.opts)
			if err != nil {
				return fmt.Errorf("block %d: %s: %w", c.Index, name, err)
			}
			if err := c.SetQuantized(name, deq, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// ParseBalance parses --balance: "auto", "off" or a positive factor r.
func ParseBalance(s string) (mbq.Balance, float64, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return mbq.BalanceAuto, 0, nil
	case "off":
		return mbq.BalanceOff, 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0) || f > 1e6 {
		return 0, 0, fmt.Errorf("balance %q: want auto, off or a non-negative factor", s)
	}
	return mbq.BalanceFixed, f, nil
}

// NewMethod returns the block-level method of o.Method.
func NewMethod(o Options) (block.Method, error) {
	switch o.Method {
	case "rtn":
		return rtnMethod{}, nil
	case "awq":
		return awq.Method{}, nil
	case "smoothquant":
		return smoothquant.Method{Alpha: o.Alpha}, nil
	case "gptq":
		return gptqMethod{}, nil
	case "mbq":
		kind, err := mbq.ParseLoss(o.Loss)
		if err != nil {
			return nil, err
		}
		bal, f, err := ParseBalance(o.Balance)
		if err != nil {
			return nil, err
		}
		return mbq.Method{Kind: kind, Balance: bal, Factor: f}, nil
	}
	return nil, fmt.Errorf("method %q: want one of %s", o.Method, strings.Join(Methods, ", "))
}
