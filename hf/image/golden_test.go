package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The goldens under testdata/ come from Pillow and NumPy (Debian's
// python3-pil / python3-numpy), written by testdata/gen_goldens.py; the
// manifest records the versions. These tests need no Python.

type goldenCase struct {
	Image         string     `json:"image"`
	File          string     `json:"file"`
	SHA256        string     `json:"sha256"`
	Bytes         int        `json:"bytes"`
	Width         int        `json:"width"`
	Height        int        `json:"height"`
	SourceMode    string     `json:"source_mode"`
	Filter        string     `json:"filter"`
	Resample      int        `json:"resample"`
	ImageMean     [3]float64 `json:"image_mean"`
	ImageStd      [3]float64 `json:"image_std"`
	RescaleFactor float64    `json:"rescale_factor"`
	DoRescale     *bool      `json:"do_rescale"`
	DoNormalize   *bool      `json:"do_normalize"`
	Size          int        `json:"size"`
	Pinpoints     [][2]int   `json:"pinpoints"`
	Best          [2]int     `json:"best"`
	Resized       [2]int     `json:"resized"`
	NumTiles      int        `json:"num_tiles"`
}

type tokenCase struct {
	Height, Width int
	Tile          int    `json:"tile"`
	Patch         int    `json:"patch"`
	MaxNumPatches int    `json:"max_num_patches"`
	Best          [2]int `json:"best"`
	Tokens        int    `json:"tokens"`
}

type manifest struct {
	PillowVersion string       `json:"pillow_version"`
	NumpyVersion  string       `json:"numpy_version"`
	Convert       []goldenCase `json:"convert"`
	Resize        []goldenCase `json:"resize"`
	Preprocess    []goldenCase `json:"preprocess"`
	Anyres        []goldenCase `json:"anyres"`
	Tokens        []tokenCase  `json:"tokens"`
}

func loadManifest(t testing.TB) *manifest {
	t.Helper()
	data, err := os.ReadFile("testdata/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// pilRGB returns PIL's convert("RGB") of a test image (the golden), so that
// resize and preprocess tests do not depend on Go's JPEG decoder.
func pilRGB(t testing.TB, m *manifest, name string) *RGB {
	t.Helper()
	for _, c := range m.Convert {
		if c.Image == name {
			pix, err := os.ReadFile(filepath.Join("testdata", c.File))
			if err != nil {
				t.Fatal(err)
			}
			if len(pix) != 3*c.Width*c.Height {
				t.Fatalf("%s: golden has %d bytes, want %d", c.File, len(pix), 3*c.Width*c.Height)
			}
			return &RGB{Width: c.Width, Height: c.Height, Pix: pix}
		}
	}
	t.Fatalf("no conversion golden for %s", name)
	return nil
}

// checkBytes compares got against a golden by hash, and by content (first
// difference reported) where the golden is stored.
func checkBytes(t *testing.T, c goldenCase, got []byte) bool {
	t.Helper()
	sum := sha256.Sum256(got)
	if hex.EncodeToString(sum[:]) == c.SHA256 && len(got) == c.Bytes {
		return true
	}
	if c.File == "" {
		t.Errorf("sha256 mismatch (%d bytes, want %d); golden stored only as a hash", len(got), c.Bytes)
		return false
	}
	want, err := os.ReadFile(filepath.Join("testdata", c.File))
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Errorf("%d bytes, want %d", len(got), len(want))
		return false
	}
	n, first := 0, -1
	for i := range want {
		if want[i] != got[i] {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	t.Errorf("%d of %d bytes differ; first at byte %d: got %d want %d", n, len(want), first, got[first], want[first])
	return false
}

func TestGoldenProvenance(t *testing.T) {
	m := loadManifest(t)
	t.Logf("goldens from Pillow %s, NumPy %s", m.PillowVersion, m.NumpyVersion)
	if m.PillowVersion == "" || len(m.Convert) == 0 || len(m.Resize) == 0 {
		t.Fatal("manifest incomplete")
	}
}

// jpegTolerance is the largest per-sample difference accepted between this
// package's JPEG path (Go's entropy decoding and IDCT, then libjpeg's fancy
// chroma upsampling and colour tables re-implemented) and libjpeg-turbo as
// PIL uses it. The remaining differences come from the IDCT's rounding; the
// mean difference must also stay under 0.1 level.
var jpegTolerance = map[string]int{
	"photo444_64x48.jpg": 3,
	"photo420_64x48.jpg": 3,
	"odd420_37x23.jpg":   3,
	"odd422_37x23.jpg":   3,
	"gray_31x17.jpg":     3,
	"cmyk_16x12.jpg":     3,
}

func TestConvertGolden(t *testing.T) {
	m := loadManifest(t)
	for _, c := range m.Convert {
		t.Run(c.Image, func(t *testing.T) {
			got, err := DecodeFile(filepath.Join("testdata", "in", c.Image))
			if err != nil {
				t.Fatal(err)
			}
			if got.Width != c.Width || got.Height != c.Height {
				t.Fatalf("size %dx%d, want %dx%d", got.Width, got.Height, c.Width, c.Height)
			}
			if !strings.HasSuffix(c.Image, ".jpg") {
				checkBytes(t, c, got.Pix)
				return
			}
			want := pilRGB(t, m, c.Image)
			maxd, sum := 0, 0
			for i := range want.Pix {
				d := int(got.Pix[i]) - int(want.Pix[i])
				if d < 0 {
					d = -d
				}
				maxd = max(maxd, d)
				sum += d
			}
			t.Logf("JPEG decode vs libjpeg: max |diff| %d, mean %.3f (mode %s)", maxd, float64(sum)/float64(len(want.Pix)), c.SourceMode)
			if tol, ok := jpegTolerance[c.Image]; !ok || maxd > tol {
				t.Errorf("max |diff| %d exceeds tolerance %d", maxd, tol)
			}
			if mean := float64(sum) / float64(len(want.Pix)); mean > 0.1 {
				t.Errorf("mean |diff| %.3f exceeds 0.1", mean)
			}
		})
	}
}

func TestResizeGolden(t *testing.T) {
	m := loadManifest(t)
	srcs := map[string]*RGB{}
	names := map[string]Filter{}
	for f := Nearest; f <= Hamming; f++ {
		names[f.String()] = f
	}
	for _, c := range m.Resize {
		name := strings.TrimSuffix(filepath.Base(c.File), ".rgb")
		if c.File == "" {
			name = c.Image + "_" + c.Filter + "_" + itoa(c.Width) + "x" + itoa(c.Height)
		}
		t.Run(name, func(t *testing.T) {
			src, ok := srcs[c.Image]
			if !ok {
				src = pilRGB(t, m, c.Image)
				srcs[c.Image] = src
			}
			f, ok := names[c.Filter]
			if !ok || int(f) != c.Resample {
				t.Fatalf("filter %q / %d unknown", c.Filter, c.Resample)
			}
			got, err := Resize(src, c.Width, c.Height, f)
			if err != nil {
				t.Fatal(err)
			}
			checkBytes(t, c, got.Pix)
		})
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func floatsLE(data []byte) []float32 {
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}

func bytesLE(f []float32) []byte {
	out := make([]byte, 4*len(f))
	for i, v := range f {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// checkFloats requires |got - want| <= 1e-6 elementwise where the golden is
// stored, and a matching hash (bit-exactness) otherwise; it logs whether the
// stored ones are also bit-exact.
func checkFloats(t *testing.T, c goldenCase, got []float32) {
	t.Helper()
	raw := bytesLE(got)
	sum := sha256.Sum256(raw)
	exact := hex.EncodeToString(sum[:]) == c.SHA256
	if c.File == "" {
		if !exact {
			t.Errorf("not bit-identical to the golden (stored as hash only)")
		}
		return
	}
	data, err := os.ReadFile(filepath.Join("testdata", c.File))
	if err != nil {
		t.Fatal(err)
	}
	want := floatsLE(data)
	if len(want) != len(got) {
		t.Fatalf("%d floats, want %d", len(got), len(want))
	}
	maxd := 0.0
	for i := range want {
		maxd = math.Max(maxd, math.Abs(float64(got[i])-float64(want[i])))
	}
	if maxd > 1e-6 {
		t.Errorf("max |diff| %g > 1e-6", maxd)
	}
	if !exact {
		t.Logf("within tolerance (max |diff| %g) but not bit-identical", maxd)
	}
}

func TestPreprocessGolden(t *testing.T) {
	m := loadManifest(t)
	for _, c := range m.Preprocess {
		t.Run(c.Image, func(t *testing.T) {
			cfg, err := NewProcessorConfig(TypeSiglip)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Size = Size{Height: c.Height, Width: c.Width}
			cfg.Resample = Filter(c.Resample)
			cfg.RescaleFactor = c.RescaleFactor
			cfg.DoRescale, cfg.DoNormalize = *c.DoRescale, *c.DoNormalize
			cfg.ImageMean, cfg.ImageStd = c.ImageMean, c.ImageStd
			pix, err := cfg.Preprocess(pilRGB(t, m, c.Image))
			if err != nil {
				t.Fatal(err)
			}
			if pix.Channels != 3 || pix.Height != c.Height || pix.Width != c.Width {
				t.Fatalf("shape [%d %d %d], want [3 %d %d]", pix.Channels, pix.Height, pix.Width, c.Height, c.Width)
			}
			checkFloats(t, c, pix.Data)
		})
	}
}

func TestAnyresGolden(t *testing.T) {
	m := loadManifest(t)
	for _, c := range m.Anyres {
		t.Run(c.Image, func(t *testing.T) {
			cfg, err := NewProcessorConfig(TypeLlavaOnevision)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Size = Size{Height: c.Size, Width: c.Size}
			cfg.ImageGridPinpoints = c.Pinpoints
			cfg.Resample = Filter(c.Resample)
			cfg.ImageMean, cfg.ImageStd = c.ImageMean, c.ImageStd
			src := pilRGB(t, m, c.Image)
			if h, w := SelectBestResolution(src.Height, src.Width, c.Pinpoints); [2]int{h, w} != c.Best {
				t.Errorf("best resolution %dx%d, want %v", h, w, c.Best)
			}
			if h, w := PatchOutputSize(src.Height, src.Width, c.Best[0], c.Best[1]); [2]int{h, w} != c.Resized {
				t.Errorf("patch output size %dx%d, want %v", h, w, c.Resized)
			}
			tiles, err := cfg.PreprocessAnyres(src)
			if err != nil {
				t.Fatal(err)
			}
			if len(tiles) != c.NumTiles {
				t.Fatalf("%d tiles, want %d", len(tiles), c.NumTiles)
			}
			var all []float32
			for _, p := range tiles {
				all = append(all, p.Data...)
			}
			checkFloats(t, c, all)
		})
	}
}

func TestNumImageTokensGolden(t *testing.T) {
	m := loadManifest(t)
	pins := DefaultOnevisionPinpoints()
	for _, c := range m.Tokens {
		if h, w := SelectBestResolution(c.Height, c.Width, pins); [2]int{h, w} != c.Best {
			t.Errorf("%dx%d: best %dx%d, want %v", c.Height, c.Width, h, w, c.Best)
		}
		n, err := NumImageTokens(c.Height, c.Width, c.Tile, c.Patch, pins, c.MaxNumPatches)
		if err != nil {
			t.Fatal(err)
		}
		if n != c.Tokens {
			t.Errorf("%dx%d: %d tokens, want %d", c.Height, c.Width, n, c.Tokens)
		}
	}
}

// TestDecodeMatchesGoldenInputs checks that the PNG goldens round-trip
// through this package's decoder bit-exactly (the JPEG ones are covered with
// a tolerance in TestConvertGolden).
func TestPNGDecodeThenResize(t *testing.T) {
	m := loadManifest(t)
	src, err := DecodeFile("testdata/in/noise_200x150.png")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src.Pix, pilRGB(t, m, "noise_200x150.png").Pix) {
		t.Fatal("decoded PNG differs from PIL")
	}
}
