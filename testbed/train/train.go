package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"mbq/eval"
	"mbq/hf/tokenizer"
	"mbq/model"
	"mbq/model/llavaonevision"
	"mbq/nn"
	"mbq/progress"
	"mbq/quant"
	"mbq/tensor"
)

// Names inside the output directory.
const (
	CheckpointDir  = "checkpoint" // latest: HF model (float32) + trainer_state.json + optimizer.safetensors
	BestDir        = "best"       // lowest held-out NLL: HF model (float32) + trainer_state.json
	StateFile      = "trainer_state.json"
	OptimizerFile  = "optimizer.safetensors"
	smoothingAlpha = 0.05
)

// Options control a run.
type Options struct {
	Out    string
	Resume bool
	// Steps, if > 0, overrides the checkpoint's Config.Steps on resume
	// (the learning-rate schedule follows the new total).
	Steps int
	// Log receives plain lines (start, held-out results, checkpoints).
	Log io.Writer
	// Progress receives the progress bar (nil: none).
	Progress io.Writer
	// Stop, when closed, ends the run at the next step boundary with a
	// checkpoint.
	Stop <-chan struct{}
	// StopAt, if > 0, ends the run like Stop once this step is done.
	StopAt int
	// EvalQuantBits, if > 0, scores every held-out evaluation a second time
	// with the decoder's linears RTN-quantized to this many bits (group 128,
	// evaluateQuantized) and reports it beside the full-precision result.
	// It only reads the model, so a fresh or a resumed run may set it.
	EvalQuantBits int
}

// LossRecord is one optimizer step.
type LossRecord struct {
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`
	Tokens   int     `json:"answer_tokens"`
	Seq      int     `json:"sequence_tokens"`
	LR       float64 `json:"lr"`
	GradNorm float64 `json:"grad_norm"`
	Seconds  float64 `json:"seconds"`
	// AuxLoss is the batch mean of the weighted auxiliary image loss.
	AuxLoss float64 `json:"aux_loss,omitempty"`
	// GuideLoss is the batch mean of the weighted supervised-attention loss
	// (guide.go; 0 for samples that are not multiple choice).
	GuideLoss float64 `json:"guide_loss,omitempty"`
	// ImageGuideLoss is the batch mean of the weighted image-guide loss.
	ImageGuideLoss float64 `json:"image_guide_loss,omitempty"`
	// ReferentGuideLoss is the batch mean of the weighted referent-guide loss.
	ReferentGuideLoss float64 `json:"referent_guide_loss,omitempty"`
	// GroundingGuideLoss is the batch mean of the weighted grounding-guide
	// loss.
	GroundingGuideLoss float64 `json:"grounding_guide_loss,omitempty"`
	// LetterGuideLoss is the batch mean of the weighted option-letter-guide
	// loss.
	LetterGuideLoss float64 `json:"letter_guide_loss,omitempty"`
	// DigitGuideLoss is the batch mean of the weighted digit-guide loss.
	DigitGuideLoss float64 `json:"digit_guide_loss,omitempty"`
	// AnswerLensLoss is the batch mean of the weighted answer-lens loss
	// (lens.go).
	AnswerLensLoss float64 `json:"answer_lens_loss,omitempty"`
	// CellProbeLoss is the batch mean of the weighted cell-probe loss
	// (probe.go).
	CellProbeLoss float64 `json:"cell_probe_loss,omitempty"`
}

// State is trainer_state.json.
type State struct {
	Step         int          `json:"step"`
	Config       Config       `json:"config"`
	SmoothedLoss float64      `json:"smoothed_loss"`
	Loss         []LossRecord `json:"loss_history"`
	Evals        []EvalResult `json:"eval_history"`
	BestStep     int          `json:"best_step"`
	BestNLL      float64      `json:"best_nll"`
	BestAccuracy float64      `json:"best_accuracy"`
	SinceBest    int          `json:"evals_since_improvement"`
	Seconds      float64      `json:"train_seconds"`
	// Status is "running", "interrupted", "early-stopped" or "done".
	Status string `json:"status"`
}

// Run trains (or, with opts.Resume, continues) the testbed model in
// opts.Out and returns the final state.
func Run(cfg Config, opts Options) (*State, error) {
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	if opts.EvalQuantBits != 0 {
		if err := (quant.WeightSpec{Bits: opts.EvalQuantBits}).Validate(); err != nil {
			return nil, fmt.Errorf("train: held-out quantized evaluation: %w", err)
		}
	}
	ckDir := filepath.Join(opts.Out, CheckpointDir)
	var m *llavaonevision.Model
	var st *State
	var opt *adamW
	var aux *auxHead
	if opts.Resume {
		dir := ckDir
		if _, err := os.Stat(filepath.Join(dir, StateFile)); err != nil {
			if _, err2 := os.Stat(filepath.Join(dir+".old", StateFile)); err2 == nil {
				dir += ".old" // a crash between the two renames of a save
			} else {
				return nil, fmt.Errorf("resume: %s: no checkpoint: %w", opts.Out, err)
			}
		}
		var err error
		if st, err = readState(filepath.Join(dir, StateFile)); err != nil {
			return nil, err
		}
		cfg = st.Config
		if opts.Steps > 0 {
			cfg.Steps = opts.Steps
			st.Config.Steps = opts.Steps
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("%s: config: %w", filepath.Join(dir, StateFile), err)
		}
		if m, err = llavaonevision.Load(dir); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		nn.AllocGrads(m.Params())
		if cfg.AuxWeight > 0 {
			aux = newAux(m, &cfg, logw)
			if err := aux.load(filepath.Join(dir, OptimizerFile)); err != nil {
				return nil, fmt.Errorf("resume: %w", err)
			}
		}
		opt = newAdamW(append(m.Params(), aux.params()...))
		if err := opt.load(filepath.Join(dir, OptimizerFile), st.Step); err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		st.Status = "running"
		fmt.Fprintf(logw, "resuming %s at step %d of %d\n", dir, st.Step, cfg.Steps)
	} else {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		if err := checkFreshOut(opts.Out); err != nil {
			return nil, err
		}
		if cfg.Init != "" {
			var err error
			if m, err = loadInit(cfg.Init, cfg.Sizes); err != nil {
				return nil, err
			}
			fmt.Fprintf(logw, "weights and tokenizer from %s (%d tokens)\n", cfg.Init, m.Tok.VocabSize())
		} else {
			t0 := time.Now()
			tok, err := tokenizer.Train(corpus(&cfg), tokenizer.TrainOptions{VocabSize: cfg.VocabSize, Special: Specials})
			if err != nil {
				return nil, fmt.Errorf("tokenizer: %w", err)
			}
			mc, err := cfg.Sizes.ModelConfig(tok)
			if err != nil {
				return nil, err
			}
			proc, err := llavaonevision.Processor(cfg.ImageSize, mc.ImageGridPinpoints)
			if err != nil {
				return nil, err
			}
			if m, err = llavaonevision.NewRandom(mc, tok, proc, cfg.Seed); err != nil {
				return nil, err
			}
			if cfg.MimeticQK > 0 {
				mimeticInit(m, cfg.MimeticQK, cfg.Seed)
			}
			fmt.Fprintf(logw, "tokenizer: %d tokens from %d texts (%.1fs)\n", tok.VocabSize(), cfg.CorpusSize, time.Since(t0).Seconds())
		}
		nn.AllocGrads(m.Params())
		if cfg.AuxWeight > 0 {
			aux = newAux(m, &cfg, logw)
		}
		opt = newAdamW(append(m.Params(), aux.params()...))
		st = &State{Config: cfg, Status: "running"}
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	nParams := 0
	for _, p := range m.Params() {
		nParams += len(p.Value.Data)
	}
	fmt.Fprintf(logw, "model: %d parameters (vision %d x %d, text %d x %d, vocab %d); batch %d, steps %d, lr %g, workers %d\n",
		nParams, cfg.VisionLayers, cfg.VisionHidden, cfg.TextLayers, cfg.TextHidden, m.Cfg.TextConfig.VocabSize,
		cfg.Batch, cfg.Steps, cfg.LR, cfg.Workers)

	tr, err := newStepper(m, aux, &cfg)
	if err != nil {
		return nil, err
	}
	var held []eval.Item
	if cfg.EvalEvery > 0 && cfg.HeldOut > 0 {
		held = buildHeldOut(cfg.World, cfg.HeldOut)
	}
	save := func() error {
		st.Config = cfg
		b, err := json.MarshalIndent(st, "", " ")
		if err != nil {
			return err
		}
		return m.Save(ckDir, llavaonevision.SaveOptions{
			Extra:        map[string][]byte{StateFile: append(b, '\n')},
			ExtraTensors: append(opt.tensors(), aux.tensors()...), ExtraTensorsFile: OptimizerFile,
		})
	}

	bar := progress.New(opts.Progress, "train", "steps", cfg.Steps-st.Step)
	if opts.Progress == nil {
		bar = nil
	}
	defer bar.Done()
	var winTok, winSec float64
	for st.Step < cfg.Steps {
		stopNow := opts.StopAt > 0 && st.Step >= opts.StopAt
		if !stopNow {
			select {
			case <-opts.Stop:
				stopNow = true
			default:
			}
		}
		if stopNow {
			st.Status = "interrupted"
			if err := save(); err != nil {
				return st, err
			}
			bar.Done()
			fmt.Fprintf(logw, "interrupted: checkpoint at step %d in %s\n", st.Step, ckDir)
			return st, nil
		}
		step := st.Step + 1
		t0 := time.Now()
		rec, err := tr.step(step)
		if err != nil {
			return st, fmt.Errorf("step %d: %w", step, err)
		}
		lr := lrAt(&cfg, step)
		rec.LR = lr
		opt.step(&cfg, lr)
		rec.Seconds = time.Since(t0).Seconds()
		st.Step = step
		st.Seconds += rec.Seconds
		st.Loss = append(st.Loss, rec)
		if st.SmoothedLoss == 0 {
			st.SmoothedLoss = rec.Loss
		} else {
			st.SmoothedLoss += smoothingAlpha * (rec.Loss - st.SmoothedLoss)
		}
		winTok = 0.9*winTok + float64(rec.Seq)
		winSec = 0.9*winSec + rec.Seconds
		extra := ""
		if aux != nil {
			extra += fmt.Sprintf(" aux %.3f", rec.AuxLoss)
		}
		weights, losses := cfg.guideWeights(), rec.guideLosses()
		for g, name := range guideNames {
			if weights[g] > 0 {
				extra += fmt.Sprintf(" %s %.3f", name, *losses[g])
			}
		}
		bar.Info("loss %.4f (%.4f)%s  %.0f tok/s  %.2fs/step  lr %.2e", st.SmoothedLoss, rec.Loss, extra, winTok/winSec, rec.Seconds, lr)
		bar.Add(1)

		last := step == cfg.Steps
		stopEarly := false
		if held != nil && (step%cfg.EvalEvery == 0 || last) {
			r, err := evaluate(m, held, heldOutBatch)
			if err != nil {
				return st, err
			}
			if opts.EvalQuantBits > 0 {
				if r.Quant, err = evaluateQuantized(m, held, opts.EvalQuantBits); err != nil {
					return st, err
				}
			}
			r.Step = step
			st.Evals = append(st.Evals, *r)
			improved := false
			if st.BestStep == 0 || r.NLL < st.BestNLL {
				st.BestNLL, st.BestStep = r.NLL, step
				improved = true
			}
			if r.Accuracy > st.BestAccuracy {
				st.BestAccuracy = r.Accuracy
				improved = true
			}
			if improved {
				st.SinceBest = 0
			} else {
				st.SinceBest++
			}
			fmt.Fprintf(logw, "%s  (train loss %.4f, %.1f min)\n", r, st.SmoothedLoss, st.Seconds/60)
			if st.BestStep == step {
				b, _ := json.MarshalIndent(st, "", " ")
				if err := m.Save(filepath.Join(opts.Out, BestDir), llavaonevision.SaveOptions{Extra: map[string][]byte{StateFile: append(b, '\n')}}); err != nil {
					return st, err
				}
			}
			if cfg.Patience > 0 && st.SinceBest >= cfg.Patience {
				stopEarly = true
			}
		}
		if stopEarly || last || (cfg.CheckpointEvery > 0 && step%cfg.CheckpointEvery == 0) {
			switch {
			case stopEarly:
				st.Status = "early-stopped"
			case last:
				st.Status = "done"
			}
			if err := save(); err != nil {
				return st, err
			}
			if stopEarly {
				bar.Done()
				fmt.Fprintf(logw, "early stop at step %d: no held-out improvement in %d evaluations (best step %d)\n", step, cfg.Patience, st.BestStep)
				return st, nil
			}
		}
	}
	bar.Done()
	fmt.Fprintf(logw, "done: step %d, loss %.4f, best held-out nll %.4f at step %d, %.1f min\n",
		st.Step, st.SmoothedLoss, st.BestNLL, st.BestStep, st.Seconds/60)
	return st, nil
}

func readState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Step < 0 {
		return nil, fmt.Errorf("%s: step: %d", path, st.Step)
	}
	return &st, nil
}

// ErrNotEmpty is wrapped by the error for an output directory a fresh run
// refuses.
var ErrNotEmpty = errors.New("output directory is not empty")

// checkFreshOut accepts a missing or empty directory.
func checkFreshOut(out string) error {
	ents, err := os.ReadDir(out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if len(ents) == 0 {
		return nil
	}
	for _, e := range ents {
		if e.Name() == CheckpointDir {
			return fmt.Errorf("train: %s: %w: it holds a checkpoint (continue it with resume)", out, ErrNotEmpty)
		}
	}
	return fmt.Errorf("train: %s: %w: refusing to write into it", out, ErrNotEmpty)
}

// stepper computes one step's gradient into the model's Grad tensors.
type stepper struct {
	m        *llavaonevision.Model
	aux      *auxHead // nil: no auxiliary objective
	cfg      *Config
	params   []nn.NamedParam
	replicas []*llavaonevision.Model
	raux     []*auxHead
	rparams  [][]nn.NamedParam
}

// newStepper steps m (and the auxiliary head aux, nil when
// Config.AuxWeight is 0).
func newStepper(m *llavaonevision.Model, aux *auxHead, cfg *Config) (*stepper, error) {
	s := &stepper{m: m, aux: aux, cfg: cfg, params: append(m.Params(), aux.params()...)}
	if cfg.Workers > 1 {
		for w := 0; w < cfg.Workers; w++ {
			r, err := m.Replica()
			if err != nil {
				return nil, err
			}
			nn.AllocGrads(r.Params())
			var ra *auxHead
			if aux != nil {
				ra = aux.replica(r)
			}
			s.replicas = append(s.replicas, r)
			s.raux = append(s.raux, ra)
			s.rparams = append(s.rparams, append(r.Params(), ra.params()...))
		}
	}
	return s, nil
}

// step draws the batch of step, computes the mean answer-token loss and its
// gradient (clipped to ClipNorm) into the model's gradients.
func (s *stepper) step(step int) (LossRecord, error) {
	c := s.cfg.at(step)
	B := c.batchAt(step)
	nn.ZeroGrads(s.params)
	rec := LossRecord{Step: step}
	if len(s.replicas) == 0 {
		batch := make([]*model.Input, B)
		samples := make([]example, len(batch))
		for i := range batch {
			in, ws, err := trainingInput(s.m, c, step, i)
			if err != nil {
				return rec, fmt.Errorf("sample %d: %w", i, err)
			}
			batch[i], samples[i] = in, ws
			rec.Seq += in.Len()
		}
		res, err := lossAndGrad(s.m, batch, c, s.aux, samples)
		if err != nil {
			return rec, err
		}
		rec.Loss, rec.Tokens, rec.AuxLoss = res.Loss, res.Tokens, res.aux/float64(len(batch))
		for g, l := range rec.guideLosses() {
			*l = res.guides[g] / float64(len(batch))
		}
		if !c.TokenMean {
			scaleGrads(s.params, 1/float32(len(batch)))
			rec.Loss /= float64(len(batch))
		}
	} else {
		W := len(s.replicas)
		type out struct {
			res *lossResult
			seq int
			err error
		}
		outs := make([]out, W)
		var wg sync.WaitGroup
		for w := 0; w < W; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				r := s.replicas[w]
				nn.ZeroGrads(r.Params())
				lo, hi := w*B/W, (w+1)*B/W
				nn.ZeroGrads(s.raux[w].params())
				batch := make([]*model.Input, 0, hi-lo)
				var samples []example
				for i := lo; i < hi; i++ {
					in, ws, err := trainingInput(r, c, step, i)
					if err != nil {
						outs[w].err = fmt.Errorf("sample %d: %w", i, err)
						return
					}
					batch = append(batch, in)
					samples = append(samples, ws)
					outs[w].seq += in.Len()
				}
				outs[w].res, outs[w].err = lossAndGrad(r, batch, c, s.raux[w], samples)
			}(w)
		}
		wg.Wait()
		total := 0
		for _, o := range outs {
			if o.err != nil {
				return rec, o.err
			}
			total += o.res.Tokens
			rec.Seq += o.seq
		}
		rec.Tokens = total
		if total == 0 {
			return rec, nil
		}
		// With token weighting each replica's gradient is the mean over its
		// own tokens: weight it by its share of the batch's tokens. With
		// sample weighting it is the sum of its samples' means: divide by
		// the batch size.
		for w, o := range outs {
			f := float32(float64(o.res.Tokens) / float64(total))
			if !c.TokenMean {
				f = 1 / float32(B)
			}
			rec.Loss += o.res.Loss * float64(f)
			rec.AuxLoss += o.res.aux / float64(B)
			for g, l := range rec.guideLosses() {
				*l += o.res.guides[g] / float64(B)
			}
			rp := s.rparams[w]
			for k, p := range s.params {
				dst, src := p.Grad.Data, rp[k].Grad.Data
				for j := range dst {
					dst[j] += f * src[j]
				}
			}
		}
	}
	var ss float64
	for _, p := range s.params {
		for _, g := range p.Grad.Data {
			ss += float64(g) * float64(g)
		}
	}
	rec.GradNorm = math.Sqrt(ss)
	if c.ClipNorm > 0 && rec.GradNorm > c.ClipNorm {
		f := float32(c.ClipNorm / (rec.GradNorm + 1e-6))
		for _, p := range s.params {
			for j := range p.Grad.Data {
				p.Grad.Data[j] *= f
			}
		}
	}
	if step <= c.TextSteps && c.TextVisionBatch > 0 && s.aux != nil {
		l, err := s.visionStep(step)
		if err != nil {
			return rec, err
		}
		rec.AuxLoss = l
	}
	if math.IsNaN(rec.Loss) || math.IsInf(rec.Loss, 0) || math.IsNaN(rec.GradNorm) || math.IsNaN(rec.AuxLoss) {
		return rec, fmt.Errorf("loss %g, gradient norm %g, auxiliary loss %g: training diverged", rec.Loss, rec.GradNorm, rec.AuxLoss)
	}
	return rec, nil
}

// lossResult is a (part of a) batch's answer loss and the sum over its
// samples of the weighted auxiliary loss.
type lossResult struct {
	model.LossResult
	aux    float64
	guides [numGuides]float64 // indexed by mcGuideLoss ... probeLoss
}

// The attention guides' losses, then the residual-stream objectives', in
// lossResult.guides.
const (
	mcGuideLoss = iota
	imageGuideLoss
	refGuideLoss
	groundGuideLoss
	letterGuideLoss
	digitGuideLoss
	lensLoss
	probeLoss
	numGuides
)

// guideNames name the guides' losses on the progress line, indexed like
// lossResult.guides.
var guideNames = [numGuides]string{"guide", "image guide", "referent guide", "grounding", "letter guide", "digit guide", "answer lens", "cell probe"}

// guideLosses are the record's guide-loss fields, indexed like
// lossResult.guides.
func (r *LossRecord) guideLosses() [numGuides]*float64 {
	return [numGuides]*float64{&r.GuideLoss, &r.ImageGuideLoss, &r.ReferentGuideLoss, &r.GroundingGuideLoss, &r.LetterGuideLoss, &r.DigitGuideLoss, &r.AnswerLensLoss, &r.CellProbeLoss}
}

// lossAndGrad backpropagates the batch's loss into m's gradients. With
// c.TokenMean it is LossAndGrad's mean over all answer tokens; otherwise
// each sample's mean over its own answer tokens is backpropagated in turn,
// so the gradients (and the returned Loss) are the sum of the per-sample
// means. With aux, each sample with a scene adds AuxWeight times its
// auxiliary loss (in token-mean mode AuxWeight/len(batch), the per-sample
// share of a mean).
func lossAndGrad(m *llavaonevision.Model, batch []*model.Input, c *Config, aux *auxHead, samples []example) (*lossResult, error) {
	sum := &lossResult{}
	// Guide losses are set during a backward and summed after it.
	var losses [numGuides][]*float64
	addGuides := func(f float64) {
		for g := range losses {
			for _, l := range losses[g] {
				sum.guides[g] += f * *l
			}
			losses[g] = losses[g][:0]
		}
	}
	var hookErr error      // the hooks cannot return one: kept for after LossAndGrad
	var probes *cellProbes // drawn on first use (CellProbeWeight > 0)
	last := len(m.Blocks) - 1
	// per is the weight of one sample's objectives: 1 when each sample's
	// mean is backpropagated in turn, 1/len(batch) in token-mean mode.
	// Guides are per answer turn, each weighted as a one-turn sample's.
	opts := func(first int, per float32) *model.BackwardOptions {
		o := &model.BackwardOptions{}
		turnsOf := map[int][][]int{} // per sample: the hooks and guided blocks share it
		// turns are sample s's answer turns, one per question; ok is false
		// (and hookErr set) when they do not match its questions.
		turns := func(s int) (turns [][]int, ok bool) {
			if turns, ok = turnsOf[s]; !ok {
				turns = answerTurns(batch[first+s])
				turnsOf[s] = turns
			}
			if n := len(samples[first+s].Questions); len(turns) != n {
				if hookErr == nil {
					hookErr = fmt.Errorf("sample %d: %d answer turns for %d questions", first+s, len(turns), n)
				}
				return nil, false
			}
			return turns, true
		}
		if c.AnswerLensWeight > 0 || c.CellProbeWeight > 0 {
			o.BlockInputGrad = func(s, block int, x *tensor.Tensor) *tensor.Tensor {
				if block < last-1 || hookErr != nil {
					return nil
				}
				in, ex := batch[first+s], samples[first+s]
				turns, ok := turns(s)
				if !ok {
					return nil
				}
				var d *tensor.Tensor
				add := func(g *tensor.Tensor, l float64, loss int, err error) {
					if err != nil {
						hookErr = fmt.Errorf("sample %d: %w", first+s, err)
						return
					}
					if g == nil {
						return
					}
					losses[loss] = append(losses[loss], &l)
					if d == nil {
						d = g
						return
					}
					for i, v := range g.Data {
						d.Data[i] += v
					}
				}
				if block == last && c.AnswerLensWeight > 0 {
					var rows, words []int
					for k, q := range ex.Questions {
						if !q.MultipleChoice() {
							continue
						}
						if row, w, ok := lensTarget(m.Tok, in, turns[k]); ok {
							rows = append(rows, row)
							words = append(words, w)
						}
					}
					g, l, err := lensGrad(m, x, rows, words, float32(c.AnswerLensWeight)*per)
					add(g, l, lensLoss, err)
				}
				if c.CellProbeWeight > 0 {
					if probes == nil {
						probes = newCellProbes(c.World.Grid, x.Shape[1])
					}
					site := namedProbe
					if block == last {
						site = focusProbe
					}
					w := float32(c.CellProbeWeight) * per
					rows, targets, weights := probeRows(site, ex.Questions, turns, c.World.Grid, w)
					readout := site
					if c.CellProbeKeys {
						kr, kt, kw := probeKeyRows(site, m.Tok, in, m.Cfg.ImageTokenIndex, ex.Questions, turns, c, w)
						rows, targets, weights = append(rows, kr...), append(targets, kt...), append(weights, kw...)
						readout = namedProbe // one cell code for queries and keys
					}
					g, l, err := probes.grad(readout, x, rows, targets, weights)
					add(g, l, probeLoss, err)
				}
				if hookErr != nil {
					return nil
				}
				return d
			}
		}
		if c.anyGuide() {
			o.AttnGuides = func(s, block int) []nn.AttnGuide {
				in, ex := batch[first+s], samples[first+s]
				letters := block == 0 && c.LetterGuideWeight > 0
				digits := block == 0 && c.DigitGuideWeight > 0
				if block != last && block != last-1 && block != last-2 && !letters && !digits {
					return nil
				}
				turns, ok := turns(s)
				if !ok {
					return nil
				}
				var gs []nn.AttnGuide
				// rowGuides guides head at each of rows to its keys, the
				// turn's weight shared by the rows.
				rowGuides := func(ls *[]*float64, head int, rows []int, keys [][]int, weight float64) {
					w := float32(weight) * per / float32(len(rows))
					for i, r := range rows {
						loss := new(float64)
						*ls = append(*ls, loss)
						gs = append(gs, nn.AttnGuide{Head: head, Row: r, Keys: keys[i], Weight: w, Loss: loss})
					}
				}
				for k, q := range ex.Questions {
					lo := turnStart(turns, k) // the turn's user message starts here
					if letters && q.MultipleChoice() {
						if rows, keys, ok := letterGuide(m.Tok, in, lo, turns[k]); ok {
							rowGuides(&losses[letterGuideLoss], LetterGuideHead, rows, keys, c.LetterGuideWeight)
						}
					}
					if digits {
						if rows, keys, ok := digitGuide(m.Tok, in, q, lo, turns[k]); ok {
							for h, head := range DigitGuideHeads {
								if len(rows[h]) > 0 {
									rowGuides(&losses[digitGuideLoss], head, rows[h], keys[h], c.DigitGuideWeight)
								}
							}
						}
					}
					switch {
					case block == last && c.GuideWeight > 0 && q.MultipleChoice():
						row, keys, ok := mcGuide(m.Tok, in, turns[k])
						if !ok {
							continue
						}
						loss := new(float64)
						losses[mcGuideLoss] = append(losses[mcGuideLoss], loss)
						gs = append(gs, nn.AttnGuide{Head: GuideHead, Row: row, Keys: keys, Weight: float32(c.GuideWeight) * per, Loss: loss})
					case block == last-1:
						if c.ImageGuideWeight > 0 {
							for i, head := range c.imageGuideHeads() {
								if rows, keys, ok := turnImageGuide(m.Tok, in, m.Cfg.ImageTokenIndex, ex.Scene, imageGuideQuestion(c, q, i), turns[k], c); ok {
									rowGuides(&losses[imageGuideLoss], head, rows, keys, c.ImageGuideWeight)
								}
							}
						}
						if c.GroundingGuideWeight > 0 {
							if rows, keys, ok := groundingGuide(m.Tok, in, m.Cfg.ImageTokenIndex, ex.Scene, q, turns[k], c); ok {
								rowGuides(&losses[groundGuideLoss], ImageGuideHead, rows, keys, c.GroundingGuideWeight)
							}
						}
					case block == last-2 && c.ReferentGuideWeight > 0:
						rows, keys, ok := referentGuide(m.Tok, in, q, turns[k], c.TextReferentGuide)
						if !ok {
							continue
						}
						heads := 0
						for _, k := range keys {
							if len(k) > 0 {
								heads++
							}
						}
						w := float32(c.ReferentGuideWeight) * per / float32(len(rows)*heads)
						for _, r := range rows {
							for h, head := range ReferentGuideHeads {
								if len(keys[h]) == 0 {
									continue
								}
								loss := new(float64)
								losses[refGuideLoss] = append(losses[refGuideLoss], loss)
								gs = append(gs, nn.AttnGuide{Head: head, Row: r, Keys: keys[h], Weight: w, Loss: loss})
							}
						}
					}
				}
				return gs
			}
		}
		if aux == nil {
			return o
		}
		side := c.ImageSize / c.PatchSize
		weight := float32(c.AuxWeight) * per
		o.ProjectorGrad = func(s int, proj *tensor.Tensor) *tensor.Tensor {
			sc := samples[first+s].Scene
			if sc == nil || hookErr != nil {
				return nil
			}
			l, d, err := aux.lossAndGrad(proj, sceneLabels(sc, side, c.PatchSize), weight, c.AuxBalance)
			if err != nil {
				hookErr = fmt.Errorf("sample %d: %w", first+s, err)
				return nil
			}
			sum.aux += l
			return d
		}
		return o
	}
	if c.TokenMean {
		res, err := m.LossAndGrad(batch, opts(0, 1/float32(len(batch))))
		if err == nil {
			err = hookErr
		}
		if err != nil {
			return nil, err
		}
		sum.LossResult = *res
		sum.aux *= float64(len(batch))
		addGuides(float64(len(batch)))
		return sum, nil
	}
	for i, in := range batch {
		o := opts(i, 1)
		o.NLLScale = float32(len(samples[i].Questions)) // a conversation of k turns weighs as k samples
		res, err := m.LossAndGrad([]*model.Input{in}, o)
		if err == nil {
			err = hookErr
		}
		if err != nil {
			return nil, err
		}
		sum.Loss += res.Loss
		sum.Tokens += res.Tokens
		addGuides(1)
	}
	return sum, nil
}

// loadInit loads the checkpoint a run starts from (Config.Init) and checks
// that its dimensions are the run's: a mismatch names the field of the
// checkpoint's config.json.
func loadInit(dir string, s Sizes) (*llavaonevision.Model, error) {
	m, err := llavaonevision.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	want, err := s.ModelConfig(m.Tok)
	if err != nil {
		return nil, fmt.Errorf("init: %s: %w", dir, err)
	}
	got := m.Cfg
	if m.Tied != s.Tied {
		return nil, fmt.Errorf("init: %s: tied embeddings %v (text_config.tie_word_embeddings), the run's sizes want %v", filepath.Join(dir, "config.json"), m.Tied, s.Tied)
	}
	for _, f := range []struct {
		field     string
		got, want int
	}{
		{"vision_config.image_size", got.VisionConfig.ImageSize, want.VisionConfig.ImageSize},
		{"vision_config.patch_size", got.VisionConfig.PatchSize, want.VisionConfig.PatchSize},
		{"vision_config.hidden_size", got.VisionConfig.HiddenSize, want.VisionConfig.HiddenSize},
		{"vision_config.intermediate_size", got.VisionConfig.IntermediateSize, want.VisionConfig.IntermediateSize},
		{"vision_config.num_hidden_layers", got.VisionConfig.NumHiddenLayers, want.VisionConfig.NumHiddenLayers},
		{"vision_config.num_attention_heads", got.VisionConfig.NumAttentionHeads, want.VisionConfig.NumAttentionHeads},
		{"text_config.hidden_size", got.TextConfig.HiddenSize, want.TextConfig.HiddenSize},
		{"text_config.intermediate_size", got.TextConfig.IntermediateSize, want.TextConfig.IntermediateSize},
		{"text_config.num_hidden_layers", got.TextConfig.NumHiddenLayers, want.TextConfig.NumHiddenLayers},
		{"text_config.num_attention_heads", got.TextConfig.NumAttentionHeads, want.TextConfig.NumAttentionHeads},
		{"text_config.num_key_value_heads", got.TextConfig.NumKeyValueHeads, want.TextConfig.NumKeyValueHeads},
		{"text_config.vocab_size", got.TextConfig.VocabSize, want.TextConfig.VocabSize},
	} {
		if f.got != f.want {
			return nil, fmt.Errorf("init: %s: %s is %d, the run's sizes want %d (give the sizes it was trained with)", filepath.Join(dir, "config.json"), f.field, f.got, f.want)
		}
	}
	return m, nil
}

// scaleGrads multiplies every gradient by f.
func scaleGrads(params []nn.NamedParam, f float32) {
	for _, p := range params {
		for j := range p.Grad.Data {
			p.Grad.Data[j] *= f
		}
	}
}
