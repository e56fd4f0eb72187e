package llavaonevision

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"mbq/model"
	"mbq/nn"
	"mbq/tensor"
)

// Session decodes one sequence incrementally against per-block KV caches.
type Session struct {
	m      *Model
	caches []nn.KVCache
	pos    int
}

// Len is the number of positions processed so far.
func (s *Session) Len() int { return s.pos }

// Prefill starts a session on a prepared input and returns the logits of
// every prompt position ([T, vocab]) when all is set, else of the last
// position only ([1, vocab]).
func (m *Model) Prefill(in *model.Input, all bool) (*Session, *tensor.Tensor, error) {
	if len(in.IDs) == 0 {
		return nil, nil, fmt.Errorf("prefill: empty input")
	}
	h, _, _, err := m.embedSample(in)
	if err != nil {
		return nil, nil, err
	}
	s := &Session{m: m, caches: make([]nn.KVCache, len(m.Blocks))}
	return s, s.run(h, all), nil
}

// Step feeds one token and returns its logits [vocab].
func (s *Session) Step(id int) ([]float32, error) {
	if id < 0 || id >= s.m.Cfg.TextConfig.VocabSize {
		return nil, fmt.Errorf("step: token %d is outside the vocabulary", id)
	}
	if id == s.m.Cfg.ImageTokenIndex {
		return nil, fmt.Errorf("step: the image token cannot be fed without its image")
	}
	return s.run(s.m.Embed.Forward([]int{id}), false).Data, nil
}

func (s *Session) run(x *tensor.Tensor, all bool) *tensor.Tensor {
	t := x.Rows()
	pos := make([]int, t)
	for i := range pos {
		pos[i] = s.pos + i
	}
	rope := s.m.rope(pos)
	for i, b := range s.m.Blocks {
		x = b.ForwardCached(x, rope, &s.caches[i], nil)
	}
	s.pos += t
	if !all && t > 1 {
		H := x.Cols()
		x = &tensor.Tensor{Shape: []int{1, H}, Data: x.Data[(t-1)*H:]}
	}
	return s.m.LMHead.Forward(s.m.Norm.Forward(x))
}

// Generate decodes from in (prepared with the generation prompt): greedy
// when opts.Temperature is 0, else sampled after temperature, top-k and
// top-p filtering (in transformers' order) with a PCG generator seeded by
// opts.Seed. It stops at a stop token (kept in Tokens) or after
// MaxNewTokens.
func (m *Model) Generate(in *model.Input, opts model.GenerateOptions) (*model.Generation, error) {
	if opts.Temperature < 0 || opts.TopK < 0 || opts.TopP < 0 || opts.TopP > 1 {
		return nil, fmt.Errorf("generate: invalid sampling options (temperature %g, top-k %d, top-p %g)", opts.Temperature, opts.TopK, opts.TopP)
	}
	maxNew := opts.MaxNewTokens
	if maxNew <= 0 {
		maxNew = 128
	}
	stop := map[int]bool{}
	stops := opts.StopTokens
	if stops == nil {
		stops = m.StopIDs
	}
	for _, id := range stops {
		stop[id] = true
	}
	s, logits, err := m.Prefill(in, false)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	g := &model.Generation{}
	next := logits.Data
	for len(g.Tokens) < maxNew {
		id := Pick(next, opts.Temperature, opts.TopK, opts.TopP, rng)
		g.Tokens = append(g.Tokens, id)
		if opts.OnToken != nil {
			opts.OnToken(id)
		}
		if stop[id] {
			g.Stopped = true
			break
		}
		if len(g.Tokens) == maxNew {
			break
		}
		if next, err = s.Step(id); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	g.Text = m.Decode(g.Tokens)
	return g, nil
}

// Pick chooses the next token from logits: the first maximum when
// temperature is 0; otherwise a sample from softmax(logits/temperature)
// restricted to the topK largest (ties at the threshold kept; 0 = all) and
// to the smallest set whose probability reaches topP (0 or 1 = all).
func Pick(logits []float32, temperature float64, topK int, topP float64, rng *rand.Rand) int {
	if temperature == 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return best
	}
	n := len(logits)
	z := make([]float64, n)
	for i, v := range logits {
		z[i] = float64(v) / temperature
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return z[idx[a]] > z[idx[b]] })
	keep := n
	if topK > 0 && topK < n {
		th := z[idx[topK-1]]
		keep = topK
		for keep < n && z[idx[keep]] >= th {
			keep++
		}
	}
	mx := z[idx[0]]
	p := make([]float64, keep)
	var sum float64
	for i := range keep {
		p[i] = math.Exp(z[idx[i]] - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	if topP > 0 && topP < 1 {
		// Keep the most likely tokens until their mass reaches topP (at
		// least one): transformers removes those whose ascending cumulative
		// mass is <= 1-topP.
		var c float64
		cut := keep
		for i := range keep {
			c += p[i]
			if c >= topP {
				cut = i + 1
				break
			}
		}
		p = p[:cut]
		sum = 0
		for _, v := range p {
			sum += v
		}
		for i := range p {
			p[i] /= sum
		}
	}
	u := rng.Float64()
	var c float64
	for i, v := range p {
		c += v
		if u < c {
			return idx[i]
		}
	}
	return idx[len(p)-1]
}
