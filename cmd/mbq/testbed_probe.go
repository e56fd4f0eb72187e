package main

import (
	"encoding/json"
	"fmt"
	"io"

	"mbq/internal/atomicfile"
	"mbq/model/llavaonevision"
	"mbq/progress"
	"mbq/testbed/train"
)

func runTestbedProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("testbed probe", "", stderr)
	dir := fs.String("model", "", modelFlagHelp)
	samples := fs.Int("samples", 20000, "fresh training-distribution samples to draw (one question each)")
	seed := fs.Uint64("seed", 77, "seed of the samples (any seed: training draws its samples per step, never reusing a probe's)")
	jsonOut := fs.String("json", "", "write the diagnosis as JSON to this file")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	if *samples < 100 {
		return fmt.Errorf("--samples: %d, want at least 100", *samples)
	}
	var err error
	if *dir, err = resolveModel(*dir); err != nil {
		return err
	}
	m, err := llavaonevision.Load(*dir)
	if err != nil {
		return err
	}
	var bar *progress.Bar
	var tick func(int)
	if !*quiet {
		bar = progress.New(stderr, "probe", "samples", *samples)
		tick = func(done int) { bar.Set(done) }
	}
	d, err := train.Diagnose(m, *samples, *seed, tick)
	if bar != nil {
		bar.Done()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *dir, err)
	}
	d.Write(stdout)
	if *jsonOut != "" {
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(*jsonOut, append(data, '\n')); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	return nil
}
