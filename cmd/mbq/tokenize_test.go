package main

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// qwenDir writes a checkpoint directory with the committed Qwen3 tokenizer and
// the LLaVA-OneVision chat template.
func qwenDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(filepath.Join("..", "..", "hf", "tokenizer", "testdata", "qwen3_tokenizer.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	tpl, err := os.ReadFile(filepath.Join("..", "..", "hf", "chat", "testdata", "templates", "llava_onevision.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "chat_template.jinja"), tpl, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTokenize(t *testing.T) {
	dir := qwenDir(t)
	code, out, errs := run(t, "tokenize", "--model", dir, "Hello world 12345")
	// Qwen splits digits one by one: "Hello" " world" " " "1" "2" "3" "4" "5".
	if code != 0 || !strings.Contains(out, "8 tokens: 9707 1879 220 16 17 18 19 20") {
		t.Fatalf("tokenize: code %d, out %q, stderr %q", code, out, errs)
	}
	code, out, errs = run(t, "tokenize", "--model", dir, "--chat", "--images", "1", "--tokens", "Hi")
	if code != 0 || !strings.Contains(out, "<|im_start|>user <image>\nHi<|im_end|><|im_start|>assistant\n") ||
		!strings.Contains(out, `151644 "<|im_start|>"`) {
		t.Fatalf("tokenize --chat: code %d, out %q, stderr %q", code, out, errs)
	}
	code, _, errs = run(t, "tokenize", "--model", t.TempDir(), "x")
	if code != 1 || !strings.Contains(errs, "tokenizer.json") {
		t.Fatalf("missing tokenizer: code %d, stderr %q", code, errs)
	}
}
