package quantize

import (
	"math"
	"path/filepath"
	"testing"

	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/nn"
)

// TestSavePacked quantizes a tiny checkpoint with decoder widths 128/256
// packed and fake-quantized and compares the two loaded models.
func TestSavePacked(t *testing.T) {
	_, calibFile, _ := setup(t)
	ck := filepath.Join(t.TempDir(), "tiny128")
	if err := llavaonevision.WriteTiny(ck, 3, llavaonevision.TinyOptions{TextHidden: 128, TextIntermediate: 256}); err != nil {
		t.Fatal(err)
	}
	c := CalibOptions{Path: calibFile, Samples: 2}
	prev := nn.SetPackedKernel(nn.PackedKernelFloat)
	defer nn.SetPackedKernel(prev)
	for _, tc := range []struct {
		o      Options
		packed bool
	}{
		{Options{Method: "rtn", WBits: 4, ABits: 16, Group: 128}, true},
		{Options{Method: "mbq", WBits: 3, ABits: 16, Group: 128}, true},
		{Options{Method: "smoothquant", WBits: 8, ABits: 8}, true},
		{Options{Method: "rtn", WBits: 4, ABits: 16, Group: 32}, false}, // no packed format
	} {
		name := tc.o.Method + "-" + tc.o.Spec().String()
		pdir, fdir := filepath.Join(t.TempDir(), "p"), filepath.Join(t.TempDir(), "f")
		res, err := DirWith(ck, pdir, c, tc.o, OutputOptions{Pack: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Dir(ck, fdir, c, tc.o, nil); err != nil {
			t.Fatal(err)
		}
		if got := res.Config.Format == llavaonevision.PackedFormat; got != tc.packed {
			t.Fatalf("%s: format %q", name, res.Config.Format)
		}
		pm, err := llavaonevision.Load(pdir)
		if err != nil {
			t.Fatal(err)
		}
		fm, err := llavaonevision.Load(fdir)
		if err != nil {
			t.Fatal(err)
		}
		if pm.IsPacked() != tc.packed || fm.IsPacked() || pm.ActBits() != fm.ActBits() {
			t.Fatalf("%s: packed %v, fake %v, act bits %d/%d", name, pm.IsPacked(), fm.IsPacked(), pm.ActBits(), fm.ActBits())
		}
		s := calibSample(t, fm)
		a, b := forwardFinite(t, pm, s), forwardFinite(t, fm, s)
		var d, n float64
		for i := range b {
			d = math.Max(d, math.Abs(float64(a[i]-b[i])))
			n = math.Max(n, math.Abs(float64(b[i])))
		}
		// The packed W3/W4 scales are binary16 (relative rounding <= 2^-11);
		// W8A8 differs by activation codes at rounding boundaries.
		t.Logf("%s: packed vs fake-quant logits, max rel diff %.2g", name, d/n)
		if d/n > 2e-2 {
			t.Errorf("%s: packed vs fake-quant logits differ by %.3g relatively", name, d/n)
		}
	}
}

func calibSample(t *testing.T, m *llavaonevision.Model) model.Sample {
	t.Helper()
	samples, err := LoadCalibration(m, CalibOptions{Path: fixture.calib, Samples: 1})
	if err != nil {
		t.Fatal(err)
	}
	return samples[0]
}
