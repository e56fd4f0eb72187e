package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mbq/calib"
	_ "mbq/model/llavaonevision" // registers LlavaOnevisionForConditionalGeneration
	"mbq/quantize"
)

func init() {
	register("quantize", "quantize a model's decoder (rtn, awq, smoothquant, gptq, mbq) and write it", runQuantize)
}

func runQuantize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quantize", "", stderr)
	dir := fs.String("model", "", modelFlagHelp)
	calibPath := fs.String("calib", "", calibFlagHelp)
	calibText := fs.String("calib-text", "", "plain-text calibration file (language-only, instead of --calib)")
	textLen := fs.Int("text-block-len", calib.DefaultBlockLen, "tokens per --calib-text block")
	images := fs.String("images", "", "directory the calibration image paths are relative to (default: the calibration file's)")
	method := fs.String("method", "mbq", "method: "+strings.Join(quantize.Methods, ", "))
	wbits := fs.Int("wbits", 3, "weight bits, 2..8 (the paper: 3, 4 or 8)")
	abits := fs.Int("abits", 16, "activation bits: 16 (weight-only) or 2..8 (per-token, at run time; the paper: 8)")
	group := fs.Int("group", 128, "weight-only group size (input channels per scale; <= 0: per output channel)")
	n := fs.Int("samples", calib.DefaultSamples, "calibration samples, taken after a seeded shuffle (-1: all)")
	seed := fs.Uint64("seed", 0, "seed of the calibration shuffle")
	loss := fs.String("loss", "mae", "mbq reconstruction loss: mae or mse")
	balance := fs.String("balance", "auto", "mbq modality balance: auto (gradient sensitivities), a fixed factor r, or off")
	alpha := fs.Float64("alpha", 0.5, "smoothquant migration strength")
	distort := fs.Bool("distort", false, "feed each block the quantized output of the previous one")
	keepGQA := fs.Bool("keep-gqa-vo", false, "equalize v_proj -> o_proj under grouped-query attention (scales repeated per query head)")
	out := fs.String("out", "", "output directory (must not exist or be empty)")
	pack := fs.Bool("pack", true, "store the decoder linears packed (W3/W4 group-wise weight-only with a group multiple of 128/64, W8A8, W4A8); other specs are always written fake-quantized")
	quiet := fs.Bool("quiet", false, "no progress bars")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	switch {
	case *out == "":
		return errors.New("--out is required")
	case *calibPath != "" && *calibText != "":
		return errors.New("give at most one of --calib and --calib-text")
	case *n == 0 || *n < -1:
		return fmt.Errorf("--samples: %d is not positive (or -1 for all)", *n)
	case *wbits < 2 || *wbits > 8:
		return fmt.Errorf("--wbits: %d, want 2..8", *wbits)
	case *abits != 16 && (*abits < 2 || *abits > 8):
		return fmt.Errorf("--abits: %d, want 16 or 2..8", *abits)
	case *textLen <= 0:
		return fmt.Errorf("--text-block-len: %d is not positive", *textLen)
	case *alpha <= 0 || *alpha > 1:
		return fmt.Errorf("--alpha: %v, want (0, 1]", *alpha)
	}
	var err error
	if *dir, err = resolveModel(*dir); err != nil {
		return err
	}
	if *calibText == "" {
		if *calibPath, err = resolveCalib(*calibPath); err != nil {
			return err
		}
	}
	c := quantize.CalibOptions{Path: *calibPath, ImagesDir: *images, Samples: *n, Seed: *seed, TextBlockLen: *textLen}
	if *calibText != "" {
		c.Path, c.Text = *calibText, true
	}
	o := quantize.Options{Method: *method, WBits: *wbits, ABits: *abits, Group: *group, Loss: *loss, Balance: *balance,
		Alpha: *alpha, Distort: *distort, KeepGQAVO: *keepGQA}
	if !*quiet {
		o.Progress = stderr
	}
	start := time.Now()
	res, err := quantize.DirWith(*dir, *out, c, o, quantize.OutputOptions{Pack: *pack}, stdout)
	if err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(stderr, "quantized %d blocks (%s, %s) in %s; wrote %s (%s weights)\n", len(res.Blocks), o.Method,
			o.Spec(), time.Since(start).Round(time.Millisecond), *out, res.Config.Format)
	}
	return nil
}
