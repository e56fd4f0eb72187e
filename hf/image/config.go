package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

// Processor types understood by LoadProcessorConfig. The "Fast" variants of
// these classes are accepted too (their defaults are the same), but note that
// transformers' fast processors resize with torchvision, not Pillow; this
// package always reproduces the slow (Pillow) path.
const (
	TypeLlavaOnevision = "LlavaOnevisionImageProcessor"
	TypeSiglip         = "SiglipImageProcessor"
)

// OpenAI CLIP statistics: transformers' OPENAI_CLIP_MEAN / OPENAI_CLIP_STD,
// the LlavaOnevisionImageProcessor defaults.
var (
	OpenAIClipMean = [3]float64{0.48145466, 0.4578275, 0.40821073}
	OpenAIClipStd  = [3]float64{0.26862954, 0.26130258, 0.27577711}
)

// ImageNet "standard" statistics: IMAGENET_STANDARD_MEAN / _STD, the
// SiglipImageProcessor defaults.
var (
	ImagenetStandardMean = [3]float64{0.5, 0.5, 0.5}
	ImagenetStandardStd  = [3]float64{0.5, 0.5, 0.5}
)

// DefaultOnevisionPinpoints is LlavaOnevisionImageProcessor's default
// image_grid_pinpoints: every [h, w] with h, w in {384, 768, ..., 2304}, h outer.
func DefaultOnevisionPinpoints() [][2]int {
	var p [][2]int
	for h := 384; h <= 2304; h += 384 {
		for w := 384; w <= 2304; w += 384 {
			p = append(p, [2]int{h, w})
		}
	}
	return p
}

// Size is the "size" field of a preprocessor_config.json. Exactly one form is
// set: Height and Width, or ShortestEdge (LLaVA-OneVision then resizes to
// ShortestEdge x ShortestEdge; SigLIP rejects it, as transformers does with a
// KeyError).
type Size struct {
	Height, Width int
	ShortestEdge  int
}

// ProcessorConfig is a parsed preprocessor_config.json with transformers'
// defaults applied for fields the file leaves out (or sets to null).
type ProcessorConfig struct {
	ImageProcessorType string // as in the file, e.g. "LlavaOnevisionImageProcessor"
	ProcessorClass     string // "processor_class", if present

	DoResize           bool
	Size               Size
	Resample           Filter // PIL enum: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming
	DoRescale          bool
	RescaleFactor      float64
	DoNormalize        bool
	ImageMean          [3]float64
	ImageStd           [3]float64
	DoConvertRGB       bool // SigLIP's default is None (false); see Preprocess for what this package does
	DoPad              bool
	ImageGridPinpoints [][2]int // [height, width] pairs; nil for SigLIP

	// Extra keeps fields this package does not interpret, so that
	// MarshalJSON writes them back unchanged.
	Extra map[string]json.RawMessage

	file string // the file the config was read from, for error messages
}

// IsOnevision reports whether the config is for LLaVA-OneVision's processor.
func (c *ProcessorConfig) IsOnevision() bool {
	return strings.TrimSuffix(c.ImageProcessorType, "Fast") == TypeLlavaOnevision
}

// TargetSize is the (height, width) the base image is resized to.
func (c *ProcessorConfig) TargetSize() (h, w int) {
	if c.Size.ShortestEdge > 0 {
		return c.Size.ShortestEdge, c.Size.ShortestEdge
	}
	return c.Size.Height, c.Size.Width
}

// NewProcessorConfig returns the defaults transformers' constructor applies
// for the given image_processor_type.
func NewProcessorConfig(typ string) (*ProcessorConfig, error) {
	c := &ProcessorConfig{
		ImageProcessorType: typ,
		DoResize:           true,
		Resample:           Bicubic,
		DoRescale:          true,
		RescaleFactor:      1.0 / 255,
		DoNormalize:        true,
	}
	switch strings.TrimSuffix(typ, "Fast") {
	case TypeLlavaOnevision:
		c.Size = Size{Height: 384, Width: 384}
		c.ImageMean, c.ImageStd = OpenAIClipMean, OpenAIClipStd
		c.DoConvertRGB = true
		c.DoPad = true
		c.ImageGridPinpoints = DefaultOnevisionPinpoints()
	case TypeSiglip:
		c.Size = Size{Height: 224, Width: 224}
		c.ImageMean, c.ImageStd = ImagenetStandardMean, ImagenetStandardStd
	default:
		return nil, fmt.Errorf("image_processor_type: %q not supported (want %s or %s)", typ, TypeLlavaOnevision, TypeSiglip)
	}
	return c, nil
}

// LoadProcessorConfig reads a preprocessor_config.json.
func LoadProcessorConfig(path string) (*ProcessorConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseProcessorConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.file = path
	return c, nil
}

// maxConfigSize bounds target sizes and pinpoints; Pillow itself would accept
// more, but no vision tower does.
const maxConfigSize = 1 << 15

// ParseProcessorConfig parses the JSON of a preprocessor_config.json. Errors
// name the offending field; LoadProcessorConfig adds the file name.
func ParseProcessorConfig(data []byte) (*ProcessorConfig, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if raw == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	present := func(k string) bool {
		v, ok := raw[k]
		return ok && string(bytes.TrimSpace(v)) != "null"
	}

	var typ string
	for _, k := range []string{"image_processor_type", "feature_extractor_type"} {
		if present(k) {
			if err := json.Unmarshal(raw[k], &typ); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			break
		}
	}
	if typ == "" {
		return nil, fmt.Errorf("image_processor_type: missing")
	}
	c, err := NewProcessorConfig(typ)
	if err != nil {
		return nil, err
	}
	c.Extra = map[string]json.RawMessage{}

	boolField := func(k string, dst *bool) error {
		if !present(k) {
			return nil
		}
		if err := json.Unmarshal(raw[k], dst); err != nil {
			return fmt.Errorf("%s: want true or false: %w", k, err)
		}
		return nil
	}
	for k, v := range raw {
		var err error
		switch k {
		case "image_processor_type", "feature_extractor_type":
			// handled above; written back from ImageProcessorType
			if k == "feature_extractor_type" {
				c.Extra[k] = json.RawMessage(bytes.TrimSpace(v))
			}
		case "processor_class":
			if present(k) {
				err = json.Unmarshal(v, &c.ProcessorClass)
			}
		case "do_resize":
			err = boolField(k, &c.DoResize)
		case "do_rescale":
			err = boolField(k, &c.DoRescale)
		case "do_normalize":
			err = boolField(k, &c.DoNormalize)
		case "do_convert_rgb":
			err = boolField(k, &c.DoConvertRGB)
		case "do_pad":
			err = boolField(k, &c.DoPad)
		case "size":
			if present(k) {
				c.Size, err = parseSize(v)
			}
		case "resample":
			if present(k) {
				var n int
				if err = json.Unmarshal(v, &n); err == nil {
					c.Resample = Filter(n)
					if !c.Resample.valid() {
						err = fmt.Errorf("%d is not a PIL resampling filter (0..5)", n)
					}
				}
			}
		case "rescale_factor":
			if present(k) {
				if err = json.Unmarshal(v, &c.RescaleFactor); err == nil && (math.IsNaN(c.RescaleFactor) || math.IsInf(c.RescaleFactor, 0)) {
					err = fmt.Errorf("not finite")
				}
			}
		case "image_mean":
			if present(k) {
				c.ImageMean, err = parseTriple(v, false)
			}
		case "image_std":
			if present(k) {
				c.ImageStd, err = parseTriple(v, true)
			}
		case "image_grid_pinpoints":
			if present(k) {
				c.ImageGridPinpoints, err = parsePinpoints(v)
			}
		default:
			var buf bytes.Buffer
			if err = json.Compact(&buf, v); err == nil {
				c.Extra[k] = json.RawMessage(buf.Bytes())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if !c.IsOnevision() && c.DoResize && (c.Size.Height == 0 || c.Size.Width == 0) {
		return nil, fmt.Errorf("size: %s needs {\"height\", \"width\"}", typ)
	}
	return c, nil
}

func parseSize(v json.RawMessage) (Size, error) {
	check := func(name string, n int) error {
		if n <= 0 || n > maxConfigSize {
			return fmt.Errorf("%s = %d out of range 1..%d", name, n, maxConfigSize)
		}
		return nil
	}
	// transformers' get_size_dict: an int is a shortest edge (default_to_square=False),
	// a pair is (height, width).
	var n int
	if err := json.Unmarshal(v, &n); err == nil {
		return Size{ShortestEdge: n}, check("shortest_edge", n)
	}
	var pair []int
	if err := json.Unmarshal(v, &pair); err == nil {
		if len(pair) != 2 {
			return Size{}, fmt.Errorf("want [height, width], got %d numbers", len(pair))
		}
		if err := check("height", pair[0]); err != nil {
			return Size{}, err
		}
		return Size{Height: pair[0], Width: pair[1]}, check("width", pair[1])
	}
	var m map[string]int
	if err := json.Unmarshal(v, &m); err != nil {
		return Size{}, fmt.Errorf("want {\"height\", \"width\"} or {\"shortest_edge\"}: %w", err)
	}
	h, hok := m["height"]
	w, wok := m["width"]
	se, seok := m["shortest_edge"]
	switch {
	case hok && wok && len(m) == 2:
		if err := check("height", h); err != nil {
			return Size{}, err
		}
		return Size{Height: h, Width: w}, check("width", w)
	case seok && len(m) == 1:
		return Size{ShortestEdge: se}, check("shortest_edge", se)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return Size{}, fmt.Errorf("keys %v not supported (want height+width or shortest_edge)", keys)
}

func parseTriple(v json.RawMessage, nonzero bool) ([3]float64, error) {
	var out [3]float64
	var s float64
	var list []float64
	if err := json.Unmarshal(v, &s); err == nil {
		out = [3]float64{s, s, s}
	} else if err := json.Unmarshal(v, &list); err != nil {
		return out, fmt.Errorf("want a number or 3 numbers: %w", err)
	} else if len(list) != 3 {
		return out, fmt.Errorf("want 3 values (one per RGB channel), got %d", len(list))
	} else {
		copy(out[:], list)
	}
	for i, x := range out {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return out, fmt.Errorf("[%d] not finite", i)
		}
		if nonzero && float32(x) == 0 {
			return out, fmt.Errorf("[%d] is zero", i)
		}
	}
	return out, nil
}

func parsePinpoints(v json.RawMessage) ([][2]int, error) {
	var list [][]int
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, fmt.Errorf("want a list of [height, width]: %w", err)
	}
	out := make([][2]int, len(list))
	for i, p := range list {
		if len(p) != 2 {
			return nil, fmt.Errorf("[%d]: want [height, width], got %d numbers", i, len(p))
		}
		for _, n := range p {
			if n <= 0 || n > maxConfigSize {
				return nil, fmt.Errorf("[%d]: %d out of range 1..%d", i, n, maxConfigSize)
			}
		}
		out[i] = [2]int{p[0], p[1]}
	}
	return out, nil
}

// MarshalJSON writes the config in preprocessor_config.json form, every
// interpreted field explicit, unknown fields carried over from Extra.
func (c *ProcessorConfig) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for k, v := range c.Extra {
		m[k] = v
	}
	m["image_processor_type"] = c.ImageProcessorType
	if c.ProcessorClass != "" {
		m["processor_class"] = c.ProcessorClass
	}
	m["do_resize"] = c.DoResize
	if c.Size.ShortestEdge > 0 {
		m["size"] = map[string]int{"shortest_edge": c.Size.ShortestEdge}
	} else {
		m["size"] = map[string]int{"height": c.Size.Height, "width": c.Size.Width}
	}
	m["resample"] = int(c.Resample)
	m["do_rescale"] = c.DoRescale
	m["rescale_factor"] = c.RescaleFactor
	m["do_normalize"] = c.DoNormalize
	m["image_mean"] = c.ImageMean[:]
	m["image_std"] = c.ImageStd[:]
	m["do_convert_rgb"] = c.DoConvertRGB
	if c.IsOnevision() {
		m["do_pad"] = c.DoPad
		pins := make([][]int, len(c.ImageGridPinpoints))
		for i, p := range c.ImageGridPinpoints {
			pins[i] = []int{p[0], p[1]}
		}
		m["image_grid_pinpoints"] = pins
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// where prefixes an error with the config's file name, if known.
func (c *ProcessorConfig) where() string {
	if c.file != "" {
		return c.file + ": "
	}
	return ""
}
