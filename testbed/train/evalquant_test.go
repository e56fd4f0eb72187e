package train

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mbq/quant"
)

func TestEvalQuantSpec(t *testing.T) {
	for _, tc := range []struct{ bits, cols, group int }{
		{3, 256, 128}, {3, 128, 128}, {4, 768, 128}, {3, 32, 0}, {2, 192, 0},
	} {
		s := evalQuantSpec(tc.bits, tc.cols)
		if s.Bits != tc.bits || s.Group != tc.group || s.Symmetric {
			t.Errorf("evalQuantSpec(%d, %d) = %+v, want %d bits, group %d, asymmetric", tc.bits, tc.cols, s, tc.bits, tc.group)
		}
	}
}

// The quantized held-out evaluation scores the model with RTN weights and
// leaves the full-precision weights exactly as they were.
func TestEvaluateQuantized(t *testing.T) {
	c := tinyConfig()
	m := tinyModel(t, &c)
	items := buildHeldOut(c.World, 1)
	ls := m.DecoderLinears()
	before := make([][]float32, len(ls))
	for i, l := range ls {
		before[i] = append([]float32(nil), l.W.Value.Data...)
	}
	fp, err := evaluate(m, items, heldOutBatch)
	if err != nil {
		t.Fatal(err)
	}
	q, err := evaluateQuantized(m, items, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		if !equalBits(l.W.Value.Data, before[i]) {
			t.Fatalf("%s: weights not restored", l.Name)
		}
	}
	if q.Spec != "w2" { // the tiny widths (32, 64) are not multiples of 128: per channel
		t.Errorf("spec %q, want w2", q.Spec)
	}
	if q.NLL == fp.NLL {
		t.Errorf("2-bit NLL %g equals full precision", q.NLL)
	}
	// The same numbers as quantizing the weights by hand.
	for _, l := range ls {
		if err := quant.FakeQuant(l.W.Value.Data, l.W.Value.Shape[0], l.W.Value.Shape[1], quant.WeightSpec{Bits: 2}); err != nil {
			t.Fatal(err)
		}
	}
	want, err := evaluate(m, items, heldOutBatch)
	if err != nil {
		t.Fatal(err)
	}
	if q.NLL != want.NLL || q.Accuracy != want.Accuracy || q.MCAccuracy != want.MCAccuracy {
		t.Errorf("quantized evaluation nll %g acc %g mc %g, by hand %g %g %g", q.NLL, q.Accuracy, q.MCAccuracy, want.NLL, want.Accuracy, want.MCAccuracy)
	}
	line := (&EvalResult{NLL: fp.NLL, Quant: q}).String()
	if !strings.Contains(line, "w2 RTN: nll") {
		t.Errorf("summary line %q does not report the quantized evaluation", line)
	}
}

// sameCheckpoint fails the test unless runs a and b wrote byte-identical
// models and optimizer states.
func sameCheckpoint(t *testing.T, a, b, what string) {
	t.Helper()
	sameFiles(t, filepath.Join(a, CheckpointDir), filepath.Join(b, CheckpointDir), what, "model.safetensors", OptimizerFile)
}

// sameFiles reports each of files that differs between directories a and b.
func sameFiles(t *testing.T, a, b, what string, files ...string) {
	t.Helper()
	for _, f := range files {
		x, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs %s", f, what)
		}
	}
}

// equalBits reports whether a and b hold the same float32 bit patterns.
func equalBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// Switching the quantized evaluation on changes nothing in training: the
// checkpoints are byte-identical, and each evaluation carries its result.
func TestEvalQuantLeavesTrainingAlone(t *testing.T) {
	c := tinyConfig()
	a := filepath.Join(t.TempDir(), "a")
	if _, err := Run(c, Options{Out: a}); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(t.TempDir(), "b")
	var log bytes.Buffer
	st, err := Run(c, Options{Out: b, EvalQuantBits: 3, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	sameCheckpoint(t, a, b, "with the quantized evaluation on")
	if len(st.Evals) == 0 {
		t.Fatal("no evaluations")
	}
	for _, e := range st.Evals {
		if e.Quant == nil || e.Quant.Spec != "w3" {
			t.Errorf("step %d: quantized evaluation %+v", e.Step, e.Quant)
		}
	}
	if !strings.Contains(log.String(), "w3 RTN: nll") {
		t.Errorf("log lacks the quantized evaluation:\n%s", log.String())
	}
	if _, err := Run(c, Options{Out: filepath.Join(t.TempDir(), "c"), EvalQuantBits: 1}); err == nil {
		t.Error("1-bit quantized evaluation accepted")
	}
}
