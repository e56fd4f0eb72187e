package world

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// BenchRecord is one line of bench.jsonl.
type BenchRecord struct {
	ID       string   `json:"id"`
	Category string   `json:"category"`
	Image    *string  `json:"image"` // relative to the file; null for language questions
	Question string   `json:"question"`
	Options  []string `json:"options,omitempty"`
	Answer   string   `json:"answer"`
	// Attributes are the facts a caption must mention (caption questions only).
	Attributes []string `json:"attributes,omitempty"`
}

// CalibRecord is one entry of calib.json (ShareGPT4V layout).
type CalibRecord struct {
	ID            string `json:"id"`
	Image         string `json:"image"`
	Conversations []Turn `json:"conversations"`
}

// DatasetOptions configures WriteDatasetOptions.
type DatasetOptions struct {
	Config Config
	Seed   uint64
	Calib  int // image-caption pairs in calib.json
	Bench  int // questions in bench.jsonl
	// Force replaces an existing non-empty directory, but only one that
	// holds nothing but a previous dataset (img/, calib.json, bench.jsonl).
	Force bool
	// Progress, if set, is called after each item with the number done and
	// the total.
	Progress func(done, total int)
	// Workers bounds the goroutines rendering images (0: GOMAXPROCS).
	Workers int
}

// Summary counts what a dataset holds.
type Summary struct {
	Calib  int
	Images int
	// Bench counts questions per category, in the order of Categories.
	Bench []int
}

// WriteDataset writes a dataset with the default world into dir: see
// WriteDatasetOptions.
func WriteDataset(dir string, seed uint64, nCalib, nBench int, progress func(done, total int)) error {
	_, err := WriteDatasetOptions(dir, DatasetOptions{Config: DefaultConfig(), Seed: seed, Calib: nCalib, Bench: nBench, Progress: progress})
	return err
}

// BenchCounts splits n benchmark questions over Categories: n/7 each, the
// remainder to the first categories.
func BenchCounts(n int) []int {
	c := make([]int, len(Categories))
	for i := range c {
		c[i] = n / len(Categories)
		if i < n%len(Categories) {
			c[i]++
		}
	}
	return c
}

// mix64 is the splitmix64 finaliser, used to derive independent streams.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// itemRNG is the random source of item i of a stream (1 calibration, 2
// benchmark, 3 the benchmark's category order).
func itemRNG(seed uint64, stream, i int) *rand.Rand {
	return rand.New(rand.NewPCG(mix64(seed^0x6d6271_7465737462), mix64(uint64(stream)<<40|uint64(i))))
}

type item struct {
	scene *Scene
	image string // relative path, "" when none
	calib *CalibRecord
	bench *BenchRecord
}

// WriteDatasetOptions writes, deterministically from opt.Seed:
//
//	dir/img/NNNNNN.png   one image per calibration pair and per image question
//	dir/calib.json       a JSON list of CalibRecord (ShareGPT4V layout)
//	dir/bench.jsonl      one BenchRecord per line
//
// The files are built in a temporary directory beside dir and renamed into
// place, so dir holds either a complete dataset or what it held before. A
// non-empty dir is refused unless opt.Force and it holds only a previous
// dataset.
func WriteDatasetOptions(dir string, opt DatasetOptions) (Summary, error) {
	cfg := opt.Config
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if opt.Calib < 0 || opt.Bench < 0 {
		return Summary{}, fmt.Errorf("dataset: calib %d, bench %d: counts must be non-negative", opt.Calib, opt.Bench)
	}
	if err := checkTarget(dir, opt.Force); err != nil {
		return Summary{}, err
	}

	// Plan: the category of every benchmark item and every image name.
	cats := make([]string, 0, opt.Bench)
	counts := BenchCounts(opt.Bench)
	for i, c := range Categories {
		for k := 0; k < counts[i]; k++ {
			cats = append(cats, c)
		}
	}
	order := itemRNG(opt.Seed, 3, 0)
	order.Shuffle(len(cats), func(i, j int) { cats[i], cats[j] = cats[j], cats[i] })
	items := make([]item, opt.Calib+opt.Bench)
	nimg := 0
	for i := range items {
		if i >= opt.Calib && cats[i-opt.Calib] == Language {
			continue
		}
		items[i].image = fmt.Sprintf("img/%06d.png", nimg)
		nimg++
	}

	parent := filepath.Dir(filepath.Clean(dir))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(filepath.Clean(dir))+".tmp-")
	if err != nil {
		return Summary{}, fmt.Errorf("dataset: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Mkdir(filepath.Join(tmp, "img"), 0o755); err != nil {
		return Summary{}, fmt.Errorf("dataset: %w", err)
	}

	// Generate and write images in parallel; every item has its own random
	// source, so the result does not depend on scheduling.
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan int)
	done := make(chan error)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				done <- makeItem(tmp, cfg, opt, i, cats, &items[i])
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range items {
			jobs <- i
		}
	}()
	go func() { wg.Wait(); close(done) }()
	var firstErr error
	n := 0
	for err := range done {
		n++
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if opt.Progress != nil {
			opt.Progress(n, len(items))
		}
	}
	if firstErr != nil {
		return Summary{}, firstErr
	}

	sum := Summary{Calib: opt.Calib, Images: nimg, Bench: make([]int, len(Categories))}
	calib := make([]*CalibRecord, 0, opt.Calib)
	var bench bytes.Buffer
	enc := json.NewEncoder(&bench)
	enc.SetEscapeHTML(false)
	for i := range items {
		if it := items[i]; it.calib != nil {
			calib = append(calib, it.calib)
		} else {
			if err := enc.Encode(it.bench); err != nil {
				return Summary{}, fmt.Errorf("dataset: bench.jsonl: item %s: %w", it.bench.ID, err)
			}
			sum.Bench[indexOf(Categories, it.bench.Category)]++
		}
	}
	var cb bytes.Buffer
	cenc := json.NewEncoder(&cb)
	cenc.SetEscapeHTML(false)
	cenc.SetIndent("", " ")
	if err := cenc.Encode(calib); err != nil {
		return Summary{}, fmt.Errorf("dataset: calib.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "calib.json"), cb.Bytes(), 0o644); err != nil {
		return Summary{}, fmt.Errorf("dataset: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "bench.jsonl"), bench.Bytes(), 0o644); err != nil {
		return Summary{}, fmt.Errorf("dataset: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Summary{}, fmt.Errorf("dataset: %w", err)
	}
	if err := replaceDir(tmp, dir); err != nil {
		return Summary{}, err
	}
	ok = true
	return sum, nil
}

// makeItem draws item i, writes its image under tmp and fills it.
func makeItem(tmp string, cfg Config, opt DatasetOptions, i int, cats []string, it *item) error {
	if i < opt.Calib {
		rng := itemRNG(opt.Seed, 1, i)
		s := NewScene(rng, cfg)
		it.scene = s
		it.calib = &CalibRecord{
			ID:    fmt.Sprintf("calib-%06d", i),
			Image: it.image,
			Conversations: []Turn{
				{"human", ImageToken + "\n" + CaptionPrompts[0]},
				{"gpt", s.Caption(rng)},
			},
		}
	} else {
		j := i - opt.Calib
		rng := itemRNG(opt.Seed, 2, j)
		cat := cats[j]
		var q Question
		if cat == Language {
			q = LanguageQuestion(rng, cfg.Facts())
		} else {
			for {
				s := newScene(rng, cfg, cat == Text)
				var ok bool
				if q, ok = s.Question(rng, cat); ok {
					it.scene = s
					break
				}
			}
		}
		rec := &BenchRecord{ID: fmt.Sprintf("bench-%06d", j), Category: cat, Question: q.Question,
			Options: q.Options, Answer: q.Answer, Attributes: q.Attributes}
		if it.image != "" {
			img := it.image
			rec.Image = &img
		}
		it.bench = rec
	}
	if it.scene == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, it.scene.Render()); err != nil {
		return fmt.Errorf("dataset: %s: %w", it.image, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, filepath.FromSlash(it.image)), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	return nil
}

// datasetEntries are the only names a directory may hold to be replaced
// with Force.
var datasetEntries = map[string]bool{"img": true, "calib.json": true, "bench.jsonl": true}

// checkTarget refuses a dir that exists, is not a directory, or is not
// empty (unless force and it holds only a previous dataset).
func checkTarget(dir string, force bool) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("dataset: %s exists and is not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	if len(ents) == 0 {
		return nil
	}
	if !force {
		return fmt.Errorf("dataset: %s is not empty (use --force to replace a previous dataset)", dir)
	}
	for _, e := range ents {
		if !datasetEntries[e.Name()] {
			return fmt.Errorf("dataset: %s holds %q, which is not part of a dataset; refusing to replace it", dir, e.Name())
		}
	}
	return nil
}

// replaceDir moves tmp to dir. An existing dir (empty, or a previous
// dataset checked by checkTarget) is first moved aside, then removed once
// the new one is in place.
func replaceDir(tmp, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("dataset: %w", err)
		}
		return nil
	}
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil {
		return fmt.Errorf("dataset: moving previous %s aside: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if rerr := os.Rename(old, dir); rerr != nil {
			return fmt.Errorf("dataset: %w (and restoring %s from %s: %v)", err, dir, old, rerr)
		}
		return fmt.Errorf("dataset: %w", err)
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("dataset: removing previous dataset %s: %w", old, err)
	}
	return nil
}

// ReadBench reads a benchmark file in the format of bench.jsonl.
func ReadBench(path string) ([]BenchRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []BenchRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r BenchRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, line, err)
		}
		if r.Question == "" || r.Answer == "" {
			return nil, fmt.Errorf("%s: line %d: question and answer are required", path, line)
		}
		if len(r.Options) > 0 && indexOf(Letters[:min(len(r.Options), len(Letters))], r.Answer) < 0 {
			return nil, fmt.Errorf("%s: line %d: answer %q is not an option letter", path, line, r.Answer)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: line %d: %w", path, line+1, err)
	}
	return out, nil
}

// ReadCalib reads a calibration file in the ShareGPT4V layout (a JSON list).
func ReadCalib(path string) ([]CalibRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []CalibRecord
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, r := range out {
		if r.Image == "" || len(r.Conversations) < 2 {
			return nil, fmt.Errorf("%s: entry %d (%s): image and two conversation turns are required", path, i, r.ID)
		}
	}
	return out, nil
}
