package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"mbq/hf/config"
	"mbq/hf/tokenizer"
	"mbq/model/llavaonevision"
	"mbq/testbed/world"
)

// Sizes are the model's dimensions.
type Sizes struct {
	ImageSize          int  `json:"image_size"` // vision tile side in pixels (the world's image size)
	PatchSize          int  `json:"patch_size"`
	VisionHidden       int  `json:"vision_hidden"`
	VisionIntermediate int  `json:"vision_intermediate"`
	VisionLayers       int  `json:"vision_layers"`
	VisionHeads        int  `json:"vision_heads"`
	TextHidden         int  `json:"text_hidden"`
	TextIntermediate   int  `json:"text_intermediate"`
	TextLayers         int  `json:"text_layers"`
	Heads              int  `json:"heads"`
	KVHeads            int  `json:"kv_heads"`
	VocabSize          int  `json:"vocab_size"` // target size of the trained BPE (specials included)
	Tied               bool `json:"tied"`
}

// Config is everything a training run depends on: with the same Config the
// same weights come out, step by step.
type Config struct {
	Sizes
	// Init, if set, is a checkpoint directory (Hugging Face layout, e.g. a
	// run's best/ or the embedded model) whose weights and tokenizer the run
	// starts from instead of a trained tokenizer and random weights; the
	// optimizer, the auxiliary head and the schedule start fresh. Its sizes
	// must equal Sizes.
	Init  string `json:"init,omitempty"`
	Seed  uint64 `json:"seed"`
	Steps int    `json:"steps"`
	Batch int    `json:"batch"`
	// LR is the peak learning rate, reached after Warmup steps (linear from
	// 0) and decayed along a cosine to MinLRFrac·LR at Steps.
	LR          float64 `json:"lr"`
	MinLRFrac   float64 `json:"min_lr_frac"`
	Warmup      int     `json:"warmup"`
	WeightDecay float64 `json:"weight_decay"` // on weight matrices only
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	ClipNorm    float64 `json:"clip_norm"` // global gradient norm clip (0: none)
	// FullConversationShare is the fraction of samples rendered as a whole
	// conversation ("<|im_start|>assistant \n<answer><|im_end|>", as in
	// calibration data); the others are the generation prompt
	// ("<|im_start|>assistant\n") followed by the answer, as evaluation and
	// generation see them. With PromptTurns both forms are the same tokens,
	// so it changes nothing but the draw it takes from the sample's stream.
	FullConversationShare float64 `json:"full_conversation_share"`
	// EvalEvery steps the held-out set (HeldOut questions per category) is
	// scored; CheckpointEvery steps a checkpoint is written.
	EvalEvery       int `json:"eval_every"`
	HeldOut         int `json:"held_out_per_category"`
	CheckpointEvery int `json:"checkpoint_every"`
	// Patience stops training after this many evaluations without
	// improvement (0: never).
	Patience int `json:"patience"`
	// CorpusSize is the number of world texts the tokenizer is trained on.
	CorpusSize int `json:"corpus_size"`
	// Workers is the number of goroutines the batch is split over, each
	// with its own gradient buffers (1: one sequence at a time, the GEMMs
	// use the cores). It changes the order of floating-point sums, so it
	// is part of the configuration.
	Workers int `json:"workers"`
	// World is the world the samples are drawn from.
	World world.Config `json:"world"`
	// TokenMean weights every answer token of the batch equally (the
	// Hugging Face default). Off (the default), each sample's loss is the
	// mean over its own answer tokens and the batch loss the mean over
	// samples: a caption has ~100 answer tokens and a multiple-choice answer
	// two, so with token weighting the questions get ~1% of the gradient and
	// are learned far more slowly.
	TokenMean bool `json:"token_mean"`
	// AuxWeight weights the auxiliary objective on the image features
	// (aux.go) against each sample's mean answer-token loss; 0: off.
	AuxWeight float64 `json:"aux_weight,omitempty"`
	// AuxBalance weighs, in each attribute group of the auxiliary
	// objective, the patches that show something as much as the background
	// (aux.go).
	AuxBalance bool `json:"aux_balance,omitempty"`
	// AuxAligned reads the colour, shape, size and character classes of the
	// auxiliary objective out through the decoder's token embeddings of
	// those words (aux.go, auxHead.align), aligning the image rows with the
	// words that describe them.
	AuxAligned bool `json:"aux_aligned,omitempty"`
	// AuxResidual, with AuxAligned, adds to each aligned class's token
	// embedding a free vector (zero at the start, weight-decayed), so the
	// left and right character slots, which share a token, can be told
	// apart: aligned alone, run11's warm-up read 85.7% of sign characters
	// against 100% unaligned.
	AuxResidual bool `json:"aux_residual,omitempty"`
	// AuxAlignCells, with AuxAligned and AuxResidual, also reads the
	// auxiliary objective's row and column classes out through the token
	// embeddings of the ordinals (row k and column k through " first", "
	// second", ..., each with its own residual): the image rows are trained
	// toward the words that name their cell, as toward their colour's.
	AuxAlignCells bool `json:"aux_align_cells,omitempty"`
	// TextVisionBatch, in the text phase, adds to every step the auxiliary
	// objective alone on this many fresh scenes (one tile each, vision
	// tower and projector only), so the vision tower learns to see while
	// the decoder learns the language; 0: none. Without a text phase or
	// without the auxiliary objective (AuxWeight 0) there is no warm-up.
	TextVisionBatch int `json:"text_vision_batch,omitempty"`
	// CurriculumSteps ramps the scenes' maximum object count linearly from
	// World.MinObjects at the first step with images (after TextSteps) to
	// World.MaxObjects this many steps later (0: no ramp): with one or two objects the decoder learns to read the image
	// rows before it has to pick one object out of six.
	CurriculumSteps int `json:"curriculum_steps,omitempty"`
	// MimeticQK, if positive, is the standard deviation of the mimetic
	// initialisation of the decoder's query/key weights (mimetic.go); 0
	// keeps the plain N(0, 0.02²).
	MimeticQK float64 `json:"mimetic_qk,omitempty"`
	// TextSteps is a first phase of text-only training: its steps draw
	// only language questions and letter drills (in the world's
	// LanguageShare : LookupShare proportion), TextBatch samples each.
	// Text samples are cheap (no image rows), and the multiple-choice
	// binding needs many of them in low-noise batches: measured on the
	// drill alone, batch 64 reached 50% after 600 steps where batch 16
	// stayed at chance for 2000.
	TextSteps int `json:"text_steps,omitempty"`
	TextBatch int `json:"text_batch,omitempty"`
	// TextLookupShare, if positive, is the fraction of letter drills in
	// the text phase (the rest language questions) instead of the world's
	// LanguageShare : LookupShare proportion.
	TextLookupShare float64 `json:"text_lookup_share,omitempty"`
	// TextLR, if positive, gives the text phase a learning-rate cycle of
	// its own (warmup, cosine from TextLR down to MinLRFrac·TextLR at step
	// TextSteps) and restarts the main schedule after it (lrAt). The letter
	// binding appeared, on the drill alone, only while the rate decayed:
	// a 1200-step cycle reached 69% at step 900 where a run whose rate
	// stayed near its 1e-3 peak was still at chance after 1200 steps.
	TextLR float64 `json:"text_lr,omitempty"`
	// GuideWeight weights the supervised-attention loss of multiple-choice
	// samples (guide.go) against each sample's mean answer-token loss; 0:
	// off.
	GuideWeight float64 `json:"guide_weight,omitempty"`
	// ImageGuideWeight weights the image guide (guide.go): the
	// second-to-last block's head 0 is taught to look at the image tokens
	// of the objects or sign a question is about; 0: off.
	ImageGuideWeight float64 `json:"image_guide_weight,omitempty"`
	// ImageGuideHeads are the query heads of the second-to-last block the
	// image guide teaches, each with ImageGuideWeight (nil: ImageGuideHead
	// alone; at most two). With two, a question about two named objects
	// (world.PairKinds) teaches the first head to look at the first object
	// and the second at the second, so both positions reach the last block
	// apart; every other question teaches both heads its whole focus. The
	// grounding guide stays on ImageGuideHead.
	ImageGuideHeads []int `json:"image_guide_heads,omitempty"`
	// ReferentGuideWeight weights the referent guide (guide.go): the
	// third-to-last decoder block's heads ReferentGuideHeads are taught to
	// look, at every answer row of an image question, at the words the
	// question refers to its objects by. 0 turns it off.
	ReferentGuideWeight float64 `json:"referent_guide_weight,omitempty"`
	// LetterGuideWeight weights the option-letter guide (guide.go): query
	// head LetterGuideHead of the first decoder block is taught, at every
	// token of every option of a multiple-choice question, to look at that
	// option's letter, so the option's words carry their letter for the
	// multiple-choice guide's head to read. 0 turns it off.
	LetterGuideWeight float64 `json:"letter_guide_weight,omitempty"`
	// DigitGuideWeight weights the digit guide (digitguide.go): query heads
	// DigitGuideHeads of the first decoder block are taught, at each row
	// that predicts a digit of an open arithmetic answer, to look at the
	// operands' digits of that place and of the place below. 0 turns it
	// off.
	DigitGuideWeight float64 `json:"digit_guide_weight,omitempty"`
	// DigitGuideAfter keeps the digit guide off for steps
	// 1..DigitGuideAfter (Config.at): a run that was started without it
	// and switched it on at a checkpoint is reproduced from scratch by its
	// configuration. 0: from the first step.
	DigitGuideAfter int `json:"digit_guide_after,omitempty"`
	// AnswerLensWeight weights the answer lens (lens.go): at the row that
	// predicts a multiple-choice letter, the hidden state entering the last
	// decoder block, read through the final norm and the output embedding,
	// is taught to name the correct option's first content word. 0 turns
	// it off.
	AnswerLensWeight float64 `json:"answer_lens_weight,omitempty"`
	// CellProbeWeight weights the cell probes (probe.go): at the answer
	// rows of an image question, the hidden state entering the
	// second-to-last block is taught, through a fixed random read-out, to
	// name the grid row and column the question's text names, and the one
	// entering the last block those of the question's single focus object.
	// 0 turns them off.
	CellProbeWeight float64 `json:"cell_probe_weight,omitempty"`
	// CellProbeKeys makes the cell probes teach what the queries are
	// matched against as well, all through one read-out (one cell code):
	// at the second-to-last block's input every image token its own
	// cell, at the last block's input the last token of every option line
	// that names a cell ("third row, first column"). Needs
	// CellProbeWeight > 0.
	CellProbeKeys bool `json:"cell_probe_keys,omitempty"`
	// TextReferentGuide extends the referent guide to questions without an
	// image (language questions and letter drills): both heads are taught
	// to look, from every answer row, at the question's subject words
	// (world.Question.Subject: the country, the creature, the operands, the
	// word a drill seeks). Needs ReferentGuideWeight > 0.
	TextReferentGuide bool `json:"text_referent_guide,omitempty"`
	// GroundingGuideWeight weights the grounding guide (guide.go): the
	// image guide's head is taught, at the row of every colour, shape or
	// size word of an image question, to look at the objects that have
	// that attribute. 0 turns it off.
	GroundingGuideWeight float64 `json:"grounding_guide_weight,omitempty"`
	// GroundingPositions extends the grounding guide to the grid lines a
	// question names: at the word "row" or "column" of "the third row" /
	// "the first column", the head is taught to look at every image token
	// of that line's cells, objects or not.
	GroundingPositions bool `json:"grounding_positions,omitempty"`
	// QATurns, if above 1, makes every image-question sample a
	// conversation of up to QATurns question turns about its image
	// (world.Scene.FollowUps), and every language sample one of QATurns
	// language questions, weighted as that many one-question samples. The
	// image rows, three quarters of a one-question sample, are then paid
	// once for several answers.
	QATurns int `json:"qa_turns,omitempty"`
	// OpenShare is the probability that a multiple-choice training
	// question (not a letter drill) is asked open-ended instead, its
	// correct option the answer (world.Question.AsOpen). The benchmark
	// asks these kinds only with options; the open form supervises the
	// answer's content directly — measured at step 2700 of the run without
	// it, the last block's head 0 put only ~25% of its attention on the
	// correct option of image questions (chance), against ~70% on drills.
	OpenShare float64 `json:"open_share,omitempty"`
	// PromptTurns renders every answer of a multi-turn conversation after
	// the chat template's generation prompt ("<|im_start|>assistant\n"),
	// the exact tokens evaluation and generation put before an answer. The
	// template itself renders a past assistant turn as
	// "<|im_start|>assistant \n" (role, space, newline): without this, the
	// conversations that carry every image and language question in
	// training put an extra " " before each answer that evaluation never
	// shows, and only letter drills and captions are trained in the
	// evaluated form. Off in runs configured before it existed.
	PromptTurns bool `json:"prompt_turns,omitempty"`
	// TemplateTurnsUntil keeps the chat template's past-turn form for the
	// whole conversations of steps 1..TemplateTurnsUntil even with
	// PromptTurns, which then applies from the next step on (Config.at). The letter
	// binding of the text phase forms or not by chance (problem 11 in the
	// README): run15, in the template form, formed it at step ~450; run14,
	// identical but for PromptTurns, had not by step 840. With this a run
	// follows run15 step for step up to TemplateTurnsUntil and then trains
	// every answer in the evaluated form. 0: PromptTurns from the start.
	TemplateTurnsUntil int `json:"template_turns_until,omitempty"`
	// TextPromptLoss makes the text phase language-model pretraining: every
	// non-image token of a sample (chat markup, questions, options and
	// answers) is a label, not only the answers, so the decoder learns the
	// world's words, names and facts from the whole text before the images
	// come, as a VLM's language model is pretrained before it sees images.
	// Letter drills keep their answer-only loss: with every token labelled
	// a drill's letter is ~3% of its sample's loss, and a drill-only text
	// phase so trained stayed at chance through step 600 where the
	// answer-only one reached 54.5%. The main phase labels answers only.
	TextPromptLoss bool `json:"text_prompt_loss,omitempty"`
}

// batchAt is the number of samples of step.
func (c *Config) batchAt(step int) int {
	if step <= c.TextSteps && c.TextBatch > 0 {
		return c.TextBatch
	}
	return c.Batch
}

// at is the configuration in effect at step: c itself, or a copy with the
// switches that a run turns on after a step still off — PromptTurns up to
// TemplateTurnsUntil, the digit guide up to DigitGuideAfter. Every
// objective and rendering of a step reads it.
func (c *Config) at(step int) *Config {
	template := c.PromptTurns && step <= c.TemplateTurnsUntil
	noDigits := c.DigitGuideWeight != 0 && step <= c.DigitGuideAfter
	if !template && !noDigits {
		return c
	}
	at := *c
	if template {
		at.PromptTurns = false
	}
	if noDigits {
		at.DigitGuideWeight = 0
	}
	return &at
}

// guideWeights are the weights of the attention guides and, last, of the
// answer lens and the cell probes (losses on the residual stream, not on
// attention), indexed like lossResult.guides.
func (c *Config) guideWeights() [numGuides]float64 {
	return [numGuides]float64{c.GuideWeight, c.ImageGuideWeight, c.ReferentGuideWeight, c.GroundingGuideWeight, c.LetterGuideWeight, c.DigitGuideWeight, c.AnswerLensWeight, c.CellProbeWeight}
}

// imageGuideHeads are the heads the image guide teaches
// (Config.ImageGuideHeads).
func (c *Config) imageGuideHeads() []int {
	if len(c.ImageGuideHeads) == 0 {
		return []int{ImageGuideHead}
	}
	return c.ImageGuideHeads
}

// anyGuide reports whether some attention guide (the answer lens and the
// cell probes are not ones) has a positive weight.
func (c *Config) anyGuide() bool {
	w := c.guideWeights()
	for _, w := range w[:lensLoss] {
		if w > 0 {
			return true
		}
	}
	return false
}

// worldAt is the world configuration samples of step are drawn from.
func (c *Config) worldAt(step int) world.Config {
	w := c.World
	if step <= c.TextSteps {
		if t := w.LanguageShare + w.LookupShare; t > 0 {
			w.CaptionShare, w.LanguageShare, w.LookupShare = 0, w.LanguageShare/t, w.LookupShare/t
		}
		if c.TextLookupShare > 0 {
			w.LanguageShare, w.LookupShare = 1-c.TextLookupShare, c.TextLookupShare
		}
		return w
	}
	step -= c.TextSteps // the object curriculum starts with the images
	if c.CurriculumSteps > 0 && step < c.CurriculumSteps {
		w.MaxObjects = w.MinObjects + (w.MaxObjects-w.MinObjects)*step/c.CurriculumSteps
	}
	return w
}

// DefaultSizes is the testbed model: SigLIP-style tower 128 px / patch 16
// (64 patches per tile), width 192, 4 layers; a two-layer GELU projector to
// 256; a Qwen2-style decoder of width 256, 4 layers, 4 query and 2
// key/value heads of 64, SwiGLU 768; a ~2048-token BPE; tied embeddings.
// Decoder input widths (256, 768) are multiples of 128.
var DefaultSizes = Sizes{
	ImageSize: 128, PatchSize: 16,
	VisionHidden: 192, VisionIntermediate: 768, VisionLayers: 4, VisionHeads: 3,
	TextHidden: 256, TextIntermediate: 768, TextLayers: 4, Heads: 4, KVHeads: 2,
	VocabSize: 2048, Tied: true,
}

// DefaultConfig is the testbed recipe: a 1200-step text phase, half letter
// drills (answer loss) and half language questions trained as language-model
// text (every token a label), batch 64, its own learning-rate cycle peaking
// at 1e-3, then 18800 steps of the full mixture (batch 16, peak 1e-3) in
// which image and language questions come in conversations of up to 6
// question turns (each answer after the generation prompt) and 30% of
// multiple-choice questions are asked open-ended, with mimetic Q/K
// initialisation, supervised attention (on the option line of
// multiple-choice answers and on the image tokens a question is about), the
// auxiliary image head and the object curriculum.
func DefaultConfig() Config {
	return Config{
		Sizes: DefaultSizes,
		Seed:  1, Steps: 20000, Batch: 16,
		LR: 1e-3, MinLRFrac: 0.1, Warmup: 100,
		WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, ClipNorm: 1,
		FullConversationShare: 0.25,
		EvalEvery:             200, HeldOut: 60, CheckpointEvery: 100, Patience: 0,
		CorpusSize: 20000, Workers: 2, AuxWeight: 0.3, CurriculumSteps: 1000,
		MimeticQK: 0.06, GuideWeight: 0.3, ImageGuideWeight: 0.3, QATurns: 6, OpenShare: 0.3,
		ReferentGuideWeight: 0.3, GroundingGuideWeight: 0.3, AuxBalance: true, AuxAligned: true, AuxResidual: true, TextVisionBatch: 64,
		TextSteps: 1200, TextBatch: 64, TextLookupShare: 0.5, TextLR: 1e-3,
		PromptTurns: true, TextPromptLoss: true,
		World: world.DefaultConfig(),
	}
}

// Validate reports a configuration that cannot be trained.
func (c *Config) Validate() error {
	s := &c.Sizes
	switch {
	case c.Steps < 1 || c.Batch < 1:
		return fmt.Errorf("train config: steps %d, batch %d: want >= 1", c.Steps, c.Batch)
	case c.LR <= 0 || c.MinLRFrac < 0 || c.MinLRFrac > 1 || c.Warmup < 0:
		return fmt.Errorf("train config: lr %g, min_lr_frac %g, warmup %d", c.LR, c.MinLRFrac, c.Warmup)
	case c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1 || c.Eps <= 0:
		return fmt.Errorf("train config: betas %g/%g, eps %g", c.Beta1, c.Beta2, c.Eps)
	case c.TemplateTurnsUntil < 0:
		return fmt.Errorf("train config: template_turns_until %d: want >= 0", c.TemplateTurnsUntil)
	case c.Workers < 1:
		return fmt.Errorf("train config: workers %d, want >= 1", c.Workers)
	case c.TextLookupShare < 0 || c.TextLookupShare > 1 || math.IsNaN(c.TextLookupShare):
		return fmt.Errorf("train config: text lookup share %g, want 0..1", c.TextLookupShare)
	case c.GuideWeight < 0 || math.IsNaN(c.GuideWeight):
		return fmt.Errorf("train config: guide weight %g, want >= 0", c.GuideWeight)
	case c.ImageGuideWeight < 0 || math.IsNaN(c.ImageGuideWeight):
		return fmt.Errorf("train config: image guide weight %g, want >= 0", c.ImageGuideWeight)
	case c.OpenShare < 0 || c.OpenShare > 1 || math.IsNaN(c.OpenShare):
		return fmt.Errorf("train config: open share %g, want 0..1", c.OpenShare)
	case c.QATurns < 0:
		return fmt.Errorf("train config: qa turns %d, want >= 0", c.QATurns)
	case c.ReferentGuideWeight < 0 || math.IsNaN(c.ReferentGuideWeight):
		return fmt.Errorf("train config: referent guide weight %g, want >= 0", c.ReferentGuideWeight)
	case c.AuxAlignCells && !(c.AuxAligned && c.AuxResidual):
		return errors.New("train config: aux_align_cells needs aux_aligned and aux_residual (row k and column k share the ordinal's embedding)")
	case c.AuxResidual && !c.AuxAligned:
		return fmt.Errorf("train config: the residual auxiliary read-out needs the aligned one (aux_aligned)")
	case c.GroundingGuideWeight < 0 || math.IsNaN(c.GroundingGuideWeight):
		return fmt.Errorf("train config: grounding guide weight %g, want >= 0", c.GroundingGuideWeight)
	case c.GroundingGuideWeight > 0 && s.TextLayers < 2:
		return fmt.Errorf("train config: the grounding guide needs at least 2 decoder layers, have %d", s.TextLayers)
	case c.LetterGuideWeight < 0 || math.IsNaN(c.LetterGuideWeight):
		return fmt.Errorf("train config: letter guide weight %g, want >= 0", c.LetterGuideWeight)
	case c.LetterGuideWeight > 0 && s.Heads < 2:
		return fmt.Errorf("train config: the letter guide needs at least 2 query heads, have %d", s.Heads)
	case c.DigitGuideWeight < 0 || math.IsNaN(c.DigitGuideWeight):
		return fmt.Errorf("train config: digit guide weight %g, want >= 0", c.DigitGuideWeight)
	case c.AnswerLensWeight < 0 || math.IsNaN(c.AnswerLensWeight):
		return fmt.Errorf("train config: answer lens weight %g, want >= 0", c.AnswerLensWeight)
	case c.AnswerLensWeight > 0 && s.TextLayers < 2:
		return fmt.Errorf("train config: the answer lens needs at least 2 decoder layers, have %d", s.TextLayers)
	case c.DigitGuideAfter < 0:
		return fmt.Errorf("train config: digit_guide_after %d: want >= 0", c.DigitGuideAfter)
	case c.DigitGuideWeight > 0 && s.Heads < 4:
		return fmt.Errorf("train config: the digit guide needs at least 4 query heads, have %d", s.Heads)
	case c.DigitGuideWeight > 0 && c.TextReferentGuide && c.ReferentGuideWeight > 0 && s.TextLayers < 4:
		return fmt.Errorf("train config: the digit guide and the text referent guide share the first block's heads 0 and 2 in a decoder of %d layers (want >= 4)", s.TextLayers)
	case c.TextReferentGuide && c.ReferentGuideWeight <= 0:
		return fmt.Errorf("train config: the text referent guide needs a referent guide weight above 0")
	case c.ReferentGuideWeight > 0 && (s.TextLayers < 3 || s.Heads < 3):
		return fmt.Errorf("train config: the referent guide needs at least 3 decoder layers and 3 query heads, have %d and %d", s.TextLayers, s.Heads)
	case c.ImageGuideWeight > 0 && s.TextLayers < 2:
		return fmt.Errorf("train config: the image guide needs at least 2 decoder layers, have %d", s.TextLayers)
	case c.CellProbeWeight < 0 || math.IsNaN(c.CellProbeWeight):
		return fmt.Errorf("train config: cell probe weight %g, want >= 0", c.CellProbeWeight)
	case c.CellProbeKeys && c.CellProbeWeight <= 0:
		return fmt.Errorf("train config: the cell probes' keys need a cell probe weight above 0")
	case c.CellProbeWeight > 0 && s.TextLayers < 2:
		return fmt.Errorf("train config: the cell probes need at least 2 decoder layers, have %d", s.TextLayers)
	case len(c.ImageGuideHeads) > 2:
		return fmt.Errorf("train config: image guide heads %v: at most 2", c.ImageGuideHeads)
	case len(c.ImageGuideHeads) == 2 && c.ImageGuideHeads[0] == c.ImageGuideHeads[1]:
		return fmt.Errorf("train config: image guide heads %v: want two different heads", c.ImageGuideHeads)
	case slices.ContainsFunc(c.ImageGuideHeads, func(h int) bool { return h < 0 || h >= s.Heads }):
		return fmt.Errorf("train config: image guide heads %v: want heads in [0, %d)", c.ImageGuideHeads, s.Heads)
	case c.TextLR < 0 || math.IsNaN(c.TextLR):
		return fmt.Errorf("train config: text lr %g, want >= 0", c.TextLR)
	case c.TextLR > 0 && c.TextSteps >= c.Steps:
		return fmt.Errorf("train config: text lr cycle of %d steps leaves no main phase in %d steps", c.TextSteps, c.Steps)
	case c.TextSteps < 0 || c.TextBatch < 0:
		return fmt.Errorf("train config: text steps %d, text batch %d: want >= 0", c.TextSteps, c.TextBatch)
	case c.TextSteps > 0 && c.World.LanguageShare+c.World.LookupShare <= 0:
		return fmt.Errorf("train config: a text phase needs language questions or letter drills")
	case c.MimeticQK < 0 || math.IsNaN(c.MimeticQK):
		return fmt.Errorf("train config: mimetic q/k std %g, want >= 0", c.MimeticQK)
	case c.CurriculumSteps < 0:
		return fmt.Errorf("train config: curriculum steps %d, want >= 0", c.CurriculumSteps)
	case c.World.Grid > 8:
		return fmt.Errorf("train config: world grid %d, want <= 8 (the auxiliary head's row and column classes)", c.World.Grid)
	case c.TextVisionBatch < 0:
		return fmt.Errorf("train config: text vision batch %d, want >= 0", c.TextVisionBatch)
	case c.AuxWeight < 0 || math.IsNaN(c.AuxWeight):
		return fmt.Errorf("train config: aux weight %g, want >= 0", c.AuxWeight)
	case c.EvalEvery < 0 || c.CheckpointEvery < 0 || c.HeldOut < 0 || c.Patience < 0:
		return fmt.Errorf("train config: eval_every, checkpoint_every, held_out and patience must be >= 0")
	case s.PatchSize < 1 || s.ImageSize%s.PatchSize != 0:
		return fmt.Errorf("train config: image size %d is not a multiple of patch size %d", s.ImageSize, s.PatchSize)
	case s.VisionHeads < 1 || s.VisionHidden%s.VisionHeads != 0:
		return fmt.Errorf("train config: vision width %d is not a multiple of %d heads", s.VisionHidden, s.VisionHeads)
	case s.Heads < 1 || s.KVHeads < 1 || s.TextHidden%s.Heads != 0 || s.Heads%s.KVHeads != 0:
		return fmt.Errorf("train config: text width %d, heads %d, kv heads %d", s.TextHidden, s.Heads, s.KVHeads)
	case (s.TextHidden/s.Heads)%2 != 0:
		return fmt.Errorf("train config: head dim %d is odd", s.TextHidden/s.Heads)
	case s.VocabSize < 300:
		return fmt.Errorf("train config: vocab size %d, want >= 300", s.VocabSize)
	}
	if c.World.Size != s.ImageSize {
		return fmt.Errorf("train config: world image size %d differs from the model's %d", c.World.Size, s.ImageSize)
	}
	return c.World.Validate()
}

// Specials are the tokenizer's special tokens, in id order after the
// learned vocabulary.
var Specials = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", llavaonevision.ImageToken, "<video>"}

// ModelConfig is the config.json of a model of these sizes with the
// trained tokenizer tok.
func (s Sizes) ModelConfig(tok *tokenizer.Tokenizer) (*config.LlavaOnevisionConfig, error) {
	id := func(t string) (int, error) {
		v, ok := tok.TokenToID(t)
		if !ok {
			return 0, fmt.Errorf("tokenizer: no %s token", t)
		}
		return v, nil
	}
	img, err := id(llavaonevision.ImageToken)
	if err != nil {
		return nil, err
	}
	vid, err := id("<video>")
	if err != nil {
		return nil, err
	}
	eos, err := id("<|im_end|>")
	if err != nil {
		return nil, err
	}
	bos, err := id("<|endoftext|>")
	if err != nil {
		return nil, err
	}
	vc := config.DefaultSiglipVision()
	vc.HiddenSize, vc.IntermediateSize = s.VisionHidden, s.VisionIntermediate
	vc.NumHiddenLayers, vc.NumAttentionHeads = s.VisionLayers, s.VisionHeads
	vc.ImageSize, vc.PatchSize = s.ImageSize, s.PatchSize
	vc.VisionUseHead = false
	tc := config.DefaultQwen2()
	tc.Architectures = []string{"Qwen2ForCausalLM"}
	tc.VocabSize = (tok.VocabSize() + 15) / 16 * 16
	tc.HiddenSize, tc.IntermediateSize = s.TextHidden, s.TextIntermediate
	tc.NumHiddenLayers, tc.NumAttentionHeads, tc.NumKeyValueHeads = s.TextLayers, s.Heads, s.KVHeads
	tc.RopeTheta = 1e6
	tc.MaxPositionEmbeddings = 4096
	tc.TieWordEmbeddings = s.Tied
	tc.EosTokenID = config.IntOrList{Values: []int{eos}}
	tc.BosTokenID = &bos
	tied := s.Tied
	return &config.LlavaOnevisionConfig{
		Architectures:               []string{config.ArchLlavaOnevision},
		ImageTokenIndex:             img,
		VideoTokenIndex:             vid,
		ProjectorHiddenAct:          "gelu",
		VisionFeatureSelectStrategy: "full",
		VisionFeatureLayer:          config.IntOrList{Values: []int{-1}},
		VisionAspectRatio:           "anyres_max_9",
		ImageGridPinpoints:          [][2]int{{s.ImageSize, s.ImageSize}},
		MultimodalProjectorBias:     true,
		TieWordEmbeddings:           &tied,
		TorchDtype:                  "float32",
		VisionConfig:                vc,
		TextConfig:                  tc,
		Extra:                       map[string]json.RawMessage{"use_image_newline_parameter": json.RawMessage("true")},
	}, nil
}
