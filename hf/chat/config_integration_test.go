package chat

import (
	"path/filepath"
	"testing"
	"time"

	"mbq/hf/config"
)

// The template and special tokens as hf/config loads them from a real
// tokenizer_config.json render the same bytes as the golden.
func TestTokenizerConfigTemplate(t *testing.T) {
	tc, err := config.LoadTokenizerConfig(filepath.Join("..", "config", "testdata", "qwen3.tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	g := loadGoldens(t)
	var want string
	for _, c := range g.Cases {
		if c.Name == "qwen3/user_only_gen" {
			want = *c.Want
		}
	}
	got, err := Render(tc.ChatTemplate, []Message{Text("user", "Hello!")}, Options{
		AddGenerationPrompt: true,
		SpecialTokens:       tc.SpecialTokens(),
		Now:                 func() time.Time { return goldenNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	if want == "" || got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
