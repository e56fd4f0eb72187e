package main

import (
	"fmt"
	"io"
	"os"

	"mbq/model/llavaonevision"
)

func init() {
	register("convert", "re-save a checkpoint (e.g. as bfloat16) in the Hugging Face layout", runConvert)
}

func runConvert(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("convert", "", stderr)
	in := fs.String("model", "", "checkpoint directory to read (required)")
	out := fs.String("out", "", "output directory; must not exist or be empty (required)")
	dtype := fs.String("dtype", "bf16", "weight dtype of the output: bf16 or f32")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	if *dtype != "bf16" && *dtype != "f32" {
		return fmt.Errorf("--dtype %q: want bf16 or f32", *dtype)
	}
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
		return fmt.Errorf("--out %s: directory is not empty; refusing to overwrite", *out)
	}
	m, err := llavaonevision.Load(*in)
	if err != nil {
		return err
	}
	if err := m.Save(*out, llavaonevision.SaveOptions{BF16: *dtype == "bf16"}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s)\n", *out, *dtype)
	return nil
}
