package quantize

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mbq/hf/config"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/quant"
	"mbq/safetensors"
	"mbq/testbed/world"
)

var fixture struct {
	once      sync.Once
	ck, calib string
	text      string
	err       error
}

// setup writes a tiny checkpoint (hidden 32, intermediate 64, GQA 4/2
// heads, 2 blocks) and a 4-pair image-caption calibration set, once.
func setup(t *testing.T) (ck, calibFile, textFile string) {
	t.Helper()
	fixture.once.Do(func() {
		dir, err := os.MkdirTemp("", "mbq-quantize-test-")
		if err != nil {
			fixture.err = err
			return
		}
		fixture.ck = filepath.Join(dir, "tiny")
		if fixture.err = llavaonevision.WriteTiny(fixture.ck, 3, llavaonevision.DefaultTiny); fixture.err != nil {
			return
		}
		data := filepath.Join(dir, "data")
		if _, fixture.err = world.WriteDatasetOptions(data, world.DatasetOptions{Config: world.DefaultConfig(), Seed: 5, Calib: 4}); fixture.err != nil {
			return
		}
		fixture.calib = filepath.Join(data, "calib.json")
		fixture.text = filepath.Join(dir, "text.txt")
		text := strings.Repeat("There is a red circle left of the blue square and a green shape at the top. ", 12)
		fixture.err = os.WriteFile(fixture.text, []byte(text), 0o644)
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.ck, fixture.calib, fixture.text
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.ck != "" {
		os.RemoveAll(filepath.Dir(fixture.ck))
	}
	os.Exit(code)
}

// forwardFinite runs the model on one prepared sample and checks the logits.
func forwardFinite(t *testing.T, m model.VLM, s model.Sample) []float32 {
	t.Helper()
	in, err := m.Prepare(s, false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward([]*model.Input{in}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out[0].Logits.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("non-finite logit")
		}
	}
	return out[0].Logits.Data
}

func TestMethodsEndToEnd(t *testing.T) {
	ck, calibFile, textFile := setup(t)
	cases := []struct {
		name string
		o    Options
		text bool
	}{
		{"rtn-w3g16", Options{Method: "rtn", WBits: 3, ABits: 16, Group: 16}, false},
		{"awq-w3g16", Options{Method: "awq", WBits: 3, ABits: 16, Group: 16}, false},
		{"smoothquant-w4a8", Options{Method: "smoothquant", WBits: 4, ABits: 8}, false},
		{"gptq-w4g16", Options{Method: "gptq", WBits: 4, ABits: 16, Group: 16}, false},
		{"mbq-w3g16", Options{Method: "mbq", WBits: 3, ABits: 16, Group: 16}, false},
		{"mbq-w4a8-mse-fixed-distort-gqa", Options{Method: "mbq", WBits: 4, ABits: 8, Loss: "mse", Balance: "0.1", Distort: true, KeepGQAVO: true}, false},
		{"mbq-off-text", Options{Method: "mbq", WBits: 4, ABits: 16, Group: 32, Balance: "off"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "q")
			c := CalibOptions{Path: calibFile, Samples: 3, Seed: 1}
			if tc.text {
				c = CalibOptions{Path: textFile, Text: true, Samples: 3, TextBlockLen: 24}
			}
			var sum bytes.Buffer
			res, err := Dir(ck, out, c, tc.o, &sum)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Blocks) != 2 || len(res.Params) != 14 {
				t.Fatalf("%d block reports, %d linear params", len(res.Blocks), len(res.Params))
			}
			if !strings.Contains(sum.String(), "loss before") || !strings.Contains(sum.String(), "total loss") {
				t.Errorf("summary:\n%s", sum.String())
			}
			wantSens := tc.o.Method == "mbq" && tc.o.Balance == ""
			for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", ScalesFile, ParamsFile} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
			if _, err := os.Stat(filepath.Join(out, SensitivityFile)); (err == nil) != wantSens {
				t.Errorf("sensitivity file present %v, want %v", err == nil, wantSens)
			}
			if wantSens && !strings.Contains(sum.String(), "sensitivities") {
				t.Error("sensitivities not printed")
			}
			// config.json carries quantization_config.
			mc, err := config.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			lc, _ := mc.LlavaOnevision()
			var qc Config
			if err := json.Unmarshal(lc.Extra["quantization_config"], &qc); err != nil {
				t.Fatal(err)
			}
			if qc.Method != tc.o.Method || qc.WBits != tc.o.WBits || qc.Version != Version || qc.Samples != 3 || qc.QuantMethod != "mbq" {
				t.Errorf("quantization_config %+v", qc)
			}
			// mbq_scales.json: every block, every group.
			var sj ScalesJSON
			b, _ := os.ReadFile(filepath.Join(out, ScalesFile))
			if err := json.Unmarshal(b, &sj); err != nil {
				t.Fatal(err)
			}
			if len(sj.Blocks) != 2 || len(sj.Blocks[0].Groups) != 4 {
				t.Fatalf("scales json: %d blocks", len(sj.Blocks))
			}
			searched := tc.o.Method == "awq" || tc.o.Method == "mbq"
			equalized := searched || tc.o.Method == "smoothquant"
			if g := sj.Blocks[1].Groups[0]; equalized != (g.Alpha != nil && len(g.Scales) == 32) {
				t.Errorf("qkv group: alpha %v, %d scales", g.Alpha, len(g.Scales))
			}
			if vo := sj.Blocks[0].Groups[1]; searched && vo.Skipped == tc.o.KeepGQAVO {
				t.Errorf("vo group skipped %v with KeepGQAVO %v", vo.Skipped, tc.o.KeepGQAVO)
			}
			// mbq_qparams.safetensors: scales (and zeros) per linear.
			ck2, err := safetensors.OpenCheckpoint(filepath.Join(out, ParamsFile))
			if err != nil {
				t.Fatal(err)
			}
			info, ok := ck2.Info("language_model.model.layers.1.mlp.down_proj.weight_scale")
			ck2.Close()
			wantCols := 1
			if tc.o.ABits == 16 {
				wantCols = 64 / tc.o.Group
			}
			if !ok || len(info.Shape) != 2 || info.Shape[0] != 32 || info.Shape[1] != wantCols {
				t.Errorf("down_proj weight_scale: %v %v", ok, info.Shape)
			}
			// The output loads and runs; W-A models quantize activations.
			m, err := model.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			lm := m.(*llavaonevision.Model)
			if want := tc.o.Spec().ActBits(); lm.ActBits() != want {
				t.Errorf("loaded ActBits %d, want %d", lm.ActBits(), want)
			}
			samples, err := LoadCalibration(m, CalibOptions{Path: calibFile, Samples: 1})
			if err != nil {
				t.Fatal(err)
			}
			logits := forwardFinite(t, m, samples[0])
			if lm.ActBits() > 0 {
				lm.SetActBits(0)
				plain := forwardFinite(t, m, samples[0])
				same := true
				for i := range plain {
					same = same && plain[i] == logits[i]
				}
				if same {
					t.Error("activation quantization does not change the logits")
				}
			}
			// Every decoder weight is on its quantization grid.
			for i, lp := range res.Params {
				w := lm.Blocks[i/7].Linears()[i%7].W.Value.Data
				p := lp.Params
				fq := append([]float32(nil), w...)
				quant.FakeQuantParams(fq, p)
				for j := range w {
					if fq[j] != w[j] {
						t.Fatalf("%s: weight %d = %v not on its grid (%v)", lp.Name, j, w[j], fq[j])
					}
				}
			}
		})
	}
}

// TestRTNEqualsFakeQuant: RTN's weights are quant.FakeQuant of the originals.
func TestRTNEqualsFakeQuant(t *testing.T) {
	ck, calibFile, _ := setup(t)
	orig, err := llavaonevision.Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	m, err := llavaonevision.Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	samples, err := LoadCalibration(m, CalibOptions{Path: calibFile, Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Method: "rtn", WBits: 4, ABits: 16, Group: 16}
	if _, err := Run(m, samples, o); err != nil {
		t.Fatal(err)
	}
	for i, b := range m.Blocks {
		for j, l := range b.Linears() {
			w := append([]float32(nil), orig.Blocks[i].Linears()[j].W.Value.Data...)
			if err := quant.FakeQuant(w, l.Out(), l.In(), o.Spec().Weight()); err != nil {
				t.Fatal(err)
			}
			for k := range w {
				if w[k] != l.W.Value.Data[k] {
					t.Fatalf("block %d %s: weight %d differs from FakeQuant", i, l.Name, k)
				}
			}
		}
		// Norms untouched (no equalization).
		for k, v := range b.InputNorm.W.Value.Data {
			if v != orig.Blocks[i].InputNorm.W.Value.Data[k] {
				t.Fatal("rtn changed input_layernorm")
			}
		}
	}
}

// TestDeterministic: the same inputs give byte-identical output files.
func TestDeterministic(t *testing.T) {
	ck, calibFile, _ := setup(t)
	o := Options{Method: "mbq", WBits: 3, ABits: 16, Group: 16}
	var outs []string
	for range 2 {
		out := filepath.Join(t.TempDir(), "q")
		if _, err := Dir(ck, out, CalibOptions{Path: calibFile, Samples: 2, Seed: 4}, o, nil); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	ents, err := os.ReadDir(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		a, _ := os.ReadFile(filepath.Join(outs[0], e.Name()))
		b, err := os.ReadFile(filepath.Join(outs[1], e.Name()))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between runs (%v)", e.Name(), err)
		}
	}
}

func TestRefusals(t *testing.T) {
	ck, calibFile, _ := setup(t)
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "keep.txt"), []byte("x"), 0o644)
	c := CalibOptions{Path: calibFile, Samples: 1}
	if _, err := Dir(ck, out, c, Options{Method: "rtn", WBits: 4, ABits: 16, Group: 16}, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty out: %v", err)
	}
	fresh := filepath.Join(t.TempDir(), "q")
	for _, o := range []Options{
		{Method: "nope", WBits: 4, ABits: 16},
		{Method: "rtn", WBits: 9, ABits: 16},
		{Method: "rtn", WBits: 4, ABits: 12},
		{Method: "mbq", WBits: 4, ABits: 16, Loss: "l1"},
		{Method: "mbq", WBits: 4, ABits: 16, Balance: "-1"},
		{Method: "rtn", WBits: 4, ABits: 16, Group: 24}, // 32 channels
	} {
		if _, err := Dir(ck, fresh, c, o, nil); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Error("output written despite errors")
	}
	// A quantized model is not quantized again.
	q := filepath.Join(t.TempDir(), "q")
	if _, err := Dir(ck, q, c, Options{Method: "rtn", WBits: 4, ABits: 16, Group: 16}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Dir(q, filepath.Join(t.TempDir(), "qq"), c, Options{Method: "rtn", WBits: 4, ABits: 16, Group: 16}, nil); err == nil {
		t.Error("re-quantizing: no error")
	}
}
