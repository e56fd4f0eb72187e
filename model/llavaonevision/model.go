package llavaonevision

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"mbq/hf/chat"
	"mbq/hf/config"
	"mbq/hf/image"
	"mbq/hf/tokenizer"
	"mbq/model"
	"mbq/nn"
	"mbq/safetensors"
	"mbq/tensor"
)

func init() {
	model.Register(config.ArchLlavaOnevision, func(dir string, cfg *config.Model) (model.VLM, error) {
		return Load(dir)
	})
}

// Model is LlavaOnevisionForConditionalGeneration: a SigLIP vision tower,
// a two-layer projector, the image_newline vector and a Qwen2 causal LM.
type Model struct {
	Cfg *config.LlavaOnevisionConfig
	Dir string

	// Vision tower (vision_tower.vision_model.*).
	PatchW   *nn.Param // embeddings.patch_embedding.weight [D, C, P, P]
	PatchB   *nn.Param // embeddings.patch_embedding.bias [D]
	PosEmbed *nn.Param // embeddings.position_embedding.weight [N, D]
	Vision   []*nn.SiglipLayer
	PostLN   *nn.LayerNorm // post_layernorm: loaded, not applied (hf-semantics 1)

	// Projector (multi_modal_projector.*) and image_newline.
	Proj1, Proj2 *nn.Linear
	ProjAct      nn.Activation
	Newline      *nn.Param // [text hidden]

	// Language model (language_model.*).
	Embed  *nn.Embedding
	Blocks []*nn.Qwen2Block
	Norm   *nn.RMSNorm
	LMHead *nn.Linear // W is Embed.W when the embeddings are tied
	Tied   bool

	Tok       *tokenizer.Tokenizer
	Proc      *image.ProcessorConfig
	Template  *chat.Template
	Special   map[string]string // special tokens the chat template sees
	StopIDs   []int
	GenConfig *config.GenerationConfig // nil when the file is absent

	featureLayers []int // indices into hidden_states (0 = embeddings)
	addedLen      map[int]int
}

// Architecture returns config.ArchLlavaOnevision.
func (m *Model) Architecture() string { return config.ArchLlavaOnevision }

// NumBlocks is the number of decoder layers.
func (m *Model) NumBlocks() int { return len(m.Blocks) }

// Block returns decoder layer i.
func (m *Model) Block(i int) model.Block { return m.Blocks[i] }

// Decode turns ids into text, special tokens skipped.
func (m *Model) Decode(ids []int) string { return m.Tok.Decode(ids, true) }

// New builds a model with the shapes of cfg: zero linears, unit norms, no
// tokenizer or processor. Load fills it from a checkpoint.
func New(cfg *config.LlavaOnevisionConfig) (*Model, error) {
	return newModel(cfg, false)
}

// newModel is New; with packedDecoder the decoder linears allocate no
// float32 weight (nn.NewQwen2BlockPacked), for a packed checkpoint.
func newModel(cfg *config.LlavaOnevisionConfig, packedDecoder bool) (*Model, error) {
	vc, tc := &cfg.VisionConfig, &cfg.TextConfig
	vact, err := nn.ActivationByName(vc.HiddenAct)
	if err != nil {
		return nil, fmt.Errorf("vision_config.hidden_act: %w", err)
	}
	pact, err := nn.ActivationByName(cfg.ProjectorHiddenAct)
	if err != nil {
		return nil, fmt.Errorf("projector_hidden_act: %w", err)
	}
	if tc.HiddenAct != "silu" {
		return nil, fmt.Errorf("text_config.hidden_act: %q is not supported (want silu)", tc.HiddenAct)
	}
	if len(tc.RopeScaling) != 0 {
		if t, _ := tc.RopeScaling["rope_type"].(string); t != "" && t != "default" {
			return nil, fmt.Errorf("text_config.rope_scaling: rope_type %q is not supported", t)
		}
	}
	if tc.HeadDim()%2 != 0 {
		return nil, fmt.Errorf("text_config: head dim %d is odd", tc.HeadDim())
	}
	if vc.NumChannels != 3 {
		return nil, fmt.Errorf("vision_config.num_channels: %d, want 3", vc.NumChannels)
	}
	m := &Model{Cfg: cfg, ProjAct: pact, Tied: cfg.TiedEmbeddings()}
	D, P := vc.HiddenSize, vc.PatchSize
	m.PatchW = nn.NewParam(tensor.New(D, vc.NumChannels, P, P))
	m.PatchB = nn.NewParam(tensor.New(D))
	m.PosEmbed = nn.NewParam(tensor.New(vc.NumPatches(), D))
	scfg := nn.SiglipConfig{Hidden: D, Intermediate: vc.IntermediateSize, NumHeads: vc.NumAttentionHeads,
		LayerNormEps: float32(vc.LayerNormEps), Act: vact}
	for range vc.NumHiddenLayers {
		m.Vision = append(m.Vision, nn.NewSiglipLayer(scfg))
	}
	m.PostLN = nn.NewLayerNorm(D, float32(vc.LayerNormEps))
	m.featureLayers = cfg.VisionLayerIndices()
	in := D * len(m.featureLayers)
	H := tc.HiddenSize
	m.Proj1 = nn.NewLinear(in, H, cfg.MultimodalProjectorBias)
	m.Proj2 = nn.NewLinear(H, H, cfg.MultimodalProjectorBias)
	m.Newline = nn.NewParam(tensor.New(H))
	m.Embed = nn.NewEmbedding(tc.VocabSize, H)
	qcfg := nn.Qwen2Config{Hidden: H, Intermediate: tc.IntermediateSize, NumHeads: tc.NumAttentionHeads,
		NumKVHeads: tc.NumKeyValueHeads, HeadDim: tc.HeadDim(), RopeTheta: tc.RopeTheta, RMSNormEps: float32(tc.RMSNormEps)}
	for range tc.NumHiddenLayers {
		if packedDecoder {
			m.Blocks = append(m.Blocks, nn.NewQwen2BlockPacked(qcfg))
		} else {
			m.Blocks = append(m.Blocks, nn.NewQwen2Block(qcfg))
		}
	}
	m.Norm = nn.NewRMSNorm(H, float32(tc.RMSNormEps))
	if m.Tied {
		m.LMHead = &nn.Linear{W: m.Embed.W}
	} else {
		m.LMHead = nn.NewLinear(H, tc.VocabSize, false)
	}
	return m, nil
}

// Param names (the layout of the llava-hf/llava-onevision-qwen2-*-ov-hf
// files, transformers v4.45 to v4.51).
const (
	visionPrefix = "vision_tower.vision_model."
	textPrefix   = "language_model.model."
	lmHeadName   = "language_model.lm_head.weight"
)

// Params lists every parameter under its HF tensor name, in a fixed order.
// A tied lm_head is not listed (it is embed_tokens.weight).
func (m *Model) Params() []nn.NamedParam {
	ps := []nn.NamedParam{
		{Name: visionPrefix + "embeddings.patch_embedding.weight", Param: m.PatchW},
		{Name: visionPrefix + "embeddings.patch_embedding.bias", Param: m.PatchB},
		{Name: visionPrefix + "embeddings.position_embedding.weight", Param: m.PosEmbed},
	}
	for i, l := range m.Vision {
		ps = append(ps, l.Params(visionPrefix+"encoder.layers."+strconv.Itoa(i)+".")...)
	}
	ps = append(ps, m.PostLN.Params(visionPrefix+"post_layernorm.")...)
	ps = append(ps, m.Proj1.Params("multi_modal_projector.linear_1.")...)
	ps = append(ps, m.Proj2.Params("multi_modal_projector.linear_2.")...)
	ps = append(ps, nn.NamedParam{Name: "image_newline", Param: m.Newline})
	ps = append(ps, m.Embed.Params(textPrefix+"embed_tokens.")...)
	for i, b := range m.Blocks {
		ps = append(ps, b.Params(textPrefix+"layers."+strconv.Itoa(i)+".")...)
	}
	ps = append(ps, m.Norm.Params(textPrefix+"norm.")...)
	if !m.Tied {
		ps = append(ps, nn.NamedParam{Name: lmHeadName, Param: m.LMHead.W})
	}
	return ps
}

// altName maps a name of the hub layout to transformers v4.52+'s
// save_pretrained layout (its _checkpoint_conversion_mapping, reversed).
func altName(name string) string {
	for _, r := range [][2]string{
		{"language_model.model.", "model.language_model."},
		{"language_model.lm_head.", "lm_head."},
		{"vision_tower.", "model.vision_tower."},
		{"multi_modal_projector.", "model.multi_modal_projector."},
		{"image_newline", "model.image_newline"},
	} {
		if strings.HasPrefix(name, r[0]) {
			return r[1] + name[len(r[0]):]
		}
	}
	return name
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(v)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// ErrTensor is wrapped by every missing or mis-shaped tensor error.
var ErrTensor = errors.New("checkpoint tensor")

type tensorError struct {
	name, msg string
}

func (e *tensorError) Error() string { return e.name + ": " + e.msg }
func (e *tensorError) Unwrap() error { return ErrTensor }

// LoadWeights fills every parameter from the checkpoint: each tensor must
// exist (under its hub name or transformers v4.52+'s) and have exactly the
// parameter's shape. lm_head.weight is used when present even if the
// config ties the embeddings; when absent and tied, the embedding serves.
// Errors list every missing and mis-shaped tensor (up to 20), e.g.
//
//	language_model.model.layers.3.mlp.up_proj.weight: shape [1024 255], want [1024 256]
func (m *Model) LoadWeights(ck *safetensors.Checkpoint) error {
	ps := m.Params()
	if m.Tied {
		if _, ok := lookup(ck, lmHeadName); ok {
			// A stored lm_head wins (hf-semantics 10).
			m.Tied = false
			m.LMHead = nn.NewLinear(m.Cfg.TextConfig.HiddenSize, m.Cfg.TextConfig.VocabSize, false)
			ps = append(ps, nn.NamedParam{Name: lmHeadName, Param: m.LMHead.W})
		}
	}
	var errs []error
	more := 0
	for _, p := range ps {
		err := loadParam(ck, p)
		if err == nil {
			continue
		}
		if len(errs) < 20 {
			errs = append(errs, err)
		} else {
			more++
		}
	}
	if more > 0 {
		errs = append(errs, fmt.Errorf("and %d more tensor errors", more))
	}
	return errors.Join(errs...)
}

func lookup(ck *safetensors.Checkpoint, name string) (safetensors.TensorInfo, bool) {
	if info, ok := ck.Info(name); ok {
		return info, true
	}
	return ck.Info(altName(name))
}

func loadParam(ck *safetensors.Checkpoint, p nn.NamedParam) error {
	info, ok := lookup(ck, p.Name)
	if !ok {
		return &tensorError{p.Name, "missing"}
	}
	want := p.Value.Shape
	if !slices.Equal(info.Shape, want) {
		return &tensorError{p.Name, "shape " + shapeString(info.Shape) + ", want " + shapeString(want)}
	}
	data, err := ck.Float32(info.Name)
	if err != nil {
		return &tensorError{p.Name, err.Error()}
	}
	if len(data) != len(p.Value.Data) {
		return &tensorError{p.Name, fmt.Sprintf("%d values, want %d", len(data), len(p.Value.Data))}
	}
	copy(p.Value.Data, data)
	return nil
}

// Load opens a checkpoint directory: config.json, the safetensors weights
// (single file or shards), tokenizer.json, tokenizer_config.json (stop
// token, chat template), preprocessor_config.json and, if present,
// generation_config.json.
func Load(dir string) (*Model, error) {
	mc, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	cfg, ok := mc.LlavaOnevision()
	if !ok {
		return nil, fmt.Errorf("%s: architecture %q is not %s", mc.Source, mc.Architecture, config.ArchLlavaOnevision)
	}
	f, err := (&Model{Cfg: cfg}).configFormat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mc.Source, err)
	}
	m, err := newModel(cfg, f == PackedFormat)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mc.Source, err)
	}
	m.Dir = dir
	ck, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	where := dir
	if fs := ck.Files(); len(fs) == 1 {
		where = fs[0]
	}
	// Packed decoder linears first (packed.go): LoadWeights then skips them.
	if err := m.loadPacked(ck); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := m.LoadWeights(ck); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := m.ApplyQuantizationConfig(); err != nil { // quantized.go
		return nil, fmt.Errorf("%s: %w", mc.Source, err)
	}
	if err := m.loadAux(dir); err != nil {
		return nil, err
	}
	return m, nil
}

// loadAux reads the tokenizer, chat template, processor and generation files.
func (m *Model) loadAux(dir string) error {
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return err
	}
	m.Tok = tok
	m.addedLen = map[int]int{}
	for _, a := range tok.AddedTokens() {
		m.addedLen[a.ID] = len(a.Content)
	}
	tc, err := config.LoadTokenizerConfig(dir)
	if err != nil {
		return err
	}
	m.Special = tc.SpecialTokens()
	ct, err := config.LoadChatTemplate(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if m.Template, err = chat.Compile(ct.Template); err != nil {
		return fmt.Errorf("%s: %s: %w", dir, ct.Source, err)
	}
	pfile := filepath.Join(dir, "preprocessor_config.json")
	if m.Proc, err = image.LoadProcessorConfig(pfile); err != nil {
		return err
	}
	if h, w := m.Proc.TargetSize(); h != m.Cfg.VisionConfig.ImageSize || w != m.Cfg.VisionConfig.ImageSize {
		return fmt.Errorf("%s: size %dx%d differs from vision_config.image_size %d", pfile, h, w, m.Cfg.VisionConfig.ImageSize)
	}
	gfile := filepath.Join(dir, "generation_config.json")
	if _, err := os.Stat(gfile); err == nil {
		if m.GenConfig, err = config.LoadGenerationConfig(gfile); err != nil {
			return err
		}
	}
	// Stop tokens: generation_config eos_token_id, then tokenizer eos_token.
	seen := map[int]bool{}
	add := func(id int) {
		if !seen[id] {
			seen[id] = true
			m.StopIDs = append(m.StopIDs, id)
		}
	}
	if m.GenConfig != nil {
		for _, id := range m.GenConfig.EosTokenID.Values {
			add(id)
		}
	}
	if tc.EosToken != nil {
		if id, ok := tok.TokenToID(tc.EosToken.Content); ok {
			add(id)
		}
	}
	if len(m.StopIDs) == 0 {
		for _, id := range m.Cfg.TextConfig.EosTokenID.Values {
			add(id)
		}
	}
	return nil
}
