package llavaonevision

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"mbq/hf/chat"
	"mbq/hf/image"
	"mbq/model"
)

// ImageToken is the placeholder the chat template renders for an image.
const ImageToken = "<image>"

// Prepare renders the conversation with the checkpoint's chat template,
// tokenizes it, preprocesses the images (anyres tiles when the processor is
// LLaVA-OneVision's), expands each image token into the image's feature
// rows and marks every position's modality (see package model).
//
// Answer positions are, for each assistant message, the tokens of its
// content and of the end-of-turn token (tokenizer_config eos_token, e.g.
// <|im_end|>) that follows it. Messages with Text are rendered as one text
// part (LLaVA-OneVision's template expects a list of parts).
func (m *Model) Prepare(s model.Sample, addGenerationPrompt bool) (*model.Input, error) {
	msgs := make([]chat.Message, len(s.Messages))
	nImageParts := 0
	for i, msg := range s.Messages {
		if msg.Parts == nil {
			msg.Parts = []chat.Part{chat.TextPart(msg.Text)}
			msg.Text = ""
		}
		for _, p := range msg.Parts {
			if p.Type == "image" {
				nImageParts++
			}
		}
		msgs[i] = msg
	}
	if nImageParts != len(s.Images) {
		return nil, fmt.Errorf("prepare: %d image parts in the messages, %d images given", nImageParts, len(s.Images))
	}
	opts := chat.Options{SpecialTokens: m.Special}
	render := func(n int, gen bool) (string, error) {
		o := opts
		o.AddGenerationPrompt = gen
		return m.Template.Render(msgs[:n], o)
	}
	text, err := render(len(msgs), addGenerationPrompt)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	// Answer spans, in bytes of text.
	endTok := m.Special["eos_token"]
	var spans [][2]int
	for i, msg := range msgs {
		if msg.Role != "assistant" {
			continue
		}
		pre, err := render(i, false)
		if err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
		cur, err := render(i+1, false)
		if err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
		if !strings.HasPrefix(cur, pre) || !strings.HasPrefix(text, cur) {
			return nil, fmt.Errorf("prepare: message %d: the chat template does not render the conversation incrementally", i)
		}
		turn := cur[len(pre):]
		var content strings.Builder
		for _, p := range msg.Parts {
			if p.Type == "text" {
				content.WriteString(p.Text)
			}
		}
		c := content.String()
		at := 0
		if c != "" {
			at = strings.LastIndex(turn, c)
			if at < 0 {
				return nil, fmt.Errorf("prepare: message %d: its text is not in the rendered turn", i)
			}
		} else {
			at = len(turn)
			if endTok != "" {
				if j := strings.LastIndex(turn, endTok); j >= 0 {
					at = j
				}
			}
		}
		end := at + len(c)
		if endTok != "" {
			if j := strings.Index(turn[end:], endTok); j >= 0 {
				end += j + len(endTok)
			}
		}
		spans = append(spans, [2]int{len(pre) + at, len(pre) + end})
	}
	ids, starts := m.encodeWithOffsets(text, spans)

	imgID := m.Cfg.ImageTokenIndex
	in := &model.Input{Text: text}
	for i, img := range s.Images {
		ii, err := m.PrepareImage(img)
		if err != nil {
			return nil, fmt.Errorf("prepare: image %d: %w", i, err)
		}
		in.Images = append(in.Images, *ii)
	}
	k := 0
	for t, id := range ids {
		mod := model.Prompt
		for _, sp := range spans {
			if starts[t] >= sp[0] && starts[t] < sp[1] {
				mod = model.Answer
			}
		}
		if id == imgID {
			if k >= len(in.Images) {
				return nil, fmt.Errorf("prepare: more %s tokens in the text than images (%d)", ImageToken, len(in.Images))
			}
			for range in.Images[k].Tokens {
				in.IDs = append(in.IDs, id)
				in.Modality = append(in.Modality, model.Vision)
				in.Labels = append(in.Labels, model.IgnoreIndex)
			}
			k++
			continue
		}
		in.IDs = append(in.IDs, id)
		in.Modality = append(in.Modality, mod)
		if mod == model.Answer {
			in.Labels = append(in.Labels, id)
		} else {
			in.Labels = append(in.Labels, model.IgnoreIndex)
		}
	}
	if k != len(in.Images) {
		return nil, fmt.Errorf("prepare: %d %s tokens in the text, %d images", k, ImageToken, len(in.Images))
	}
	return in, nil
}

// PrepareImage preprocesses one image into tiles (the base tile first, then
// the anyres grid, when the processor is LLaVA-OneVision's and
// vision_aspect_ratio starts with "anyres"; else one tile) and counts the
// image tokens it expands into.
func (m *Model) PrepareImage(img *image.RGB) (*model.ImageInput, error) {
	var tiles []*image.Pixels
	if m.Proc.IsOnevision() && strings.HasPrefix(m.Cfg.VisionAspectRatio, "anyres") {
		t, err := m.Proc.PreprocessAnyres(img)
		if err != nil {
			return nil, err
		}
		tiles = t
	} else {
		px, err := m.Proc.Preprocess(img)
		if err != nil {
			return nil, err
		}
		tiles = []*image.Pixels{px}
	}
	pk, err := m.imagePacking(img.Height, img.Width, len(tiles))
	if err != nil {
		return nil, err
	}
	return &model.ImageInput{Tiles: tiles, Height: img.Height, Width: img.Width, Tokens: len(pk.rows)}, nil
}

// encodeWithOffsets tokenizes text and returns each token's starting byte.
// Offsets come from the tokens' own bytes; when they do not add up to the
// text (a normalizer changed it), the text is tokenized piecewise at the
// span boundaries instead.
func (m *Model) encodeWithOffsets(text string, spans [][2]int) (ids, starts []int) {
	ids = m.Tok.Encode(text)
	starts = make([]int, len(ids))
	pos := 0
	for i, id := range ids {
		starts[i] = pos
		pos += m.tokenBytes(id)
	}
	if pos == len(text) {
		return ids, starts
	}
	cuts := []int{0}
	for _, sp := range spans {
		cuts = append(cuts, sp[0], sp[1])
	}
	cuts = append(cuts, len(text))
	ids, starts = ids[:0], starts[:0]
	for i := 0; i+1 < len(cuts); i++ {
		if cuts[i+1] <= cuts[i] {
			continue
		}
		for _, id := range m.Tok.Encode(text[cuts[i]:cuts[i+1]]) {
			ids = append(ids, id)
			starts = append(starts, cuts[i])
		}
	}
	return ids, starts
}

// tokenBytes is the number of text bytes token id stands for.
func (m *Model) tokenBytes(id int) int {
	tok, ok := m.Tok.IDToToken(id)
	if !ok {
		return 0
	}
	if n, ok := m.addedLen[id]; ok {
		return n
	}
	n := 0
	for _, r := range tok {
		if _, ok := byteOfRune[r]; ok {
			n++
		} else {
			n += utf8.RuneLen(r)
		}
	}
	return n
}

// byteOfRune inverts GPT-2's bytes_to_unicode: printable bytes stand for
// themselves, the other 68 are U+0100 + k in byte order.
var byteOfRune = func() map[rune]byte {
	m := map[rune]byte{}
	k := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[rune(b)] = byte(b)
		} else {
			m[rune(0x100+k)] = byte(b)
			k++
		}
	}
	return m
}()
