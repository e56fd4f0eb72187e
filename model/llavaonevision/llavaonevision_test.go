package llavaonevision

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mbq/hf/chat"
	"mbq/hf/image"
	"mbq/model"
	"mbq/nn"
	"mbq/safetensors"
	"mbq/tensor"
)

func tinyDir(t *testing.T, seed uint64, o TinyOptions) string {
	t.Helper()
	dir := t.TempDir()
	if err := WriteTiny(dir, seed, o); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tinyModel(t *testing.T, seed uint64, o TinyOptions) *Model {
	t.Helper()
	m, err := Load(tinyDir(t, seed, o))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testImage is a deterministic RGB image.
func testImage(w, h int, seed uint64) *image.RGB {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := image.NewRGB(w, h)
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.IntN(256))
	}
	return m
}

func captionSample(img *image.RGB, question, answer string) model.Sample {
	return model.Sample{
		Messages: []chat.Message{
			chat.Parts("user", chat.ImagePart(), chat.TextPart(question)),
			chat.Parts("assistant", chat.TextPart(answer)),
		},
		Images: []*image.RGB{img},
	}
}

func TestWriteTinyLoad(t *testing.T) {
	dir := tinyDir(t, 1, TinyOptions{})
	v, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(*Model)
	ck, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	names := map[string]bool{}
	for _, n := range ck.Names() {
		names[n] = true
	}
	for _, want := range []string{
		"vision_tower.vision_model.embeddings.patch_embedding.weight",
		"vision_tower.vision_model.embeddings.position_embedding.weight",
		"vision_tower.vision_model.encoder.layers.1.self_attn.out_proj.bias",
		"vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight",
		"vision_tower.vision_model.post_layernorm.weight",
		"multi_modal_projector.linear_1.weight", "multi_modal_projector.linear_2.bias",
		"image_newline", "language_model.model.embed_tokens.weight",
		"language_model.model.layers.1.self_attn.q_proj.bias",
		"language_model.model.layers.0.self_attn.o_proj.weight",
		"language_model.model.layers.0.mlp.down_proj.weight",
		"language_model.model.layers.0.post_attention_layernorm.weight",
		"language_model.model.norm.weight", "language_model.lm_head.weight",
	} {
		if !names[want] {
			t.Errorf("tensor %s not written", want)
		}
	}
	if names["language_model.model.layers.0.self_attn.o_proj.bias"] {
		t.Error("o_proj has a bias")
	}
	if info, _ := ck.Info("vision_tower.vision_model.embeddings.patch_embedding.weight"); shapeString(info.Shape) != "[32 3 4 4]" {
		t.Errorf("patch embedding shape %v", info.Shape)
	}
	if len(m.Params()) != len(ck.Names()) {
		t.Errorf("%d params, %d tensors", len(m.Params()), len(ck.Names()))
	}
	for _, p := range m.Params() {
		want, _ := ck.Float32(p.Name)
		for i := range want {
			if want[i] != p.Value.Data[i] {
				t.Fatalf("%s[%d] = %g, file %g", p.Name, i, p.Value.Data[i], want[i])
			}
		}
	}
	if got := m.Decode(m.Tok.Encode("Describe the red circle.")); got != "Describe the red circle." {
		t.Errorf("tokenizer round trip: %q", got)
	}
	if len(m.StopIDs) == 0 {
		t.Error("no stop tokens")
	}
	// Deterministic in the seed.
	d2 := tinyDir(t, 1, TinyOptions{})
	a, _ := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(d2, "model.safetensors"))
	if string(a) != string(b) {
		t.Error("WriteTiny is not deterministic")
	}
	// Tied: no lm_head, shares the embedding.
	mt := tinyModel(t, 2, TinyOptions{Tied: true, BF16: true})
	if !mt.Tied || mt.LMHead.W != mt.Embed.W {
		t.Error("tied checkpoint does not share the embedding")
	}
}

// rewrite copies the tiny checkpoint in dir with edit applied to its tensors.
func rewrite(t *testing.T, dir string, edit func([]safetensors.Tensor) []safetensors.Tensor) {
	t.Helper()
	ck, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, n := range ck.Names() {
		x, err := ck.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		x.Data = append([]byte(nil), x.Data...)
		ts = append(ts, x)
	}
	ck.Close()
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), edit(ts), nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	const up = "language_model.model.layers.1.mlp.up_proj.weight"
	t.Run("missing", func(t *testing.T) {
		dir := tinyDir(t, 3, TinyOptions{})
		rewrite(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
			var out []safetensors.Tensor
			for _, x := range ts {
				if x.Name != up {
					out = append(out, x)
				}
			}
			return out
		})
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), up+": missing") || !errors.Is(err, ErrTensor) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("shape", func(t *testing.T) {
		dir := tinyDir(t, 3, TinyOptions{})
		rewrite(t, dir, func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i, x := range ts {
				if x.Name == up {
					data := make([]float32, 64*31)
					ts[i] = safetensors.F32Tensor(up, []int{64, 31}, data)
				}
			}
			return ts
		})
		_, err := Load(dir)
		want := up + ": shape [64 31], want [64 32]"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want it to contain %q", err, want)
		}
	})
	t.Run("architecture", func(t *testing.T) {
		dir := tinyDir(t, 3, TinyOptions{})
		p := filepath.Join(dir, "config.json")
		b, _ := os.ReadFile(p)
		b = []byte(strings.Replace(string(b), "LlavaOnevisionForConditionalGeneration", "FooForCausalLM", 1))
		os.WriteFile(p, b, 0o644)
		_, err := model.Load(dir)
		if err == nil || !strings.Contains(err.Error(), `"FooForCausalLM"`) || !strings.Contains(err.Error(), "LlavaOnevisionForConditionalGeneration") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no-safetensors", func(t *testing.T) {
		dir := tinyDir(t, 3, TinyOptions{})
		os.Remove(filepath.Join(dir, "model.safetensors"))
		if _, err := Load(dir); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestPrepare(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      TinyOptions
		w, h   int
		maxTil int
	}{
		{"base+grid", TinyOptions{}, 40, 23, 9},
		{"tall", TinyOptions{}, 13, 47, 9},
		{"downsample", TinyOptions{MaxTiles: 1}, 37, 30, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tinyModel(t, 4, tc.o)
			img := testImage(tc.w, tc.h, 5)
			in, err := m.Prepare(captionSample(img, "Describe the image.", "A red circle."), false)
			if err != nil {
				t.Fatal(err)
			}
			want, err := image.NumImageTokens(tc.h, tc.w, 16, 4, m.Cfg.ImageGridPinpoints, tc.maxTil)
			if err != nil {
				t.Fatal(err)
			}
			var count [3]int
			var answer []int
			for i, md := range in.Modality {
				count[md]++
				if md == model.Answer {
					answer = append(answer, in.IDs[i])
					if in.Labels[i] != in.IDs[i] {
						t.Errorf("label %d at answer position %d", in.Labels[i], i)
					}
				} else if in.Labels[i] != model.IgnoreIndex {
					t.Errorf("label %d at %s position %d", in.Labels[i], md, i)
				}
			}
			if count[model.Vision] != want || in.Images[0].Tokens != want {
				t.Errorf("%d vision tokens, processor counts %d", count[model.Vision], want)
			}
			if got := m.Tok.Decode(answer, false); got != "A red circle.<|im_end|>" {
				t.Errorf("answer tokens decode to %q", got)
			}
			if !strings.HasPrefix(in.Text, "<|im_start|>user <image>\nDescribe") {
				t.Errorf("text %q", in.Text)
			}
			out, err := m.Forward([]*model.Input{in}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if out[0].Logits.Rows() != in.Len() || out[0].Logits.Cols() != m.Cfg.TextConfig.VocabSize {
				t.Fatalf("logits %v", out[0].Logits.Shape)
			}
		})
	}
}

// TestBatch: a batch's logits equal each sample's alone.
func TestBatch(t *testing.T) {
	m := tinyModel(t, 10, TinyOptions{Std: 0.2})
	a, err := m.Prepare(captionSample(testImage(20, 33, 1), "Hi", "A square."), false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Prepare(model.Sample{Messages: []chat.Message{chat.Text("user", "3 + 4?"), chat.Text("assistant", "7")}}, false)
	if err != nil {
		t.Fatal(err)
	}
	both, err := m.Forward([]*model.Input{a, b}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range []*model.Input{a, b} {
		one, _ := m.Forward([]*model.Input{in}, nil)
		for j, v := range one[0].Logits.Data {
			if d := math.Abs(float64(v - both[i].Logits.Data[j])); d > 1e-5 {
				t.Fatalf("sample %d: batched logits differ by %g", i, d)
			}
		}
	}
}

func TestPrepareMultiTurn(t *testing.T) {
	m := tinyModel(t, 4, TinyOptions{})
	s := model.Sample{Messages: []chat.Message{
		chat.Parts("user", chat.ImagePart(), chat.TextPart("What shape?")),
		chat.Text("assistant", "A circle."),
		chat.Text("user", "And the colour?"),
		chat.Text("assistant", "red"),
	}, Images: []*image.RGB{testImage(16, 16, 1)}}
	in, err := m.Prepare(s, false)
	if err != nil {
		t.Fatal(err)
	}
	var spans [][]int
	for i, md := range in.Modality {
		if md == model.Answer {
			if i == 0 || in.Modality[i-1] != model.Answer {
				spans = append(spans, nil)
			}
			spans[len(spans)-1] = append(spans[len(spans)-1], in.IDs[i])
		}
	}
	if len(spans) != 2 || m.Tok.Decode(spans[0], false) != "A circle.<|im_end|>" || m.Tok.Decode(spans[1], false) != "red<|im_end|>" {
		for _, sp := range spans {
			t.Logf("span %q", m.Tok.Decode(sp, false))
		}
		t.Fatal("wrong answer spans")
	}
	if _, err := m.Prepare(model.Sample{Messages: s.Messages}, false); err == nil {
		t.Error("image part without an image: no error")
	}
}

func TestImageTokenMismatch(t *testing.T) {
	m := tinyModel(t, 4, TinyOptions{})
	in, err := m.Prepare(captionSample(testImage(20, 20, 1), "Hi", "Yo"), false)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range in.IDs {
		if id == m.Cfg.ImageTokenIndex {
			in.IDs = append(in.IDs[:i:i], in.IDs[i+1:]...)
			in.Modality = append(in.Modality[:i:i], in.Modality[i+1:]...)
			in.Labels = append(in.Labels[:i:i], in.Labels[i+1:]...)
			break
		}
	}
	if _, err := m.Forward([]*model.Input{in}, nil); err == nil || !strings.Contains(err.Error(), "image tokens") {
		t.Fatalf("err = %v", err)
	}
}

// TestKVCache: incremental decoding gives the full forward's logits.
func TestKVCache(t *testing.T) {
	m := tinyModel(t, 6, TinyOptions{Std: 0.2})
	s := captionSample(testImage(30, 20, 2), "What colour is the square?", "")
	s.Messages = s.Messages[:1]
	in, err := m.Prepare(s, true)
	if err != nil {
		t.Fatal(err)
	}
	sess, pre, err := m.Prefill(in, true)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Cfg.TextConfig.VocabSize
	rows := [][]float32{}
	for r := range pre.Rows() {
		rows = append(rows, pre.Data[r*V:(r+1)*V])
	}
	full := &model.Input{IDs: append([]int(nil), in.IDs...), Modality: append([]model.Modality(nil), in.Modality...), Images: in.Images}
	last := rows[len(rows)-1]
	for range 6 {
		id := Pick(last, 0, 0, 0, nil)
		full.IDs = append(full.IDs, id)
		full.Modality = append(full.Modality, model.Answer)
		if last, err = sess.Step(id); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, last)
	}
	full.Labels = make([]int, len(full.IDs))
	out, err := m.Forward([]*model.Input{full}, nil)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for r, row := range rows {
		for j, v := range row {
			worst = max(worst, math.Abs(float64(v-out[0].Logits.Data[r*V+j])))
		}
	}
	if worst > 1e-5 {
		t.Errorf("incremental logits differ from the full forward by %g", worst)
	}
	t.Logf("max |Δlogit| = %g over %d positions", worst, len(rows))
}

func TestGenerate(t *testing.T) {
	m := tinyModel(t, 7, TinyOptions{Std: 0.5})
	s := captionSample(testImage(16, 16, 3), "Describe the image.", "")
	s.Messages = s.Messages[:1]
	in, err := m.Prepare(s, true)
	if err != nil {
		t.Fatal(err)
	}
	g1, err := m.Generate(in, model.GenerateOptions{MaxNewTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(g1.Tokens) == 0 || (len(g1.Tokens) < 8 && !g1.Stopped) {
		t.Fatalf("greedy: %v", g1)
	}
	g2, _ := m.Generate(in, model.GenerateOptions{MaxNewTokens: 8})
	if !slices.Equal(g1.Tokens, g2.Tokens) {
		t.Error("greedy decoding is not deterministic")
	}
	opt := model.GenerateOptions{MaxNewTokens: 8, Temperature: 1.5, TopK: 50, TopP: 0.95, Seed: 9}
	s1, _ := m.Generate(in, opt)
	s2, _ := m.Generate(in, opt)
	if !slices.Equal(s1.Tokens, s2.Tokens) {
		t.Error("sampling is not deterministic in the seed")
	}
	// A stop token ends generation.
	g3, _ := m.Generate(in, model.GenerateOptions{MaxNewTokens: 8, StopTokens: []int{g1.Tokens[0]}})
	if len(g3.Tokens) != 1 || !g3.Stopped {
		t.Errorf("stop token: %v", g3)
	}
}

func TestPick(t *testing.T) {
	logits := []float32{1, 3, 2, 3, -1}
	if Pick(logits, 0, 0, 0, nil) != 1 {
		t.Error("greedy picks the first maximum")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		if id := Pick(logits, 1, 1, 0, rng); id != 1 && id != 3 {
			t.Fatalf("top-1 with a tie picked %d", id)
		}
		if id := Pick(logits, 1, 0, 0.5, rng); id != 1 && id != 3 {
			t.Fatalf("top-p 0.5 picked %d", id)
		}
	}
}

// batchLoss is the loss of LossAndGrad computed with Forward alone.
func batchLoss(t *testing.T, m *Model, batch []*model.Input) float64 {
	out, err := m.Forward(batch, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	n := 0
	for s, o := range out {
		ls, c := nn.CrossEntropySum(nil, o.Logits, nn.ShiftLabels(batch[s].Labels), 1)
		sum += ls
		n += c
	}
	return sum / float64(n)
}

// Finite differences: steps h and h/2 combined by Richardson extrapolation
// (as in package nn); the norm-wise relative error over all checked entries
// must be below 1e-3, and each entry within fdEntryTol relative to
// max(|a|, |n|) once the estimate's rounding noise (fdNoise: float32
// logits, loss differences of ~1e-7 divided by the step) is allowed for.
// Entries with an identically zero gradient (SigLIP's k_proj bias: softmax
// ignores a per-row constant) come out as noise of ~1e-5.
const (
	fdEntryTol = 1e-2
	fdNoise    = 3e-5
)

// fdEntry is the Richardson-extrapolated central difference of objective
// with respect to vals[i] (steps 5e-2 and 2.5e-2); vals[i] is restored.
func fdEntry(vals []float32, i int, objective func() float64) float64 {
	v := vals[i]
	f := func(h float64) float64 {
		vals[i] = v + float32(h)
		l := objective()
		vals[i] = v
		return l
	}
	const h = 5e-2
	d1 := (f(h) - f(-h)) / (2 * h)
	d2 := (f(h/2) - f(-h/2)) / h
	return (4*d2 - d1) / 3
}

// TestGradFD checks the whole model's gradient (vision tower, projector,
// image_newline, embeddings, decoder, norm, lm_head) against central finite
// differences on a sample of every parameter tensor's entries.
func TestGradFD(t *testing.T) {
	for _, o := range []TinyOptions{
		{Std: 0.3},
		{Std: 0.3, Tied: true, MaxTiles: 1, VisionFeatureLayer: -2},
	} {
		m := tinyModel(t, 8, o)
		s1 := captionSample(testImage(37, 21, 4), "What is it?", "A blue square.")
		s2 := captionSample(testImage(16, 16, 5), "Colour?", "Red.")
		var batch []*model.Input
		for _, s := range []model.Sample{s1, s2} {
			in, err := m.Prepare(s, false)
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, in)
		}
		ps := m.Params()
		nn.AllocGrads(ps)
		res, err := m.LossAndGrad(batch, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l := batchLoss(t, m, batch); math.Abs(l-res.Loss) > 1e-5*math.Abs(l) {
			t.Fatalf("LossAndGrad loss %g, Forward loss %g", res.Loss, l)
		}
		rng := rand.New(rand.NewPCG(11, 12))
		var num2, den2 float64
		worst := 0.0
		per := 3 // entries per tensor (fewer made the relative error a few entries' noise)
		for _, p := range ps {
			if strings.Contains(p.Name, "post_layernorm") {
				for _, g := range p.Grad.Data {
					if g != 0 {
						t.Fatalf("%s has a gradient but is not applied", p.Name)
					}
				}
				continue
			}
			for range per {
				i := rng.IntN(len(p.Value.Data))
				num := fdEntry(p.Value.Data, i, func() float64 { return batchLoss(t, m, batch) })
				a := float64(p.Grad.Data[i])
				num2 += (a - num) * (a - num)
				den2 += num * num
				// Per entry: relative error beyond the float32 rounding
				// noise of the estimate (fdNoise absolute).
				e := max(math.Abs(a-num)-fdNoise, 0) / max(math.Abs(a), math.Abs(num), 1e-12)
				if e > worst {
					worst = e
				}
				if e > fdEntryTol {
					t.Errorf("%s[%d]: analytic %g, numeric %g", p.Name, i, a, num)
				}
			}
		}
		rel := math.Sqrt(num2 / den2)
		t.Logf("tied=%v: relative error %.2e (worst entry %.2e)", o.Tied, rel, worst)
		if rel > 1e-3 {
			t.Errorf("relative error %g", rel)
		}
	}
}

// TestBlockGrads: the sensitivities MBQ reads; at the last block the
// gradient on image rows is exactly zero (hf-semantics 7).
func TestBlockGrads(t *testing.T) {
	m := tinyModel(t, 9, TinyOptions{Std: 0.2})
	in, err := m.Prepare(captionSample(testImage(20, 20, 6), "Describe.", "A green circle on the left."), false)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	var fwdNames []string
	_, err = m.LossAndGrad([]*model.Input{in}, &model.BackwardOptions{
		Hooks: func(s, b int) *nn.Hooks {
			return &nn.Hooks{Forward: func(name string, x, y *tensor.Tensor) {
				if b == 0 {
					fwdNames = append(fwdNames, name)
				}
			}}
		},
		BlockGrads: func(s, b int, gO, gD *tensor.Tensor, mod []model.Modality) {
			seen++
			for _, g := range []*tensor.Tensor{gO, gD} {
				mean, rows := model.MeanAbs(g, mod)
				if rows[model.Vision] == 0 || rows[model.Answer] == 0 || mean[model.Answer] == 0 {
					t.Errorf("block %d: rows %v, means %v", b, rows, mean)
				}
				if b == len(m.Blocks)-1 && mean[model.Vision] != 0 {
					t.Errorf("last block: vision gradient %g, want 0", mean[model.Vision])
				}
				if b < len(m.Blocks)-1 && mean[model.Vision] == 0 {
					t.Errorf("block %d: zero vision gradient", b)
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(m.Blocks) || len(fwdNames) != 7 {
		t.Errorf("%d block callbacks, block 0 forward hooks %v", seen, fwdNames)
	}
	// RunBlock reproduces the decoder on DecoderInputs.
	hs, err := m.DecoderInputs([]*model.Input{in})
	if err != nil {
		t.Fatal(err)
	}
	x := hs[0]
	for i := range m.Blocks {
		if x, err = m.RunBlock(i, x, nn.Positions(x.Rows()), nil); err != nil {
			t.Fatal(err)
		}
	}
	logits := m.LMHead.Forward(m.Norm.Forward(x))
	out, _ := m.Forward([]*model.Input{in}, nil)
	for i, v := range logits.Data {
		if math.Abs(float64(v-out[0].Logits.Data[i])) > 1e-5 {
			t.Fatalf("RunBlock chain differs from Forward at %d", i)
		}
	}
	if _, err := m.RunBlock(5, x, nil, nil); err == nil {
		t.Error("RunBlock out of range: no error")
	}
}

func isVisionOrProjector(name string) bool {
	return strings.Contains(name, "vision_tower") || strings.Contains(name, "multi_modal_projector")
}

// checkVisionGradFD compares two random entries of every vision-tower and
// projector gradient (post_layernorm aside: unused) with finite differences
// of objective: relative error (root of the summed squares) <= 1e-3.
func checkVisionGradFD(t *testing.T, ps []nn.NamedParam, rng *rand.Rand, objective func() float64) {
	t.Helper()
	var num2, den2 float64
	checked := 0
	for _, p := range ps {
		if !isVisionOrProjector(p.Name) || strings.Contains(p.Name, "post_layernorm") {
			continue
		}
		for range 2 {
			i := rng.IntN(len(p.Value.Data))
			num := fdEntry(p.Value.Data, i, objective)
			a := float64(p.Grad.Data[i])
			num2 += (a - num) * (a - num)
			den2 += num * num
			checked++
		}
	}
	rel := math.Sqrt(num2 / den2)
	t.Logf("%d entries, relative error %.2e", checked, rel)
	if checked == 0 || rel > 1e-3 {
		t.Errorf("relative error %g over %d entries", rel, checked)
	}
}

// TestProjectorGradFD: the gradient ProjectorGrad adds at the projector
// output is backpropagated like the decoder's: for the objective
// loss + Σ⟨G, proj⟩ with a fixed G, the vision and projector parameter
// gradients match central finite differences.
func TestProjectorGradFD(t *testing.T) {
	m := tinyModel(t, 9, TinyOptions{Std: 0.3})
	s1 := captionSample(testImage(37, 21, 4), "What is it?", "A blue square.")
	in, err := m.Prepare(s1, false)
	if err != nil {
		t.Fatal(err)
	}
	batch := []*model.Input{in}
	st, err := m.visionForward(in.Images)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	G := tensor.New(st.proj.Shape...)
	for i := range G.Data {
		G.Data[i] = float32(rng.NormFloat64())
	}
	objective := func() float64 {
		st, err := m.visionForward(in.Images)
		if err != nil {
			t.Fatal(err)
		}
		l := batchLoss(t, m, batch)
		for i, v := range st.proj.Data {
			l += float64(v) * float64(G.Data[i])
		}
		return l
	}
	ps := m.Params()
	nn.AllocGrads(ps)
	calls := 0
	if _, err := m.LossAndGrad(batch, &model.BackwardOptions{ProjectorGrad: func(s int, proj *tensor.Tensor) *tensor.Tensor {
		calls++
		if !slices.Equal(proj.Shape, G.Shape) {
			t.Fatalf("projector output %v, want %v", proj.Shape, G.Shape)
		}
		return G
	}}); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("ProjectorGrad called %d times, want 1", calls)
	}
	checkVisionGradFD(t, ps, rng, objective)
	// A wrong shape is an error, not a panic.
	if _, err := m.LossAndGrad(batch, &model.BackwardOptions{ProjectorGrad: func(int, *tensor.Tensor) *tensor.Tensor {
		return tensor.New(1, 1)
	}}); err == nil || !strings.Contains(err.Error(), "projector gradient") {
		t.Fatalf("wrong-shape projector gradient: err %v", err)
	}
}

// TestAttnGuidesFD: an attention guide's gradient flows through the
// decoder like the answer loss's: for loss + guide loss (the guide's value
// as LossAndGrad stores it; its formula is checked in package nn), the
// decoder parameter gradients match central finite differences, and a
// guide changes them.
func TestAttnGuidesFD(t *testing.T) {
	m := tinyModel(t, 9, TinyOptions{Std: 0.3})
	in, err := m.Prepare(captionSample(testImage(37, 21, 4), "What is it?", "A blue square."), false)
	if err != nil {
		t.Fatal(err)
	}
	batch := []*model.Input{in}
	last := len(m.Blocks) - 1
	T := len(in.IDs)
	guideLoss := 0.0
	opts := &model.BackwardOptions{AttnGuides: func(s, block int) []nn.AttnGuide {
		if block != last {
			return nil
		}
		return []nn.AttnGuide{{Head: 1, Row: T - 2, Keys: []int{1, 2, T - 5}, Weight: 0.8, Loss: &guideLoss}}
	}}
	checkExtraGradFD(t, m, batch, opts, func() float64 { return guideLoss }, func() {
		if guideLoss <= 0 {
			t.Fatalf("guide loss %g, want > 0", guideLoss)
		}
		t.Logf("guide loss %.4f", guideLoss)
	}, rand.New(rand.NewPCG(5, 6)), "the guide", func(name string) bool {
		return strings.Contains(name, "language_model") && !strings.Contains(name, "norm")
	})
}

// checkExtraGradFD backpropagates the batch's loss without and with opts
// (whose hooks add an extra term, its current value given by extra), calls
// after (nil: none) once the gradients with opts are taken, and checks,
// for 2 random entries of every parameter that include selects, that
// gradient against central finite differences of loss + extra, and that
// the extra term (what) moved the gradients away from the plain ones.
func checkExtraGradFD(t *testing.T, m *Model, batch []*model.Input, opts *model.BackwardOptions, extra func() float64, after func(), rng *rand.Rand, what string, include func(string) bool) {
	t.Helper()
	ps := m.Params()
	nn.AllocGrads(ps)
	grads := func(o *model.BackwardOptions) map[string][]float32 {
		nn.ZeroGrads(ps)
		if _, err := m.LossAndGrad(batch, o); err != nil {
			t.Fatal(err)
		}
		g := map[string][]float32{}
		for _, p := range ps {
			g[p.Name] = slices.Clone(p.Grad.Data)
		}
		return g
	}
	plain, analytic := grads(nil), grads(opts)
	if after != nil {
		after()
	}
	objective := func() float64 {
		res, err := m.LossAndGrad(batch, opts)
		if err != nil {
			t.Fatal(err)
		}
		return res.Loss + extra()
	}
	var num2, den2, moved float64
	checked := 0
	for _, p := range ps {
		if !include(p.Name) {
			continue
		}
		for j := range analytic[p.Name] {
			d := float64(analytic[p.Name][j] - plain[p.Name][j])
			moved += d * d
		}
		for range 2 {
			i := rng.IntN(len(p.Value.Data))
			num := fdEntry(p.Value.Data, i, objective)
			a := float64(analytic[p.Name][i])
			num2 += (a - num) * (a - num)
			den2 += num * num
			checked++
		}
	}
	rel := math.Sqrt(num2 / den2)
	t.Logf("%d entries, relative error %.2e", checked, rel)
	if checked == 0 || rel > 1e-3 {
		t.Errorf("relative error %g over %d entries", rel, checked)
	}
	if moved == 0 {
		t.Errorf("%s did not change the gradients", what)
	}
}

// TestNLLScale: NLLScale multiplies every gradient of the answer loss and
// leaves the reported loss the mean NLL.
func TestNLLScale(t *testing.T) {
	m := tinyModel(t, 10, TinyOptions{Std: 0.3})
	in, err := m.Prepare(captionSample(testImage(24, 18, 7), "Shape?", "A red star."), false)
	if err != nil {
		t.Fatal(err)
	}
	ps := m.Params()
	grads := func(scale float32) (float64, [][]float32) {
		nn.AllocGrads(ps)
		for _, p := range ps {
			clear(p.Grad.Data)
		}
		res, err := m.LossAndGrad([]*model.Input{in}, &model.BackwardOptions{NLLScale: scale})
		if err != nil {
			t.Fatal(err)
		}
		out := make([][]float32, len(ps))
		for i, p := range ps {
			out[i] = slices.Clone(p.Grad.Data)
		}
		return res.Loss, out
	}
	l1, g1 := grads(0)
	l3, g3 := grads(3)
	if l1 != l3 {
		t.Fatalf("loss %g with scale 3, %g without", l3, l1)
	}
	// Compared as a whole: single entries of the vision tower's gradient
	// are sums with cancellation, their relative rounding is large.
	var num2, den2 float64
	nonzero := 0
	for i := range g1 {
		for j, a := range g1[i] {
			d := float64(g3[i][j] - 3*a)
			num2 += d * d
			den2 += float64(3*a) * float64(3*a)
			if a != 0 {
				nonzero++
			}
		}
	}
	if rel := math.Sqrt(num2 / den2); rel > 1e-5 {
		t.Fatalf("gradients with scale 3 differ from 3x those without by %g (relative)", rel)
	}
	if nonzero == 0 {
		t.Fatal("no gradient at all")
	}
}

// TestProjectorLossAndGradFD: the vision-only backward gives, for the
// objective Σ⟨G, proj⟩, the vision and projector gradients of central
// finite differences, leaves the decoder's gradients zero, and reports a
// gradient of the wrong size.
func TestProjectorLossAndGradFD(t *testing.T) {
	m := tinyModel(t, 11, TinyOptions{Std: 0.3})
	in, err := m.Prepare(captionSample(testImage(29, 40, 5), "What is it?", "A red star."), false)
	if err != nil {
		t.Fatal(err)
	}
	imgs := in.Images
	rng := rand.New(rand.NewPCG(5, 6))
	var G *tensor.Tensor
	objective := func() float64 {
		var l float64
		if err := m.ProjectorLossAndGrad(imgs, func(proj *tensor.Tensor) (*tensor.Tensor, error) {
			for i, v := range proj.Data {
				l += float64(v) * float64(G.Data[i])
			}
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		return l
	}
	ps := m.Params()
	nn.AllocGrads(ps)
	if err := m.ProjectorLossAndGrad(imgs, func(proj *tensor.Tensor) (*tensor.Tensor, error) {
		// A few rows only: a float32 sum over the whole output would
		// drown the finite differences in rounding.
		G = tensor.New(proj.Shape...)
		H := proj.Shape[1]
		for _, r := range []int{0, 5, proj.Shape[0] - 1} {
			for j := range H {
				G.Data[r*H+j] = float32(rng.NormFloat64())
			}
		}
		return G, nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if !isVisionOrProjector(p.Name) {
			for _, g := range p.Grad.Data {
				if g != 0 {
					t.Fatalf("%s: gradient %g from a vision-only objective", p.Name, g)
				}
			}
		}
	}
	checkVisionGradFD(t, ps, rng, objective)
	if err := m.ProjectorLossAndGrad(imgs, func(*tensor.Tensor) (*tensor.Tensor, error) { return tensor.New(1, 1), nil }); err == nil || !strings.Contains(err.Error(), "projector gradient") {
		t.Fatalf("wrong-size gradient: err %v", err)
	}
}

// TestBlockInputGradFD: a gradient BlockInputGrad adds at a decoder block's
// input flows back like the answer loss's: for loss + Σ⟨G, x_i⟩ (x_i the
// hidden states entering block i, G fixed), every parameter gradient
// matches central finite differences; a wrong shape is an error.
func TestBlockInputGradFD(t *testing.T) {
	m := tinyModel(t, 9, TinyOptions{Std: 0.3})
	in, err := m.Prepare(captionSample(testImage(37, 21, 4), "What is it?", "A blue square."), false)
	if err != nil {
		t.Fatal(err)
	}
	batch := []*model.Input{in}
	block := len(m.Blocks) - 1
	rng := rand.New(rand.NewPCG(7, 8))
	var G *tensor.Tensor
	inner := 0.0 // Σ⟨G, x_block⟩ of the last call
	calls := 0
	opts := &model.BackwardOptions{BlockInputGrad: func(s, b int, x *tensor.Tensor) *tensor.Tensor {
		if b != block {
			return nil
		}
		calls++
		if G == nil {
			G = tensor.New(x.Shape...)
			for i := range G.Data {
				G.Data[i] = float32(rng.NormFloat64())
			}
		}
		inner = 0
		for i, v := range x.Data {
			inner += float64(v) * float64(G.Data[i])
		}
		return G
	}}
	// post_layernorm is not applied (no gradient at all).
	checkExtraGradFD(t, m, batch, opts, func() float64 { return inner }, func() {
		if calls != 1 {
			t.Fatalf("BlockInputGrad returned a gradient %d times for block %d, want 1", calls, block)
		}
	}, rng, "the block-input gradient", func(name string) bool {
		return !strings.Contains(name, "post_layernorm")
	})
	if _, err := m.LossAndGrad(batch, &model.BackwardOptions{BlockInputGrad: func(int, int, *tensor.Tensor) *tensor.Tensor {
		return tensor.New(1, 1)
	}}); err == nil || !strings.Contains(err.Error(), "input gradient") {
		t.Fatalf("wrong-shape block input gradient: err %v", err)
	}
}
