package quantize

import (
	"errors"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"mbq/method/mbq"
	"mbq/model"
	"mbq/nn"
	"mbq/progress"
	"mbq/quant"
	"mbq/quantize/block"
	"mbq/sensitivity"
	"mbq/tensor"
)

// Version is the version of the output format (quantization_config,
// mbq_scales.json, mbq_qparams.safetensors).
const Version = 1

// Options configure Run.
type Options struct {
	Method string // rtn, awq, smoothquant, gptq or mbq
	WBits  int    // 2..8
	ABits  int    // 16 (or 0): weight-only; 2..8: weight-activation
	Group  int    // weight-only group size; <= 0: per output channel
	// Loss ("mae", default, or "mse") and Balance ("auto", default, "off"
	// or a factor r) are MBQ's.
	Loss    string
	Balance string
	Alpha   float64 // SmoothQuant's migration strength (0: 0.5)
	// Distort feeds each block the quantized output of the previous one
	// instead of the full-precision output.
	Distort bool
	// KeepGQAVO equalizes v_proj -> o_proj under grouped-query attention
	// (per key/value channel scales repeated per query head) instead of
	// skipping the group.
	KeepGQAVO bool
	// Recorded in quantization_config: the calibration seed and kind
	// ("image-caption" or "text").
	Seed        uint64
	Calibration string
	// Progress, if set, receives the progress bars (sensitivity pass, block
	// loop).
	Progress io.Writer
}

// Spec returns the quantization format of o.
func (o Options) Spec() block.Spec { return block.Spec{WBits: o.WBits, ABits: o.ABits, Group: o.Group} }

// Config is the quantization_config object written into config.json.
type Config struct {
	QuantMethod string  `json:"quant_method"` // always "mbq": the tool that wrote it
	Format      string  `json:"format"`       // "fake_quant": weights stored dequantized
	Method      string  `json:"method"`       // rtn, awq, smoothquant, gptq, mbq
	WBits       int     `json:"wbits"`
	ABits       int     `json:"abits"`      // 16: weight-only; else activations quantized per token at run time
	GroupSize   int     `json:"group_size"` // 0: per output channel
	Symmetric   bool    `json:"symmetric"`
	Loss        string  `json:"loss,omitempty"`
	Balance     string  `json:"balance,omitempty"`
	Alpha       float64 `json:"alpha,omitempty"`
	Samples     int     `json:"samples"`
	Seed        uint64  `json:"seed"`
	Calibration string  `json:"calibration,omitempty"`
	Distort     bool    `json:"distort"`
	KeepGQAVO   bool    `json:"keep_gqa_vo,omitempty"`
	Modules     string  `json:"modules"`
	Version     int     `json:"version"`
}

// BlockReport is one block's outcome.
type BlockReport struct {
	Block int `json:"block"`
	// AttnRatio and MLPRatio are the r the MBQ loss used (nil for other
	// methods and for --balance off).
	AttnRatio *float64            `json:"attn_ratio,omitempty"`
	MLPRatio  *float64            `json:"mlp_ratio,omitempty"`
	Groups    []block.GroupReport `json:"groups"`
}

// LinearParams are the quantization parameters of one linear.
type LinearParams struct {
	Name   string // HF module name, e.g. language_model.model.layers.0.self_attn.q_proj
	Params *quant.Params
}

// Result is the outcome of Run.
type Result struct {
	Config      Config
	Blocks      []BlockReport
	Params      []LinearParams
	Sensitivity *sensitivity.Result // nil unless computed
}

// Run quantizes m's decoder blocks in place with the calibration samples.
func Run(m model.VLM, samples []model.Sample, o Options) (*Result, error) {
	if len(samples) == 0 {
		return nil, errors.New("quantize: no calibration samples")
	}
	meth, err := NewMethod(o)
	if err != nil {
		return nil, err
	}
	spec := o.Spec()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	res := &Result{Config: o.config(len(samples))}
	// Parameter names, to name each linear's quantization parameters.
	names := map[*nn.Param]string{}
	for _, p := range m.Params() {
		names[p.Param] = p.Name
	}
	blocks := make([]*nn.Qwen2Block, m.NumBlocks())
	for i := range blocks {
		b, ok := m.Block(i).(*nn.Qwen2Block)
		if !ok {
			return nil, fmt.Errorf("block %d: %T is not a Qwen2 decoder block", i, m.Block(i))
		}
		blocks[i] = b
	}

	inputs := make([]*model.Input, len(samples))
	for s, smp := range samples {
		if inputs[s], err = m.Prepare(smp, false); err != nil {
			return nil, fmt.Errorf("calibration sample %d: %w", s, err)
		}
	}
	var mod []model.Modality
	var seqs, positions []int
	for _, in := range inputs {
		mod = append(mod, in.Modality...)
		seqs = append(seqs, in.Len())
		positions = append(positions, nn.Positions(in.Len())...)
	}
	mm, isMBQ := meth.(mbq.Method)
	if isMBQ && !hasAnswer(mod) {
		return nil, errors.New("quantize: the calibration samples have no answer (caption) tokens, which the MBQ loss needs")
	}
	if isMBQ && mm.Balance == mbq.BalanceAuto {
		res.Sensitivity, err = sensitivity.Compute(m, samples, sensitivity.Options{Progress: o.Progress})
		if err != nil {
			return nil, err
		}
		if len(res.Sensitivity.Blocks) != len(blocks) {
			return nil, fmt.Errorf("quantize: %d sensitivity blocks for %d decoder blocks", len(res.Sensitivity.Blocks), len(blocks))
		}
	}

	x, err := decoderInput(m, inputs)
	if err != nil {
		return nil, err
	}
	inputs = nil
	var bar *progress.Bar
	if o.Progress != nil {
		bar = progress.New(o.Progress, "quantize", "blocks", len(blocks))
	}
	for i, b := range blocks {
		c, err := block.NewContext(i, b, x, seqs, positions, mod, block.Options{Spec: spec, KeepGQAVO: o.KeepGQAVO})
		if err != nil {
			return nil, err
		}
		rep := BlockReport{Block: i}
		if isMBQ {
			switch mm.Balance {
			case mbq.BalanceAuto:
				sb := res.Sensitivity.Blocks[i]
				c.Ratio = [2]float64{sb.AttnClamped, sb.MLPClamped}
			case mbq.BalanceFixed:
				c.Ratio = [2]float64{mm.Factor, mm.Factor}
			}
			if mm.Balance != mbq.BalanceOff {
				a, m := c.Ratio[block.Attention], c.Ratio[block.MLP]
				rep.AttnRatio, rep.MLPRatio = &a, &m
			}
		}
		if err := meth.Quantize(c); err != nil {
			return nil, fmt.Errorf("%s: %w", meth.Name(), err)
		}
		if rep.Groups, err = c.Finish(meth.Loss(c)); err != nil {
			return nil, err
		}
		for _, l := range b.Linears() {
			name, ok := names[l.W]
			if !ok {
				return nil, fmt.Errorf("block %d: %s: weight not among the model's parameters", i, l.Name)
			}
			res.Params = append(res.Params, LinearParams{Name: trimWeight(name), Params: c.Params[l.Name]})
		}
		res.Blocks = append(res.Blocks, rep)
		if o.Distort {
			x = c.QuantizedOutput()
		} else {
			x = c.FPOut
		}
		var before, after float64
		for _, g := range rep.Groups {
			before += g.LossBefore
			after += g.LossAfter
		}
		bar.Info("block %d loss %.4g -> %.4g", i, before, after)
		bar.Add(1)
	}
	bar.Done()
	return res, nil
}

func hasAnswer(mod []model.Modality) bool {
	for _, m := range mod {
		if m == model.Answer {
			return true
		}
	}
	return false
}

func trimWeight(name string) string {
	const suf = ".weight"
	if len(name) > len(suf) && name[len(name)-len(suf):] == suf {
		return name[:len(name)-len(suf)]
	}
	return name
}

// decoderInput concatenates the samples' hidden states entering block 0.
func decoderInput(m model.VLM, inputs []*model.Input) (*tensor.Tensor, error) {
	hs, err := m.DecoderInputs(inputs)
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	rows, cols := 0, 0
	for s, h := range hs {
		if s == 0 {
			cols = h.Cols()
		}
		if h.Cols() != cols || h.Rows() != inputs[s].Len() {
			return nil, fmt.Errorf("calibration sample %d: hidden states %v for %d tokens", s, h.Shape, inputs[s].Len())
		}
		rows += h.Rows()
	}
	x := tensor.New(rows, cols)
	off := 0
	for _, h := range hs {
		copy(x.Data[off:], h.Data)
		off += len(h.Data)
	}
	return x, nil
}

func (o Options) config(samples int) Config {
	c := Config{QuantMethod: "mbq", Format: "fake_quant", Method: o.Method, WBits: o.WBits, ABits: o.ABits,
		Samples: samples, Seed: o.Seed, Calibration: o.Calibration, Distort: o.Distort, KeepGQAVO: o.KeepGQAVO,
		Modules: "language model decoder linears (q,k,v,o,gate,up,down)", Version: Version}
	spec := o.Spec()
	if spec.WeightOnly() {
		c.ABits = 16
		c.GroupSize = max(o.Group, 0)
	} else {
		c.Symmetric = true
	}
	switch o.Method {
	case "mbq":
		c.Loss, c.Balance = o.Loss, o.Balance
		if c.Loss == "" {
			c.Loss = "mae"
		}
		if c.Balance == "" {
			c.Balance = "auto"
		}
	case "smoothquant":
		c.Alpha = o.Alpha
		if c.Alpha == 0 {
			c.Alpha = 0.5
		}
	}
	return c
}

// Summary writes the per-block, per-group losses as a table.
func (r *Result) Summary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "block\tgroup\talpha\tr\tloss before\tloss after\tratio\t\n")
	var sumB, sumA float64
	for _, b := range r.Blocks {
		for gi, g := range b.Groups {
			alpha := "-"
			if g.Alpha != nil {
				alpha = fmt.Sprintf("%.2f", *g.Alpha)
			}
			if g.Skipped {
				alpha = "skip"
			}
			rr := "-"
			if gi < 2 && b.AttnRatio != nil {
				rr = fmt.Sprintf("%.3g", *b.AttnRatio)
			} else if gi >= 2 && b.MLPRatio != nil {
				rr = fmt.Sprintf("%.3g", *b.MLPRatio)
			}
			ratio := "-"
			if g.LossBefore > 0 {
				ratio = fmt.Sprintf("%.3f", g.LossAfter/g.LossBefore)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%.4e\t%.4e\t%s\t\n", b.Block, g.Group, alpha, rr, g.LossBefore, g.LossAfter, ratio)
			sumB += g.LossBefore
			sumA += g.LossAfter
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if sumB > 0 && !math.IsNaN(sumA) {
		_, err := fmt.Fprintf(w, "total loss %.4e -> %.4e (%.3f of plain quantization)\n", sumB, sumA, sumA/sumB)
		return err
	}
	return nil
}
