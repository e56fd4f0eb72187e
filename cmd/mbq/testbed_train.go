package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"mbq/testbed/train"
	"mbq/testbed/world"
)

// testbedTrainSignals are the signals that end a training run with a
// checkpoint (a variable so tests can leave them alone).
var testbedTrainSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

func runTestbedTrain(args []string, stdout, stderr io.Writer) error {
	d := train.DefaultConfig()
	fs := newFlags("testbed train", "", stderr)
	out := fs.String("out", "", "output directory (required): checkpoint/ (latest, resumable) and best/ (lowest held-out NLL)")
	resume := fs.Bool("resume", false, "continue the checkpoint in --out (its configuration is kept; --steps may extend it)")
	steps := fs.Int("steps", d.Steps, "optimizer steps")
	seed := fs.Uint64("seed", d.Seed, "training seed (weights, tokenizer corpus, sample streams); never the benchmark's streams")
	batch := fs.Int("batch", d.Batch, "samples per step")
	lr := fs.Float64("lr", d.LR, "peak learning rate (linear warmup, cosine decay to --min-lr-frac of it)")
	minLR := fs.Float64("min-lr-frac", d.MinLRFrac, "final learning rate as a fraction of --lr")
	warmup := fs.Int("warmup", d.Warmup, "warmup steps")
	wd := fs.Float64("weight-decay", d.WeightDecay, "AdamW weight decay (weight matrices only)")
	clip := fs.Float64("clip", d.ClipNorm, "global gradient-norm clip (0: none)")
	evalEvery := fs.Int("eval-every", d.EvalEvery, "steps between held-out evaluations (0: none)")
	heldOut := fs.Int("held-out", d.HeldOut, "held-out questions per category")
	stopAt := fs.Int("stop-at", 0, "stop after this step with a checkpoint, as an interruption does, the schedule still that of --steps (0: run to --steps; allowed with --resume): a run whose --steps changed on resume is reproduced by stopping where it changed")
	evalQuant := fs.Int("eval-quant-bits", 0, "also score each held-out evaluation with the decoder's linears RTN-quantized to N bits, group 128 (0: off; allowed with --resume)")
	ckEvery := fs.Int("checkpoint-every", d.CheckpointEvery, "steps between checkpoints (one is always written at the end)")
	patience := fs.Int("patience", d.Patience, "stop after this many evaluations without held-out improvement (0: never)")
	workers := fs.Int("workers", d.Workers, "goroutines the batch is split over, each with its own gradients")
	tokenMean := fs.Bool("token-mean", d.TokenMean, "weight every answer token of the batch equally (default: every sample equally)")
	corpus := fs.Int("corpus", d.CorpusSize, "texts of the world the tokenizer is trained on")
	vocab := fs.Int("vocab", d.VocabSize, "tokenizer vocabulary size (special tokens included)")
	patch := fs.Int("patch", d.PatchSize, "vision patch size in pixels")
	vHidden := fs.Int("vision-hidden", d.VisionHidden, "vision tower width")
	vInter := fs.Int("vision-intermediate", d.VisionIntermediate, "vision MLP width")
	vLayers := fs.Int("vision-layers", d.VisionLayers, "vision tower layers")
	vHeads := fs.Int("vision-heads", d.VisionHeads, "vision attention heads")
	tHidden := fs.Int("hidden", d.TextHidden, "decoder width (a multiple of 128 for group-128 quantization)")
	tInter := fs.Int("intermediate", d.TextIntermediate, "decoder SwiGLU width (a multiple of 128)")
	tLayers := fs.Int("layers", d.TextLayers, "decoder layers")
	heads := fs.Int("heads", d.Heads, "decoder query heads")
	kvHeads := fs.Int("kv-heads", d.KVHeads, "decoder key/value heads")
	untied := fs.Bool("untied", !d.Tied, "store a separate lm_head instead of tying it to the embeddings")
	auxW := fs.Float64("aux-weight", d.AuxWeight, "weight of the auxiliary image-attribute objective on the projector output (0: off)")
	auxBalance := fs.Bool("aux-balance", d.AuxBalance, "weigh, in each attribute group of the auxiliary objective, the patches that show something as much as the background")
	auxAligned := fs.Bool("aux-aligned", d.AuxAligned, "read the auxiliary objective's colour, shape, size and character classes out through the token embeddings of those words, aligning the image rows with the words")
	auxCells := fs.Bool("aux-align-cells", d.AuxAlignCells, "with --aux-aligned and --aux-residual, read the auxiliary objective's row and column classes out through the ordinals' token embeddings too")
	auxResidual := fs.Bool("aux-residual", d.AuxResidual, "with --aux-aligned, add a free zero-initialised vector to each aligned class's embedding, so the left and right sign-character slots can differ")
	textVision := fs.Int("text-vision-batch", d.TextVisionBatch, "scenes per text-phase step on which the vision tower and projector learn the auxiliary objective alone (0: none)")
	curriculum := fs.Int("curriculum", d.CurriculumSteps, "steps over which the scenes' maximum object count ramps up to the world's (0: none)")
	mimetic := fs.Float64("mimetic-qk", d.MimeticQK, "std of the mimetic query/key initialisation of the decoder (0: plain N(0, 0.02²))")
	textSteps := fs.Int("text-steps", d.TextSteps, "first steps on text only (language questions and letter drills)")
	textBatch := fs.Int("text-batch", d.TextBatch, "samples per step in the text-only phase (0: --batch)")
	textLookup := fs.Float64("text-lookup-share", d.TextLookupShare, "share of letter drills in the text-only phase (0: the world's language:lookup proportion)")
	textLR := fs.Float64("text-lr", d.TextLR, "peak learning rate of a cycle of its own for the text-only phase; the main schedule restarts after it (0: one schedule over all steps)")
	guide := fs.Float64("guide-weight", d.GuideWeight, "weight of the supervised-attention loss that teaches the last block's head 0 to look at the correct option of multiple-choice samples (0: off)")
	imageGuide := fs.Float64("image-guide-weight", d.ImageGuideWeight, "weight of the supervised-attention loss that teaches the second-to-last block's head 0 to look at the image tokens of the objects a question is about (0: off)")
	imageHeads := fs.String("image-guide-heads", "", "comma-separated query heads of the second-to-last block that the image guide teaches, at most two (empty: head 0); with two, a question about two named objects (relative position, is A <direction> B, mixing two colours) sends the first head to the first object and the second to the second")
	refGuide := fs.Float64("referent-guide-weight", d.ReferentGuideWeight, "weight of the supervised-attention loss that teaches the third-to-last block's heads 0 and 2 to look at the words an image question refers to its objects by (0: off)")
	groundPos := fs.Bool("grounding-positions", d.GroundingPositions, "extend the grounding guide to grid lines: at the word row or column of \"the third row\" or \"the first column\" in an image question, the head looks at that line's image tokens")
	groundGuide := fs.Float64("grounding-guide-weight", d.GroundingGuideWeight, "weight of the supervised-attention loss that teaches the image guide's head, at each colour, shape or size word of an image question, to look at the objects with that attribute (0: off)")
	qaTurns := fs.Int("qa-turns", d.QATurns, "question turns per image- or language-question conversation (1: one question per sample)")
	promptTurns := fs.Bool("prompt-turns", d.PromptTurns, "render every answer of a training conversation after the generation prompt's exact tokens, as evaluation does (off: the chat template's past-turn form \"assistant \\n\")")
	templateUntil := fs.Int("template-turns-until", d.TemplateTurnsUntil, "with --prompt-turns, render the whole conversations of steps 1..N in the chat template's past-turn form (--prompt-turns applies from step N+1)")
	letterGuide := fs.Float64("letter-guide-weight", d.LetterGuideWeight, "weight of the supervised-attention loss that teaches the first block's head 1 to look, from every token of a multiple-choice option, at that option's letter (0: off)")
	initDir := fs.String("init", "", "start from this checkpoint's weights and tokenizer (a run's best/, or the embedded model: \"embedded\") with a fresh optimizer and schedule; its sizes must match --hidden, --intermediate, ...")
	answerLens := fs.Float64("answer-lens-weight", d.AnswerLensWeight, "weight of the logit-lens loss that teaches the hidden state entering the last decoder block, at the row predicting a multiple-choice letter, to name the correct option's first content word through the final norm and the output embedding (0: off)")
	cellProbe := fs.Float64("cell-probe-weight", d.CellProbeWeight, "weight of the cell probes: at the answer rows of an image question, the hidden state entering the second-to-last block is taught (through a fixed random read-out) to name the row and column the question names, and the one entering the last block those of the single object it is about (0: off)")
	cellKeys := fs.Bool("cell-probe-keys", d.CellProbeKeys, "with --cell-probe-weight, teach the keys too, through one read-out: every image token its own cell (second-to-last block's input), the last token of every option line naming a cell its cell (last block's input)")
	digitGuide := fs.Float64("digit-guide-weight", d.DigitGuideWeight, "weight of the supervised-attention loss that teaches three heads of the first block, at each row predicting a digit of an open arithmetic answer, to look at the operands' digits of that place and the place below (0: off)")
	digitAfter := fs.Int("digit-guide-after", d.DigitGuideAfter, "keep the digit guide off for steps 1..N (a run that switched it on at step N+1)")
	textRef := fs.Bool("text-referent-guide", d.TextReferentGuide, "extend the referent guide to language questions and letter drills: both heads look, from every answer row, at the question's subject words (the country, the creature, the operands, the sought word)")
	textPromptLoss := fs.Bool("text-prompt-loss", d.TextPromptLoss, "in the text phase, train language questions on every text token (language-model pretraining), not only the answers; letter drills keep the answer loss")
	openShare := fs.Float64("open-share", d.OpenShare, "probability that a multiple-choice training question is asked open-ended, its correct option the answer")
	lookup := fs.Float64("lookup-share", d.World.LookupShare, "share of training samples that are the multiple-choice letter drill")
	countries := fs.Int("countries", d.World.Countries, fmt.Sprintf("countries in the world's fact table (0: %d); benchmarks for the model need the same (mbq testbed data --countries)", world.NumCountries))
	creatures := fs.Int("creatures", d.World.Creatures, fmt.Sprintf("creatures in the world's fact table (0: %d); benchmarks need the same (--creatures)", world.NumCreatures))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	cfg := d
	cfg.Steps, cfg.Seed, cfg.Batch, cfg.LR, cfg.MinLRFrac, cfg.Warmup = *steps, *seed, *batch, *lr, *minLR, *warmup
	cfg.WeightDecay, cfg.ClipNorm, cfg.EvalEvery, cfg.HeldOut = *wd, *clip, *evalEvery, *heldOut
	cfg.CheckpointEvery, cfg.Patience, cfg.Workers, cfg.CorpusSize = *ckEvery, *patience, *workers, *corpus
	cfg.TokenMean = *tokenMean
	cfg.VocabSize, cfg.PatchSize = *vocab, *patch
	cfg.VisionHidden, cfg.VisionIntermediate, cfg.VisionLayers, cfg.VisionHeads = *vHidden, *vInter, *vLayers, *vHeads
	cfg.TextHidden, cfg.TextIntermediate, cfg.TextLayers, cfg.Heads, cfg.KVHeads = *tHidden, *tInter, *tLayers, *heads, *kvHeads
	cfg.Tied = !*untied
	cfg.AuxWeight, cfg.World.LookupShare, cfg.CurriculumSteps, cfg.MimeticQK = *auxW, *lookup, *curriculum, *mimetic
	cfg.World.Countries, cfg.World.Creatures = *countries, *creatures
	cfg.TextSteps, cfg.TextBatch, cfg.TextLookupShare, cfg.TextLR = *textSteps, *textBatch, *textLookup, *textLR
	cfg.GuideWeight, cfg.ImageGuideWeight, cfg.QATurns, cfg.OpenShare = *guide, *imageGuide, *qaTurns, *openShare
	cfg.PromptTurns, cfg.TextPromptLoss, cfg.TemplateTurnsUntil = *promptTurns, *textPromptLoss, *templateUntil
	cfg.TextReferentGuide, cfg.LetterGuideWeight, cfg.DigitGuideWeight = *textRef, *letterGuide, *digitGuide
	cfg.AnswerLensWeight, cfg.CellProbeWeight, cfg.CellProbeKeys = *answerLens, *cellProbe, *cellKeys
	guideHeads, err := parseInts(*imageHeads)
	if err != nil {
		return fmt.Errorf("--image-guide-heads: %w", err)
	}
	cfg.ImageGuideHeads = guideHeads
	cfg.Init = *initDir
	if cfg.Init == "embedded" {
		dir, err := resolveModel("")
		if err != nil {
			return err
		}
		cfg.Init = dir
	}
	cfg.ReferentGuideWeight, cfg.AuxBalance, cfg.TextVisionBatch = *refGuide, *auxBalance, *textVision
	cfg.GroundingGuideWeight, cfg.DigitGuideAfter = *groundGuide, *digitAfter
	cfg.GroundingPositions = *groundPos
	cfg.AuxAligned, cfg.AuxResidual = *auxAligned, *auxResidual
	cfg.AuxAlignCells = *auxCells
	if *stopAt < 0 {
		return fmt.Errorf("--stop-at %d: want a step >= 0", *stopAt)
	}
	opts := train.Options{Out: *out, Resume: *resume, Log: stderr, Progress: stderr, EvalQuantBits: *evalQuant, StopAt: *stopAt}
	if *resume {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for n := range set {
			if n != "out" && n != "resume" && n != "steps" && n != "eval-quant-bits" && n != "stop-at" {
				return fmt.Errorf("--%s: a resumed run keeps its checkpoint's configuration (only --steps, --stop-at and --eval-quant-bits may change)", n)
			}
		}
		if set["steps"] {
			opts.Steps = *steps
		}
	}
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	if len(testbedTrainSignals) > 0 {
		signal.Notify(sig, testbedTrainSignals...)
		defer signal.Stop(sig)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case s := <-sig:
			fmt.Fprintf(stderr, "\n%v: writing a checkpoint at the end of this step (again to abort)\n", s)
			signal.Stop(sig)
			close(stop)
		case <-done:
		}
	}()
	opts.Stop = stop
	st, err := train.Run(cfg, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: step %d/%d (%s), smoothed loss %.4f", *out, st.Step, st.Config.Steps, st.Status, st.SmoothedLoss)
	if st.BestStep > 0 {
		fmt.Fprintf(stdout, ", best held-out NLL %.4f at step %d", st.BestNLL, st.BestStep)
	}
	fmt.Fprintln(stdout)
	return nil
}

// parseInts reads a comma-separated list of integers ("" is none).
func parseInts(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}
