package papertable

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"mbq/eval"
	"mbq/model"
	"mbq/quantize"
	"mbq/testbed/world"
)

// Config configures a run of the table.
type Config struct {
	ModelDir  string // full-precision checkpoint
	CalibPath string // image-caption pairs (ShareGPT4V layout)
	// CalibText is the plain-text calibration file; "" generates one from
	// the testbed world's language (world.Corpus with TextSeed) into the
	// work directory.
	CalibText string
	BenchPath string
	// WorkDir holds the row cache (rows/KEY.json) and the quantized models
	// while they are evaluated (models/KEY/).
	WorkDir string

	Samples      int    // calibration samples per row (0: 128)
	Seed         uint64 // calibration shuffle seed
	TextBlockLen int    // tokens per text calibration block (0: 256)
	// Group, if positive, replaces the group size of every grouped
	// weight-only row (for models whose widths are not multiples of 128).
	Group int

	// Evaluation: Limit questions per category (0: all), generation caps
	// (0: eval's defaults), Workers (0: GOMAXPROCS).
	Limit            int
	MaxNewTokens     int
	MaxCaptionTokens int
	Workers          int

	Fresh bool // ignore cached row results (they are overwritten)
	Keep  bool // keep each row's quantized model in WorkDir/models/

	// Log receives one line per row start and end; Progress the
	// pipeline's and the evaluator's progress bars. Either may be nil.
	Log      io.Writer
	Progress io.Writer
}

// DefaultSamples and DefaultTextBlockLen are Config's defaults.
const (
	DefaultSamples      = 128
	DefaultTextBlockLen = 256
	// TextSeed seeds the generated text calibration corpus.
	TextSeed = 0x7e47
	// textCorpusTexts is the number of world texts in the generated corpus.
	textCorpusTexts = 6000
)

// Alpha is SmoothQuant's migration strength in every row.
const Alpha = 0.5

func (c Config) withDefaults() Config {
	if c.Samples == 0 {
		c.Samples = DefaultSamples
	}
	if c.TextBlockLen == 0 {
		c.TextBlockLen = DefaultTextBlockLen
	}
	if c.MaxNewTokens == 0 {
		c.MaxNewTokens = 32
	}
	if c.MaxCaptionTokens == 0 {
		c.MaxCaptionTokens = 256
	}
	return c
}

// RowResult is one row's outcome.
type RowResult struct {
	Row Row    `json:"row"`
	Key string `json:"key"` // cache key
	// Cached: read from the work directory's cache (or computed earlier in
	// this run for an equal recipe) instead of computed.
	Cached bool `json:"cached"`
	// Samples is the number of calibration samples the pipeline used.
	Samples      int     `json:"samples,omitempty"`
	QuantSeconds float64 `json:"quant_seconds"`
	EvalSeconds  float64 `json:"eval_seconds"`

	Categories    map[string]float64 `json:"categories"`
	Average       float64            `json:"average"`
	NLL           float64            `json:"nll"`
	NLLByCategory map[string]float64 `json:"nll_by_category"`
	// MultipleChoice is the accuracy over each category's multiple-choice
	// items alone (eval.Report.MultipleChoice), what the FP gate reads.
	MultipleChoice map[string]float64        `json:"multiple_choice"`
	Failures       map[string]int            `json:"failures"`
	FailuresByCat  map[string]map[string]int `json:"failures_by_category,omitempty"`
	Counts         map[string]int            `json:"counts"`
	Generated      int                       `json:"generated"`
	AnswerTokens   int                       `json:"answer_tokens"`
	NonFinite      int                       `json:"non_finite,omitempty"`
	// Ratios are MBQ's per-block (attention, MLP) r, when computed.
	Ratios [][2]float64 `json:"ratios,omitempty"`
}

// Stats count what a run did.
type Stats struct {
	Quantized int `json:"quantized"` // rows quantized in this run
	Evaluated int `json:"evaluated"` // evaluations run (quantized rows and FP)
	Cached    int `json:"cached"`    // rows read from the cache or shared with an equal recipe
}

// Runner runs rows against one model, calibration set and benchmark.
type Runner struct {
	cfg     Config
	items   []eval.Item
	fp      model.VLM // the FP model, for calibration loading
	digest  struct{ model, bench string }
	samples map[string][]model.Sample
	sdig    map[string]string
	done    map[string]RowResult // computed in this run, by key
	Stats   Stats
	// MCCategories are the categories with multiple-choice items (all of
	// them or some, mixed with open-ended ones).
	MCCategories []string
	// Categories in report order (from the benchmark).
	Categories []string
	// PerCategory is the number of questions per category evaluated.
	PerCategory map[string]int
}

// NewRunner checks the inputs, loads the benchmark and digests the model.
func NewRunner(cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.ModelDir == "":
		return nil, errors.New("table: no model directory")
	case cfg.CalibPath == "":
		return nil, errors.New("table: no calibration file")
	case cfg.BenchPath == "":
		return nil, errors.New("table: no benchmark file")
	case cfg.WorkDir == "":
		return nil, errors.New("table: no work directory")
	case cfg.Samples < 0 || cfg.Limit < 0 || cfg.TextBlockLen < 0:
		return nil, errors.New("table: negative sample, limit or block count")
	}
	r := &Runner{cfg: cfg, samples: map[string][]model.Sample{}, sdig: map[string]string{}, done: map[string]RowResult{}}
	items, err := eval.LoadBench(cfg.BenchPath)
	if err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	r.items = eval.LimitPerCategory(items, cfg.Limit)
	if r.digest.bench, err = benchDigest(r.items); err != nil {
		return nil, fmt.Errorf("table: %w", err)
	}
	if r.digest.model, err = DirDigest(cfg.ModelDir); err != nil {
		return nil, fmt.Errorf("table: model: %w", err)
	}
	r.PerCategory = map[string]int{}
	someMC := map[string]bool{}
	for _, it := range r.items {
		if _, ok := r.PerCategory[it.Category]; !ok {
			r.Categories = append(r.Categories, it.Category)
		}
		r.PerCategory[it.Category]++
		if it.Kind() == eval.MultipleChoice {
			someMC[it.Category] = true
		}
	}
	r.Categories = orderCategories(r.Categories)
	for _, c := range r.Categories {
		if someMC[c] {
			r.MCCategories = append(r.MCCategories, c)
		}
	}
	return r, nil
}

// orderCategories puts world.Categories first, in their order.
func orderCategories(cats []string) []string {
	rank := map[string]int{}
	for i, c := range world.Categories {
		rank[c] = i
	}
	out := append([]string(nil), cats...)
	sort.SliceStable(out, func(i, j int) bool {
		ri, oki := rank[out[i]]
		rj, okj := rank[out[j]]
		switch {
		case oki && okj:
			return ri < rj
		case oki != okj:
			return oki
		}
		return false
	})
	return out
}

func (r *Runner) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		fmt.Fprintf(r.cfg.Log, format+"\n", args...)
	}
}

// effective returns row with the configured group override applied.
func (r *Runner) effective(row Row) Row {
	if r.cfg.Group > 0 && !row.IsFP() && row.ABits >= 16 && row.Group > 0 {
		row.Group = r.cfg.Group
	}
	return row
}

// calibration returns the samples of a calibration kind, loaded once.
func (r *Runner) calibration(kind string) ([]model.Sample, string, error) {
	if s, ok := r.samples[kind]; ok {
		return s, r.sdig[kind], nil
	}
	if r.fp == nil {
		m, err := model.Load(r.cfg.ModelDir)
		if err != nil {
			return nil, "", fmt.Errorf("table: %w", err)
		}
		r.fp = m
	}
	c := quantize.CalibOptions{Path: r.cfg.CalibPath, Samples: r.cfg.Samples, Seed: r.cfg.Seed, TextBlockLen: r.cfg.TextBlockLen}
	if kind == CalibText {
		c.Text = true
		c.Path = r.cfg.CalibText
		if c.Path == "" {
			p, err := r.textCorpus()
			if err != nil {
				return nil, "", err
			}
			c.Path = p
		}
	}
	s, err := quantize.LoadCalibration(r.fp, c)
	if err != nil {
		return nil, "", fmt.Errorf("table: %s calibration: %w", kind, err)
	}
	if len(s) < r.cfg.Samples {
		r.logf("note: %s calibration has %d samples, fewer than the %d asked for", kind, len(s), r.cfg.Samples)
	}
	d, err := samplesDigest(s)
	if err != nil {
		return nil, "", err
	}
	r.samples[kind], r.sdig[kind] = s, d
	return s, d, nil
}

// textCorpus writes the generated text calibration file into the work
// directory (deterministic: world.Corpus with TextSeed) and returns its path.
func (r *Runner) textCorpus() (string, error) {
	path := filepath.Join(r.cfg.WorkDir, fmt.Sprintf("calib-text-%x-%d.txt", TextSeed, textCorpusTexts))
	rng := rand.New(rand.NewPCG(TextSeed, 0x9e3779b97f4a7c15))
	texts := world.Corpus(rng, world.DefaultConfig(), textCorpusTexts)
	data := []byte(strings.Join(texts, "\n\n") + "\n")
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return path, nil
	}
	if err := WriteFileAtomic(path, data); err != nil {
		return "", fmt.Errorf("table: text calibration: %w", err)
	}
	return path, nil
}

// recipeKey sets k's recipe fields from row.
func recipeKey(k cacheKey, row Row) cacheKey {
	k.Method, k.WBits, k.ABits, k.Group = row.Method, row.WBits, row.ABits, row.Group
	k.Loss, k.Balance, k.Calib = row.Loss, row.Balance, row.Calib
	return k
}

func (r *Runner) key(row Row) (cacheKey, error) {
	k := recipeKey(cacheKey{Code: CodeVersion, QuantVersion: quantize.Version, Model: r.digest.model, Bench: r.digest.bench,
		Limit: r.cfg.Limit, MaxNew: r.cfg.MaxNewTokens, MaxCaption: r.cfg.MaxCaptionTokens}, row)
	if !row.IsFP() {
		_, d, err := r.calibration(row.Calib)
		if err != nil {
			return k, err
		}
		k.CalibData, k.Samples, k.Seed = d, r.cfg.Samples, r.cfg.Seed
		if row.Calib == CalibText {
			k.TextBlockLen = r.cfg.TextBlockLen
		}
		if row.Method == "smoothquant" {
			k.Alpha = Alpha
		}
	}
	return k, nil
}

// RunRow returns the result of one row: from the cache, or by quantizing
// (into WorkDir/models/KEY, removed afterwards unless Keep), reloading the
// written checkpoint and evaluating it.
func (r *Runner) RunRow(row Row) (RowResult, error) {
	row = r.effective(row)
	k, err := r.key(row)
	if err != nil {
		return RowResult{}, err
	}
	key := k.hash()
	if res, ok := r.done[key]; ok {
		r.Stats.Cached++
		res.Row, res.Cached = row, true
		return res, nil
	}
	if !r.cfg.Fresh {
		if res := r.loadCached(key, k); res != nil {
			r.Stats.Cached++
			r.done[key] = *res
			res.Row, res.Cached = row, true
			return *res, nil
		}
	}
	res := RowResult{Row: row, Key: key}
	dir := r.cfg.ModelDir
	var qres *quantize.Result
	if !row.IsFP() {
		start := time.Now()
		samples, _, err := r.calibration(row.Calib)
		if err != nil {
			return res, err
		}
		m, err := model.Load(r.cfg.ModelDir)
		if err != nil {
			return res, fmt.Errorf("table: %s: %w", row.Name, err)
		}
		o := quantize.Options{Method: row.Method, WBits: row.WBits, ABits: row.ABits, Group: row.Group,
			Loss: row.Loss, Balance: row.Balance, Alpha: Alpha, Seed: r.cfg.Seed, Calibration: row.Calib,
			Progress: r.cfg.Progress}
		if qres, err = quantize.Run(m, samples, o); err != nil {
			return res, fmt.Errorf("table: %s: %w", row.Name, err)
		}
		r.Stats.Quantized++
		dir = filepath.Join(r.cfg.WorkDir, "models", key)
		if err := os.RemoveAll(dir); err != nil {
			return res, fmt.Errorf("table: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return res, fmt.Errorf("table: %w", err)
		}
		if err := quantize.Save(m, qres, dir); err != nil {
			return res, fmt.Errorf("table: %s: %w", row.Name, err)
		}
		res.Samples = len(samples)
		res.QuantSeconds = time.Since(start).Seconds()
		for _, b := range qres.Blocks {
			if b.AttnRatio != nil && b.MLPRatio != nil {
				res.Ratios = append(res.Ratios, [2]float64{*b.AttnRatio, *b.MLPRatio})
			}
		}
	}
	start := time.Now()
	m, err := model.Load(dir)
	if err != nil {
		return res, fmt.Errorf("table: %s: %w", row.Name, err)
	}
	rep, err := eval.Evaluate(m, r.items, eval.Options{Workers: r.cfg.Workers, MaxNewTokens: r.cfg.MaxNewTokens,
		MaxCaptionTokens: r.cfg.MaxCaptionTokens, Progress: r.cfg.Progress})
	if err != nil {
		return res, fmt.Errorf("table: %s: evaluate: %w", row.Name, err)
	}
	r.Stats.Evaluated++
	res.EvalSeconds = time.Since(start).Seconds()
	res.Categories, res.Average, res.NLL, res.NLLByCategory = rep.Categories, rep.Average, rep.NLL, rep.NLLByCategory
	res.MultipleChoice = rep.MultipleChoice
	res.Failures, res.FailuresByCat, res.Counts = rep.Failures, rep.FailuresByCategory, rep.Counts
	res.Generated, res.AnswerTokens, res.NonFinite = rep.Generated, rep.AnswerTokens, rep.NonFinite
	if !row.IsFP() && !r.cfg.Keep {
		if err := os.RemoveAll(dir); err != nil {
			return res, fmt.Errorf("table: %w", err)
		}
	}
	if err := r.storeCached(key, k, res); err != nil {
		return res, err
	}
	r.done[key] = res
	return res, nil
}

// Run runs rows in order (the FP row first) and returns the table.
func (r *Runner) Run(rows []Row) (*Table, error) {
	var fp *Row
	for i := range rows {
		if rows[i].IsFP() {
			fp = &rows[i]
		}
	}
	ordered := make([]Row, 0, len(rows)+1)
	if fp == nil {
		ordered = append(ordered, Rows()[0])
	} else {
		ordered = append(ordered, *fp)
	}
	for _, row := range rows {
		if !row.IsFP() {
			ordered = append(ordered, row)
		}
	}
	t := &Table{Samples: r.cfg.Samples, Limit: r.cfg.Limit, PerCategory: r.PerCategory,
		Categories: r.Categories, MCCategories: r.MCCategories, MaxCaptionTokens: r.cfg.MaxCaptionTokens,
		ModelDigest: r.digest.model, BenchDigest: r.digest.bench, CodeVersion: CodeVersion, Seed: r.cfg.Seed,
		TextBlockLen: r.cfg.TextBlockLen, Group: r.cfg.Group}
	total := time.Now()
	for i, row := range ordered {
		start := time.Now()
		eff := r.effective(row)
		r.logf("[%d/%d] %s: %s ...", i+1, len(ordered), row.Name, eff.Recipe())
		res, err := r.RunRow(row)
		if err != nil {
			return nil, err
		}
		how := fmt.Sprintf("quantize %.1fs, evaluate %.1fs", res.QuantSeconds, res.EvalSeconds)
		if res.Cached {
			how = "cached"
		}
		r.logf("[%d/%d] %s: avg %.1f%%, NLL %.4f (%s; %s)", i+1, len(ordered), row.Name, res.Average, res.NLL, how,
			time.Since(start).Round(time.Millisecond))
		t.Rows = append(t.Rows, res)
	}
	t.Stats = r.Stats
	t.Seconds = time.Since(total).Seconds()
	return t, nil
}
