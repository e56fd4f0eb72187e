package sensitivity

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"mbq/model"
	"mbq/nn"
	"mbq/progress"
	"mbq/tensor"
)

// Options control Compute.
type Options struct {
	// Progress, if set, receives a progress bar (one unit per sample).
	Progress io.Writer
	// Label names the bar (default "sensitivity").
	Label string
}

// BlockSens is the sensitivity of one decoder block.
type BlockSens struct {
	Block int `json:"block"`
	// Attention branch (gradient at the o_proj output).
	AttnVision   float64 `json:"attn_vision"`   // g_v: mean |grad| over vision rows
	AttnLanguage float64 `json:"attn_language"` // g_l: mean |grad| over caption rows
	AttnRatio    float64 `json:"attn_ratio"`    // r = g_v / g_l
	AttnClamped  float64 `json:"attn_clamped"`  // max(r, median of r over blocks)
	// MLP branch (gradient at the down_proj output).
	MLPVision   float64 `json:"mlp_vision"`
	MLPLanguage float64 `json:"mlp_language"`
	MLPRatio    float64 `json:"mlp_ratio"`
	MLPClamped  float64 `json:"mlp_clamped"`
}

// Result holds the sensitivities of every decoder block.
type Result struct {
	Blocks []BlockSens `json:"blocks"`
	// Samples is the number of samples averaged; VisionSamples of them
	// have vision rows (only those enter g_v).
	Samples       int `json:"samples"`
	VisionSamples int `json:"vision_samples"`
	// VisionTokens and AnswerTokens count the rows of each kind over all
	// samples.
	VisionTokens int `json:"vision_tokens"`
	AnswerTokens int `json:"answer_tokens"`
	// Loss is the mean over samples of each sample's answer-token loss
	// (SampleLoss).
	Loss       float64   `json:"loss"`
	SampleLoss []float64 `json:"sample_loss"`
	// AttnMedian and MLPMedian are the clamp thresholds: the median of the
	// ratios over blocks.
	AttnMedian float64 `json:"attn_median"`
	MLPMedian  float64 `json:"mlp_median"`
}

// AttnRatios returns the clamped attention ratios, one per block: the r
// the reconstruction loss of the attention groups uses.
func (r *Result) AttnRatios() []float64 {
	out := make([]float64, len(r.Blocks))
	for i, b := range r.Blocks {
		out[i] = b.AttnClamped
	}
	return out
}

// MLPRatios returns the clamped MLP ratios, one per block.
func (r *Result) MLPRatios() []float64 {
	out := make([]float64, len(r.Blocks))
	for i, b := range r.Blocks {
		out[i] = b.MLPClamped
	}
	return out
}

// Compute runs, for each sample on its own, the forward pass and one
// backward pass of the sample's mean answer-token loss through the whole
// model, and averages per block the mean |gradient| at the o_proj and
// down_proj outputs over vision and over answer (caption) rows. See the
// package documentation for the equations.
//
// Only activation gradients are computed: parameters whose gradient is
// allocated are detached for the duration of the call (and restored with
// their contents untouched), so no weight gradient is accumulated and the
// vision tower is not backpropagated.
func Compute(m model.VLM, samples []model.Sample, opts Options) (*Result, error) {
	if len(samples) == 0 {
		return nil, errors.New("sensitivity: no calibration samples")
	}
	nb := m.NumBlocks()
	if nb == 0 {
		return nil, errors.New("sensitivity: the model has no decoder blocks")
	}
	restore := detachGrads(m.Params())
	defer restore()

	label := opts.Label
	if label == "" {
		label = "sensitivity"
	}
	var bar *progress.Bar
	if opts.Progress != nil {
		bar = progress.New(opts.Progress, label, "samples", len(samples))
	}
	defer bar.Done()

	// Sums over samples of the per-sample means; index 0 attention, 1 MLP.
	sumV := make([][2]float64, nb)
	sumL := make([][2]float64, nb)
	res := &Result{}
	for s, smp := range samples {
		in, err := m.Prepare(smp, false)
		if err != nil {
			return nil, fmt.Errorf("sensitivity: sample %d: %w", s, err)
		}
		vis, ans := 0, 0
		for _, md := range in.Modality {
			switch md {
			case model.Vision:
				vis++
			case model.Answer:
				ans++
			}
		}
		if ans == 0 {
			return nil, fmt.Errorf("sensitivity: sample %d: no answer tokens (the loss needs a caption)", s)
		}
		gV := make([][2]float64, nb)
		gL := make([][2]float64, nb)
		seen := make([]bool, nb)
		var cbErr error
		lr, err := m.LossAndGrad([]*model.Input{in}, &model.BackwardOptions{
			BlockGrads: func(_, block int, gradO, gradDown *tensor.Tensor, mod []model.Modality) {
				if block < 0 || block >= nb || gradO == nil || gradDown == nil {
					cbErr = fmt.Errorf("block %d: no gradients", block)
					return
				}
				seen[block] = true
				for k, g := range [2]*tensor.Tensor{gradO, gradDown} {
					mean, _ := model.MeanAbs(g, mod)
					gV[block][k] = mean[model.Vision]
					gL[block][k] = mean[model.Answer]
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("sensitivity: sample %d: %w", s, err)
		}
		if cbErr != nil {
			return nil, fmt.Errorf("sensitivity: sample %d: %w", s, cbErr)
		}
		if lr.Tokens == 0 {
			return nil, fmt.Errorf("sensitivity: sample %d: no answer token is predicted", s)
		}
		for i, ok := range seen {
			if !ok {
				return nil, fmt.Errorf("sensitivity: sample %d: the backward pass gave no gradients for block %d", s, i)
			}
		}
		for i := range nb {
			for k := range 2 {
				if vis > 0 {
					sumV[i][k] += gV[i][k]
				}
				sumL[i][k] += gL[i][k]
			}
		}
		if vis > 0 {
			res.VisionSamples++
		}
		res.Samples++
		res.VisionTokens += vis
		res.AnswerTokens += ans
		res.SampleLoss = append(res.SampleLoss, lr.Loss)
		res.Loss += lr.Loss
		bar.Add(1)
		bar.Info("loss %.4f", res.Loss/float64(res.Samples))
	}
	res.Loss /= float64(res.Samples)

	res.Blocks = make([]BlockSens, nb)
	var ratio [2][]float64
	for i := range nb {
		var v, l, r [2]float64
		for k := range 2 {
			if res.VisionSamples > 0 {
				v[k] = sumV[i][k] / float64(res.VisionSamples)
			}
			l[k] = sumL[i][k] / float64(res.Samples)
			r[k] = Ratio(v[k], l[k])
			ratio[k] = append(ratio[k], r[k])
		}
		res.Blocks[i] = BlockSens{Block: i,
			AttnVision: v[0], AttnLanguage: l[0], AttnRatio: r[0],
			MLPVision: v[1], MLPLanguage: l[1], MLPRatio: r[1]}
	}
	attn, attnMed := Clamp(ratio[0])
	mlp, mlpMed := Clamp(ratio[1])
	res.AttnMedian, res.MLPMedian = attnMed, mlpMed
	for i := range res.Blocks {
		res.Blocks[i].AttnClamped = attn[i]
		res.Blocks[i].MLPClamped = mlp[i]
	}
	return res, nil
}

// Ratio is g_v / g_l; 1 (no reweighting) when g_l is 0, as then the
// block's caption rows carry no gradient to compare with.
func Ratio(gv, gl float64) float64 {
	if gl == 0 {
		return 1
	}
	return gv / gl
}

// Median is the median of x as numpy.median computes it: the middle value
// of the sorted values, or the mean of the two middle ones for an even
// count. It is 0 for an empty x.
func Median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Clamp returns r with every value raised to at least the median of r
// (r_l = max(r_l, median(r))), and that median.
func Clamp(r []float64) (clamped []float64, median float64) {
	median = Median(r)
	clamped = make([]float64, len(r))
	for i, v := range r {
		clamped[i] = max(v, median)
	}
	return clamped, median
}

// detachGrads sets every allocated parameter gradient aside and returns
// the function that puts them back.
func detachGrads(ps []nn.NamedParam) (restore func()) {
	type saved struct {
		p *nn.Param
		g *tensor.Tensor
	}
	var kept []saved
	for _, np := range ps {
		if np.Param != nil && np.Param.Grad != nil {
			kept = append(kept, saved{np.Param, np.Param.Grad})
			np.Param.Grad = nil
		}
	}
	return func() {
		for _, k := range kept {
			k.p.Grad = k.g
		}
	}
}
