package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"mbq/eval"
	"mbq/model"
	_ "mbq/model/llavaonevision" // registers LlavaOnevisionForConditionalGeneration
)

func init() {
	register("eval", "score a checkpoint on a benchmark file (accuracy, answer-token NLL, failures)", runEval)
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "", stderr)
	dir := fs.String("model", "", modelFlagHelp)
	bench := fs.String("bench", "", benchFlagHelp)
	jsonOut := fs.String("json", "", "write the report as JSON to this file")
	limit := fs.Int("limit", 0, "evaluate at most N questions per category (0: all)")
	workers := fs.Int("workers", 0, "goroutines evaluating questions (0: one per CPU)")
	maxNew := fs.Int("max-new-tokens", 32, "generation limit for open-ended answers")
	maxCap := fs.Int("max-caption-tokens", 256, "generation limit for captions")
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	if *limit < 0 || *workers < 0 || *maxNew <= 0 || *maxCap <= 0 {
		return errors.New("--limit and --workers must be >= 0, the token limits > 0")
	}
	var err error
	if *dir, err = resolveModel(*dir); err != nil {
		return err
	}
	if *bench, err = resolveBench(*bench); err != nil {
		return err
	}
	items, err := eval.LoadBench(*bench)
	if err != nil {
		return err
	}
	m, err := model.Load(*dir)
	if err != nil {
		return err
	}
	opts := eval.Options{Limit: *limit, Workers: *workers, MaxNewTokens: *maxNew, MaxCaptionTokens: *maxCap}
	if !*quiet {
		opts.Progress = stderr
	}
	start := time.Now()
	rep, err := eval.Evaluate(m, items, opts)
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(stderr, "evaluated %d questions in %s\n", len(rep.Items), time.Since(start).Round(time.Millisecond))
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := rep.WriteFile(*jsonOut); err != nil {
			return err
		}
	}
	return nil
}
