package nn

import (
	"runtime"
	"strings"
	"testing"
)

// TestNewQwen2BlockPacked: the block of a packed checkpoint allocates no
// float32 linear weight (a few KB for norms and biases where the float32
// weights of this shape take 108 MB) and its placeholders carry the shapes.
func TestNewQwen2BlockPacked(t *testing.T) {
	cfg := Qwen2Config{Hidden: 1024, Intermediate: 4096, NumHeads: 8, NumKVHeads: 2, RopeTheta: 1e6, RMSNormEps: 1e-6}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	b := NewQwen2BlockPacked(cfg)
	runtime.ReadMemStats(&m1)
	if got := m1.TotalAlloc - m0.TotalAlloc; got > 1<<20 {
		t.Errorf("NewQwen2BlockPacked allocated %d bytes", got)
	}
	ref := NewQwen2Block(cfg)
	rl := ref.Linears()
	for i, l := range b.Linears() {
		if l.W != nil || l.Packed == nil || l.Packed.Data != nil {
			t.Fatalf("%s: W %v, placeholder %+v", l.Name, l.W != nil, l.Packed)
		}
		if l.In() != rl[i].In() || l.Out() != rl[i].Out() || (l.B == nil) != (rl[i].B == nil) {
			t.Fatalf("%s: [%d %d] bias %v, want [%d %d] bias %v", l.Name, l.Out(), l.In(), l.B != nil, rl[i].Out(), rl[i].In(), rl[i].B != nil)
		}
	}
	for _, p := range b.Params("") {
		if strings.HasSuffix(p.Name, "_proj.weight") {
			t.Fatalf("packed block lists %s", p.Name)
		}
	}
	if len(b.Params("")) != len(ref.Params(""))-7 {
		t.Fatalf("%d params, want %d", len(b.Params("")), len(ref.Params(""))-7)
	}
}
