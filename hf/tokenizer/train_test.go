package tokenizer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// trainGolden is testdata/train_golden.json, written by train_gen.mjs with
// Hugging Face's BpeTrainer.
type trainGolden struct {
	Reference    string `json:"reference"`
	CorpusSHA256 string `json:"corpus_sha256"`
	Pipelines    []struct {
		Name         string   `json:"name"`
		Alphabet     []string `json:"alphabet"`
		NLearned     int      `json:"n_learned"`
		NMerges      int      `json:"n_merges"`
		MergesSHA256 string   `json:"merges_sha256"`
		LearnedSHA   string   `json:"learned_sha256"`
		Merges       []string `json:"merges"`
		Learned      []string `json:"learned"`
	} `json:"pipelines"`
}

// trainCorpus returns the golden corpus cut into lines, each with its "\n",
// as Hugging Face's train_from_files feeds a file.
func trainCorpus(t testing.TB) ([]string, string) {
	data, err := os.ReadFile("testdata/train_corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(data), "\n"), string(data)
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func loadTrainGolden(t *testing.T) *trainGolden {
	data, err := os.ReadFile("testdata/train_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g trainGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// modelMerges returns the merges of a tokenizer as "a b" strings.
func modelMerges(tk *Tokenizer) []string {
	out := make([]string, len(tk.model.mergeSrc))
	for i, m := range tk.model.mergeSrc {
		out[i] = m[0] + " " + m[1]
	}
	return out
}

// learnedTokens returns the model tokens after the 256 byte-level ones, in
// id order.
func learnedTokens(tk *Tokenizer) []string {
	var out []string
	for id := 256; ; id++ {
		tok, ok := tk.model.idToToken(id)
		if !ok {
			return out
		}
		out = append(out, tok)
	}
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			lo := max(0, i-3)
			return fmt.Sprintf("first difference at %d: got %q, want %q (context got %q, want %q)",
				i, got[i], want[i], got[lo:min(i+3, len(got))], want[lo:min(i+3, len(want))])
		}
	}
	return fmt.Sprintf("lengths differ: got %d, want %d", len(got), len(want))
}

// TestTrainGolden trains on testdata/train_corpus.txt with the same pipelines
// as train_gen.mjs and compares the merges, in order, and the learned vocab
// with Hugging Face's.
func TestTrainGolden(t *testing.T) {
	g := loadTrainGolden(t)
	lines, all := trainCorpus(t)
	if got := sha256Hex(all); got != g.CorpusSHA256 {
		t.Fatalf("train_corpus.txt sha256 %s, golden was made from %s", got, g.CorpusSHA256)
	}
	configs := map[string]Config{
		"qwen2": Qwen2Config,
		"gpt2":  {PreTokenizer: PreTokenizerGPT2},
	}
	if len(g.Pipelines) != len(configs) {
		t.Fatalf("golden has %d pipelines", len(g.Pipelines))
	}
	for _, p := range g.Pipelines {
		t.Run(p.Name, func(t *testing.T) {
			cfg, ok := configs[p.Name]
			if !ok {
				t.Fatalf("unknown pipeline %q", p.Name)
			}
			if len(p.Merges) != p.NMerges || sha256Hex(strings.Join(p.Merges, "\n")) != p.MergesSHA256 ||
				len(p.Learned) != p.NLearned || sha256Hex(strings.Join(p.Learned, "\n")) != p.LearnedSHA {
				t.Fatal("golden file is inconsistent with its own hashes")
			}
			alpha := trainAlphabet()
			for _, c := range p.Alphabet {
				if !slices.Contains(alpha[:], c) {
					t.Errorf("golden alphabet character %q is not byte-level", c)
				}
			}
			// Hugging Face's run stops at 30000 tokens counting the
			// characters seen; it ran out of pairs well before that.
			if len(p.Alphabet)+p.NLearned >= 30000 {
				t.Fatal("golden run hit its vocab limit; the prefix argument below needs it not to")
			}
			tk, err := Train(lines, TrainOptions{VocabSize: 1 << 20, Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			if got := modelMerges(tk); !slices.Equal(got, p.Merges) {
				t.Errorf("merges differ from Hugging Face's: %s", firstDiff(got, p.Merges))
			}
			if got := learnedTokens(tk); !slices.Equal(got, p.Learned) {
				t.Errorf("learned vocab differs from Hugging Face's: %s", firstDiff(got, p.Learned))
			}
			// A smaller VocabSize learns a prefix of the same merges.
			const n = 300
			tk, err = Train(lines, TrainOptions{VocabSize: 256 + n + 2, Config: cfg, Special: []string{"<|endoftext|>", "<image>"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := modelMerges(tk); !slices.Equal(got, p.Merges[:n]) {
				t.Errorf("VocabSize %d: %s", 256+n+2, firstDiff(got, p.Merges[:n]))
			}
			if tk.VocabSize() != 256+n+2 {
				t.Errorf("VocabSize() = %d, want %d", tk.VocabSize(), 256+n+2)
			}
		})
	}
}

// TestTrainHandWorked checks merges worked out by hand.
func TestTrainHandWorked(t *testing.T) {
	// One word "aaabdaaabac" (no spaces, so one pre-token with GPT-2's
	// regex). Pairs: aa 4, ab 2, ba 1, bd 1, da 1, ac 1.
	//  1. a a (4) -> "aa": scanning left to right, "aaa" becomes [aa a]:
	//     aa a b d aa a b a c. Pairs: (aa,a) 2, (a,b) 2, (b,d) 1, (d,aa) 1,
	//     (b,a) 1, (a,c) 1.
	//  2. Tie at 2 between (aa,a) and (a,b): ids compare, "a" (64) < "aa"
	//     (256), so (a,b) -> "ab": aa ab d aa ab a c.
	//  3. (aa,ab) 2 -> "aaab": aaab d aaab a c.
	//  4. All pairs now count 1: (aaab,d), (d,aaab), (aaab,a), (a,c). The
	//     smallest by ids is (a,c), "a" being 64 -> "ac" (259); then
	//     (d,aaab) as "d" is 67 -> "daaab" (260), leaving aaab daaab ac;
	//     then (aaab,daaab) (258, 260) before (daaab,ac) (260, 259).
	tk, err := Train([]string{"aaabdaaabac"}, TrainOptions{VocabSize: 1000, Config: Config{PreTokenizer: PreTokenizerGPT2}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a a", "a b", "aa ab", "a c", "d aaab", "aaab daaab", "aaabdaaab ac"}
	if got := modelMerges(tk); !slices.Equal(got, want) {
		t.Errorf("merges = %q, want %q", got, want)
	}
	if got := tk.Encode("aaabdaaabac"); len(got) != 1 {
		t.Errorf("Encode = %v, want one token", got)
	}

	// Words with counts: "hug" x10, "pug" x5, "pun" x12, "bun" x4, "hugs" x5
	// (the classic example, with spaces so that each is its own word; the
	// GPT-2 regex gives " hug" etc., so every word starts with Ġ).
	var sb strings.Builder
	for _, wc := range []struct {
		w string
		n int
	}{{"hug", 10}, {"pug", 5}, {"pun", 12}, {"bun", 4}, {"hugs", 5}} {
		for range wc.n {
			sb.WriteString(" " + wc.w)
		}
	}
	// Pairs: Ġh 15, hu 15, ug 20, Ġp 17, pu 17, un 16, Ġb 4, bu 4, gs 5.
	// Ids: "b" 65, "g" 70, "h" 71, "p" 79, "s" 82, "u" 84, "Ġ" 220.
	//  1. (u,g) 20 -> "ug" (256); pu drops to 12 (pun only), gs to 0.
	//  2. (Ġ,p) 17 -> "Ġp" (257).
	//  3. (u,n) 16 -> "un" (258).
	//  4. (Ġ,h) and (h,ug) tie at 15: "h" (71) < "Ġ" (220), so (h,ug).
	//  5. (Ġ,hug) 15. 6. (Ġp,un) 12.
	//  7. (Ġp,ug) (257, 256) and (Ġhug,s) (260, 82) tie at 5: Ġp+ug first.
	//  8. (Ġhug,s) 5.
	//  9. (Ġ,b) and (b,un) tie at 4: (b,un) by left id.
	tk, err = Train([]string{sb.String()}, TrainOptions{VocabSize: 256 + 9, Config: Config{PreTokenizer: PreTokenizerGPT2}})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"u g", "Ġ p", "u n", "h ug", "Ġ hug", "Ġp un", "Ġp ug", "Ġhug s", "b un"}
	if got := modelMerges(tk); !slices.Equal(got, want) {
		t.Errorf("merges = %q, want %q", got, want)
	}

	// Special tokens in the corpus are cut out before pre-tokenization:
	// only "ab" is left to learn from.
	tk, err = Train([]string{"<|im_start|>ab<|im_end|><image>", "<|im_start|><|im_end|>"},
		TrainOptions{VocabSize: 1000, Special: trainSpecial, Config: Config{PreTokenizer: PreTokenizerGPT2}})
	if err != nil {
		t.Fatal(err)
	}
	if got := modelMerges(tk); !slices.Equal(got, []string{"a b"}) {
		t.Errorf("corpus of special tokens and \"ab\": merges = %q", got)
	}

	// MinFrequency: with 5 the merges stop before the ties at 4.
	tk, err = Train([]string{sb.String()}, TrainOptions{VocabSize: 1000, MinFrequency: 5, Config: Config{PreTokenizer: PreTokenizerGPT2}})
	if err != nil {
		t.Fatal(err)
	}
	if got := modelMerges(tk); !slices.Equal(got, want[:8]) {
		t.Errorf("MinFrequency 5: merges = %q, want %q", got, want[:8])
	}
}

// TestTrainAlphabet checks the initial vocab: all 256 byte-level runes in
// code-point order, whatever the corpus.
func TestTrainAlphabet(t *testing.T) {
	tk, err := Train(nil, TrainOptions{VocabSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if tk.ModelVocabSize() != 256 || len(tk.model.mergeSrc) != 0 {
		t.Fatalf("empty corpus: %d tokens, %d merges", tk.ModelVocabSize(), len(tk.model.mergeSrc))
	}
	prev := rune(-1)
	for id := range 256 {
		tok, _ := tk.IDToToken(id)
		r := []rune(tok)
		if len(r) != 1 || r[0] <= prev {
			t.Fatalf("id %d: %q", id, tok)
		}
		prev = r[0]
	}
	if id, _ := tk.TokenToID("!"); id != 0 {
		t.Errorf(`"!" has id %d`, id)
	}
	if id, _ := tk.TokenToID("Ā"); id != 188 {
		t.Errorf(`"Ā" has id %d`, id)
	}
	if _, err := Train(nil, TrainOptions{}); err == nil {
		t.Error("VocabSize 0: no error")
	}
}

var trainSpecial = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"}

// chatCorpus is the golden corpus with ChatML turns around some lines.
func chatCorpus(t testing.TB) []string {
	lines, _ := trainCorpus(t)
	out := make([]string, 0, len(lines))
	for i, l := range lines {
		switch i % 7 {
		case 0:
			l = "<|im_start|>user\n<image>\n" + l + "<|im_end|>\n"
		case 3:
			l = "<|im_start|>assistant\n" + l + "<|im_end|><|endoftext|>"
		}
		out = append(out, l)
	}
	return out
}

func TestTrainDeterministic(t *testing.T) {
	corpus := chatCorpus(t)
	opts := TrainOptions{VocabSize: 1200, Special: trainSpecial}
	var first []byte
	for i := range 3 {
		tk, err := Train(corpus, opts)
		if err != nil {
			t.Fatal(err)
		}
		data, err := tk.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = data
		} else if !bytes.Equal(data, first) {
			t.Fatalf("run %d gave a different tokenizer.json", i)
		}
	}
}

func TestTrainRoundTrip(t *testing.T) {
	corpus := chatCorpus(t)
	for _, cfg := range []Config{{}, Qwen2Config, {PreTokenizer: PreTokenizerGPT2}, {Normalizer: "NFKC", PreTokenizer: PreTokenizerGPT2}} {
		tk, err := Train(corpus, TrainOptions{VocabSize: 1000, Special: trainSpecial, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if tk.VocabSize() != 1000 {
			t.Errorf("%+v: VocabSize() = %d, want 1000", cfg, tk.VocabSize())
		}
		if got := tk.SpecialTokens(); !slices.Equal(got, trainSpecial) {
			t.Errorf("SpecialTokens() = %q", got)
		}
		for i, s := range trainSpecial {
			if id, ok := tk.TokenToID(s); !ok || id != tk.ModelVocabSize()+i {
				t.Errorf("%q: id %d, %t; want %d (after the learned vocab)", s, id, ok, tk.ModelVocabSize()+i)
			}
		}
		path := filepath.Join(t.TempDir(), "tokenizer.json")
		if err := tk.WriteFile(path); err != nil {
			t.Fatal(err)
		}
		tk2, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		data1, _ := tk.MarshalJSON()
		data2, _ := tk2.MarshalJSON()
		if !bytes.Equal(data1, data2) {
			t.Error("Load(WriteFile(tk)) marshals differently")
		}
		heldOut := []string{
			"",
			"Hello, world! The quantized vision-language model reads 1234 images.",
			"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\nWhat is in the picture?<|im_end|>\n",
			"func main() {\n\tfmt.Println(\"héllo\")\n}\n",
			"    indented    with   runs of     spaces   \n\n\n",
			"\x00\x01\x7f control bytes and \u00ad soft hyphen, \u00a0nbsp",
			"日本語のテキスト、中文。😀👍🏽 👨‍👩‍👧 Ελληνικά кириллица",
			"zzqx qjxv wvkq: never-seen letter combinations",
			"cafe\u0301 nai\u0308ve (NFD) \ufb01 ligature \u2460",
			"I'M HERE, you're there; WE'LL see. it's 3.14159e-10",
			"<|im_start|><|im_end|><image><image>",
			"<|im_sta partial <image special <|endoftext|",
		}
		for _, s := range heldOut {
			want := tk.normalize(s) // NFC (the zero Config) or NFKC; identity without a normalizer
			ids := tk2.Encode(s)
			if got := tk2.Decode(ids, false); got != want {
				t.Errorf("%+v: Decode(Encode(%q)) = %q", cfg, s, got)
			}
			if got := tk.Encode(s); !slices.Equal(got, ids) {
				t.Errorf("%+v: %q encodes differently after Load", cfg, s)
			}
		}
		// Special tokens are never split, even glued to text.
		for _, s := range trainSpecial {
			id, _ := tk.TokenToID(s)
			ids := tk2.Encode("x" + s + "y" + s)
			if len(ids) != 4 || ids[1] != id || ids[3] != id {
				t.Errorf("Encode(x%sy%s) = %v, want the special id %d at 1 and 3", s, s, ids, id)
			}
			for _, l := range learnedTokens(tk) {
				// No learned token holds a special token's text (they were
				// cut out of the corpus before training).
				if strings.Contains(l, s) {
					t.Errorf("learned token %q contains %q", l, s)
				}
			}
		}
	}
}

// benchCorpus is about 5 MB of text: the golden corpus repeated, each copy
// with a third of its lines' letters rotated (a Caesar shift that depends on
// the copy), so that the words stay varied enough for a 4k vocab.
func benchCorpus(b *testing.B) ([]string, int) {
	lines, _ := trainCorpus(b)
	var corpus []string
	size := 0
	for k := 0; size < 5<<20; k++ {
		shift := byte(k % 26)
		for i, l := range lines {
			if k > 0 && i%3 == k%3 {
				buf := []byte(l)
				for j, c := range buf {
					switch {
					case c >= 'a' && c <= 'z':
						buf[j] = 'a' + (c-'a'+shift)%26
					case c >= 'A' && c <= 'Z':
						buf[j] = 'A' + (c-'A'+shift)%26
					}
				}
				l = string(buf)
			}
			corpus = append(corpus, l)
			size += len(l)
		}
	}
	return corpus, size
}

// BenchmarkTrain trains a 4k-vocab tokenizer (ChatML special tokens
// included) on about 5 MB of text.
func BenchmarkTrain(b *testing.B) {
	corpus, size := benchCorpus(b)
	b.SetBytes(int64(size))
	b.ResetTimer()
	for range b.N {
		tk, err := Train(corpus, TrainOptions{VocabSize: 4096, Special: trainSpecial})
		if err != nil {
			b.Fatal(err)
		}
		if tk.VocabSize() != 4096 {
			b.Fatalf("VocabSize() = %d", tk.VocabSize())
		}
	}
}
