package llavaonevision

import (
	"math"
	"testing"

	"mbq/hf/image"
	"mbq/model"
)

// A naive float64 re-implementation of transformers' LLaVA-OneVision
// forward, written from the modeling files' semantics and independent of
// package nn and of this package's packing code, to check Forward against.

type mat [][]float64

func newMat(r, c int) mat {
	m := make(mat, r)
	for i := range m {
		m[i] = make([]float64, c)
	}
	return m
}

func (m *Model) w(name string) []float32 {
	for _, p := range m.Params() {
		if p.Name == name {
			return p.Value.Data
		}
	}
	if name == lmHeadName {
		return m.Embed.W.Value.Data
	}
	panic("no param " + name)
}

// linear: y = x·Wᵀ + b (b may be nil).
func refLinear(x mat, w, b []float32) mat {
	in := len(x[0])
	out := len(w) / in
	y := newMat(len(x), out)
	for t := range x {
		for o := range out {
			s := 0.0
			if b != nil {
				s = float64(b[o])
			}
			for i := range in {
				s += x[t][i] * float64(w[o*in+i])
			}
			y[t][o] = s
		}
	}
	return y
}

func refLayerNorm(x mat, w, b []float32, eps float64) mat {
	y := newMat(len(x), len(x[0]))
	for t, row := range x {
		mu, v := 0.0, 0.0
		for _, a := range row {
			mu += a
		}
		mu /= float64(len(row))
		for _, a := range row {
			v += (a - mu) * (a - mu)
		}
		v /= float64(len(row))
		for i, a := range row {
			y[t][i] = (a-mu)/math.Sqrt(v+eps)*float64(w[i]) + float64(b[i])
		}
	}
	return y
}

func refRMSNorm(x mat, w []float32, eps float64) mat {
	y := newMat(len(x), len(x[0]))
	for t, row := range x {
		s := 0.0
		for _, a := range row {
			s += a * a
		}
		r := 1 / math.Sqrt(s/float64(len(row))+eps)
		for i, a := range row {
			y[t][i] = float64(w[i]) * a * r
		}
	}
	return y
}

func add(a, b mat) mat {
	y := newMat(len(a), len(a[0]))
	for t := range a {
		for i := range a[t] {
			y[t][i] = a[t][i] + b[t][i]
		}
	}
	return y
}

func apply(x mat, f func(float64) float64) mat {
	y := newMat(len(x), len(x[0]))
	for t := range x {
		for i := range x[t] {
			y[t][i] = f(x[t][i])
		}
	}
	return y
}

func geluTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}
func geluErf(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
func silu(x float64) float64    { return x / (1 + math.Exp(-x)) }

// refAttention: heads of width d; query head h uses kv head h/(nh/nkv).
func refAttention(q, k, v mat, nh, nkv, d int, causal bool) mat {
	T := len(q)
	out := newMat(T, nh*d)
	for h := range nh {
		g := h / (nh / nkv)
		for i := range T {
			lim := T
			if causal {
				lim = i + 1
			}
			sc := make([]float64, lim)
			mx := math.Inf(-1)
			for j := range lim {
				s := 0.0
				for e := range d {
					s += q[i][h*d+e] * k[j][g*d+e]
				}
				sc[j] = s / math.Sqrt(float64(d))
				mx = math.Max(mx, sc[j])
			}
			z := 0.0
			for j := range sc {
				sc[j] = math.Exp(sc[j] - mx)
				z += sc[j]
			}
			for j := range sc {
				for e := range d {
					out[i][h*d+e] += sc[j] / z * v[j][g*d+e]
				}
			}
		}
	}
	return out
}

// refRope applies Qwen2's rotary embedding (cat(freqs, freqs), rotate_half).
func refRope(x mat, heads, d int, theta float64) mat {
	y := newMat(len(x), len(x[0]))
	for t := range x {
		for h := range heads {
			for i := range d {
				f := float64(t) / math.Pow(theta, float64(2*(i%(d/2)))/float64(d))
				var rot float64
				if i < d/2 {
					rot = -x[t][h*d+i+d/2]
				} else {
					rot = x[t][h*d+i-d/2]
				}
				y[t][h*d+i] = x[t][h*d+i]*math.Cos(f) + rot*math.Sin(f)
			}
		}
	}
	return y
}

func (m *Model) refVision(tiles []*image.Pixels) mat {
	vc := &m.Cfg.VisionConfig
	P, D, S := vc.PatchSize, vc.HiddenSize, vc.ImageSize
	side := S / P
	pre := visionPrefix
	var feats mat
	for _, px := range tiles {
		// Conv2d(kernel = stride = P) + position embedding.
		W, B, pos := m.w(pre+"embeddings.patch_embedding.weight"), m.w(pre+"embeddings.patch_embedding.bias"), m.w(pre+"embeddings.position_embedding.weight")
		x := newMat(side*side, D)
		for py := range side {
			for pxx := range side {
				p := py*side + pxx
				for d := range D {
					s := float64(B[d]) + float64(pos[p*D+d])
					for c := range 3 {
						for yy := range P {
							for xx := range P {
								s += float64(W[((d*3+c)*P+yy)*P+xx]) * float64(px.At(c, py*P+yy, pxx*P+xx))
							}
						}
					}
					x[p][d] = s
				}
			}
		}
		hidden := []mat{x}
		for i := range vc.NumHiddenLayers {
			l := pre + "encoder.layers." + itoa(i) + "."
			eps := vc.LayerNormEps
			n1 := refLayerNorm(x, m.w(l+"layer_norm1.weight"), m.w(l+"layer_norm1.bias"), eps)
			q := refLinear(n1, m.w(l+"self_attn.q_proj.weight"), m.w(l+"self_attn.q_proj.bias"))
			k := refLinear(n1, m.w(l+"self_attn.k_proj.weight"), m.w(l+"self_attn.k_proj.bias"))
			v := refLinear(n1, m.w(l+"self_attn.v_proj.weight"), m.w(l+"self_attn.v_proj.bias"))
			a := refAttention(q, k, v, vc.NumAttentionHeads, vc.NumAttentionHeads, D/vc.NumAttentionHeads, false)
			x = add(x, refLinear(a, m.w(l+"self_attn.out_proj.weight"), m.w(l+"self_attn.out_proj.bias")))
			n2 := refLayerNorm(x, m.w(l+"layer_norm2.weight"), m.w(l+"layer_norm2.bias"), eps)
			f := apply(refLinear(n2, m.w(l+"mlp.fc1.weight"), m.w(l+"mlp.fc1.bias")), geluTanh)
			x = add(x, refLinear(f, m.w(l+"mlp.fc2.weight"), m.w(l+"mlp.fc2.bias")))
			hidden = append(hidden, x)
		}
		sel := hidden[m.Cfg.VisionLayerIndices()[0]]
		feats = append(feats, sel...)
	}
	h := apply(refLinear(feats, m.w("multi_modal_projector.linear_1.weight"), m.w("multi_modal_projector.linear_1.bias")), geluErf)
	return refLinear(h, m.w("multi_modal_projector.linear_2.weight"), m.w("multi_modal_projector.linear_2.bias"))
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// refPack is pack_image_features for one image: tensors [C][H][W].
func (m *Model) refPack(f mat, origH, origW int) mat {
	vc := &m.Cfg.VisionConfig
	side := vc.ImageSize / vc.PatchSize
	n := side * side
	nl := m.w("image_newline")
	C := len(f[0])
	if len(f) == n {
		out := append(mat{}, f...)
		row := make([]float64, C)
		for i := range row {
			row[i] = float64(nl[i])
		}
		return append(out, row)
	}
	base := f[:n]
	bh, bw := image.SelectBestResolution(origH, origW, m.Cfg.ImageGridPinpoints)
	nph, npw := bh/vc.ImageSize, bw/vc.ImageSize
	// view(nph, npw, h, w, C).permute(4, 0, 2, 1, 3).flatten(1, 2).flatten(2, 3)
	H, W := nph*side, npw*side
	grid := make([]mat, C)
	for c := range C {
		grid[c] = newMat(H, W)
		for a := range nph {
			for y := range side {
				for b := range npw {
					for x := range side {
						grid[c][a*side+y][b*side+x] = f[n+(a*npw+b)*n+y*side+x][c]
					}
				}
			}
		}
	}
	// unpad_image
	if float64(origW)/float64(origH) > float64(W)/float64(H) {
		newH := int(math.Round(float64(origH)*float64(W)/float64(origW)*1e7) / 1e7)
		pad := (H - newH) / 2
		for c := range C {
			grid[c] = grid[c][pad : H-pad]
		}
	} else {
		newW := int(math.Round(float64(origW)*float64(H)/float64(origH)*1e7) / 1e7)
		pad := (W - newW) / 2
		for c := range C {
			for r := range grid[c] {
				grid[c][r] = grid[c][r][pad : W-pad]
			}
		}
	}
	ch, cw := len(grid[0]), len(grid[0][0])
	ratio := math.Sqrt(float64(ch*cw) / float64(maxPatches(m.Cfg.VisionAspectRatio)*side*side))
	if ratio > 1.1 {
		oh, ow := int(math.Floor(float64(ch)/ratio)), int(math.Floor(float64(cw)/ratio))
		src := func(i, in, out int) (int, int, float64) {
			s := math.Max((float64(i)+0.5)*float64(in)/float64(out)-0.5, 0)
			i0 := int(s)
			i1 := min(i0+1, in-1)
			return i0, i1, s - float64(i0)
		}
		for c := range C {
			g := newMat(oh, ow)
			for y := range oh {
				y0, y1, ly := src(y, ch, oh)
				for x := range ow {
					x0, x1, lx := src(x, cw, ow)
					g[y][x] = (1-ly)*((1-lx)*grid[c][y0][x0]+lx*grid[c][y0][x1]) + ly*((1-lx)*grid[c][y1][x0]+lx*grid[c][y1][x1])
				}
			}
			grid[c] = g
		}
		ch, cw = oh, ow
	}
	out := append(mat{}, base...)
	for y := range ch {
		for x := range cw {
			row := make([]float64, C)
			for c := range C {
				row[c] = grid[c][y][x]
			}
			out = append(out, row)
		}
		row := make([]float64, C)
		for c := range C {
			row[c] = float64(nl[c])
		}
		out = append(out, row)
	}
	return out
}

func (m *Model) refForward(in *model.Input) mat {
	tc := &m.Cfg.TextConfig
	H := tc.HiddenSize
	emb := m.w(textPrefix + "embed_tokens.weight")
	var img mat
	for _, im := range in.Images {
		img = append(img, m.refPack(m.refVision(im.Tiles), im.Height, im.Width)...)
	}
	x := newMat(len(in.IDs), H)
	k := 0
	for t, id := range in.IDs {
		if id == m.Cfg.ImageTokenIndex {
			copy(x[t], img[k])
			k++
			continue
		}
		for i := range H {
			x[t][i] = float64(emb[id*H+i])
		}
	}
	nh, nkv, d := tc.NumAttentionHeads, tc.NumKeyValueHeads, tc.HeadDim()
	for i := range tc.NumHiddenLayers {
		l := textPrefix + "layers." + itoa(i) + "."
		n1 := refRMSNorm(x, m.w(l+"input_layernorm.weight"), tc.RMSNormEps)
		q := refRope(refLinear(n1, m.w(l+"self_attn.q_proj.weight"), m.w(l+"self_attn.q_proj.bias")), nh, d, tc.RopeTheta)
		kk := refRope(refLinear(n1, m.w(l+"self_attn.k_proj.weight"), m.w(l+"self_attn.k_proj.bias")), nkv, d, tc.RopeTheta)
		v := refLinear(n1, m.w(l+"self_attn.v_proj.weight"), m.w(l+"self_attn.v_proj.bias"))
		x = add(x, refLinear(refAttention(q, kk, v, nh, nkv, d, true), m.w(l+"self_attn.o_proj.weight"), nil))
		n2 := refRMSNorm(x, m.w(l+"post_attention_layernorm.weight"), tc.RMSNormEps)
		g := apply(refLinear(n2, m.w(l+"mlp.gate_proj.weight"), nil), silu)
		u := refLinear(n2, m.w(l+"mlp.up_proj.weight"), nil)
		for t := range g {
			for j := range g[t] {
				g[t][j] *= u[t][j]
			}
		}
		x = add(x, refLinear(g, m.w(l+"mlp.down_proj.weight"), nil))
	}
	x = refRMSNorm(x, m.w(textPrefix+"norm.weight"), tc.RMSNormEps)
	return refLinear(x, m.w(lmHeadName), nil)
}

// TestForwardReference compares Forward with the naive float64 reference.
func TestForwardReference(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    TinyOptions
		w, h int
	}{
		{"grid", TinyOptions{Std: 0.3}, 37, 21},
		{"tall-tied", TinyOptions{Std: 0.3, Tied: true}, 14, 40},
		{"downsample", TinyOptions{Std: 0.3, MaxTiles: 1, VisionFeatureLayer: -2}, 45, 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyModel(t, 12, tc.o)
			in, err := m.Prepare(captionSample(testImage(tc.w, tc.h, 3), "What is this?", "A red star."), false)
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Forward([]*model.Input{in}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ref := m.refForward(in)
			V := out[0].Logits.Cols()
			worst, scale := 0.0, 0.0
			for r := range ref {
				for j, v := range ref[r] {
					worst = math.Max(worst, math.Abs(v-float64(out[0].Logits.Data[r*V+j])))
					scale = math.Max(scale, math.Abs(v))
				}
			}
			t.Logf("%d positions, max |logit| %.3g, max |Δ| %.3g", len(ref), scale, worst)
			if worst > 1e-4*max(scale, 1) {
				t.Errorf("Forward differs from the reference by %g", worst)
			}
		})
	}
}

func TestBilinearTaps(t *testing.T) {
	// torch: interpolate([0, 1, 2, 3], size=2) = [0.5, 2.5]; size 3 -> 2 = [0.25x0+..]
	got := bilinearTaps(4, 2)
	if got[0] != [2]tap{{0, 0.5}, {1, 0.5}} || got[1] != [2]tap{{2, 0.5}, {3, 0.5}} {
		t.Errorf("4->2: %v", got)
	}
	got = bilinearTaps(3, 2)
	if got[0] != [2]tap{{0, 0.75}, {1, 0.25}} || got[1] != [2]tap{{1, 0.25}, {2, 0.75}} {
		t.Errorf("3->2: %v", got)
	}
}
