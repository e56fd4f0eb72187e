package train

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRidge: on a hand-worked one-feature case the ridge weights are the
// closed form; a probe separates classes that are linear in the features
// and stays near chance on labels that are not.
func TestRidge(t *testing.T) {
	// x = 1, 2, 3 with classes 0, 1, 1 and λ = 0: least squares of the
	// one-hot targets on [x, 1]. Class 1: y = (0, 1, 1) → slope 0.5,
	// intercept -1/3; class 0 is its complement: -0.5, 4/3.
	w := ridge([][]float64{{1}, {2}, {3}}, []int{0, 1, 1}, 2, 0)
	want := [][]float64{{-0.5, 0.5}, {4.0 / 3, -1.0 / 3}}
	for i := range want {
		for k := range want[i] {
			if math.Abs(w[i][k]-want[i][k]) > 1e-12 {
				t.Fatalf("w[%d][%d] = %g, want %g", i, k, w[i][k], want[i][k])
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n, d, k = 800, 12, 4
	dirs := make([][]float64, k)
	for c := range dirs {
		dirs[c] = make([]float64, d)
		for j := range dirs[c] {
			dirs[c][j] = rng.NormFloat64()
		}
	}
	x := make([][]float64, n)
	y, noise := make([]int, n), make([]int, n)
	for i := range x {
		y[i], noise[i] = rng.IntN(k), rng.IntN(k)
		x[i] = make([]float64, d)
		for j := range x[i] {
			x[i][j] = dirs[y[i]][j] + 0.3*rng.NormFloat64()
		}
	}
	if a := probeAccuracy(x, y, k); a < 0.97 {
		t.Errorf("linear classes: accuracy %g", a)
	}
	if a := probeAccuracy(x, noise, k); a > 0.4 {
		t.Errorf("random labels: accuracy %g", a)
	}
}

// TestDiagnose: on a tiny model every table has one entry per block,
// accuracies and masses are in range, and the counts add up.
func TestDiagnose(t *testing.T) {
	c := tinyConfig()
	c.TextLayers, c.Heads, c.KVHeads = 3, 4, 2
	m := tinyModel(t, &c)
	d, err := Diagnose(m, 600, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	side := c.ImageSize / c.PatchSize
	if d.ImageRows%(side*side) != 0 || d.ImageRows == 0 {
		t.Errorf("%d image rows, want a multiple of %d", d.ImageRows, side*side)
	}
	if d.NamedRows < 8 || d.FocusRows < 8 {
		t.Fatalf("named %d, focus %d answer rows", d.NamedRows, d.FocusRows)
	}
	for _, v := range [][][2]float64{d.ImageCells, d.NamedCells, d.FocusCells} {
		if len(v) != c.TextLayers {
			t.Fatalf("%d blocks probed, want %d", len(v), c.TextLayers)
		}
		for _, a := range v {
			for _, x := range a {
				if x < 0 || x > 1 {
					t.Fatalf("accuracy %g", x)
				}
			}
		}
	}
	// The image tokens' cells follow the tile's patch layout, which the
	// position embeddings mark even untrained: above chance (25%; a
	// misaligned labelling would sit at it).
	if d.ImageCells[0][0] < 0.35 || d.ImageCells[0][1] < 0.35 {
		t.Errorf("image cells at block 0: %v", d.ImageCells[0])
	}
	n := 0
	for _, k := range d.Kinds {
		n += k.N
		if k.OptionMass <= 0 || k.OptionMass > 1 || k.ImageMass > 1 || k.ImageMass < 0 && k.ImageMass != -1 || k.AnswerNLL <= 0 {
			t.Errorf("%+v", k)
		}
	}
	if n == 0 || n > 600 {
		t.Errorf("%d multiple-choice questions", n)
	}
	var b bytes.Buffer
	d.Write(&b)
	if !strings.Contains(b.String(), "named cell") || !strings.Contains(b.String(), d.Kinds[0].Kind) {
		t.Errorf("table:\n%s", b.String())
	}
}
