package image

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	stdimage "image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const onevisionJSON = `{
  "crop_size": {"height": 384, "width": 384},
  "do_convert_rgb": true,
  "do_normalize": true,
  "do_pad": true,
  "do_rescale": true,
  "do_resize": true,
  "image_grid_pinpoints": [[384, 384], [384, 768], [768, 384]],
  "image_mean": [0.5, 0.5, 0.5],
  "image_processor_type": "LlavaOnevisionImageProcessor",
  "image_std": [0.5, 0.5, 0.5],
  "processor_class": "LlavaOnevisionProcessor",
  "resample": 3,
  "rescale_factor": 0.00392156862745098,
  "size": {"height": 384, "width": 384}
}`

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadProcessorConfig(t *testing.T) {
	p := writeTemp(t, "preprocessor_config.json", onevisionJSON)
	c, err := LoadProcessorConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsOnevision() || c.Resample != Bicubic || c.RescaleFactor != 1.0/255 || !c.DoPad || !c.DoConvertRGB {
		t.Errorf("parsed %+v", c)
	}
	if h, w := c.TargetSize(); h != 384 || w != 384 {
		t.Errorf("target %dx%d", h, w)
	}
	if c.ImageMean != [3]float64{0.5, 0.5, 0.5} || len(c.ImageGridPinpoints) != 3 || c.ImageGridPinpoints[1] != [2]int{384, 768} {
		t.Errorf("mean %v pinpoints %v", c.ImageMean, c.ImageGridPinpoints)
	}
	if _, ok := c.Extra["crop_size"]; !ok {
		t.Error("unknown field crop_size not kept")
	}

	// Round trip through MarshalJSON.
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ParseProcessorConfig(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	c.file = ""
	if !reflect.DeepEqual(c, c2) {
		t.Errorf("round trip:\n%+v\n%+v", c, c2)
	}
}

func TestProcessorConfigDefaults(t *testing.T) {
	ov, err := ParseProcessorConfig([]byte(`{"image_processor_type": "LlavaOnevisionImageProcessor", "do_pad": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if ov.Size != (Size{Height: 384, Width: 384}) || ov.ImageMean != OpenAIClipMean || ov.ImageStd != OpenAIClipStd ||
		len(ov.ImageGridPinpoints) != 36 || ov.ImageGridPinpoints[35] != [2]int{2304, 2304} || !ov.DoPad || !ov.DoConvertRGB {
		t.Errorf("onevision defaults: %+v", ov)
	}
	sg, err := ParseProcessorConfig([]byte(`{"image_processor_type": "SiglipImageProcessor"}`))
	if err != nil {
		t.Fatal(err)
	}
	if sg.Size != (Size{Height: 224, Width: 224}) || sg.ImageMean != ImagenetStandardMean || sg.DoConvertRGB ||
		sg.Resample != Bicubic || !sg.DoResize || !sg.DoRescale || !sg.DoNormalize || sg.ImageGridPinpoints != nil {
		t.Errorf("siglip defaults: %+v", sg)
	}
	se, err := ParseProcessorConfig([]byte(`{"image_processor_type": "LlavaOnevisionImageProcessorFast", "size": {"shortest_edge": 336}, "image_mean": 0.25}`))
	if err != nil {
		t.Fatal(err)
	}
	if h, w := se.TargetSize(); h != 336 || w != 336 || se.ImageMean != [3]float64{0.25, 0.25, 0.25} {
		t.Errorf("shortest_edge: %dx%d mean %v", h, w, se.ImageMean)
	}
}

func TestProcessorConfigErrors(t *testing.T) {
	base := `"image_processor_type": "LlavaOnevisionImageProcessor"`
	cases := []struct{ json, field string }{
		{`{` + base + `, "resample": 7}`, "resample"},
		{`{` + base + `, "resample": "bicubic"}`, "resample"},
		{`{` + base + `, "size": {"height": 0, "width": 384}}`, "size"},
		{`{` + base + `, "size": {"longest_edge": 384}}`, "size"},
		{`{` + base + `, "image_mean": [0.5, 0.5]}`, "image_mean"},
		{`{` + base + `, "image_std": [0.5, 0, 0.5]}`, "image_std"},
		{`{` + base + `, "do_resize": "yes"}`, "do_resize"},
		{`{` + base + `, "image_grid_pinpoints": [[384]]}`, "image_grid_pinpoints"},
		{`{` + base + `, "rescale_factor": "x"}`, "rescale_factor"},
		{`{"image_processor_type": "CLIPImageProcessor"}`, "image_processor_type"},
		{`{"do_resize": true}`, "image_processor_type"},
		{`{"image_processor_type": "SiglipImageProcessor", "size": {"shortest_edge": 384}}`, "size"},
		{`[1, 2]`, "JSON object"},
	}
	for _, c := range cases {
		p := writeTemp(t, "preprocessor_config.json", c.json)
		_, err := LoadProcessorConfig(p)
		if err == nil {
			t.Errorf("%s: no error", c.json)
			continue
		}
		if !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q should name %q and the file", c.json, err, c.field)
		}
	}
}

func randomRGB(w, h int, seed uint64) *RGB {
	r := rand.New(rand.NewPCG(seed, 1))
	m := NewRGB(w, h)
	for i := range m.Pix {
		m.Pix[i] = uint8(r.IntN(256))
	}
	return m
}

func TestPatches(t *testing.T) {
	pix := RescaleNormalize(randomRGB(29, 22, 3), true, 1.0/255, true, [3]float64{0.5, 0.5, 0.5}, [3]float64{0.5, 0.5, 0.5})
	const P = 7
	got := Patches(pix, P)
	gh, gw := 22/P, 29/P
	if len(got) != gh*gw*3*P*P {
		t.Fatalf("len %d, want %d", len(got), gh*gw*3*P*P)
	}
	for py := 0; py < gh; py++ {
		for px := 0; px < gw; px++ {
			for c := 0; c < 3; c++ {
				for y := 0; y < P; y++ {
					for x := 0; x < P; x++ {
						want := pix.At(c, py*P+y, px*P+x)
						if g := got[(py*gw+px)*3*P*P+(c*P+y)*P+x]; g != want {
							t.Fatalf("patch (%d,%d) c%d y%d x%d: %v want %v", py, px, c, y, x, g, want)
						}
					}
				}
			}
		}
	}
}

func TestRescaleNormalizeArithmetic(t *testing.T) {
	m := &RGB{Width: 1, Height: 1, Pix: []uint8{0, 128, 255}}
	p := RescaleNormalize(m, true, 1.0/255, true, OpenAIClipMean, OpenAIClipStd)
	for c, v := range m.Pix {
		x := float32(float64(v) * (1.0 / 255))
		want := (x - float32(OpenAIClipMean[c])) / float32(OpenAIClipStd[c])
		if p.Data[c] != want {
			t.Errorf("channel %d: %v want %v", c, p.Data[c], want)
		}
	}
	q := RescaleNormalize(m, false, 0, false, OpenAIClipMean, OpenAIClipStd)
	if q.Data[2] != 255 {
		t.Errorf("no rescale/normalize: %v", q.Data)
	}
}

func TestResizeProperties(t *testing.T) {
	src := randomRGB(31, 17, 9)
	same, err := Resize(src, 31, 17, Bicubic)
	if err != nil || !bytes.Equal(same.Pix, src.Pix) {
		t.Fatalf("same-size resize is not a copy: %v", err)
	}
	// A constant image stays constant under every filter (normalised taps).
	flat := NewRGB(13, 9)
	for i := range flat.Pix {
		flat.Pix[i] = 200
	}
	for f := Nearest; f <= Hamming; f++ {
		out, err := Resize(flat, 40, 5, f)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range out.Pix {
			if v != 200 {
				t.Fatalf("%v: pixel %d = %d", f, i, v)
			}
		}
	}
	for _, bad := range [][2]int{{0, 5}, {5, -1}, {1 << 20, 1}} {
		if _, err := Resize(src, bad[0], bad[1], Bicubic); err == nil {
			t.Errorf("size %v: no error", bad)
		}
	}
	if _, err := Resize(src, 5, 5, Filter(9)); err == nil {
		t.Error("bad filter: no error")
	}
}

func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

func TestDecodeErrors(t *testing.T) {
	var good bytes.Buffer
	if err := png.Encode(&good, stdimage.NewGray(stdimage.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	ihdr := func(w, h uint32) []byte {
		var d bytes.Buffer
		binary.Write(&d, binary.BigEndian, w)
		binary.Write(&d, binary.BigEndian, h)
		d.Write([]byte{8, 2, 0, 0, 0})
		return append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", d.Bytes())...)
	}
	cases := map[string][]byte{
		"empty":      nil,
		"garbage":    []byte("definitely not an image"),
		"truncated":  good.Bytes()[:good.Len()/2],
		"bomb":       append(ihdr(100000, 100000), pngChunk("IEND", nil)...),
		"zero width": append(ihdr(0, 10), pngChunk("IEND", nil)...),
		"no pixels":  append(ihdr(10, 10), pngChunk("IEND", nil)...),
		"bad jpeg":   []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00garbage"),
	}
	for name, data := range cases {
		p := writeTemp(t, "img.bin", string(data))
		_, err := DecodeFile(p)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
		if name == "bomb" && !strings.Contains(err.Error(), "exceeds") {
			t.Errorf("bomb: %v", err)
		}
	}
	if _, err := Decode(bytes.NewReader(good.Bytes())); err != nil {
		t.Errorf("good PNG: %v", err)
	}
}

func TestNumImageTokensEdges(t *testing.T) {
	pins := DefaultOnevisionPinpoints()
	if _, err := NumImageTokens(0, 10, 384, 14, pins, 9); err == nil {
		t.Error("zero height: no error")
	}
	if _, err := NumImageTokens(10, 10, 384, 14, nil, 9); err == nil {
		t.Error("no pinpoints: no error")
	}
	// A 384x384 image: base 27*27 + grid 27*27 + 27 newlines.
	n, err := NumImageTokens(384, 384, 384, 14, pins, 9)
	if err != nil || n != 27*27*2+27 {
		t.Errorf("384x384: %d %v", n, err)
	}
	if h, w := SelectBestResolution(5, 5, nil); h != 0 || w != 0 {
		t.Error("empty pinpoints")
	}
}

func BenchmarkPreprocess(b *testing.B) {
	src := randomRGB(1024, 768, 1)
	for _, f := range []Filter{Bicubic, Bilinear} {
		cfg, _ := NewProcessorConfig(TypeSiglip)
		cfg.Size = Size{Height: 384, Width: 384}
		cfg.Resample = f
		b.Run(f.String()+"/1024x768->384x384", func(b *testing.B) {
			b.SetBytes(int64(len(src.Pix)))
			for b.Loop() {
				if _, err := cfg.Preprocess(src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("patches/384/14", func(b *testing.B) {
		cfg, _ := NewProcessorConfig(TypeSiglip)
		cfg.Size = Size{Height: 384, Width: 384}
		pix, _ := cfg.Preprocess(src)
		for b.Loop() {
			Patches(pix, 14)
		}
	})
}
