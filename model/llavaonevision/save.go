package llavaonevision

import (
	"mbq/internal/atomicfile"

	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"mbq/hf/chat"
	"mbq/hf/config"
	"mbq/hf/image"
	"mbq/hf/tokenizer"
	"mbq/nn"
	"mbq/safetensors"
)

// SaveOptions are the options of Save and WriteFiles.
type SaveOptions struct {
	// BF16 stores the weights as bfloat16 (default float32, which a
	// training checkpoint needs to resume exactly).
	BF16 bool
	// ChatTemplate is written into tokenizer_config.json; "" takes the
	// template of the directory the model was loaded from, else
	// ChatTemplate.
	ChatTemplate string
	// Extra files (name -> contents) are written beside the model files,
	// inside the same atomic replacement (e.g. trainer_state.json).
	Extra map[string][]byte
	// ExtraTensors, if set, are written to the named safetensors file
	// (e.g. optimizer.safetensors) inside the same replacement.
	ExtraTensors     []safetensors.Tensor
	ExtraTensorsFile string
}

// modelFiles are the names Save writes (besides Extra).
var modelFiles = []string{"config.json", safetensors.SingleFileName, "tokenizer.json",
	"tokenizer_config.json", "preprocessor_config.json", "generation_config.json"}

// Save writes the model into dir in the Hugging Face layout: config.json,
// model.safetensors (hub tensor names; lm_head.weight only when untied),
// tokenizer.json, tokenizer_config.json (chat template, eos <|im_end|>),
// preprocessor_config.json and generation_config.json, plus opts.Extra.
//
// The files are written into a temporary directory beside dir which then
// replaces dir by renames, so dir holds either the complete new model or
// what it held before (a crash between the two renames leaves the old
// directory as dir+".old", which Save removes next time). An existing dir
// is replaced only if it holds nothing but files Save writes.
func (m *Model) Save(dir string, opts SaveOptions) error {
	dir = filepath.Clean(dir)
	if err := checkReplaceable(dir, opts); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := m.WriteFiles(tmp, opts); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	old := dir + ".old"
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	ok = true
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

// checkReplaceable refuses a dir that exists and holds anything Save would
// not write.
func checkReplaceable(dir string, opts SaveOptions) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	allowed := map[string]bool{}
	for _, n := range modelFiles {
		allowed[n] = true
	}
	for n := range opts.Extra {
		allowed[n] = true
	}
	if opts.ExtraTensorsFile != "" {
		allowed[opts.ExtraTensorsFile] = true
	}
	for _, e := range ents {
		if !allowed[e.Name()] && !strings.HasSuffix(e.Name(), ".json") && !strings.HasSuffix(e.Name(), ".safetensors") {
			return fmt.Errorf("save: %s holds %s, which is not a checkpoint file: refusing to replace it", dir, e.Name())
		}
	}
	return nil
}

// WriteFiles writes the model files (and opts.Extra) into the existing
// directory dir, each file atomically (temporary file and rename), but not
// as a set: use Save for that.
func (m *Model) WriteFiles(dir string, opts SaveOptions) error {
	if m.Tok == nil || m.Proc == nil {
		return errors.New("save: the model has no tokenizer or processor (use Load or NewRandom)")
	}
	cfg := *m.Cfg
	cfg.TorchDtype = "float32"
	if opts.BF16 {
		cfg.TorchDtype = "bfloat16"
	}
	if err := cfg.WriteFile(filepath.Join(dir, "config.json")); err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		if opts.BF16 {
			ts = append(ts, safetensors.BF16Tensor(p.Name, p.Value.Shape, p.Value.Data))
		} else {
			ts = append(ts, safetensors.F32Tensor(p.Name, p.Value.Shape, p.Value.Data))
		}
	}
	if err := safetensors.WriteFile(filepath.Join(dir, safetensors.SingleFileName), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	if opts.ExtraTensorsFile != "" {
		if err := safetensors.WriteFile(filepath.Join(dir, opts.ExtraTensorsFile), opts.ExtraTensors, nil); err != nil {
			return err
		}
	}
	tokJSON, err := m.Tok.MarshalJSON()
	if err != nil {
		return fmt.Errorf("save: tokenizer.json: %w", err)
	}
	tmpl := opts.ChatTemplate
	if tmpl == "" && m.Dir != "" {
		if ct, err := config.LoadChatTemplate(m.Dir); err == nil {
			tmpl = ct.Template
		}
	}
	if tmpl == "" {
		tmpl = ChatTemplate
	}
	files := map[string][]byte{"tokenizer.json": tokJSON}
	if files["tokenizer_config.json"], err = marshal(tokenizerConfig(m.Special, tmpl)); err != nil {
		return err
	}
	if files["preprocessor_config.json"], err = marshal(m.Proc); err != nil {
		return err
	}
	if files["generation_config.json"], err = marshal(generationConfig(m)); err != nil {
		return err
	}
	for n, b := range opts.Extra {
		files[n] = b
	}
	for _, n := range sortedKeys(files) {
		if err := writeFileAtomic(filepath.Join(dir, n), files[n]); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string][]byte) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}

func marshal(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("save: %w", err)
	}
	return append(b, '\n'), nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it.
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

// tokenizerConfig is the tokenizer_config.json of a checkpoint with the
// given special tokens (as the chat template sees them) and template.
func tokenizerConfig(special map[string]string, tmpl string) map[string]any {
	tok := func(k string) any {
		if v, ok := special[k]; ok {
			return v
		}
		return nil
	}
	var add []string
	for _, s := range []string{"<|im_start|>", "<|im_end|>", ImageToken, "<video>"} {
		add = append(add, s)
	}
	return map[string]any{
		"add_bos_token":                false,
		"add_prefix_space":             false,
		"bos_token":                    tok("bos_token"),
		"eos_token":                    tok("eos_token"),
		"pad_token":                    tok("pad_token"),
		"unk_token":                    tok("unk_token"),
		"additional_special_tokens":    add,
		"chat_template":                tmpl,
		"clean_up_tokenization_spaces": false,
		"model_max_length":             4096,
		"processor_class":              "LlavaOnevisionProcessor",
		"tokenizer_class":              "Qwen2Tokenizer",
		"split_special_tokens":         false,
		"errors":                       "replace",
	}
}

func generationConfig(m *Model) map[string]any {
	g := map[string]any{}
	if m.GenConfig != nil {
		if m.GenConfig.BosTokenID != nil {
			g["bos_token_id"] = *m.GenConfig.BosTokenID
		}
		if v := m.GenConfig.EosTokenID.Values; len(v) > 0 {
			g["eos_token_id"] = v
		}
		if m.GenConfig.PadTokenID != nil {
			g["pad_token_id"] = *m.GenConfig.PadTokenID
		}
		return g
	}
	tc := &m.Cfg.TextConfig
	if tc.BosTokenID != nil {
		g["bos_token_id"] = *tc.BosTokenID
		g["pad_token_id"] = *tc.BosTokenID
	}
	if len(m.StopIDs) > 0 {
		g["eos_token_id"] = m.StopIDs
	}
	return g
}

// Processor returns the preprocessor_config of an anyres LLaVA-OneVision
// processor for square images of side size (SigLIP normalisation 0.5/0.5)
// with the given grid pinpoints.
func Processor(size int, pins [][2]int) (*image.ProcessorConfig, error) {
	pre := map[string]any{
		"image_processor_type": "LlavaOnevisionImageProcessor",
		"processor_class":      "LlavaOnevisionProcessor",
		"do_resize":            true,
		"size":                 map[string]int{"height": size, "width": size},
		"resample":             3,
		"do_rescale":           true,
		"rescale_factor":       1.0 / 255,
		"do_normalize":         true,
		"image_mean":           []float64{0.5, 0.5, 0.5},
		"image_std":            []float64{0.5, 0.5, 0.5},
		"do_convert_rgb":       true,
		"do_pad":               true,
		"image_grid_pinpoints": pins,
	}
	b, err := json.Marshal(pre)
	if err != nil {
		return nil, err
	}
	return image.ParseProcessorConfig(b)
}

// NewRandom builds a model of cfg's shapes with fresh random weights
// (InitWeights(seed, 0.02)), the tokenizer tok, the processor proc, the
// ChatML chat template ChatTemplate and the special tokens eos <|im_end|>
// and pad <|endoftext|>: what Load would return for the directory Save
// writes. tok must hold <|im_end|>, <|endoftext|> and <image>, and
// cfg.ImageTokenIndex must be <image>'s id.
func NewRandom(cfg *config.LlavaOnevisionConfig, tok *tokenizer.Tokenizer, proc *image.ProcessorConfig, seed uint64) (*Model, error) {
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	m.InitWeights(seed, 0.02)
	if err := m.attach(tok, proc); err != nil {
		return nil, err
	}
	return m, nil
}

// attach sets the tokenizer, template, processor and stop tokens.
func (m *Model) attach(tok *tokenizer.Tokenizer, proc *image.ProcessorConfig) error {
	for _, s := range []string{"<|im_end|>", "<|endoftext|>", ImageToken} {
		if _, ok := tok.TokenToID(s); !ok {
			return fmt.Errorf("tokenizer: no %s token", s)
		}
	}
	if id, _ := tok.TokenToID(ImageToken); id != m.Cfg.ImageTokenIndex {
		return fmt.Errorf("image_token_index: %d, but the tokenizer's %s is %d", m.Cfg.ImageTokenIndex, ImageToken, id)
	}
	if tok.VocabSize() > m.Cfg.TextConfig.VocabSize {
		return fmt.Errorf("text_config.vocab_size: %d, smaller than the tokenizer's %d tokens", m.Cfg.TextConfig.VocabSize, tok.VocabSize())
	}
	if h, w := proc.TargetSize(); h != m.Cfg.VisionConfig.ImageSize || w != m.Cfg.VisionConfig.ImageSize {
		return fmt.Errorf("preprocessor size %dx%d differs from vision_config.image_size %d", h, w, m.Cfg.VisionConfig.ImageSize)
	}
	t, err := chat.Compile(ChatTemplate)
	if err != nil {
		return err
	}
	m.Tok, m.Proc, m.Template = tok, proc, t
	m.Special = map[string]string{"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
	m.addedLen = map[int]int{}
	for _, a := range tok.AddedTokens() {
		m.addedLen[a.ID] = len(a.Content)
	}
	eos, _ := tok.TokenToID("<|im_end|>")
	pad, _ := tok.TokenToID("<|endoftext|>")
	m.StopIDs = []int{eos, pad}
	m.GenConfig = &config.GenerationConfig{BosTokenID: &pad, EosTokenID: config.IntOrList{Values: []int{eos, pad}}, PadTokenID: &pad}
	return nil
}

// InitWeights sets every parameter as transformers' _init_weights does for
// a fresh model, from a PCG seeded with seed: weights of linears, the patch
// embedding, the position and token embeddings and image_newline normal
// with standard deviation std; biases zero; norm weights one and norm
// biases zero.
func (m *Model) InitWeights(seed uint64, std float64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for _, p := range m.Params() {
		d := p.Value.Data
		isNorm := strings.Contains(p.Name, "norm")
		switch {
		case isNorm && strings.HasSuffix(p.Name, ".weight"):
			for i := range d {
				d[i] = 1
			}
		case strings.HasSuffix(p.Name, ".bias"):
			clear(d)
		default:
			for i := range d {
				d[i] = float32(rng.NormFloat64() * std)
			}
		}
	}
}

// Replica returns a model that shares m's parameter values (the same
// tensors: updating m updates it) but has its own, unallocated,
// gradients, and shares m's tokenizer, processor and template. Several
// replicas can run LossAndGrad concurrently, each accumulating into its
// own gradients, while nobody writes the values.
func (m *Model) Replica() (*Model, error) {
	r, err := New(m.Cfg)
	if err != nil {
		return nil, err
	}
	r.Tied = m.Tied
	if !m.Tied && r.Tied {
		r.Tied = false
		r.LMHead = nn.NewLinear(m.Cfg.TextConfig.HiddenSize, m.Cfg.TextConfig.VocabSize, false)
	}
	src, dst := m.Params(), r.Params()
	if len(src) != len(dst) {
		return nil, fmt.Errorf("replica: %d parameters, want %d", len(dst), len(src))
	}
	for i := range src {
		if src[i].Name != dst[i].Name {
			return nil, fmt.Errorf("replica: parameter %d is %s, want %s", i, dst[i].Name, src[i].Name)
		}
		dst[i].Value = src[i].Value
	}
	r.Dir, r.Tok, r.Proc, r.Template, r.Special = m.Dir, m.Tok, m.Proc, m.Template, m.Special
	r.StopIDs, r.GenConfig, r.addedLen = m.StopIDs, m.GenConfig, m.addedLen
	r.SetActBits(m.ActBits()) // run-time activation quantization of W-A models
	return r, nil
}
