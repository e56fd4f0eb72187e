package llavaonevision

import (
	"mbq/internal/pymath"

	"fmt"
	"math"
	"strconv"
	"strings"

	"mbq/hf/image"
	"mbq/kernels"
	"mbq/model"
	"mbq/nn"
	"mbq/tensor"
)

// tap is one term of a packed image-feature row: weight w times projector
// output row src, or times image_newline when src < 0.
type tap struct {
	src int
	w   float32
}

// packing says how one image's projector outputs (rows ordered tile by
// tile, tokensPerTile each) become its image-token rows: each packed row is
// a weighted sum of taps. A plain copy has one tap of weight 1; the
// "anyres_max_N" bilinear downsample has up to four.
type packing struct {
	rows [][]tap
}

// maxPatches parses vision_aspect_ratio "anyres_max_N"; 0 means no limit.
func maxPatches(ratio string) int {
	if n, err := strconv.Atoi(strings.TrimPrefix(ratio, "anyres_max_")); err == nil && n > 0 {
		return n
	}
	return 0
}

// imagePacking is LlavaOnevisionModel.pack_image_features for one image of
// origH x origW cut into nTiles tiles (hf-semantics 3-6): with one tile, its
// tokens then one newline; with more, the base tile's tokens (no newline),
// then the grid of the other tiles un-padded, downsampled bilinearly when
// it exceeds 1.1 x max tiles, row by row across tiles with a newline after
// every row.
func (m *Model) imagePacking(origH, origW, nTiles int) (*packing, error) {
	vc := &m.Cfg.VisionConfig
	side := vc.PatchesPerSide()
	n := m.tokensPerTile()
	p := &packing{}
	if nTiles == 1 {
		for i := range n {
			p.rows = append(p.rows, []tap{{i, 1}})
		}
		p.rows = append(p.rows, []tap{{-1, 1}})
		return p, nil
	}
	if n != side*side {
		return nil, fmt.Errorf("anyres image: %d tokens per tile, want %d (vision_feature_select_strategy %q drops one)",
			n, side*side, m.Cfg.VisionFeatureSelectStrategy)
	}
	bh, bw := image.SelectBestResolution(origH, origW, m.Cfg.ImageGridPinpoints)
	nph, npw := bh/vc.ImageSize, bw/vc.ImageSize
	if nph*npw != nTiles-1 {
		return nil, fmt.Errorf("anyres image %dx%d: %d grid tiles, want %dx%d for pinpoint %dx%d",
			origH, origW, nTiles-1, nph, npw, bh, bw)
	}
	for i := range n {
		p.rows = append(p.rows, []tap{{i, 1}})
	}
	gh, gw := nph*side, npw*side
	src := func(r, c int) int { // grid position -> projector row
		t := 1 + (r/side)*npw + c/side
		return t*n + (r%side)*side + c%side
	}
	r0, r1, c0, c1 := 0, gh, 0, gw
	if float64(origW)/float64(origH) > float64(gw)/float64(gh) {
		newH := pymath.Round7Int(float64(origH) * (float64(gw) / float64(origW)))
		pad := pymath.FloorDivInt(gh-newH, 2)
		r0, r1 = pad, gh-pad
	} else {
		newW := pymath.Round7Int(float64(origW) * (float64(gh) / float64(origH)))
		pad := pymath.FloorDivInt(gw-newW, 2)
		c0, c1 = pad, gw-pad
	}
	ch, cw := r1-r0, c1-c0
	if ch <= 0 || cw <= 0 {
		return nil, fmt.Errorf("anyres image %dx%d: empty grid after unpadding", origH, origW)
	}
	oh, ow := ch, cw
	var rt, ct [][2]tap // per output row/col: two taps into the unpadded grid
	if mx := maxPatches(m.Cfg.VisionAspectRatio); mx > 0 {
		ratio := math.Sqrt(float64(ch*cw) / float64(mx*side*side))
		if ratio > 1.1 {
			oh, ow = int(pymath.FloorDiv(float64(ch), ratio)), int(pymath.FloorDiv(float64(cw), ratio))
			rt, ct = bilinearTaps(ch, oh), bilinearTaps(cw, ow)
		}
	}
	for r := range oh {
		for c := range ow {
			if rt == nil {
				p.rows = append(p.rows, []tap{{src(r0+r, c0+c), 1}})
				continue
			}
			var row []tap
			for _, a := range rt[r] {
				for _, b := range ct[c] {
					row = append(row, tap{src(r0+a.src, c0+b.src), a.w * b.w})
				}
			}
			p.rows = append(p.rows, row)
		}
		p.rows = append(p.rows, []tap{{-1, 1}})
	}
	return p, nil
}

// bilinearTaps is torch's upsample_bilinear2d (align_corners=False, output
// size given) along one axis: output i reads input i0 and i0+1 (clamped)
// with weights 1-λ and λ, src = max((i+0.5)·in/out - 0.5, 0).
func bilinearTaps(in, out int) [][2]tap {
	scale := float32(in) / float32(out)
	t := make([][2]tap, out)
	for i := range out {
		s := scale*(float32(i)+0.5) - 0.5
		if s < 0 {
			s = 0
		}
		i0 := int(s)
		i1 := i0
		if i0 < in-1 {
			i1 = i0 + 1
		}
		l1 := s - float32(i0)
		t[i] = [2]tap{{i0, 1 - l1}, {i1, l1}}
	}
	return t
}

// tokensPerTile is the feature rows one tile gives: all patches for
// "full", all but the first for "default".
func (m *Model) tokensPerTile() int {
	n := m.Cfg.VisionConfig.NumPatches()
	if m.Cfg.VisionFeatureSelectStrategy == "default" {
		n--
	}
	return n
}

// visionState holds what the vision backward needs for one sample.
type visionState struct {
	tiles   int
	patches *tensor.Tensor   // [tiles·N, C·P·P]
	inputs  []*tensor.Tensor // input of each vision layer run (inputs[0] = embeddings)
	hidden  map[int]*tensor.Tensor
	feat    *tensor.Tensor // projector input [tiles·n, D·k]
	pre     *tensor.Tensor // linear_1 output
	act     *tensor.Tensor // act(linear_1)
	proj    *tensor.Tensor // projector output [tiles·n, H]
	packs   []*packing
	offs    []int // projector-row offset of each image
	packed  *tensor.Tensor
}

// visionForward runs the vision tower, the projector and the packing for
// all images of one sample, returning the image-token rows [Σ tokens, H].
func (m *Model) visionForward(imgs []model.ImageInput) (*visionState, error) {
	vc := &m.Cfg.VisionConfig
	S, P, D := vc.ImageSize, vc.PatchSize, vc.HiddenSize
	N := vc.NumPatches()
	st := &visionState{hidden: map[int]*tensor.Tensor{}}
	for _, im := range imgs {
		st.tiles += len(im.Tiles)
	}
	cpp := vc.NumChannels * P * P
	st.patches = tensor.New(st.tiles*N, cpp)
	t := 0
	for i, im := range imgs {
		if len(im.Tiles) == 0 {
			return nil, fmt.Errorf("image %d: no tiles", i)
		}
		for _, px := range im.Tiles {
			if px.Channels != vc.NumChannels || px.Height != S || px.Width != S || len(px.Data) != S*S*px.Channels {
				return nil, fmt.Errorf("image %d: tile is %dx%dx%d, want %dx%dx%d", i, px.Channels, px.Height, px.Width, vc.NumChannels, S, S)
			}
			copy(st.patches.Data[t*N*cpp:(t+1)*N*cpp], image.Patches(px, P))
			t++
		}
	}
	// Embeddings: patches·Wᵀ + b + position.
	emb := tensor.New(st.tiles*N, D)
	kernels.MatMulTransB(emb.Data, st.patches.Data, m.PatchW.Value.Data, st.tiles*N, cpp, D)
	b, pos := m.PatchB.Value.Data, m.PosEmbed.Value.Data
	for r := range st.tiles * N {
		row := emb.Data[r*D : (r+1)*D]
		pr := pos[(r%N)*D : (r%N+1)*D]
		for j := range row {
			row[j] += b[j] + pr[j]
		}
	}
	seqs := make([]int, st.tiles)
	for i := range seqs {
		seqs[i] = N
	}
	last := 0
	for _, k := range m.featureLayers {
		last = max(last, k)
	}
	h := emb
	st.hidden[0] = h
	for i := range last {
		st.inputs = append(st.inputs, h)
		h = m.Vision[i].Forward(h, seqs, nil).Out
		st.hidden[i+1] = h
	}
	// Feature selection (no post_layernorm) and concatenation of layers.
	n := m.tokensPerTile()
	k := len(m.featureLayers)
	st.feat = tensor.New(st.tiles*n, D*k)
	for li, l := range m.featureLayers {
		hs := st.hidden[l]
		for r := range st.tiles * n {
			sr := (r/n)*N + r%n + (N - n)
			copy(st.feat.Data[r*D*k+li*D:r*D*k+(li+1)*D], hs.Data[sr*D:(sr+1)*D])
		}
	}
	for l := range st.hidden {
		if l != 0 && !m.isFeatureLayer(l) {
			delete(st.hidden, l)
		}
	}
	st.pre = m.Proj1.Forward(st.feat)
	st.act = tensor.New(st.pre.Shape...)
	m.ProjAct.Forward(st.act.Data, st.pre.Data)
	st.proj = m.Proj2.Forward(st.act)
	// Packing.
	H := m.Cfg.TextConfig.HiddenSize
	rows := 0
	off := 0
	for i, im := range imgs {
		pk, err := m.imagePacking(im.Height, im.Width, len(im.Tiles))
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		st.packs = append(st.packs, pk)
		st.offs = append(st.offs, off)
		off += len(im.Tiles) * n
		rows += len(pk.rows)
	}
	st.packed = tensor.New(rows, H)
	r := 0
	nl := m.Newline.Value.Data
	for i, pk := range st.packs {
		for _, taps := range pk.rows {
			dst := st.packed.Data[r*H : (r+1)*H]
			for _, tp := range taps {
				src := nl
				if tp.src >= 0 {
					s := st.offs[i] + tp.src
					src = st.proj.Data[s*H : (s+1)*H]
				}
				for j, v := range src {
					dst[j] += tp.w * v
				}
			}
			r++
		}
	}
	return st, nil
}

func (m *Model) isFeatureLayer(l int) bool {
	for _, k := range m.featureLayers {
		if k == l {
			return true
		}
	}
	return false
}

// visionTracksGrad reports whether any vision/projector parameter has a
// gradient allocated (then the backward runs through the vision tower).
func (m *Model) visionTracksGrad() bool {
	ps := []*nn.Param{m.PatchW, m.PatchB, m.PosEmbed, m.Newline, m.Proj1.W, m.Proj2.W}
	if m.Proj1.B != nil {
		ps = append(ps, m.Proj1.B, m.Proj2.B)
	}
	for _, l := range m.Vision {
		for _, p := range l.Params("") {
			ps = append(ps, p.Param)
		}
	}
	for _, p := range ps {
		if p.Grad != nil {
			return true
		}
	}
	return false
}

// visionBackward backpropagates dPacked ([Σ tokens, H], the gradient at the
// image-token rows) through packing, projector and vision tower into the
// allocated parameter gradients; extra (nil: none) is a further gradient at
// the projector output, added after the packing's.
func (m *Model) visionBackward(st *visionState, dPacked, extra *tensor.Tensor) {
	vc := &m.Cfg.VisionConfig
	H, D, N := m.Cfg.TextConfig.HiddenSize, vc.HiddenSize, vc.NumPatches()
	dProj := tensor.New(st.proj.Shape...)
	var dNL []float64
	if m.Newline.Grad != nil {
		dNL = make([]float64, H)
	}
	r := 0
	for i, pk := range st.packs {
		for _, taps := range pk.rows {
			g := dPacked.Data[r*H : (r+1)*H]
			for _, tp := range taps {
				if tp.src < 0 {
					for j, v := range g {
						if dNL != nil {
							dNL[j] += float64(tp.w * v)
						}
					}
					continue
				}
				s := st.offs[i] + tp.src
				dst := dProj.Data[s*H : (s+1)*H]
				for j, v := range g {
					dst[j] += tp.w * v
				}
			}
			r++
		}
	}
	if dNL != nil {
		for j, v := range dNL {
			m.Newline.Grad.Data[j] += float32(v)
		}
	}
	if extra != nil {
		for j, v := range extra.Data {
			dProj.Data[j] += v
		}
	}
	dAct := m.Proj2.Backward(st.act, dProj)
	m.ProjAct.Backward(dAct.Data, st.pre.Data, dAct.Data)
	dFeat := m.Proj1.Backward(st.feat, dAct)
	// Scatter the feature gradient into the hidden states it came from.
	n := m.tokensPerTile()
	k := len(m.featureLayers)
	dHidden := map[int]*tensor.Tensor{}
	for li, l := range m.featureLayers {
		d := dHidden[l]
		if d == nil {
			d = tensor.New(st.tiles*N, D)
			dHidden[l] = d
		}
		for r := range st.tiles * n {
			sr := (r/n)*N + r%n + (N - n)
			dst := d.Data[sr*D : (sr+1)*D]
			for j, v := range dFeat.Data[r*D*k+li*D : r*D*k+(li+1)*D] {
				dst[j] += v
			}
		}
	}
	seqs := make([]int, st.tiles)
	for i := range seqs {
		seqs[i] = N
	}
	d := dHidden[len(st.inputs)]
	for i := len(st.inputs) - 1; i >= 0; i-- {
		acts := m.Vision[i].Forward(st.inputs[i], seqs, nil)
		d = m.Vision[i].Backward(acts, d, nil)
		if e := dHidden[i]; e != nil {
			for j, v := range e.Data {
				d.Data[j] += v
			}
		}
	}
	// Embeddings.
	cpp := st.patches.Cols()
	if m.PatchW.Grad != nil {
		kernels.MatMulTransAAcc(m.PatchW.Grad.Data, d.Data, st.patches.Data, D, st.tiles*N, cpp)
	}
	if m.PatchB.Grad != nil || m.PosEmbed.Grad != nil {
		db := make([]float64, D)
		for r := range st.tiles * N {
			row := d.Data[r*D : (r+1)*D]
			for j, v := range row {
				db[j] += float64(v)
			}
			if m.PosEmbed.Grad != nil {
				pr := m.PosEmbed.Grad.Data[(r%N)*D : (r%N+1)*D]
				for j, v := range row {
					pr[j] += v
				}
			}
		}
		if m.PatchB.Grad != nil {
			for j, v := range db {
				m.PatchB.Grad.Data[j] += float32(v)
			}
		}
	}
}

// ProjectorLossAndGrad runs only the vision tower and the projector on imgs
// and backpropagates, into the allocated gradients of the vision and
// projector parameters, the gradient grad returns for the projector output
// proj ([Σ tiles·tokens per tile, text hidden], image by image, tile by
// tile); grad returning nil backpropagates nothing. It serves objectives
// defined on the image features alone (the testbed trainer's auxiliary
// objective) without the cost of the decoder.
func (m *Model) ProjectorLossAndGrad(imgs []model.ImageInput, grad func(proj *tensor.Tensor) (*tensor.Tensor, error)) error {
	st, err := m.visionForward(imgs)
	if err != nil {
		return err
	}
	d, err := grad(st.proj)
	if err != nil || d == nil {
		return err
	}
	if len(d.Data) != len(st.proj.Data) {
		return fmt.Errorf("projector gradient: %v values for a projector output of shape %v", len(d.Data), st.proj.Shape)
	}
	m.visionBackward(st, tensor.New(st.packed.Shape...), d)
	return nil
}
