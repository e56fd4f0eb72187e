package chat

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goldens.json is written by testdata/gen_goldens.py with Python's Jinja2 in
// the environment transformers' apply_chat_template builds; this test needs
// no Python.
type goldenFile struct {
	Jinja2Version string            `json:"jinja2_version"`
	Now           string            `json:"now"`
	Templates     map[string]string `json:"templates"` // file -> sha256
	Cases         []goldenCase      `json:"cases"`
}

type goldenCase struct {
	Name                string            `json:"name"`
	Template            string            `json:"template"`
	Messages            []Message         `json:"messages"`
	AddGenerationPrompt bool              `json:"add_generation_prompt"`
	Tools               []json.RawMessage `json:"tools"`
	Vars                map[string]json.RawMessage
	Want                *string `json:"want"`
	Error               *string `json:"error"`
}

// goldenNow is gen_goldens.py's NOW.
var goldenNow = time.Date(2024, 7, 26, 13, 5, 9, 0, time.UTC)

func loadGoldens(t *testing.T) goldenFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.Now != goldenNow.Format("2006-01-02T15:04:05") {
		t.Fatalf("goldens made at %s, test clock is %s", g.Now, goldenNow)
	}
	return g
}

// splitVars separates the special tokens from other template variables, as
// the generator merged them.
func splitVars(vars map[string]json.RawMessage) (map[string]string, map[string]any) {
	tokens := map[string]string{}
	other := map[string]any{}
	for k, v := range vars {
		var s string
		if strings.HasSuffix(k, "_token") && json.Unmarshal(v, &s) == nil {
			tokens[k] = s
			continue
		}
		other[k] = v
	}
	return tokens, other
}

func TestGoldens(t *testing.T) {
	g := loadGoldens(t)
	compiled := map[string]*Template{}
	for name, sum := range g.Templates {
		src, err := os.ReadFile(filepath.Join("testdata", "templates", name))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(src)
		if hex.EncodeToString(h[:]) != sum {
			t.Fatalf("%s changed since goldens.json was generated; rerun testdata/gen_goldens.py", name)
		}
		tmpl, err := Compile(string(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		compiled[name] = tmpl
	}
	if len(g.Cases) < 50 {
		t.Fatalf("only %d golden cases", len(g.Cases))
	}
	for _, c := range g.Cases {
		t.Run(c.Name, func(t *testing.T) {
			tokens, vars := splitVars(c.Vars)
			got, err := compiled[c.Template].Render(c.Messages, Options{
				AddGenerationPrompt: c.AddGenerationPrompt,
				Tools:               c.Tools,
				SpecialTokens:       tokens,
				Vars:                vars,
				Now:                 func() time.Time { return goldenNow },
			})
			if c.Error != nil {
				var te *TemplateError
				if !errors.As(err, &te) || te.Message != *c.Error {
					t.Fatalf("got (%q, %v), want TemplateError %q", got, err, *c.Error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != *c.Want {
				t.Errorf("mismatch\n got: %q\nwant: %q", got, *c.Want)
			}
		})
	}
}
