package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"mbq/hf/chat"
	"mbq/hf/config"
	"mbq/hf/tokenizer"
)

func init() {
	register("tokenize", "render the chat template and tokenize a prompt with a checkpoint's tokenizer", runTokenize)
}

func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", "TEXT", stderr)
	model := fs.String("model", "", "checkpoint directory holding tokenizer.json (and a chat template for --chat) (required)")
	useChat := fs.Bool("chat", false, "wrap TEXT as a user turn with the model's chat template and add the generation prompt")
	images := fs.Int("images", 0, "with --chat: number of image placeholders before the text")
	system := fs.String("system", "", "with --chat: a system message")
	tokens := fs.Bool("tokens", false, "print each token string beside its id")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *model == "" || fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	tok, err := tokenizer.Load(filepath.Join(*model, "tokenizer.json"))
	if err != nil {
		return err
	}
	text := fs.Arg(0)
	if *useChat {
		ct, err := config.LoadChatTemplate(*model)
		if err != nil {
			return fmt.Errorf("%s: %w", *model, err)
		}
		opts := chat.Options{AddGenerationPrompt: true}
		tcPath := filepath.Join(*model, "tokenizer_config.json")
		if _, err := os.Stat(tcPath); err == nil {
			tc, err := config.LoadTokenizerConfig(tcPath)
			if err != nil {
				return err
			}
			opts.SpecialTokens = tc.SpecialTokens()
		}
		var parts []chat.Part
		for i := 0; i < *images; i++ {
			parts = append(parts, chat.ImagePart())
		}
		parts = append(parts, chat.TextPart(text))
		var msgs []chat.Message
		if *system != "" {
			msgs = append(msgs, chat.Text("system", *system))
		}
		if *images == 0 {
			// Text-only templates (Qwen2/Qwen3 LLMs) expect a string content.
			msgs = append(msgs, chat.Text("user", text))
		} else {
			msgs = append(msgs, chat.Parts("user", parts...))
		}
		text, err = chat.Render(ct.Template, msgs, opts)
		if err != nil {
			return fmt.Errorf("%s (%s): %w", *model, ct.Source, err)
		}
		fmt.Fprintf(stdout, "prompt:\n%s\n", text)
	}
	ids := tok.Encode(text)
	fmt.Fprintf(stdout, "%d tokens:", len(ids))
	if *tokens {
		fmt.Fprintln(stdout)
		for _, id := range ids {
			s, _ := tok.IDToToken(id)
			fmt.Fprintf(stdout, "  %6d %q\n", id, s)
		}
	} else {
		strs := make([]string, len(ids))
		for i, id := range ids {
			strs[i] = fmt.Sprint(id)
		}
		fmt.Fprintf(stdout, " %s\n", strings.Join(strs, " "))
	}
	return nil
}
