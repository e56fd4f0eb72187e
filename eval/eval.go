package eval

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"mbq/hf/chat"
	"mbq/hf/image"
	"mbq/model"
	"mbq/progress"
	"mbq/testbed/world"
)

// Options control Evaluate. The zero value evaluates everything with the
// defaults.
type Options struct {
	// Limit, if positive, keeps the first Limit items of each category
	// (in file order).
	Limit int
	// Workers is the number of goroutines evaluating items (0:
	// GOMAXPROCS). With more than one, the model's Prepare, Forward and
	// Generate are called concurrently: the model must allow that (the
	// LLaVA-OneVision model does: it keeps no state between calls). The
	// results do not depend on Workers.
	Workers int
	// BatchSize is the number of multiple-choice items per Forward call
	// (0: 8). Results can differ in the last bits between batch sizes
	// (the matrix kernels' blocking changes), never between runs.
	BatchSize int
	// MaxNewTokens bounds the generation of open-ended answers (0: 32).
	MaxNewTokens int
	// MaxCaptionTokens bounds the generation of captions (0: 256).
	MaxCaptionTokens int
	// NoGenerate skips generation: open-ended and caption items then only
	// contribute to the NLL, and their categories get no accuracy (for a
	// fast held-out loss during training).
	NoGenerate bool
	// TeacherForced scores open-ended items without generating: correct
	// when every reference token (the answer and the end of turn) is the
	// argmax of its position under teacher forcing, i.e. when greedy
	// decoding would produce the reference exactly (stricter than the
	// normalized exact match of a generation). Caption items then only
	// contribute to the NLL. For the trainer's fast held-out accuracy.
	TeacherForced bool
	// Progress, if set, receives a progress bar.
	Progress io.Writer
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 8
	}
	if o.MaxNewTokens <= 0 {
		o.MaxNewTokens = 32
	}
	if o.MaxCaptionTokens <= 0 {
		o.MaxCaptionTokens = 256
	}
	return o
}

// ItemResult is the outcome of one item, for comparing models item by item.
type ItemResult struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	Kind     Kind   `json:"kind"`
	// Prediction is the chosen letter (multiple choice) or the generated
	// text ("" with NoGenerate).
	Prediction string `json:"prediction"`
	// Correct: the letter or the normalized answer matched; for captions,
	// every attribute was recalled.
	Correct bool `json:"correct"`
	// Score is 1 or 0, or a caption's attribute recall in [0, 1].
	Score float64 `json:"score"`
	// Scored is false for items NoGenerate left unscored.
	Scored bool `json:"scored"`
	// NLL is the mean cross-entropy (nats) of the reference answer's
	// tokens; Tokens counts them (0: no reference, NLL 0).
	NLL    float64 `json:"nll"`
	Tokens int     `json:"answer_tokens"`
	// OptionLogProbs are the log-probabilities of the option letters
	// (multiple choice).
	OptionLogProbs []float64 `json:"option_logprobs,omitempty"`
	// Failure is the failure type of a generated answer, "" when none.
	Failure string `json:"failure,omitempty"`
	// TeacherForced: scored by Options.TeacherForced, not generated.
	TeacherForced bool `json:"teacher_forced,omitempty"`
	// HitLimit: generation was cut by the token limit.
	HitLimit bool `json:"hit_limit,omitempty"`
	// NonFinite: the logits held NaN or infinities; NLL is then 0 and
	// OptionLogProbs nil (a broken model, not a scoring result).
	NonFinite bool `json:"non_finite,omitempty"`
	// ImageToken: generation ended because the model emitted the image
	// placeholder token, which cannot be fed back.
	ImageToken bool `json:"image_token,omitempty"`
}

// sanitize clears the non-finite numbers JSON cannot hold.
func (r *ItemResult) sanitize() {
	bad := math.IsNaN(r.NLL) || math.IsInf(r.NLL, 0)
	for _, v := range r.OptionLogProbs {
		bad = bad || math.IsNaN(v) || math.IsInf(v, 0)
	}
	if bad {
		r.NonFinite = true
		r.NLL = 0
		r.OptionLogProbs = nil
	}
}

// Report is the result of an evaluation. Its JSON form is
// {"categories": {name: accuracy}, "average": x, "nll": y, "failures":
// {type: n}, ...} with the other fields after those.
type Report struct {
	// Categories is the accuracy in percent of each category with scored
	// items (a caption category's is the mean attribute recall in percent).
	Categories map[string]float64 `json:"categories"`
	// Average is the mean of Categories.
	Average float64 `json:"average"`
	// NLL is the mean answer-token cross-entropy over every reference
	// answer token of the benchmark (token-weighted, as LossAndGrad).
	NLL float64 `json:"nll"`
	// Failures counts generated answers by failure type (every type present).
	Failures map[string]int `json:"failures"`
	// CategoryOrder lists the categories present: world.Categories first,
	// in their order, then the others in order of first appearance.
	CategoryOrder []string `json:"category_order"`
	// NLLByCategory is NLL per category with reference tokens.
	NLLByCategory map[string]float64 `json:"nll_by_category"`
	// MultipleChoice is the accuracy in percent over the multiple-choice
	// items alone of each category that has some (a category may mix them
	// with open-ended items; the testbed's gate is on multiple choice);
	// MultipleChoiceCounts is the number of those items.
	MultipleChoice       map[string]float64 `json:"multiple_choice"`
	MultipleChoiceCounts map[string]int     `json:"multiple_choice_counts"`
	// FailuresByCategory counts failures per category with generated answers.
	FailuresByCategory map[string]map[string]int `json:"failures_by_category"`
	// Counts is the number of items per category; Generated the number of
	// generated answers; AnswerTokens the reference tokens NLL averages.
	Counts       map[string]int `json:"counts"`
	Generated    int            `json:"generated"`
	AnswerTokens int            `json:"answer_tokens"`
	// NonFinite counts items whose logits held NaN or infinities (their
	// NLL is left out of the NLL averages; a broken quantized model).
	NonFinite int `json:"non_finite,omitempty"`
	// Items are the per-item results, in input order.
	Items []ItemResult `json:"items"`
}

// EvaluateFile loads the benchmark at path and evaluates m on it.
func EvaluateFile(m model.VLM, path string, opts Options) (*Report, error) {
	items, err := LoadBench(path)
	if err != nil {
		return nil, err
	}
	return Evaluate(m, items, opts)
}

// LimitPerCategory keeps the first n items of each category (n <= 0: all).
func LimitPerCategory(items []Item, n int) []Item {
	if n <= 0 {
		return items
	}
	seen := map[string]int{}
	var out []Item
	for _, it := range items {
		if seen[it.Category] < n {
			seen[it.Category]++
			out = append(out, it)
		}
	}
	return out
}

// job is one unit of work: a batch of multiple-choice items or one
// generated item.
type job struct {
	idx []int
	gen bool
}

// Evaluate scores m on items (see the package documentation for the
// definitions). Multiple-choice items are evaluated in batches of
// opts.BatchSize per Forward; open-ended and caption items one at a time
// (generation reuses the prompt's KV cache). The result is deterministic.
func Evaluate(m model.VLM, items []Item, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	items = LimitPerCategory(items, opts.Limit)
	if len(items) == 0 {
		return nil, errors.New("eval: no items")
	}
	maxOpts := 0
	for i := range items {
		if err := checkItem(&items[i]); err != nil {
			return nil, err
		}
		maxOpts = max(maxOpts, len(items[i].Options))
	}
	ev := &evaluator{m: m, opts: opts, imageID: imageTokenID(m)}
	if maxOpts > 0 {
		var err error
		if ev.letters, ev.end, err = letterTokens(m, maxOpts); err != nil {
			return nil, err
		}
	}

	// Generation first (the long jobs), then the multiple-choice batches.
	var jobs []job
	var mc []int
	for _, k := range []Kind{Caption, Open} {
		for i := range items {
			if items[i].Kind() == k {
				jobs = append(jobs, job{idx: []int{i}, gen: true})
			}
		}
	}
	for i := range items {
		if items[i].Kind() == MultipleChoice {
			mc = append(mc, i)
		}
	}
	for len(mc) > 0 {
		n := min(len(mc), opts.BatchSize)
		jobs = append(jobs, job{idx: mc[:n]})
		mc = mc[n:]
	}

	var bar *progress.Bar
	if opts.Progress != nil {
		bar = progress.New(opts.Progress, "eval", "questions", len(items))
	}
	results := make([]ItemResult, len(items))
	errs := make([]error, len(jobs))
	ch := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed bool
	start := time.Now()
	for range min(opts.Workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				mu.Lock()
				stop := failed
				mu.Unlock()
				if stop {
					continue
				}
				jb := jobs[j]
				var err error
				if jb.gen {
					err = ev.generated(&items[jb.idx[0]], &results[jb.idx[0]])
				} else {
					err = ev.multipleChoice(items, jb.idx, results)
				}
				if err != nil {
					errs[j] = err
					mu.Lock()
					failed = true
					mu.Unlock()
				}
				bar.Add(len(jb.idx))
			}
		}()
	}
	for j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	bar.Info("%.1f questions/s", float64(len(items))/time.Since(start).Seconds())
	bar.Done()
	return summarize(items, results), nil
}

// checkItem validates an item built in code (LoadBench's are valid).
func checkItem(it *Item) error {
	switch {
	case it.ID == "" || it.Category == "" || it.Question == "":
		return fmt.Errorf("eval: %s: id, category and question are required", it.where())
	case len(it.Options) > len(world.Letters):
		return fmt.Errorf("eval: %s: %d options, at most %d supported", it.where(), len(it.Options), len(world.Letters))
	case it.Kind() == MultipleChoice && (letterIndex(it.Answer) < 0 || letterIndex(it.Answer) >= len(it.Options)):
		return fmt.Errorf("eval: %s: answer %q is not an option letter", it.where(), it.Answer)
	case it.Kind() == Open && it.Answer == "":
		return fmt.Errorf("eval: %s: an open-ended question needs an answer", it.where())
	}
	return nil
}

type evaluator struct {
	m       model.VLM
	opts    Options
	letters [][]int // token ids of each option letter as an answer
	end     []int   // end-of-turn tokens after an answer
	imageID int     // the image placeholder's token id, -1 if unknown
}

// sample builds the user turn of an item: the image part (if any) and
// the world-format prompt, as the testbed trainer builds it.
func (ev *evaluator) sample(it *Item, img *image.RGB) model.Sample {
	var s model.Sample
	var parts []chat.Part
	if img != nil {
		parts = append(parts, chat.ImagePart())
		s.Images = []*image.RGB{img}
	}
	parts = append(parts, chat.TextPart(it.Prompt()))
	s.Messages = []chat.Message{chat.Parts("user", parts...)}
	return s
}

func (ev *evaluator) image(it *Item) (*image.RGB, error) {
	if it.Pixels != nil {
		return it.Pixels, nil
	}
	if it.Image == "" {
		return nil, nil
	}
	img, err := image.DecodeFile(it.Image)
	if err != nil {
		return nil, fmt.Errorf("eval: %s: image: %w", it.where(), err)
	}
	return img, nil
}

// answerTokens returns the tokens of ans as an assistant answer,
// end-of-turn token included: the labelled tokens of a probe conversation
// (a "?" user turn) answered with ans. They do not depend on the question:
// the chat markup separates the turns.
func answerTokens(m model.VLM, ans string) ([]int, error) {
	in, err := m.Prepare(model.Sample{Messages: []chat.Message{
		chat.Text("user", "?"), chat.Text("assistant", ans)}}, false)
	if err != nil {
		return nil, fmt.Errorf("answer %q: %w", ans, err)
	}
	var ids []int
	for _, l := range in.Labels {
		if l != model.IgnoreIndex {
			ids = append(ids, l)
		}
	}
	return ids, nil
}

// reference returns the context followed by the reference answer's tokens
// (labelled), or nil when the item has none.
func (ev *evaluator) reference(it *Item, ctx *model.Input) (*model.Input, error) {
	if it.Answer == "" {
		return nil, nil
	}
	var toks []int
	if it.Kind() == MultipleChoice {
		toks = append(slices.Clone(ev.letters[letterIndex(it.Answer)]), ev.end...)
	} else {
		var err error
		if toks, err = answerTokens(ev.m, it.Answer); err != nil {
			return nil, fmt.Errorf("eval: %s: %w", it.where(), err)
		}
	}
	if len(toks) == 0 {
		return nil, nil
	}
	return extend(ctx, toks, true), nil
}

// context prepares the item's user turn with the generation prompt.
func (ev *evaluator) context(it *Item) (*model.Input, error) {
	img, err := ev.image(it)
	if err != nil {
		return nil, err
	}
	ctx, err := ev.m.Prepare(ev.sample(it, img), true)
	if err != nil {
		return nil, fmt.Errorf("eval: %s: %w", it.where(), err)
	}
	return ctx, nil
}

// multipleChoice evaluates the items idx in one Forward. Per item the
// batch holds its context followed by the reference answer (letter and
// end-of-turn tokens), whose logits give the NLL and, at the last context
// position, every option letter's first token; and, for options whose
// letter is several tokens, one extension of the context by the letter's
// leading tokens (teacher forcing).
func (ev *evaluator) multipleChoice(items []Item, idx []int, results []ItemResult) error {
	type plan struct {
		n   int   // context length
		ref int   // batch position of context + answer
		ext []int // per option: batch position holding its later tokens
	}
	var batch []*model.Input
	plans := make([]plan, len(idx))
	for k, i := range idx {
		it := &items[i]
		ctx, err := ev.context(it)
		if err != nil {
			return err
		}
		ref, err := ev.reference(it, ctx)
		if err != nil {
			return err
		}
		p := plan{n: ctx.Len(), ref: len(batch), ext: make([]int, len(it.Options))}
		batch = append(batch, ref)
		answer := letterIndex(it.Answer)
		for o := range it.Options {
			p.ext[o] = p.ref
			if toks := ev.letters[o]; len(toks) > 1 && o != answer {
				p.ext[o] = len(batch)
				batch = append(batch, extend(ctx, toks[:len(toks)-1], false))
			}
		}
		plans[k] = p
	}
	outs, err := ev.m.Forward(batch, nil)
	if err != nil {
		return fmt.Errorf("eval: %s: forward: %w", items[idx[0]].where(), err)
	}
	if len(outs) != len(batch) {
		return fmt.Errorf("eval: forward returned %d outputs for %d inputs", len(outs), len(batch))
	}
	for k, i := range idx {
		it, p, r := &items[i], plans[k], &results[i]
		*r = ItemResult{ID: it.ID, Category: it.Category, Kind: MultipleChoice, Scored: true}
		best := -1
		for o := range it.Options {
			var lp float64
			for j, id := range ev.letters[o] {
				src := outs[p.ref]
				if j > 0 {
					src = outs[p.ext[o]]
				}
				lp += logSoftmaxAt(logitsRow(src, p.n-1+j), id)
			}
			r.OptionLogProbs = append(r.OptionLogProbs, lp)
			if best < 0 || lp > r.OptionLogProbs[best] {
				best = o
			}
		}
		r.Prediction = world.Letters[best]
		r.Correct = r.Prediction == it.Answer
		if r.Correct {
			r.Score = 1
		}
		r.NLL, r.Tokens = answerNLL(batch[p.ref], outs[p.ref])
	}
	return nil
}

// generated evaluates an open-ended or caption item: NLL of the reference
// answer, then greedy generation and scoring.
func (ev *evaluator) generated(it *Item, r *ItemResult) error {
	*r = ItemResult{ID: it.ID, Category: it.Category, Kind: it.Kind()}
	ctx, err := ev.context(it)
	if err != nil {
		return err
	}
	ref, err := ev.reference(it, ctx)
	if err != nil {
		return err
	}
	if ref != nil {
		outs, err := ev.m.Forward([]*model.Input{ref}, nil)
		if err != nil {
			return fmt.Errorf("eval: %s: forward: %w", it.where(), err)
		}
		if len(outs) != 1 {
			return fmt.Errorf("eval: forward returned %d outputs for 1 input", len(outs))
		}
		r.NLL, r.Tokens = answerNLL(ref, outs[0])
		if ev.opts.TeacherForced && it.Kind() == Open && !ev.opts.NoGenerate {
			r.Scored, r.TeacherForced = true, true
			r.Correct = greedyMatches(ref, outs[0])
			if r.Correct {
				r.Score, r.Prediction = 1, it.Answer
			}
			return nil
		}
	}
	if ev.opts.NoGenerate || ev.opts.TeacherForced {
		return nil
	}
	maxNew := ev.opts.MaxNewTokens
	if it.Kind() == Caption {
		maxNew = ev.opts.MaxCaptionTokens
	}
	var toks []int
	g, err := ev.m.Generate(ctx, model.GenerateOptions{MaxNewTokens: maxNew,
		OnToken: func(id int) { toks = append(toks, id) }})
	if err != nil {
		// A model that emits the image placeholder cannot continue (it has
		// no image to feed): that ends the answer, as a stop token would.
		if n := len(toks); n == 0 || toks[n-1] != ev.imageID {
			return fmt.Errorf("eval: %s: generate: %w", it.where(), err)
		}
		g = &model.Generation{Tokens: toks, Text: ev.m.Decode(toks), Stopped: true}
		r.ImageToken = true
	}
	r.Scored = true
	r.Prediction = g.Text
	r.HitLimit = !g.Stopped && len(g.Tokens) >= maxNew
	r.Failure = Classify(Generated{Text: g.Text, Tokens: g.Tokens, HitLimit: r.HitLimit})
	if it.Kind() == Caption {
		r.Score, _ = AttributeRecall(g.Text, it.Attributes)
		r.Correct = r.Score == 1
	} else {
		r.Correct = ExactMatch(g.Text, it.Answer)
		if r.Correct {
			r.Score = 1
		}
	}
	return nil
}

// extend returns in followed by toks as answer positions, labelled with
// themselves when labelled (else IgnoreIndex).
func extend(in *model.Input, toks []int, labelled bool) *model.Input {
	out := *in
	out.IDs = append(slices.Clip(in.IDs), toks...)
	out.Modality = slices.Clip(in.Modality)
	out.Labels = slices.Clip(in.Labels)
	for _, id := range toks {
		out.Modality = append(out.Modality, model.Answer)
		if !labelled {
			id = model.IgnoreIndex
		}
		out.Labels = append(out.Labels, id)
	}
	return &out
}

func logitsRow(o *model.Output, t int) []float32 {
	v := o.Logits.Cols()
	return o.Logits.Data[t*v : (t+1)*v]
}

// logSoftmaxAt is log softmax(row)[id], in float64.
func logSoftmaxAt(row []float32, id int) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return float64(row[id]) - mx - math.Log(s)
}

// answerNLL is the mean next-token cross-entropy over the labelled
// (answer) positions of in, as LossAndGrad counts them: position t
// predicts Labels[t+1].
func answerNLL(in *model.Input, out *model.Output) (float64, int) {
	var sum float64
	n := 0
	for t := 0; t+1 < len(in.Labels); t++ {
		l := in.Labels[t+1]
		if l == model.IgnoreIndex {
			continue
		}
		sum -= logSoftmaxAt(logitsRow(out, t), l)
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

// greedyMatches reports whether every labelled token of in is the argmax
// of the logits that predict it.
func greedyMatches(in *model.Input, out *model.Output) bool {
	for t := 0; t+1 < len(in.Labels); t++ {
		l := in.Labels[t+1]
		if l == model.IgnoreIndex {
			continue
		}
		row := logitsRow(out, t)
		for _, v := range row {
			if v > row[l] {
				return false
			}
		}
	}
	return true
}

// letterTokens returns the tokens of each of the first n option letters
// as an answer, and the end-of-turn tokens that follow every answer (the
// answer tokens of the empty answer), which are not part of a letter.
func letterTokens(m model.VLM, n int) (letters [][]int, end []int, err error) {
	if end, err = answerTokens(m, ""); err != nil {
		return nil, nil, fmt.Errorf("eval: %w", err)
	}
	letters = make([][]int, n)
	for i := range n {
		ids, err := answerTokens(m, world.Letters[i])
		if err != nil {
			return nil, nil, fmt.Errorf("eval: option letter: %w", err)
		}
		if len(ids) > len(end) && slices.Equal(ids[len(ids)-len(end):], end) {
			ids = ids[:len(ids)-len(end)]
		}
		if len(ids) == 0 {
			return nil, nil, fmt.Errorf("eval: option letter %q has no answer tokens", world.Letters[i])
		}
		letters[i] = ids
	}
	return letters, end, nil
}

// imageTokenID finds the image placeholder's token id from a probe
// conversation with a small black image; -1 when that fails.
func imageTokenID(m model.VLM) int {
	in, err := m.Prepare(model.Sample{
		Messages: []chat.Message{chat.Parts("user", chat.ImagePart(), chat.TextPart("?"))},
		Images:   []*image.RGB{image.NewRGB(32, 32)}}, true)
	if err != nil {
		return -1
	}
	for t, md := range in.Modality {
		if md == model.Vision {
			return in.IDs[t]
		}
	}
	return -1
}

// summarize aggregates the item results.
func summarize(items []Item, results []ItemResult) *Report {
	rep := &Report{
		Categories: map[string]float64{}, NLLByCategory: map[string]float64{},
		Failures: map[string]int{}, FailuresByCategory: map[string]map[string]int{},
		Counts: map[string]int{}, Items: results,
	}
	for _, f := range FailureTypes {
		rep.Failures[f] = 0
	}
	seen := map[string]bool{}
	for _, c := range world.Categories {
		for i := range items {
			if items[i].Category == c && !seen[c] {
				seen[c] = true
				rep.CategoryOrder = append(rep.CategoryOrder, c)
			}
		}
	}
	for i := range items {
		if c := items[i].Category; !seen[c] {
			seen[c] = true
			rep.CategoryOrder = append(rep.CategoryOrder, c)
		}
	}
	score, scored := map[string]float64{}, map[string]int{}
	mcRight := map[string]int{}
	rep.MultipleChoice, rep.MultipleChoiceCounts = map[string]float64{}, map[string]int{}
	nllSum, nllTok := map[string]float64{}, map[string]int{}
	var totalSum float64
	for i := range results {
		results[i].sanitize()
		r := results[i]
		c := r.Category
		rep.Counts[c]++
		if r.Scored {
			score[c] += r.Score
			scored[c]++
			if r.Kind == MultipleChoice {
				rep.MultipleChoiceCounts[c]++
				if r.Correct {
					mcRight[c]++
				}
			}
		}
		if r.NonFinite {
			rep.NonFinite++
		}
		if r.Tokens > 0 {
			if !r.NonFinite {
				nllSum[c] += r.NLL * float64(r.Tokens)
				nllTok[c] += r.Tokens
				totalSum += r.NLL * float64(r.Tokens)
				rep.AnswerTokens += r.Tokens
			}
		}
		if r.Scored && r.Kind != MultipleChoice && !r.TeacherForced {
			rep.Generated++
			if rep.FailuresByCategory[c] == nil {
				rep.FailuresByCategory[c] = map[string]int{}
				for _, f := range FailureTypes {
					rep.FailuresByCategory[c][f] = 0
				}
			}
			if r.Failure != "" {
				rep.Failures[r.Failure]++
				rep.FailuresByCategory[c][r.Failure]++
			}
		}
	}
	var avg float64
	for _, c := range rep.CategoryOrder {
		if scored[c] > 0 {
			rep.Categories[c] = 100 * score[c] / float64(scored[c])
			avg += rep.Categories[c]
		}
		if nllTok[c] > 0 {
			rep.NLLByCategory[c] = nllSum[c] / float64(nllTok[c])
		}
		if n := rep.MultipleChoiceCounts[c]; n > 0 {
			rep.MultipleChoice[c] = 100 * float64(mcRight[c]) / float64(n)
		}
	}
	if len(rep.Categories) > 0 {
		rep.Average = avg / float64(len(rep.Categories))
	}
	if rep.AnswerTokens > 0 {
		rep.NLL = totalSum / float64(rep.AnswerTokens)
	}
	return rep
}
