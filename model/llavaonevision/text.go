package llavaonevision

import (
	"fmt"
	"slices"

	"mbq/model"
	"mbq/nn"
	"mbq/tensor"
)

// embedSample returns the decoder input of one sample: token embeddings
// with the image-token rows replaced (never added to) by the packed image
// features, in order (hf-semantics 7). ids is returned with the image
// positions set to -1 (the embedding's backward skips them).
func (m *Model) embedSample(in *model.Input) (h *tensor.Tensor, ids []int, st *visionState, err error) {
	if len(in.Modality) != len(in.IDs) {
		return nil, nil, nil, fmt.Errorf("input: %d modalities for %d ids", len(in.Modality), len(in.IDs))
	}
	V := m.Cfg.TextConfig.VocabSize
	ids = make([]int, len(in.IDs))
	var imgRows []int
	for t, id := range in.IDs {
		if id < 0 || id >= V {
			return nil, nil, nil, fmt.Errorf("input: token %d at position %d is outside the vocabulary [0, %d)", id, t, V)
		}
		ids[t] = id
		if id == m.Cfg.ImageTokenIndex {
			ids[t] = -1
			imgRows = append(imgRows, t)
		}
	}
	h = m.Embed.Forward(ids)
	nFeat := 0
	if len(in.Images) > 0 {
		if st, err = m.visionForward(in.Images); err != nil {
			return nil, nil, nil, err
		}
		nFeat = st.packed.Rows()
	}
	if nFeat != len(imgRows) {
		return nil, nil, nil, fmt.Errorf("input: %d image tokens, but the images give %d features", len(imgRows), nFeat)
	}
	H := m.Cfg.TextConfig.HiddenSize
	for i, t := range imgRows {
		copy(h.Data[t*H:(t+1)*H], st.packed.Data[i*H:(i+1)*H])
	}
	return h, ids, st, nil
}

func (m *Model) rope(positions []int) *nn.RoPETable {
	tc := &m.Cfg.TextConfig
	return nn.NewRoPETable(positions, tc.RopeTheta, tc.HeadDim())
}

// DecoderInputs returns each sample's hidden states entering decoder block 0.
func (m *Model) DecoderInputs(batch []*model.Input) ([]*tensor.Tensor, error) {
	out := make([]*tensor.Tensor, len(batch))
	for s, in := range batch {
		h, _, _, err := m.embedSample(in)
		if err != nil {
			return nil, fmt.Errorf("sample %d: %w", s, err)
		}
		out[s] = h
	}
	return out, nil
}

// RunBlock runs decoder block i on one sequence's rows at the given
// positions (forward only).
func (m *Model) RunBlock(i int, hidden *tensor.Tensor, positions []int, hooks *nn.Hooks) (*tensor.Tensor, error) {
	if i < 0 || i >= len(m.Blocks) {
		return nil, fmt.Errorf("run block: %d is outside [0, %d)", i, len(m.Blocks))
	}
	H := m.Cfg.TextConfig.HiddenSize
	if hidden == nil || hidden.Cols() != H || len(hidden.Data) != hidden.Rows()*H {
		return nil, fmt.Errorf("run block %d: hidden states must be [T, %d]", i, H)
	}
	if len(positions) != hidden.Rows() {
		return nil, fmt.Errorf("run block %d: %d positions for %d rows", i, len(positions), hidden.Rows())
	}
	return m.Blocks[i].Forward(hidden, m.rope(positions), nil, hooks).Out, nil
}

// Forward runs the whole model on a batch (the samples as independent
// sequences sharing each GEMM) and returns every position's logits.
func (m *Model) Forward(batch []*model.Input, opts *model.ForwardOptions) ([]*model.Output, error) {
	if opts == nil {
		opts = &model.ForwardOptions{}
	}
	H := m.Cfg.TextConfig.HiddenSize
	var rows, positions, seqs []int
	hs := make([]*tensor.Tensor, len(batch))
	total := 0
	for s, in := range batch {
		h, _, _, err := m.embedSample(in)
		if err != nil {
			return nil, fmt.Errorf("sample %d: %w", s, err)
		}
		hs[s] = h
		seqs = append(seqs, h.Rows())
		rows = append(rows, total)
		total += h.Rows()
		positions = append(positions, nn.Positions(h.Rows())...)
	}
	x := tensor.New(total, H)
	for s, h := range hs {
		copy(x.Data[rows[s]*H:], h.Data)
	}
	rope := m.rope(positions)
	for i, b := range m.Blocks {
		var hk *nn.Hooks
		if opts.Hooks != nil {
			hk = opts.Hooks(i)
		}
		x = b.Forward(x, rope, seqs, hk).Out
	}
	logits := m.LMHead.Forward(m.Norm.Forward(x))
	V := logits.Cols()
	out := make([]*model.Output, len(batch))
	for s, in := range batch {
		t := seqs[s]
		l := tensor.New(t, V)
		copy(l.Data, logits.Data[rows[s]*V:(rows[s]+t)*V])
		out[s] = &model.Output{Logits: l, Modality: append([]model.Modality(nil), in.Modality...)}
	}
	return out, nil
}

// LossAndGrad computes HF's causal-LM loss on the answer tokens (labels
// shifted: position t predicts labels[t+1]; the mean over all counted
// tokens of the batch) and backpropagates it sample by sample. Each
// sample's forward keeps only the input of each decoder block; the
// backward recomputes a block's activations from it (memory: one block's
// activations plus the block inputs of one sample). Parameter gradients
// accumulate into every allocated Grad; the vision tower and projector are
// backpropagated only when one of their parameters tracks a gradient.
func (m *Model) LossAndGrad(batch []*model.Input, opts *model.BackwardOptions) (*model.LossResult, error) {
	if opts == nil {
		opts = &model.BackwardOptions{}
	}
	shifted := make([][]int, len(batch))
	total := 0
	for s, in := range batch {
		if len(in.Labels) != len(in.IDs) {
			return nil, fmt.Errorf("sample %d: %d labels for %d ids", s, len(in.Labels), len(in.IDs))
		}
		shifted[s] = nn.ShiftLabels(in.Labels)
		for _, l := range shifted[s] {
			if l != nn.IgnoreIndex {
				if l < 0 || l >= m.Cfg.TextConfig.VocabSize {
					return nil, fmt.Errorf("sample %d: label %d is outside the vocabulary", s, l)
				}
				total++
			}
		}
	}
	res := &model.LossResult{Tokens: total}
	if total == 0 {
		return res, nil
	}
	visionGrad := m.visionTracksGrad()
	scale := float32(1 / float64(total))
	if opts.NLLScale != 0 {
		scale *= opts.NLLScale
	}
	var sum float64
	H := m.Cfg.TextConfig.HiddenSize
	for s, in := range batch {
		h0, ids, st, err := m.embedSample(in)
		if err != nil {
			return nil, fmt.Errorf("sample %d: %w", s, err)
		}
		var dProjExtra *tensor.Tensor
		if st != nil && visionGrad && opts.ProjectorGrad != nil {
			if dProjExtra = opts.ProjectorGrad(s, st.proj); dProjExtra != nil && !slices.Equal(dProjExtra.Shape, st.proj.Shape) {
				return nil, fmt.Errorf("sample %d: projector gradient of shape %v for output %v", s, dProjExtra.Shape, st.proj.Shape)
			}
		}
		rope := m.rope(nn.Positions(h0.Rows()))
		inputs := make([]*tensor.Tensor, len(m.Blocks))
		var extra []*tensor.Tensor // gradients added at the blocks' inputs
		x := h0
		for i, b := range m.Blocks {
			inputs[i] = x
			if opts.BlockInputGrad != nil {
				if extra == nil {
					extra = make([]*tensor.Tensor, len(m.Blocks))
				}
				if extra[i] = opts.BlockInputGrad(s, i, x); extra[i] != nil && !slices.Equal(extra[i].Shape, x.Shape) {
					return nil, fmt.Errorf("sample %d: block %d input gradient of shape %v for input %v", s, i, extra[i].Shape, x.Shape)
				}
			}
			x = b.Forward(x, rope, nil, nil).Out
		}
		// Logits only for the counted rows: the others get no gradient,
		// and [T, vocab] would dominate memory on real vocabularies.
		n := m.Norm.Forward(x)
		var rows, labels []int
		for t, l := range shifted[s] {
			if l != nn.IgnoreIndex {
				rows = append(rows, t)
				labels = append(labels, l)
			}
		}
		dn := tensor.New(n.Shape...)
		if len(rows) > 0 {
			sel := tensor.New(len(rows), H)
			for i, t := range rows {
				copy(sel.Data[i*H:(i+1)*H], n.Data[t*H:(t+1)*H])
			}
			logits := m.LMHead.Forward(sel)
			dl := tensor.New(logits.Shape...)
			ls, _ := nn.CrossEntropySum(dl, logits, labels, scale)
			sum += ls
			dsel := m.LMHead.Backward(sel, dl)
			for i, t := range rows {
				copy(dn.Data[t*H:(t+1)*H], dsel.Data[i*H:(i+1)*H])
			}
		}
		dx := m.Norm.Backward(x, dn)
		for i := len(m.Blocks) - 1; i >= 0; i-- {
			var hk *nn.Hooks
			if opts.Hooks != nil {
				hk = opts.Hooks(s, i)
			}
			acts := m.Blocks[i].Forward(inputs[i], rope, nil, hk)
			if opts.AttnGuides != nil {
				acts.Guides = opts.AttnGuides(s, i)
			}
			dx = m.Blocks[i].Backward(acts, dx, hk)
			if extra != nil && extra[i] != nil {
				for j, v := range extra[i].Data {
					dx.Data[j] += v
				}
			}
			if opts.BlockGrads != nil {
				opts.BlockGrads(s, i, acts.GradO, acts.GradDown, in.Modality)
			}
			inputs[i] = nil
		}
		m.Embed.Backward(ids, dx)
		if st != nil && visionGrad {
			dPacked := tensor.New(st.packed.Shape...)
			r := 0
			for t, id := range ids {
				if id < 0 {
					copy(dPacked.Data[r*H:(r+1)*H], dx.Data[t*H:(t+1)*H])
					r++
				}
			}
			m.visionBackward(st, dPacked, dProjExtra)
		}
	}
	res.Loss = sum / float64(total)
	return res, nil
}
