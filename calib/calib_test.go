package calib

import (
	"errors"
	stdimage "image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"mbq/hf/chat"
	"mbq/model"
	"mbq/model/llavaonevision"
)

// writePNG writes a w x h image whose first pixel's red value is tag.
func writePNG(t *testing.T, path string, w, h int, tag uint8) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	img := stdimage.NewRGBA(stdimage.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(7 * x), uint8(5 * y), 100, 255})
		}
	}
	img.Set(0, 0, color.RGBA{tag, 0, 0, 255})
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const listFile = `[
 {"id": "a", "image": "img/a.png",
  "conversations": [{"from": "human", "value": "<image>\nDescribe the image."},
                    {"from": "gpt", "value": "A red square."}]},
 {"id": 7, "conversations": [{"from": "system", "value": "Be brief."},
                              {"from": "human", "value": "What is 3 + 4?"},
                              {"from": "gpt", "value": "7"}]},
 {"id": "c", "image": ["img/b.png", "img/a.png"],
  "conversations": [{"from": "human", "value": "Compare\n<image>\nwith <image>\nplease"},
                    {"from": "gpt", "value": "Same."},
                    {"from": "human", "value": "Sure?"},
                    {"from": "gpt", "value": "Yes."}]},
 {"id": "d", "image": "img/b.png",
  "conversations": [{"from": "human", "value": "No placeholder here."},
                    {"from": "gpt", "value": "Fine."}]}
]`

// wantMessages are listFile's records as chat messages, in file order.
var wantMessages = [][]chat.Message{
	{chat.Parts("user", chat.ImagePart(), chat.TextPart("Describe the image.")),
		chat.Parts("assistant", chat.TextPart("A red square."))},
	{chat.Parts("system", chat.TextPart("Be brief.")),
		chat.Parts("user", chat.TextPart("What is 3 + 4?")),
		chat.Parts("assistant", chat.TextPart("7"))},
	{chat.Parts("user", chat.TextPart("Compare"), chat.ImagePart(), chat.TextPart("with "), chat.ImagePart(), chat.TextPart("please")),
		chat.Parts("assistant", chat.TextPart("Same.")),
		chat.Parts("user", chat.TextPart("Sure?")),
		chat.Parts("assistant", chat.TextPart("Yes."))},
	{chat.Parts("user", chat.ImagePart(), chat.TextPart("No placeholder here.")),
		chat.Parts("assistant", chat.TextPart("Fine."))},
}

// wantImages tags the images of each record (first pixel's red value).
var wantImages = [][]uint8{{1}, nil, {2, 1}, {2}}

// find returns the index of the record a sample came from.
func find(t *testing.T, s model.Sample) int {
	t.Helper()
	for i, w := range wantMessages {
		if reflect.DeepEqual(s.Messages, w) {
			return i
		}
	}
	t.Fatalf("sample matches no record: %+v", s.Messages)
	return -1
}

func checkSamples(t *testing.T, got []model.Sample, n int) []int {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d samples, want %d", len(got), n)
	}
	var idx []int
	for _, s := range got {
		i := find(t, s)
		idx = append(idx, i)
		if len(s.Images) != len(wantImages[i]) {
			t.Fatalf("record %d: %d images, want %d", i, len(s.Images), len(wantImages[i]))
		}
		for k, img := range s.Images {
			if img.Width != 6 || img.Height != 4 || img.Pix[0] != wantImages[i][k] {
				t.Errorf("record %d image %d: %dx%d tag %d, want 6x4 tag %d", i, k, img.Width, img.Height, img.Pix[0], wantImages[i][k])
			}
		}
	}
	return idx
}

func TestLoadShareGPT(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "data", "img", "a.png"), 6, 4, 1)
	writePNG(t, filepath.Join(dir, "data", "img", "b.png"), 6, 4, 2)
	list := filepath.Join(dir, "data", "calib.json")
	writeFile(t, list, listFile)

	got, err := LoadShareGPT(list, Options{N: -1})
	if err != nil {
		t.Fatal(err)
	}
	idx := checkSamples(t, got, 4)
	if want := Shuffle(4, 0); !slices.Equal(idx, want) {
		t.Errorf("order %v, want the shuffle %v", idx, want)
	}
	// Default N (128) with 4 records: all of them.
	def, err := LoadShareGPT(list, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(def, got) {
		t.Error("default options differ from N=-1 on a short file")
	}

	// N and Seed: the first N of the seed's shuffle, deterministic.
	two, err := LoadShareGPT(list, Options{N: 2, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if idx := checkSamples(t, two, 2); !slices.Equal(idx, Shuffle(4, 5)[:2]) {
		t.Errorf("N=2 seed 5: records %v, want %v", idx, Shuffle(4, 5)[:2])
	}
	again, _ := LoadShareGPT(list, Options{N: 2, Seed: 5})
	if !reflect.DeepEqual(two, again) {
		t.Error("same seed, different samples")
	}

	// JSON lines, images under --images.
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(listFile[1:len(listFile)-1]), "\n {") {
		l = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), ","))
		if !strings.HasPrefix(l, "{") {
			l = "{" + l
		}
		lines = append(lines, strings.ReplaceAll(l, "\n", " "))
	}
	jsonl := filepath.Join(dir, "other", "calib.jsonl")
	writeFile(t, jsonl, strings.Join(lines[:2], "\n")+"\n\n"+strings.Join(lines[2:], "\n")+"\n")
	if _, err := LoadShareGPT(jsonl, Options{N: -1}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("images relative to the JSONL's directory should be missing: %v", err)
	}
	gotl, err := LoadShareGPT(jsonl, Options{N: -1, ImagesDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotl, got) {
		t.Error("JSON lines with --images differ from the JSON list")
	}

	// Absolute image paths are used as they are.
	abs := filepath.Join(dir, "abs.json")
	writeFile(t, abs, `[{"image": "`+filepath.ToSlash(filepath.Join(dir, "data", "img", "a.png"))+
		`", "conversations": [{"from": "human", "value": "<image>\nDescribe the image."}, {"from": "gpt", "value": "A red square."}]}]`)
	if s, err := LoadShareGPT(abs, Options{ImagesDir: "/nonexistent"}); err != nil || find(t, s[0]) != 0 {
		t.Errorf("absolute path: %v", err)
	}
}

func TestLoadShareGPTErrors(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "img", "a.png"), 6, 4, 1)
	writeFile(t, filepath.Join(dir, "img", "bad.png"), "not a png")
	ok := `{"from": "human", "value": "<image>\nDescribe."}, {"from": "gpt", "value": "A cap."}`
	cases := []struct {
		name, content string
		want          []string // substrings of the error
		format        bool     // wraps ErrFormat
	}{
		{"missing image", `[{"id": "x1", "image": "img/nope.png", "conversations": [` + ok + `]}]`,
			[]string{"record 0", `id "x1"`, `image "img/nope.png"`}, false},
		{"bad image", `[{"id": "x2", "image": "img/bad.png", "conversations": [` + ok + `]}]`,
			[]string{"record 0", `image "img/bad.png"`}, false},
		{"unknown role", `[{"image": "img/a.png", "conversations": [` + ok + `]}, {"id": "r", "conversations": [{"from": "bot", "value": "x"}]}]`,
			[]string{"record 1", `id "r"`, "conversations[0].from", `unknown role "bot"`}, true},
		{"no gpt turn", `[{"id": 3, "conversations": [{"from": "human", "value": "hi"}]}]`,
			[]string{"record 0", `id "3"`, "no \"gpt\" turn"}, true},
		{"empty conversations", `[{"id": "e", "conversations": []}]`, []string{`id "e"`, "conversations", "empty"}, true},
		{"no conversations", `[{"id": "e"}]`, []string{`id "e"`, "conversations", "missing"}, true},
		{"missing value", `[{"conversations": [{"from": "human"}]}]`, []string{"conversations[0]", `"value": missing`}, true},
		{"missing from", `[{"conversations": [{"value": "x"}]}]`, []string{"conversations[0]", `"from": missing`}, true},
		{"value not string", `[{"id": "v", "conversations": [{"from": "human", "value": 3}]}]`, []string{"record 0", `id "v"`, "conversations.value", "not a string"}, true},
		{"image in gpt turn", `[{"image": "img/a.png", "conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": "<image>"}]}]`,
			[]string{"conversations[1].value", "<image>"}, true},
		{"placeholders without image", `[{"id": "p", "conversations": [` + ok + `]}]`,
			[]string{`id "p"`, `field "image"`, "0 image(s) for 1"}, true},
		{"two placeholders one image", `[{"image": "img/a.png", "conversations": [{"from": "human", "value": "<image><image>"}, {"from": "gpt", "value": "x"}]}]`,
			[]string{`field "image"`, "1 image(s) for 2"}, true},
		{"image wrong type", `[{"image": 5, "conversations": [` + ok + `]}]`, []string{`field "image"`, "not a path"}, true},
		{"empty image path", `[{"image": "", "conversations": [` + ok + `]}]`, []string{`field "image"`, "empty path"}, true},
		{"id wrong type", `[{"id": {"a": 1}, "conversations": [` + ok + `]}]`, []string{`field "id"`}, true},
		{"record not object", `[[1, 2]]`, []string{"record 0", "not a JSON object"}, true},
		{"bad JSON list", "[\n{\"id\": 1,,}]", []string{"not a JSON list", "line 2"}, true},
		{"bad JSON line", "{\"conversations\": [" + ok + "]}\n{oops\n", []string{"line 2", "JSON lines"}, true},
		{"jsonl record error", "{\"image\": \"img/a.png\", \"conversations\": [" + ok + "]}\n\n{\"id\": \"z\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"<image>\"}]}\n",
			[]string{"record 1", "line 3", `id "z"`}, true},
		{"empty file", "  \n", []string{"no records"}, true},
		{"image but no human turn", `[{"image": "img/a.png", "conversations": [{"from": "gpt", "value": "x"}]}]`,
			[]string{"no \"human\" turn"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".json")
			writeFile(t, path, c.content)
			_, err := LoadShareGPT(path, Options{N: -1})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") {
				t.Errorf("error %q does not start with the file", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if got := errors.Is(err, ErrFormat); got != c.format {
				t.Errorf("errors.Is(ErrFormat) = %v, want %v (%v)", got, c.format, err)
			}
		})
	}
	if _, err := LoadShareGPT(filepath.Join(dir, "absent.json"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

func TestUserParts(t *testing.T) {
	cases := []struct {
		in   string
		want []chat.Part
	}{
		{"<image>\nDescribe.", []chat.Part{chat.ImagePart(), chat.TextPart("Describe.")}},
		{"<image>\r\nDescribe.", []chat.Part{chat.ImagePart(), chat.TextPart("Describe.")}},
		{"Describe.\n<image>", []chat.Part{chat.TextPart("Describe."), chat.ImagePart()}},
		{"<image>\n\nx", []chat.Part{chat.ImagePart(), chat.TextPart("\nx")}},
		{"a <image> b", []chat.Part{chat.TextPart("a "), chat.ImagePart(), chat.TextPart(" b")}},
		{"<image>", []chat.Part{chat.ImagePart()}},
		{"plain", []chat.Part{chat.TextPart("plain")}},
		{"", []chat.Part{chat.TextPart("")}},
	}
	for _, c := range cases {
		if got := userParts(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("userParts(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestShuffle(t *testing.T) {
	// Pinned: a seed must select the same calibration set forever.
	if got, want := Shuffle(10, 1), []int{9, 0, 1, 4, 8, 2, 3, 7, 6, 5}; !slices.Equal(got, want) {
		t.Errorf("Shuffle(10, 1) = %v, want %v", got, want)
	}
	for n := range 40 {
		p := Shuffle(n, uint64(n))
		s := slices.Clone(p)
		slices.Sort(s)
		for i, v := range s {
			if v != i {
				t.Fatalf("Shuffle(%d) = %v is not a permutation", n, p)
			}
		}
	}
	if slices.Equal(Shuffle(50, 1), Shuffle(50, 2)) {
		t.Error("seeds 1 and 2 give the same permutation")
	}
}

func TestLoadText(t *testing.T) {
	tok, err := llavaonevision.TinyTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for i := range 60 {
		sb.WriteString("The red circle is left of the blue square. ")
		if i%10 == 3 {
			sb.WriteString("<image><|im_end|> héllo wörld ")
		}
	}
	path := filepath.Join(t.TempDir(), "pile.txt")
	writeFile(t, path, sb.String())
	all := tok.Encode(sb.String())
	const blockLen = 64
	samples, err := LoadText(path, tok, blockLen, Options{N: -1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Each occurrence of <image> and <|im_end|> is removed (2 added tokens).
	if want := (len(all) - 2*6) / blockLen; len(samples) != want {
		t.Fatalf("%d blocks, want %d", len(samples), want)
	}
	for i, s := range samples {
		if len(s.Images) != 0 || len(s.Messages) != 2 || s.Messages[0].Role != "user" || s.Messages[1].Role != "assistant" {
			t.Fatalf("sample %d: %+v", i, s)
		}
		if s.Messages[0].Parts[0].Text != TextPrompt {
			t.Errorf("sample %d: prompt %q", i, s.Messages[0].Parts[0].Text)
		}
		text := s.Messages[1].Parts[0].Text
		if strings.Contains(text, "<image>") || strings.Contains(text, "<|im_end|>") || strings.ContainsRune(text, '\uFFFD') {
			t.Errorf("sample %d: %q", i, text)
		}
		if n := len(tok.Encode(text)); n < blockLen-4 || n > blockLen+4 {
			t.Errorf("sample %d: %d tokens, want about %d", i, n, blockLen)
		}
	}
	two, err := LoadText(path, tok, blockLen, Options{N: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(two, samples[:2]) {
		t.Error("N=2 is not the first two of the same shuffle")
	}
	if _, err := LoadText(path, tok, 1<<20, Options{}); err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "fewer than one block") {
		t.Errorf("short file: %v", err)
	}
	if _, err := LoadText(path+".absent", tok, 0, Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

// TestLoadTextPrepare checks that a text block prepared by a model is
// answer tokens after a short prompt (28 tokens with the tiny, mostly
// byte-level tokenizer).
func TestLoadTextPrepare(t *testing.T) {
	dir := t.TempDir()
	if err := llavaonevision.WriteTiny(dir, 1, llavaonevision.DefaultTiny); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "text.txt")
	writeFile(t, path, strings.Repeat("There is a green circle at the top left. ", 40))
	tok, _ := llavaonevision.TinyTokenizer()
	samples, err := LoadText(path, tok, 48, Options{N: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range samples {
		in, err := m.Prepare(s, false)
		if err != nil {
			t.Fatal(err)
		}
		var n [3]int
		for _, md := range in.Modality {
			n[md]++
		}
		if n[model.Vision] != 0 || n[model.Answer] < 46 || n[model.Prompt] > 40 {
			t.Errorf("sample %d: modality counts %v (prompt, vision, answer)", i, n)
		}
	}
}
