package sensitivity

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"mbq/hf/chat"
	"mbq/hf/image"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/tensor"
)

func tinyModel(t *testing.T, layers int) model.VLM {
	t.Helper()
	dir := t.TempDir()
	o := llavaonevision.DefaultTiny
	o.TextLayers = layers
	o.Std = 0.1
	if err := llavaonevision.WriteTiny(dir, 11, o); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testImage(w, h int, seed uint8) *image.RGB {
	img := image.NewRGB(w, h)
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7) ^ seed
	}
	return img
}

func imageSample(seed uint8, caption string) model.Sample {
	return model.Sample{
		Messages: []chat.Message{
			chat.Parts("user", chat.ImagePart(), chat.TextPart("Describe the image.")),
			chat.Parts("assistant", chat.TextPart(caption)),
		},
		Images: []*image.RGB{testImage(16, 16, seed)},
	}
}

func textSample(q, a string) model.Sample {
	return model.Sample{Messages: []chat.Message{
		chat.Parts("user", chat.TextPart(q)),
		chat.Parts("assistant", chat.TextPart(a)),
	}}
}

// direct computes, independently of Compute, g_v and g_l per block and
// branch for one sample with LossAndGrad and BlockGrads.
func direct(t *testing.T, m model.VLM, s model.Sample) (gv, gl [][2]float64, loss float64) {
	t.Helper()
	in, err := m.Prepare(s, false)
	if err != nil {
		t.Fatal(err)
	}
	nb := m.NumBlocks()
	gv, gl = make([][2]float64, nb), make([][2]float64, nb)
	meanRows := func(g *tensor.Tensor, mod []model.Modality, want model.Modality) float64 {
		c := g.Shape[1]
		var sum float64
		n := 0
		for r, md := range mod {
			if md != want {
				continue
			}
			n++
			for _, v := range g.Data[r*c : (r+1)*c] {
				sum += math.Abs(float64(v))
			}
		}
		if n == 0 {
			return 0
		}
		return sum / float64(n*c)
	}
	lr, err := m.LossAndGrad([]*model.Input{in}, &model.BackwardOptions{
		BlockGrads: func(_, b int, gO, gD *tensor.Tensor, mod []model.Modality) {
			gv[b] = [2]float64{meanRows(gO, mod, model.Vision), meanRows(gD, mod, model.Vision)}
			gl[b] = [2]float64{meanRows(gO, mod, model.Answer), meanRows(gD, mod, model.Answer)}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return gv, gl, lr.Loss
}

func approx(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b)) }

func TestCompute(t *testing.T) {
	m := tinyModel(t, 3)
	nb := m.NumBlocks()
	s0 := imageSample(1, "A red circle left of a blue square.")
	s1 := imageSample(9, "There is a green square.")
	s2 := textSample("What colour do red and blue make?", "Purple.")

	var buf bytes.Buffer
	res, err := Compute(m, []model.Sample{s0, s1, s2}, Options{Progress: &buf})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "3/3 samples") {
		t.Errorf("progress output %q", buf.String())
	}
	if res.Samples != 3 || res.VisionSamples != 2 || len(res.Blocks) != nb || len(res.SampleLoss) != 3 {
		t.Fatalf("result %+v", res)
	}

	// Against the direct computation: g_v averages the two image samples,
	// g_l all three; the loss is the mean of the per-sample losses.
	v0, l0, loss0 := direct(t, m, s0)
	v1, l1, loss1 := direct(t, m, s1)
	_, l2, loss2 := direct(t, m, s2)
	if !approx(res.Loss, (loss0+loss1+loss2)/3) || res.SampleLoss[0] != loss0 || res.SampleLoss[2] != loss2 {
		t.Errorf("loss %v %v, want mean of %v %v %v", res.Loss, res.SampleLoss, loss0, loss1, loss2)
	}
	for b, bs := range res.Blocks {
		if bs.Block != b {
			t.Errorf("block %d numbered %d", b, bs.Block)
		}
		got := [2][2]float64{{bs.AttnVision, bs.AttnLanguage}, {bs.MLPVision, bs.MLPLanguage}}
		for k := range 2 {
			wv := (v0[b][k] + v1[b][k]) / 2
			wl := (l0[b][k] + l1[b][k] + l2[b][k]) / 3
			if !approx(got[k][0], wv) || !approx(got[k][1], wl) {
				t.Errorf("block %d branch %d: g_v %g g_l %g, want %g %g", b, k, got[k][0], got[k][1], wv, wl)
			}
		}
		if !approx(bs.AttnRatio, bs.AttnVision/bs.AttnLanguage) || !approx(bs.MLPRatio, bs.MLPVision/bs.MLPLanguage) {
			t.Errorf("block %d: ratios %+v", b, bs)
		}
		if b < nb-1 && (bs.AttnVision <= 0 || bs.MLPVision <= 0) {
			t.Errorf("block %d: no vision gradient: %+v", b, bs)
		}
		if bs.AttnLanguage <= 0 || bs.MLPLanguage <= 0 {
			t.Errorf("block %d: no language gradient: %+v", b, bs)
		}
	}

	// hf-semantics 7: the last block's vision gradient is exactly zero, so
	// its ratio is 0 before the clamp and the median after.
	last := res.Blocks[nb-1]
	if last.AttnVision != 0 || last.MLPVision != 0 || last.AttnRatio != 0 || last.MLPRatio != 0 {
		t.Errorf("last block: %+v, want zero vision gradient and ratio", last)
	}
	var ra, rm []float64
	for _, bs := range res.Blocks {
		ra = append(ra, bs.AttnRatio)
		rm = append(rm, bs.MLPRatio)
	}
	ca, ma := Clamp(ra)
	cm, mm := Clamp(rm)
	if !reflect.DeepEqual(ca, res.AttnRatios()) || !reflect.DeepEqual(cm, res.MLPRatios()) || ma != res.AttnMedian || mm != res.MLPMedian {
		t.Errorf("clamp: %v %v (median %v %v), result %v %v", ca, cm, ma, mm, res.AttnRatios(), res.MLPRatios())
	}
	if last.AttnClamped != res.AttnMedian || last.MLPClamped != res.MLPMedian || res.AttnMedian <= 0 {
		t.Errorf("last block clamped to %v %v, medians %v %v", last.AttnClamped, last.MLPClamped, res.AttnMedian, res.MLPMedian)
	}

	// Deterministic.
	again, err := Compute(m, []model.Sample{s0, s1, s2}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, again) {
		t.Error("two runs differ")
	}

	// JSON round trip, table, plot.
	dir := t.TempDir()
	jpath := filepath.Join(dir, "sens.json")
	if err := res.WriteJSON(jpath); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(jpath)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, res) {
		t.Errorf("JSON round trip:\n%+v\n%+v", back, res)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	tab := res.String()
	if lines := strings.Split(strings.TrimSpace(tab), "\n"); len(lines) != nb+3 || !strings.Contains(lines[0], "attn r*") {
		t.Errorf("table:\n%s", tab)
	}
	ppath := filepath.Join(dir, "sens.png")
	if err := res.PlotPNG(ppath); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(ppath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != PlotWidth || b.Dy() != PlotHeight {
		t.Errorf("plot %v, want %dx%d", b, PlotWidth, PlotHeight)
	}
}

// TestComputeNoWeightGrads checks that allocated parameter gradients are
// neither used nor changed, and are given back.
func TestComputeNoWeightGrads(t *testing.T) {
	m := tinyModel(t, 2)
	ps := m.Params()
	nn.AllocGrads(ps)
	for _, p := range ps {
		p.Grad.Data[0] = 42
	}
	s := imageSample(3, "A blue circle.")
	res1, err := Compute(m, []model.Sample{s}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Grad == nil {
			t.Fatalf("%s: gradient not restored", p.Name)
		}
		for i, v := range p.Grad.Data {
			if (i == 0 && v != 42) || (i != 0 && v != 0) {
				t.Fatalf("%s: gradient changed at %d: %v", p.Name, i, v)
			}
		}
	}
	nn.DropGrads(ps)
	res2, err := Compute(m, []model.Sample{s}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res1, res2) {
		t.Error("results differ with and without allocated gradients")
	}
}

func TestComputeTextOnly(t *testing.T) {
	m := tinyModel(t, 2)
	res, err := Compute(m, []model.Sample{textSample("Hi", "Hello there.")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.VisionSamples != 0 || res.VisionTokens != 0 {
		t.Errorf("%+v", res)
	}
	for _, b := range res.Blocks {
		if b.AttnVision != 0 || b.AttnRatio != 0 || b.AttnClamped != 0 || b.AttnLanguage <= 0 {
			t.Errorf("block %+v", b)
		}
	}
}

func TestComputeErrors(t *testing.T) {
	m := tinyModel(t, 2)
	if _, err := Compute(m, nil, Options{}); err == nil {
		t.Error("no samples: no error")
	}
	noAnswer := model.Sample{Messages: []chat.Message{chat.Parts("user", chat.TextPart("Hi"))}}
	if _, err := Compute(m, []model.Sample{textSample("a", "b"), noAnswer}, Options{}); err == nil || !strings.Contains(err.Error(), "sample 1") {
		t.Errorf("no answer: %v", err)
	}
	bad := model.Sample{Messages: []chat.Message{chat.Parts("user", chat.ImagePart()), chat.Parts("assistant", chat.TextPart("x"))}}
	if _, err := Compute(m, []model.Sample{bad}, Options{}); err == nil || !strings.Contains(err.Error(), "sample 0") {
		t.Errorf("image part without image: %v", err)
	}
}

func TestMedianClamp(t *testing.T) {
	cases := []struct {
		r, want []float64
		median  float64
	}{
		{[]float64{0.3, 0.1, 0.2}, []float64{0.3, 0.2, 0.2}, 0.2},
		// Even count: the mean of the two middle values (numpy.median).
		{[]float64{0.12, 0.06, 0.15, 0}, []float64{0.12, 0.09, 0.15, 0.09}, 0.09},
		{[]float64{0.5, 0.1}, []float64{0.5, 0.3}, 0.3},
		{[]float64{0.07}, []float64{0.07}, 0.07},
		{[]float64{0.1, 0.1, 0.1, 0.1, 0}, []float64{0.1, 0.1, 0.1, 0.1, 0.1}, 0.1},
		{nil, []float64{}, 0},
	}
	for _, c := range cases {
		orig := append([]float64(nil), c.r...)
		got, med := Clamp(c.r)
		if !approx(med, c.median) || len(got) != len(c.want) {
			t.Errorf("Clamp(%v) median %v, want %v", c.r, med, c.median)
			continue
		}
		for i := range got {
			if !approx(got[i], c.want[i]) {
				t.Errorf("Clamp(%v) = %v, want %v", c.r, got, c.want)
				break
			}
		}
		if !reflect.DeepEqual(orig, c.r) {
			t.Errorf("Clamp changed its input: %v", c.r)
		}
	}
	if Ratio(0.5, 0) != 1 || Ratio(0.2, 0.4) != 0.5 {
		t.Error("Ratio")
	}
}

func TestReadJSONErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.json")
	os.WriteFile(p, []byte(`{"blocks": [{"block": 1}]}`), 0o644)
	if _, err := ReadJSON(p); err == nil || !strings.Contains(err.Error(), "blocks[0]") {
		t.Errorf("misnumbered block: %v", err)
	}
	os.WriteFile(p, []byte(`{`), 0o644)
	if _, err := ReadJSON(p); err == nil || !strings.HasPrefix(err.Error(), p) {
		t.Errorf("bad JSON: %v", err)
	}
	if err := (&Result{}).PlotPNG(filepath.Join(dir, "x.png")); err == nil {
		t.Error("empty plot: no error")
	}
}
