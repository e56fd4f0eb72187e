package model

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"mbq/hf/chat"
	"mbq/hf/config"
	"mbq/hf/image"
	"mbq/nn"
	"mbq/tensor"
)

// Modality is what a sequence position holds.
type Modality uint8

const (
	// Prompt is chat markup, system and user text: neither image nor answer.
	Prompt Modality = iota
	// Vision is a row whose embedding is an image feature (newlines included).
	Vision
	// Answer is an assistant turn's content token or its end-of-turn token.
	Answer
)

// String returns "prompt", "vision" or "answer".
func (m Modality) String() string {
	switch m {
	case Prompt:
		return "prompt"
	case Vision:
		return "vision"
	case Answer:
		return "answer"
	}
	return fmt.Sprintf("Modality(%d)", int(m))
}

// IgnoreIndex marks a label the loss skips (PyTorch's -100).
const IgnoreIndex = nn.IgnoreIndex

// Sample is one conversation: chat messages whose image parts refer, in
// order, to Images.
type Sample struct {
	Messages []chat.Message
	Images   []*image.RGB
}

// ImageInput is one preprocessed image: its tiles (for LLaVA-OneVision's
// anyres, the base tile first) and its original size.
type ImageInput struct {
	Tiles         []*image.Pixels
	Height, Width int // of the original image
	Tokens        int // feature rows (image tokens) it expands into
}

// Input is a prepared sample.
type Input struct {
	IDs      []int      // token ids, image placeholders expanded
	Modality []Modality // one per id
	Labels   []int      // ids at Answer positions, IgnoreIndex elsewhere (not shifted)
	Images   []ImageInput
	Text     string // the rendered conversation
}

// Len is the number of positions.
func (in *Input) Len() int { return len(in.IDs) }

// Output is the forward result for one sample.
type Output struct {
	Logits   *tensor.Tensor // [T, vocab]
	Modality []Modality     // one per row
}

// ForwardOptions are the options of Forward; the zero value is plain.
type ForwardOptions struct {
	// Hooks, if set, returns the hooks for decoder block i (nil: none).
	Hooks func(block int) *nn.Hooks
}

// BackwardOptions are the options of LossAndGrad.
type BackwardOptions struct {
	// Hooks, if set, returns the hooks of decoder block i for sample s; the
	// backward hook receives the gradient at each linear's output.
	Hooks func(sample, block int) *nn.Hooks
	// BlockGrads, if set, is called once per sample and decoder block after
	// that block's backward, with the gradients of the loss at the o_proj
	// and down_proj outputs ([T, hidden]) and the sample's modalities.
	BlockGrads func(sample, block int, gradO, gradDown *tensor.Tensor, mod []Modality)
	// ProjectorGrad, if set, is called once per sample with images, after
	// its forward, with the multimodal projector's output [Σ tiles·tokens,
	// hidden] (tile by tile as the processor cut them, each tile's patches
	// row-major) before packing. The tensor it returns (same shape; nil:
	// none) is added to the gradient that flows back into the projector —
	// the way auxiliary objectives on the image features enter training.
	// The vision tower is backpropagated only when one of its parameters
	// tracks a gradient.
	ProjectorGrad func(sample int, proj *tensor.Tensor) *tensor.Tensor
	// AttnGuides, if set, returns auxiliary losses on the attention
	// probabilities of decoder block i for sample s (nn.AttnGuide; rows and
	// keys index the sample's positions); their gradients are added in the
	// block's backward and each guide's loss is stored through its Loss.
	AttnGuides func(sample, block int) []nn.AttnGuide
	// BlockInputGrad, if set, is called once per sample and decoder block
	// after the forward, with the hidden states entering that block
	// ([T, hidden], read-only). The tensor it returns (same shape; nil:
	// none) is added to the gradient of the loss at the block's input —
	// the way auxiliary objectives on the residual stream (a logit lens at
	// an inner block) enter training.
	BlockInputGrad func(sample, block int, x *tensor.Tensor) *tensor.Tensor
	// NLLScale, if non-zero, multiplies the gradient of the answer-token
	// loss (LossResult.Loss stays the mean NLL; the auxiliary objectives
	// above keep their own weights), so that a sample standing for several
	// examples — a conversation of several question turns — weighs as much
	// as they would one by one.
	NLLScale float32
}

// LossResult is the batch loss.
type LossResult struct {
	Loss   float64 // mean NLL over the counted tokens
	Tokens int     // counted (answer) tokens
}

// GenerateOptions control decoding.
type GenerateOptions struct {
	MaxNewTokens int     // <= 0: 128
	Temperature  float64 // 0: greedy (argmax)
	TopK         int     // 0: no top-k filter
	TopP         float64 // 0 or 1: no nucleus filter
	Seed         uint64  // sampling RNG seed
	// StopTokens end generation (the stop token is included in Tokens);
	// nil uses the checkpoint's (generation_config.json eos_token_id and
	// tokenizer_config.json eos_token).
	StopTokens []int
	// OnToken, if set, is called with each new token.
	OnToken func(id int)
}

// Generation is the result of Generate.
type Generation struct {
	Tokens  []int  // new tokens, the stop token included if reached
	Text    string // Tokens decoded, special tokens skipped
	Stopped bool   // a stop token ended generation
}

// Block is one decoder block as calibration sees it.
type Block interface {
	// Linears lists the block's linears with their HF module names.
	Linears() []nn.NamedLinear
	// Params lists its parameters with HF names under prefix.
	Params(prefix string) []nn.NamedParam
}

// VLM is a vision-language model.
type VLM interface {
	// Architecture is the HF class name.
	Architecture() string
	// Prepare renders, tokenizes and preprocesses a sample. With
	// addGenerationPrompt the text ends with the assistant header, ready
	// for Generate.
	Prepare(s Sample, addGenerationPrompt bool) (*Input, error)
	// Forward returns the logits of every position of every sample.
	Forward(batch []*Input, opts *ForwardOptions) ([]*Output, error)
	// LossAndGrad computes the mean next-token cross-entropy over the answer
	// tokens of the batch and backpropagates it (see BackwardOptions).
	LossAndGrad(batch []*Input, opts *BackwardOptions) (*LossResult, error)
	// NumBlocks is the number of decoder blocks.
	NumBlocks() int
	// Block returns decoder block i.
	Block(i int) Block
	// DecoderInputs returns, per sample, the hidden states entering
	// decoder block 0 ([T, hidden]: embeddings with image features spliced in).
	DecoderInputs(batch []*Input) ([]*tensor.Tensor, error)
	// RunBlock runs decoder block i (forward only) on the rows of one
	// sequence at the given positions, observing its linears through hooks.
	RunBlock(i int, hidden *tensor.Tensor, positions []int, hooks *nn.Hooks) (*tensor.Tensor, error)
	// Generate continues in (prepared with the generation prompt).
	Generate(in *Input, opts GenerateOptions) (*Generation, error)
	// Params lists every parameter under its HF tensor name (a tied
	// lm_head is listed once, as the embedding).
	Params() []nn.NamedParam
	// Decode turns token ids into text, special tokens skipped.
	Decode(ids []int) string
}

// LoadFunc opens the checkpoint in dir, whose config.json has been parsed.
type LoadFunc func(dir string, cfg *config.Model) (VLM, error)

var registry = struct {
	sync.RWMutex
	m map[string]LoadFunc
}{m: map[string]LoadFunc{}}

// Register makes an architecture loadable. It panics on a duplicate (a
// programming error at init time).
func Register(arch string, load LoadFunc) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[arch]; dup {
		panic("model: architecture registered twice: " + arch)
	}
	registry.m[arch] = load
}

// Supported lists the registered architectures, sorted.
func Supported() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.m))
	for a := range registry.m {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ErrUnsupported is wrapped by the error for an architecture no package
// registered.
var ErrUnsupported = errors.New("not supported")

// Load reads dir/config.json and opens the checkpoint with the model
// registered for its architecture.
func Load(dir string) (VLM, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	registry.RLock()
	load := registry.m[cfg.Architecture]
	registry.RUnlock()
	if load == nil {
		return nil, fmt.Errorf("%s: architecture %q is %w by mbq's models (supported: %s)",
			cfg.Source, cfg.Architecture, ErrUnsupported, strings.Join(Supported(), ", "))
	}
	return load(dir, cfg)
}

// MeanAbs returns the mean |g| over the rows of g ([T, C]) of each
// modality (indexed by Modality) and the number of rows of each; a
// modality with no rows has mean 0. MBQ's g_v and g_l are
// MeanAbs(gradO)[Vision] and [Answer].
func MeanAbs(g *tensor.Tensor, mod []Modality) (mean [3]float64, rows [3]int) {
	c := g.Cols()
	var sum [3]float64
	for t, m := range mod {
		if int(m) >= len(sum) {
			continue
		}
		var s float64
		for _, v := range g.Data[t*c : (t+1)*c] {
			s += math.Abs(float64(v))
		}
		sum[m] += s
		rows[m]++
	}
	for i := range sum {
		if rows[i] > 0 {
			mean[i] = sum[i] / float64(rows[i]*c)
		}
	}
	return mean, rows
}
