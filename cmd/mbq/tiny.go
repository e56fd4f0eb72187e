package main

import (
	"fmt"
	"io"
	"os"

	"mbq/model/llavaonevision"
)

func init() {
	register("tiny", "write a tiny random LLaVA-OneVision checkpoint in the Hugging Face layout", runTiny)
}

func runTiny(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tiny", "", stderr)
	out := fs.String("out", "", "output directory (must not exist or be empty) (required)")
	seed := fs.Uint64("seed", 1, "random seed (same seed, same bytes)")
	o := llavaonevision.DefaultTiny
	fs.IntVar(&o.TextHidden, "hidden", o.TextHidden, "decoder width")
	fs.IntVar(&o.TextIntermediate, "intermediate", o.TextIntermediate, "decoder MLP width")
	fs.IntVar(&o.TextLayers, "layers", o.TextLayers, "decoder layers")
	fs.BoolVar(&o.Tied, "tied", o.Tied, "tie lm_head to the embeddings")
	fs.BoolVar(&o.BF16, "bf16", o.BF16, "store weights as bfloat16")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
		return fmt.Errorf("--out %s: directory is not empty; refusing to overwrite", *out)
	}
	if err := llavaonevision.WriteTiny(*out, *seed, o); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote a tiny random checkpoint to %s (seed %d)\n", *out, *seed)
	return nil
}
