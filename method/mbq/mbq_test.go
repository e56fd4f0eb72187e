package mbq

import (
	"math"
	"testing"

	"mbq/model"
	"mbq/quantize/block"
	"mbq/tensor"
)

// Rows: prompt, vision, answer, vision; 2 channels. ΔY = ref - got:
//
//	prompt [-4 -4] (ignored), vision [-1 2], answer [1 -1], vision [0 -2]
//
// Σ|Δ|: caption 2, vision 3+2 = 5; ΣΔ²: caption 2, vision 5+4 = 9.
var (
	mod = []model.Modality{model.Prompt, model.Vision, model.Answer, model.Vision}
	ref = []float32{1, 1, 0, 0, 2, 2, 1, -1}
	got = []float32{5, 5, 1, -2, 1, 3, 1, 1}
)

func TestBalancedLossHand(t *testing.T) {
	cases := []struct {
		name string
		r    float64
		kind LossKind
		want float64
	}{
		{"mae r=0.5", 0.5, MAE, (2 + 0.5*5) / 6.0}, // 0.75
		{"mae r=1", 1, MAE, 7 / 6.0},               // pooled
		{"mae r=0", 0, MAE, 2 / 6.0},               // caption only, still / (Nc+Nv)·C
		{"mse r=0.5", 0.5, MSE, 2/2.0 + 0.5*9/4.0}, // 2.125
		{"mse r=0.1", 0.1, MSE, 2/2.0 + 0.1*9/4.0}, // paper Table 1 oracle
		{"mse r=0", 0, MSE, 1},
	}
	for _, c := range cases {
		if l := BalancedLoss(ref, got, 2, mod, c.r, c.kind); math.Abs(l-c.want) > 1e-12 {
			t.Errorf("%s: loss %v, want %v", c.name, l, c.want)
		}
	}
	if l := PooledLoss(ref, got, 2, mod, MAE); math.Abs(l-7/6.0) > 1e-12 {
		t.Errorf("pooled mae %v, want 7/6", l)
	}
	if l := PooledLoss(ref, got, 2, mod, MSE); math.Abs(l-11/6.0) > 1e-12 {
		t.Errorf("pooled mse %v, want 11/6", l)
	}
	// No counted rows: 0, not NaN.
	only := []model.Modality{model.Prompt, model.Prompt, model.Prompt, model.Prompt}
	for _, k := range []LossKind{MAE, MSE} {
		if l := BalancedLoss(ref, got, 2, only, 0.3, k); l != 0 {
			t.Errorf("%v with prompt rows only: %v, want 0", k, l)
		}
	}
	// Text-only calibration (no vision rows): MSE is the caption mean.
	txt := []model.Modality{model.Prompt, model.Answer, model.Answer, model.Prompt}
	if l := BalancedLoss(ref, got, 2, txt, 0.3, MSE); math.Abs(l-(5+2)/4.0) > 1e-12 {
		t.Errorf("text-only mse %v, want %v", l, 7/4.0)
	}
}

func TestMethodLossPicksRatio(t *testing.T) {
	c := &block.Context{Mod: mod, Ratio: [2]float64{0.5, 0.1}}
	r := &tensor.Tensor{Shape: []int{4, 2}, Data: ref}
	g := &tensor.Tensor{Shape: []int{4, 2}, Data: got}
	cases := []struct {
		m    Method
		b    block.Branch
		want float64
	}{
		{Method{Kind: MAE}, block.Attention, (2 + 0.5*5) / 6.0},
		{Method{Kind: MAE}, block.MLP, (2 + 0.1*5) / 6.0},
		{Method{Kind: MSE}, block.MLP, 1 + 0.1*9/4.0},
		{Method{Kind: MAE, Balance: BalanceFixed, Factor: 2}, block.MLP, (2 + 2*5) / 6.0},
		{Method{Kind: MSE, Balance: BalanceOff}, block.Attention, 11 / 6.0},
	}
	for i, cs := range cases {
		if l := cs.m.Loss(c)(cs.b, r, g); math.Abs(l-cs.want) > 1e-12 {
			t.Errorf("case %d: %v, want %v", i, l, cs.want)
		}
	}
}

func TestParseLoss(t *testing.T) {
	for s, want := range map[string]LossKind{"mae": MAE, "mse": MSE, "": MAE} {
		if k, err := ParseLoss(s); err != nil || k != want {
			t.Errorf("ParseLoss(%q) = %v, %v", s, k, err)
		}
	}
	if _, err := ParseLoss("l1"); err == nil {
		t.Error("ParseLoss(l1): no error")
	}
}
