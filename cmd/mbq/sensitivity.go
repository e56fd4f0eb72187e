package main

import (
	"errors"
	"fmt"
	"io"

	"mbq/calib"
	"mbq/model"
	_ "mbq/model/llavaonevision" // registers LlavaOnevisionForConditionalGeneration
	"mbq/sensitivity"
)

func init() {
	register("sensitivity", "per-block vision/language gradient sensitivities (the paper's Figure 1)", runSensitivity)
}

func runSensitivity(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sensitivity", "", stderr)
	dir := fs.String("model", "", modelFlagHelp)
	calibPath := fs.String("calib", "", calibFlagHelp)
	images := fs.String("images", "", "directory the calibration image paths are relative to (default: the calibration file's)")
	n := fs.Int("samples", calib.DefaultSamples, "calibration samples, taken after a seeded shuffle (-1: all)")
	seed := fs.Uint64("seed", 0, "seed of the calibration shuffle")
	jsonOut := fs.String("json", "", "write the sensitivities as JSON to this file")
	pngOut := fs.String("png", "", "write the plot as PNG to this file")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	if *n == 0 || *n < -1 {
		return fmt.Errorf("--samples: %d is not positive (or -1 for all)", *n)
	}
	var err error
	if *dir, err = resolveModel(*dir); err != nil {
		return err
	}
	if *calibPath, err = resolveCalib(*calibPath); err != nil {
		return err
	}
	samples, err := calib.LoadShareGPT(*calibPath, calib.Options{N: *n, Seed: *seed, ImagesDir: *images})
	if err != nil {
		return err
	}
	m, err := model.Load(*dir)
	if err != nil {
		return err
	}
	opts := sensitivity.Options{}
	if !*quiet {
		opts.Progress = stderr
	}
	res, err := sensitivity.Compute(m, samples, opts)
	if err != nil {
		return err
	}
	if err := res.Table(stdout); err != nil {
		return err
	}
	var errs []error
	if *jsonOut != "" {
		errs = append(errs, res.WriteJSON(*jsonOut))
	}
	if *pngOut != "" {
		errs = append(errs, res.PlotPNG(*pngOut))
	}
	return errors.Join(errs...)
}
