package main

import (
	"fmt"
	"io"

	"mbq/hf/chat"
	"mbq/hf/image"
	"mbq/model"
	_ "mbq/model/llavaonevision" // registers LlavaOnevisionForConditionalGeneration
)

func init() {
	register("generate", "answer a prompt about an image with a checkpoint", runGenerate)
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", "", stderr)
	dir := fs.String("model", "", modelFlagHelp)
	imgPath := fs.String("image", "", "image file (PNG, JPEG, GIF); empty for a text-only prompt")
	prompt := fs.String("prompt", "", "the user's message")
	maxNew := fs.Int("max-new-tokens", 128, "maximum number of generated tokens")
	temp := fs.Float64("temperature", 0, "sampling temperature; 0 decodes greedily")
	topK := fs.Int("top-k", 0, "keep the k most likely tokens when sampling (0: all)")
	topP := fs.Float64("top-p", 1, "nucleus sampling mass (1: all)")
	seed := fs.Uint64("seed", 0, "sampling seed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *prompt == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	if *maxNew <= 0 {
		return fmt.Errorf("--max-new-tokens: %d is not positive", *maxNew)
	}
	dir2, err := resolveModel(*dir)
	if err != nil {
		return err
	}
	m, err := model.Load(dir2)
	if err != nil {
		return err
	}
	var parts []chat.Part
	var images []*image.RGB
	if *imgPath != "" {
		img, err := image.DecodeFile(*imgPath)
		if err != nil {
			return err
		}
		images = append(images, img)
		parts = append(parts, chat.ImagePart())
	}
	parts = append(parts, chat.TextPart(*prompt))
	in, err := m.Prepare(model.Sample{Messages: []chat.Message{chat.Parts("user", parts...)}, Images: images}, true)
	if err != nil {
		return err
	}
	g, err := m.Generate(in, model.GenerateOptions{
		MaxNewTokens: *maxNew, Temperature: *temp, TopK: *topK, TopP: *topP, Seed: *seed,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, g.Text)
	return err
}
