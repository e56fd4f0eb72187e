package main

import (
	"os"
	"strings"
	"testing"
)

// TestMain keeps the tests from writing into the user's cache directory:
// the embedded testbed model and data are materialised under a temporary
// XDG_CACHE_HOME.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mbq-cmd-test-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestDefaultsRunOutOfTheBox runs commands with no --model, --calib or
// --bench: they use the embedded testbed model and its data.
func TestDefaultsRunOutOfTheBox(t *testing.T) {
	if testing.Short() {
		t.Skip("materialises the testbed data set (1200 questions)")
	}
	code, out, errs := run(t, "eval", "--limit", "1", "--quiet")
	if code != 0 || !strings.Contains(out, "caption") || !strings.Contains(out, "answer-token NLL") {
		t.Fatalf("eval with defaults: code %d, out %q, stderr %q", code, out, errs)
	}
	code, out, errs = run(t, "generate", "--prompt", "What is 3 + 4?", "--max-new-tokens", "8")
	if code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("generate with defaults: code %d, out %q, stderr %q", code, out, errs)
	}
}
