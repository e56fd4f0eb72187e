package train

import (
	"fmt"
	"math"
	"strings"

	"mbq/nn"
	"mbq/safetensors"
)

// adamW is decoupled-weight-decay Adam (torch.optim.AdamW):
//
//	m = β1·m + (1-β1)·g,  v = β2·v + (1-β2)·g²
//	p -= lr·( m/(1-β1ᵗ) / (sqrt(v/(1-β2ᵗ)) + eps) + wd·p )
//
// with wd applied only to weight matrices (not norms, biases, embeddings,
// image_newline).
type adamW struct {
	params []nn.NamedParam
	m, v   [][]float32
	decay  []bool
	t      int
}

func newAdamW(ps []nn.NamedParam) *adamW {
	o := &adamW{params: ps}
	for _, p := range ps {
		o.m = append(o.m, make([]float32, len(p.Value.Data)))
		o.v = append(o.v, make([]float32, len(p.Value.Data)))
		o.decay = append(o.decay, decays(p))
	}
	return o
}

// decays reports whether weight decay applies to p.
func decays(p nn.NamedParam) bool {
	if len(p.Value.Shape) < 2 {
		return false
	}
	return !strings.Contains(p.Name, "embed_tokens") && !strings.Contains(p.Name, "position_embedding")
}

func (o *adamW) step(c *Config, lr float64) {
	o.t++
	b1, b2 := c.Beta1, c.Beta2
	bc1 := 1 - math.Pow(b1, float64(o.t))
	bc2 := 1 - math.Pow(b2, float64(o.t))
	for i, p := range o.params {
		w, g := p.Value.Data, p.Grad.Data
		m, v := o.m[i], o.v[i]
		wd := 0.0
		if o.decay[i] {
			wd = c.WeightDecay
		}
		for j := range w {
			gj := float64(g[j])
			mj := b1*float64(m[j]) + (1-b1)*gj
			vj := b2*float64(v[j]) + (1-b2)*gj*gj
			m[j], v[j] = float32(mj), float32(vj)
			upd := (mj/bc1)/(math.Sqrt(vj/bc2)+c.Eps) + wd*float64(w[j])
			w[j] = float32(float64(w[j]) - lr*upd)
		}
	}
}

// tensors returns the moments as exp_avg.<name> and exp_avg_sq.<name>.
func (o *adamW) tensors() []safetensors.Tensor {
	var ts []safetensors.Tensor
	for i, p := range o.params {
		ts = append(ts, safetensors.F32Tensor("exp_avg."+p.Name, p.Value.Shape, o.m[i]),
			safetensors.F32Tensor("exp_avg_sq."+p.Name, p.Value.Shape, o.v[i]))
	}
	return ts
}

// load reads the moments from an optimizer.safetensors checkpoint.
func (o *adamW) load(path string, t int) error {
	ck, err := safetensors.OpenCheckpoint(path)
	if err != nil {
		return err
	}
	defer ck.Close()
	for i, p := range o.params {
		for _, x := range []struct {
			name string
			dst  []float32
		}{{"exp_avg." + p.Name, o.m[i]}, {"exp_avg_sq." + p.Name, o.v[i]}} {
			data, err := ck.Float32(x.name)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", path, x.name, err)
			}
			if len(data) != len(x.dst) {
				return fmt.Errorf("%s: %s: %d values, want %d", path, x.name, len(data), len(x.dst))
			}
			copy(x.dst, data)
		}
	}
	o.t = t
	return nil
}

// lrAt is the learning rate of step (1-based): linear warmup, then cosine
// decay to MinLRFrac of the peak. With a text phase of its own cycle
// (TextSteps > 0 and TextLR > 0) there are two such cycles: peak TextLR over
// steps 1..TextSteps, then peak LR over the remaining Steps-TextSteps, each
// with its own warmup:
//
//	lr(s) = peak·s/W                                    for s <= W
//	lr(s) = peak·(f + (1-f)·(1+cos(π·(s-W)/(N-W)))/2)    otherwise
//
// with s, N the step and the length within the cycle, W = Warmup, f = MinLRFrac.
func lrAt(c *Config, step int) float64 {
	if c.TextSteps > 0 && c.TextLR > 0 {
		if step <= c.TextSteps {
			return cycleLR(c.TextLR, c.MinLRFrac, c.Warmup, c.TextSteps, step)
		}
		return cycleLR(c.LR, c.MinLRFrac, c.Warmup, c.Steps-c.TextSteps, step-c.TextSteps)
	}
	return cycleLR(c.LR, c.MinLRFrac, c.Warmup, c.Steps, step)
}

// cycleLR is one warmup-then-cosine cycle of n steps (see lrAt).
func cycleLR(peak, minFrac float64, warmup, n, step int) float64 {
	if warmup > 0 && step <= warmup {
		return peak * float64(step) / float64(warmup)
	}
	span := n - warmup
	if span <= 0 {
		return peak
	}
	p := float64(step-warmup) / float64(span)
	p = min(1, max(0, p))
	minLR := peak * minFrac
	return minLR + (peak-minLR)*0.5*(1+math.Cos(math.Pi*p))
}
