package quantize

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"mbq/calib"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/quant"
	"mbq/safetensors"
)

// Output file names (besides the model's own files).
const (
	ScalesFile      = "mbq_scales.json"
	ParamsFile      = "mbq_qparams.safetensors"
	SensitivityFile = "mbq_sensitivity.json"
)

// ScalesJSON is the content of mbq_scales.json.
type ScalesJSON struct {
	Version int           `json:"version"`
	Method  string        `json:"method"`
	Spec    string        `json:"spec"`
	Config  Config        `json:"quantization_config"`
	Blocks  []BlockReport `json:"blocks"`
}

// auxSkip are the files of a checkpoint directory the output does not copy
// (Save writes its own, or they are weights).
var auxSkip = map[string]bool{"config.json": true, "tokenizer.json": true, "tokenizer_config.json": true,
	"preprocessor_config.json": true, "generation_config.json": true, ScalesFile: true, SensitivityFile: true}

const maxAuxBytes = 16 << 20

// Save writes the quantized model m (after Run) to dir: the model's Hugging
// Face layout (config.json with quantization_config, model.safetensors with
// the equalized, fake-quantized weights in float32, tokenizer and processor
// files, and the small non-weight files of the source directory), plus
// mbq_scales.json, mbq_qparams.safetensors and, when computed,
// mbq_sensitivity.json. The directory is written under a temporary name and
// renamed into place; a dir that exists and is not empty is refused.
func Save(m model.VLM, r *Result, dir string) error {
	return SaveWith(m, r, dir, OutputOptions{})
}

// SaveWith is Save with output options: with o.Pack and a spec that has a
// packed format (Packable), model.safetensors stores the decoder linears
// packed and quantization_config.format is "packed" (packed.go). The model
// m itself keeps its fake-quantized float32 weights.
func SaveWith(m model.VLM, r *Result, dir string, o OutputOptions) error {
	lm, ok := m.(*llavaonevision.Model)
	if !ok {
		return fmt.Errorf("save: writing a quantized %s is not supported", m.Architecture())
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("save: %s exists and is not empty: refusing to overwrite it", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("save: %w", err)
	}
	var packed map[string]*quant.PackedMatrix
	if o.Pack && Packable(r.Config) {
		var err error
		if packed, err = packLinears(lm, r); err != nil {
			return err
		}
		r.Config.Format = llavaonevision.PackedFormat
	}
	qc, err := json.Marshal(r.Config)
	if err != nil {
		return fmt.Errorf("save: quantization_config: %w", err)
	}
	if lm.Cfg.Extra == nil {
		lm.Cfg.Extra = map[string]json.RawMessage{}
	}
	lm.Cfg.Extra["quantization_config"] = qc
	extra, err := auxFiles(lm.Dir)
	if err != nil {
		return err
	}
	spec := r.Config.Method + " " + Options{WBits: r.Config.WBits, ABits: r.Config.ABits, Group: r.Config.GroupSize}.Spec().String()
	if extra[ScalesFile], err = indentJSON(ScalesJSON{Version: Version, Method: r.Config.Method, Spec: spec, Config: r.Config, Blocks: r.Blocks}); err != nil {
		return fmt.Errorf("save: %s: %w", ScalesFile, err)
	}
	if r.Sensitivity != nil {
		if extra[SensitivityFile], err = indentJSON(r.Sensitivity); err != nil {
			return fmt.Errorf("save: %s: %w", SensitivityFile, err)
		}
	}
	if packed != nil {
		// Written after (and so in place of) the float32 model.safetensors,
		// inside Save's atomic replacement.
		if extra[safetensors.SingleFileName], err = packedModelFile(lm, packed); err != nil {
			return err
		}
	}
	if err := lm.Save(dir, llavaonevision.SaveOptions{Extra: extra, ExtraTensors: r.paramTensors(), ExtraTensorsFile: ParamsFile}); err != nil {
		return err
	}
	// The loaded model now runs with the saved activation quantization.
	return lm.ApplyQuantizationConfig()
}

func indentJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// paramTensors lays out the quantization parameters: for linear NAME with
// G groups per row, NAME.weight_scale float32 [out, G] and, for asymmetric
// specs, NAME.weight_zero_point int32 [out, G] (w = (q - zero)·scale).
func (r *Result) paramTensors() []safetensors.Tensor {
	var ts []safetensors.Tensor
	for _, lp := range r.Params {
		p := lp.Params
		shape := []int{p.Rows, p.Groups()}
		ts = append(ts, safetensors.F32Tensor(lp.Name+".weight_scale", shape, p.Scale))
		if !p.Spec.Symmetric {
			ts = append(ts, safetensors.I32Tensor(lp.Name+".weight_zero_point", shape, p.Zero))
		}
	}
	return ts
}

// auxFiles reads the small non-weight files of the source checkpoint
// directory that Save does not write itself (chat_template.json,
// special_tokens_map.json, README.md, ...).
func auxFiles(dir string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if dir == "" {
		return out, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("save: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || auxSkip[n] || strings.HasPrefix(n, ".") || isWeightFile(n) {
			continue
		}
		info, err := e.Info()
		if err != nil || info.Size() > maxAuxBytes {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("save: %w", err)
		}
		out[n] = b
	}
	return out, nil
}

func isWeightFile(n string) bool {
	for _, suf := range []string{".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json", ".pt", ".pth", ".gguf", ".h5", ".msgpack", ".ckpt"} {
		if strings.HasSuffix(n, suf) {
			return true
		}
	}
	return false
}

// CalibOptions select the calibration data.
type CalibOptions struct {
	Path         string // ShareGPT4V JSON (image-caption) or plain text file
	Text         bool   // Path is plain text (language-only calibration)
	ImagesDir    string // where relative image paths are resolved (default: Path's directory)
	Samples      int    // 0: calib.DefaultSamples; negative: all
	Seed         uint64 // shuffle seed
	TextBlockLen int    // tokens per text block (0: calib.DefaultBlockLen)
}

// Kind is "text" or "image-caption".
func (c CalibOptions) Kind() string {
	if c.Text {
		return "text"
	}
	return "image-caption"
}

// LoadCalibration loads the calibration samples for m.
func LoadCalibration(m model.VLM, c CalibOptions) ([]model.Sample, error) {
	opts := calib.Options{N: c.Samples, Seed: c.Seed, ImagesDir: c.ImagesDir}
	if !c.Text {
		return calib.LoadShareGPT(c.Path, opts)
	}
	lm, ok := m.(*llavaonevision.Model)
	if !ok || lm.Tok == nil {
		return nil, fmt.Errorf("%s: text calibration needs the model's tokenizer", c.Path)
	}
	s, err := calib.LoadText(c.Path, lm.Tok, c.TextBlockLen, opts)
	if err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("%s: no text calibration block (the text is shorter than one block)", c.Path)
	}
	return s, nil
}

// Dir quantizes the checkpoint in modelDir with the calibration c and
// options o, writes the per-block loss table to summary (if not nil) and
// the quantized model to outDir.
func Dir(modelDir, outDir string, c CalibOptions, o Options, summary io.Writer) (*Result, error) {
	return DirWith(modelDir, outDir, c, o, OutputOptions{}, summary)
}

// DirWith is Dir with output options (SaveWith).
func DirWith(modelDir, outDir string, c CalibOptions, o Options, out OutputOptions, summary io.Writer) (*Result, error) {
	if ents, err := os.ReadDir(outDir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty: refusing to overwrite it", outDir)
	}
	if _, err := NewMethod(o); err != nil {
		return nil, err
	}
	if err := o.Spec().Validate(); err != nil {
		return nil, err
	}
	m, err := model.Load(modelDir)
	if err != nil {
		return nil, err
	}
	if lm, ok := m.(*llavaonevision.Model); ok {
		if _, done := lm.Cfg.Extra["quantization_config"]; done {
			return nil, fmt.Errorf("%s: the model is already quantized (config.json has quantization_config)", modelDir)
		}
	}
	samples, err := LoadCalibration(m, c)
	if err != nil {
		return nil, err
	}
	o.Seed, o.Calibration = c.Seed, c.Kind()
	res, err := Run(m, samples, o)
	if err != nil {
		return nil, err
	}
	if summary != nil {
		if res.Sensitivity != nil {
			fmt.Fprintln(summary, "sensitivities (vision/caption gradient ratios, median-clamped):")
			if err := res.Sensitivity.Table(summary); err != nil {
				return nil, err
			}
			fmt.Fprintln(summary)
		}
		if err := res.Summary(summary); err != nil {
			return nil, err
		}
	}
	if err := SaveWith(m, res, outDir, out); err != nil {
		return nil, err
	}
	return res, nil
}
