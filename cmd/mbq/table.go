package main

import (
	"mbq/testbed/embedded"

	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	_ "mbq/model/llavaonevision" // registers LlavaOnevisionForConditionalGeneration
	"mbq/papertable"
)

func init() {
	register("table", "reproduce the paper's Tables 2, 4 and 11 (+ stress rows) on the testbed", runTable)
}

// Quick-mode defaults (each can still be set by its flag).
const (
	quickSamples    = 32
	quickLimit      = 25
	quickCaptionMax = 128
)

// tableNow is the clock of the report's date (a variable for tests).
var tableNow = time.Now

func runTable(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("table", "", stderr)
	modelDir := fs.String("model", "", "full-precision checkpoint (default: the embedded testbed model)")
	calibPath := fs.String("calib", "", "image-caption calibration pairs (default: the testbed's)")
	calibText := fs.String("calib-text", "", "plain-text calibration file for the text-calibrated rows (default: generated from the testbed world's language into --work)")
	bench := fs.String("bench", "", "benchmark file (default: the testbed's)")
	work := fs.String("work", "", "work directory: row cache and quantized models (default: <user cache dir>/mbq/table)")
	quick := fs.Bool("quick", false, fmt.Sprintf("a few minutes: %d samples, %d questions per category, captions capped at %d tokens, Table 2 rows only (unless --rows)", quickSamples, quickLimit, quickCaptionMax))
	jsonOut := fs.String("json", "", "write every row's result as JSON to this file")
	mdOut := fs.String("markdown", "", "write the report as GitHub markdown to this file")
	rowsRE := fs.String("rows", "", "run only the rows whose name or section matches this regular expression (the FP row always runs)")
	list := fs.Bool("list", false, "print the row definitions and exit")
	fresh := fs.Bool("fresh", false, "ignore cached row results")
	keep := fs.Bool("keep", false, "keep each row's quantized model in <work>/models/")
	samples := fs.Int("samples", papertable.DefaultSamples, "calibration samples per row")
	seed := fs.Uint64("seed", 0, "seed of the calibration shuffle")
	textLen := fs.Int("text-block-len", papertable.DefaultTextBlockLen, "tokens per text calibration block")
	group := fs.Int("group", 0, "replace the group size (128) of grouped weight-only rows (0: keep; for models whose widths are not multiples of 128)")
	limit := fs.Int("limit", 0, "questions per category (0: all)")
	maxNew := fs.Int("max-new-tokens", 32, "generation limit for open-ended answers")
	maxCap := fs.Int("max-caption-tokens", 256, "generation limit for captions")
	workers := fs.Int("workers", 0, "goroutines evaluating questions (0: one per CPU)")
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	rows := papertable.Rows()
	if *quick && !set["rows"] {
		rows = papertable.InSections(rows, papertable.QuickSections)
	}
	rows, err := papertable.Select(rows, *rowsRE)
	if err != nil {
		return err
	}
	if *list {
		return papertable.WriteList(stdout, rows)
	}
	if *quick {
		if !set["samples"] {
			*samples = quickSamples
		}
		if !set["limit"] {
			*limit = quickLimit
		}
		if !set["max-caption-tokens"] {
			*maxCap = quickCaptionMax
		}
	}
	switch {
	case *samples <= 0:
		return fmt.Errorf("--samples: %d is not positive", *samples)
	case *limit < 0 || *workers < 0 || *group < 0:
		return errors.New("--limit, --workers and --group must be >= 0")
	case *maxNew <= 0 || *maxCap <= 0 || *textLen <= 0:
		return errors.New("--max-new-tokens, --max-caption-tokens and --text-block-len must be > 0")
	}
	// Empty --model, --calib and --bench fall back to the embedded testbed
	// (defaults.go); each is materialised only if it is needed.
	if *modelDir, err = resolveModel(*modelDir); err != nil {
		return err
	}
	if *calibPath, err = resolveCalib(*calibPath); err != nil {
		return err
	}
	if *bench, err = resolveBench(*bench); err != nil {
		return err
	}
	if *work == "" {
		*work = filepath.Join(embedded.CacheRoot(), "table")
	}
	cfg := papertable.Config{ModelDir: *modelDir, CalibPath: *calibPath, CalibText: *calibText, BenchPath: *bench,
		WorkDir: *work, Samples: *samples, Seed: *seed, TextBlockLen: *textLen, Group: *group, Limit: *limit,
		MaxNewTokens: *maxNew, MaxCaptionTokens: *maxCap, Workers: *workers, Fresh: *fresh, Keep: *keep}
	if !*quiet {
		cfg.Log, cfg.Progress = stderr, stderr
	}
	r, err := papertable.NewRunner(cfg)
	if err != nil {
		return err
	}
	t0 := tableNow()
	if *quick && !*quiet {
		fmt.Fprintf(stderr, "QUICK MODE: %d samples, %d questions per category — not the reported numbers\n", *samples, maxCount(r.PerCategory))
	}
	t, err := r.Run(rows)
	if err != nil {
		return err
	}
	t.Quick = *quick
	t.Command = commandLine("table", args)
	t.Date = t0.UTC().Format("2006-01-02 15:04 UTC")
	t.Finish()
	if *jsonOut != "" {
		b, err := t.JSON()
		if err != nil {
			return err
		}
		if err := papertable.WriteFileAtomic(*jsonOut, b); err != nil {
			return err
		}
	}
	if *mdOut != "" {
		if err := papertable.WriteFileAtomic(*mdOut, t.Markdown()); err != nil {
			return err
		}
	}
	return t.WriteText(stdout)
}

func maxCount(m map[string]int) int {
	n := 0
	for _, v := range m {
		n = max(n, v)
	}
	return n
}

// commandLine formats "mbq NAME ARGS..." with shell quoting where needed.
func commandLine(name string, args []string) string {
	parts := []string{"mbq", name}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
