package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"mbq/hf/config"
	"mbq/hf/image"
	"mbq/safetensors"
)

func init() {
	register("inspect", "describe a checkpoint: config, tensors, dtypes, sizes", runInspect)
	register("preprocess", "run the model's image processor on an image and describe the result", runPreprocess)
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inspect", "PATH (a checkpoint directory, an index.json or a .safetensors file)", stderr)
	tensors := fs.Bool("tensors", true, "list every tensor")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	path := fs.Arg(0)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "config.json")); err == nil {
			m, err := config.Load(path)
			if err != nil {
				return err
			}
			describeConfig(stdout, m)
		}
	}
	ck, err := safetensors.OpenCheckpoint(path)
	if err != nil {
		return err
	}
	defer ck.Close()
	var total int64
	counts := map[safetensors.DType]int64{}
	names := ck.Names()
	for _, n := range names {
		info, _ := ck.Info(n)
		total += info.NumElements()
		counts[info.DType] += info.NumElements()
	}
	fmt.Fprintf(stdout, "checkpoint: %s (%d file(s), %d tensors, %d parameters)\n", path, len(ck.Files()), len(names), total)
	for _, d := range safetensors.DTypes() {
		if counts[d] > 0 {
			fmt.Fprintf(stdout, "  %-6s %d parameters\n", d, counts[d])
		}
	}
	if md := ck.Metadata(); len(md) > 0 {
		fmt.Fprintf(stdout, "metadata: %v\n", md)
	}
	if *tensors {
		for _, n := range names {
			info, _ := ck.Info(n)
			shard, _ := ck.Shard(n)
			dims := make([]string, len(info.Shape))
			for i, d := range info.Shape {
				dims[i] = fmt.Sprint(d)
			}
			fmt.Fprintf(stdout, "  %-70s %-5s [%s] %s\n", n, info.DType, strings.Join(dims, " "), filepath.Base(shard))
		}
	}
	return nil
}

func describeConfig(w io.Writer, m *config.Model) {
	fmt.Fprintf(w, "config: %s (%s)\n", m.Source, m.Architecture)
	if c, ok := m.LlavaOnevision(); ok {
		v, t := c.VisionConfig, c.TextConfig
		fmt.Fprintf(w, "  vision: SigLIP %d layers, width %d, MLP %d, %d heads, image %d, patch %d (%d tokens)\n",
			v.NumHiddenLayers, v.HiddenSize, v.IntermediateSize, v.NumAttentionHeads, v.ImageSize, v.PatchSize, v.NumPatches())
		fmt.Fprintf(w, "  text:   Qwen2 %d layers, width %d, MLP %d, %d heads / %d kv heads, vocab %d, rope_theta %g\n",
			t.NumHiddenLayers, t.HiddenSize, t.IntermediateSize, t.NumAttentionHeads, t.NumKeyValueHeads, t.VocabSize, t.RopeTheta)
		fmt.Fprintf(w, "  image token %d, projector act %s, feature layer %v, strategy %s, tied embeddings %v\n",
			c.ImageTokenIndex, c.ProjectorHiddenAct, c.VisionFeatureLayer, c.VisionFeatureSelectStrategy, c.TiedEmbeddings())
	}
}

func runPreprocess(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("preprocess", "", stderr)
	cfgPath := fs.String("config", "", "preprocessor_config.json, or a checkpoint directory holding one (required)")
	imgPath := fs.String("image", "", "PNG or JPEG file (required)")
	patch := fs.Int("patch", 0, "also cut into patches of this size (SigLIP's patch_size)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" || *imgPath == "" {
		fs.Usage()
		return errUsage
	}
	p := *cfgPath
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		p = filepath.Join(p, "preprocessor_config.json")
	}
	pc, err := image.LoadProcessorConfig(p)
	if err != nil {
		return err
	}
	img, err := image.DecodeFile(*imgPath)
	if err != nil {
		return err
	}
	pix, err := pc.Preprocess(img)
	if err != nil {
		return fmt.Errorf("%s: %w", *imgPath, err)
	}
	var lo, hi, sum float64
	lo, hi = 1e30, -1e30
	for _, v := range pix.Data {
		f := float64(v)
		lo, hi, sum = min(lo, f), max(hi, f), sum+f
	}
	fmt.Fprintf(stdout, "%s: %dx%d -> pixel_values [%d %d %d], min %.4f max %.4f mean %.4f\n",
		*imgPath, img.Width, img.Height, pix.Channels, pix.Height, pix.Width, lo, hi, sum/float64(len(pix.Data)))
	if *patch > 0 {
		// Like the strided convolution, rows and columns past the last whole patch are dropped.
		ps := image.Patches(pix, *patch)
		fmt.Fprintf(stdout, "patches [%d %d] (a %dx%d grid, each channel-major C×P×P)\n",
			len(ps)/(3**patch**patch), 3**patch**patch, pix.Height / *patch, pix.Width / *patch)
	}
	return nil
}
