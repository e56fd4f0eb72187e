package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPlainLines(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "quantize", "blocks", 4)
	clockNow := b.start
	b.now = func() time.Time { return clockNow }
	b.Add(1) // first draw always prints
	clockNow = clockNow.Add(time.Second)
	b.Add(1) // within Interval: suppressed
	clockNow = clockNow.Add(10 * time.Second)
	b.Info("loss %.2f", 0.5)
	b.Add(1)
	b.Done()
	b.Done() // idempotent
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		"quantize: 1/4 blocks (25%), 00:00 left",
		"quantize: 3/4 blocks (75%), 00:04 left, loss 0.50",
		"quantize: 3/4 blocks (75%), 00:04 left, loss 0.50",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, lines[i], want[i])
		}
	}
}

func TestTerminalBarAndNil(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "train", "steps", 10)
	b.tty = true
	b.Set(5)
	b.Done()
	out := buf.String()
	if !strings.HasPrefix(out, "\rtrain  [############............]  5/10 steps  50%") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("terminal output %q", out)
	}
	var nb *Bar
	nb.Add(1)
	nb.Info("x")
	nb.Done()
	if clock(3725*time.Second) != "1:02:05" || clock(65*time.Second) != "01:05" {
		t.Fatal("clock format")
	}
}
