package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"mbq/hf/image"
	"mbq/testbed/world"
)

// Kind is how an item is scored.
type Kind string

const (
	// MultipleChoice items have options and a letter answer; scored by
	// option-letter log-likelihood.
	MultipleChoice Kind = "mc"
	// Open items have a short answer; scored by normalized exact match of
	// the greedy generation.
	Open Kind = "open"
	// Caption items have attributes; scored by attribute recall of the
	// greedy generation. Their answer, if any, is the reference caption.
	Caption Kind = "caption"
)

// Item is one validated benchmark question.
type Item struct {
	ID       string
	Category string
	// Image is the image file's path (resolved against the benchmark
	// file's directory), "" for a text-only question.
	Image string
	// Pixels, if set, is the image itself (items built in code, e.g. the
	// trainer's held-out set); it takes the place of Image.
	Pixels   *image.RGB
	Question string
	// Options are the choices of a multiple-choice item, labelled
	// world.Letters in order; nil otherwise.
	Options []string
	// Answer is the correct letter (multiple choice), the short answer
	// (open) or the reference caption ("" when the file gives none).
	Answer string
	// Attributes are what a caption must mention (caption items only).
	Attributes []string

	// Source and Line locate the item for error messages ("" and 0 for
	// items built in code).
	Source string
	Line   int
}

// Kind reports how the item is scored: options make it multiple choice,
// attributes make it a caption, otherwise it is open-ended.
func (it *Item) Kind() Kind {
	switch {
	case len(it.Options) > 0:
		return MultipleChoice
	case len(it.Attributes) > 0:
		return Caption
	}
	return Open
}

// question returns the item as the testbed world's Question, whose Prompt
// and UserText are exactly the training prompts.
func (it *Item) question() world.Question {
	q := world.Question{ID: it.ID, Category: it.Category, Question: it.Question,
		Options: it.Options, Answer: it.Answer, Attributes: it.Attributes, HasImage: it.HasImage()}
	if it.Kind() == Caption {
		// Prompt adds no instruction suffix to caption requests.
		q.Category = world.CaptionCat
	} else if q.Category == world.CaptionCat {
		q.Category = ""
	}
	return q
}

// HasImage reports whether the item comes with an image (a file or Pixels).
func (it *Item) HasImage() bool { return it.Image != "" || it.Pixels != nil }

// Prompt is the user text after the image: the question, for multiple
// choice the "A. x" option lines and world.MCSuffix, for open-ended
// questions world.OpenSuffix, for captions nothing more (world.Question.Prompt).
func (it *Item) Prompt() string { return it.question().Prompt() }

// where prefixes an error location: "file: line N: id X".
func (it *Item) where() string {
	var parts []string
	if it.Source != "" {
		parts = append(parts, it.Source)
	}
	if it.Line > 0 {
		parts = append(parts, fmt.Sprintf("line %d", it.Line))
	}
	if it.ID != "" {
		parts = append(parts, "id "+it.ID)
	}
	return strings.Join(parts, ": ")
}

// rawRecord is one line as decoded, pointers telling absent from empty.
type rawRecord struct {
	ID         *string   `json:"id"`
	Category   *string   `json:"category"`
	Image      *string   `json:"image"`
	Question   *string   `json:"question"`
	Options    *[]string `json:"options"`
	Answer     *string   `json:"answer"`
	Attributes *[]string `json:"attributes"`
}

// maxLine bounds one line of a benchmark file.
const maxLine = 16 << 20

// LoadBench reads a benchmark file: JSON lines in the format of the
// testbed's bench.jsonl (see the package documentation), blank lines
// ignored. Every line is validated; the first problem is returned as
// "FILE: line N: field F: what is wrong". Image paths are resolved against
// the file's directory and must name existing regular files.
func LoadBench(path string) ([]Item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	return readBench(f, path, filepath.Dir(path))
}

func readBench(r io.Reader, path, dir string) ([]Item, error) {
	var items []Item
	ids := map[string]int{}
	br := bufio.NewReaderSize(r, 1<<16)
	line := 0
	for {
		b, err := readLine(br)
		if len(b) > 0 || err == nil {
			line++
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: line %d: %w", path, line, err)
		}
		if len(bytes.TrimSpace(b)) > 0 {
			it, verr := parseItem(b, dir)
			if verr != nil {
				return nil, fmt.Errorf("%s: line %d: %w", path, line, verr)
			}
			if prev, dup := ids[it.ID]; dup {
				return nil, fmt.Errorf("%s: line %d: field id: %q already used on line %d", path, line, it.ID, prev)
			}
			ids[it.ID] = line
			it.Source, it.Line = path, line
			items = append(items, it)
		}
		if err != nil {
			break
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: no questions", path)
	}
	return items, nil
}

// readLine returns the next line without its newline; io.EOF with the
// last (possibly empty) line.
func readLine(br *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		chunk, err := br.ReadSlice('\n')
		out = append(out, chunk...)
		if len(out) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil {
			out = out[:len(out)-1]
		}
		return out, err
	}
}

// fieldError names the field a problem is in.
func fieldError(field, format string, args ...any) error {
	return fmt.Errorf("field %s: %s", field, fmt.Sprintf(format, args...))
}

func parseItem(b []byte, dir string) (Item, error) {
	if !utf8.Valid(b) {
		return Item{}, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r rawRecord
	if err := dec.Decode(&r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Item{}, fieldError(te.Field, "%s is not of type %s", te.Value, te.Type)
		}
		if s := err.Error(); strings.HasPrefix(s, "json: unknown field ") {
			return Item{}, fmt.Errorf("unknown field %s (want id, category, image, question, options, answer, attributes)",
				strings.TrimPrefix(s, "json: unknown field "))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Item{}, errors.New("incomplete JSON object")
		}
		return Item{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return Item{}, errors.New("more than one JSON value on the line")
	}
	if !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		return Item{}, errors.New("not a JSON object")
	}
	req := func(name string, p *string) (string, error) {
		if p == nil {
			return "", fieldError(name, "missing")
		}
		if strings.TrimSpace(*p) == "" {
			return "", fieldError(name, "empty")
		}
		return *p, nil
	}
	var it Item
	var err error
	if it.ID, err = req("id", r.ID); err != nil {
		return it, err
	}
	if it.Category, err = req("category", r.Category); err != nil {
		return Item{}, err
	}
	if it.Category != strings.TrimSpace(it.Category) || strings.ContainsFunc(it.Category, unicode.IsControl) {
		return Item{}, fieldError("category", "%q has surrounding space or control characters", it.Category)
	}
	if it.Question, err = req("question", r.Question); err != nil {
		return Item{}, err
	}
	if r.Image != nil {
		rel := *r.Image
		if strings.TrimSpace(rel) == "" {
			return Item{}, fieldError("image", "empty (use null for a text-only question)")
		}
		p := filepath.FromSlash(rel)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		st, serr := os.Stat(p)
		switch {
		case serr != nil:
			return Item{}, fieldError("image", "%q: %v", rel, serr)
		case !st.Mode().IsRegular():
			return Item{}, fieldError("image", "%q is not a regular file", rel)
		}
		it.Image = p
	}
	if r.Options != nil {
		opts := *r.Options
		if len(opts) < 2 {
			return Item{}, fieldError("options", "%d options, want at least 2 (omit the field for an open-ended question)", len(opts))
		}
		if len(opts) > len(world.Letters) {
			return Item{}, fieldError("options", "%d options, at most %d are supported (letters %s)", len(opts),
				len(world.Letters), strings.Join(world.Letters, ""))
		}
		for i, o := range opts {
			if strings.TrimSpace(o) == "" {
				return Item{}, fieldError("options", "option %d is empty", i)
			}
			if strings.ContainsAny(o, "\n\r") {
				return Item{}, fieldError("options", "option %d holds a line break", i)
			}
		}
		it.Options = opts
	}
	if r.Attributes != nil {
		attrs := *r.Attributes
		if len(attrs) == 0 {
			return Item{}, fieldError("attributes", "empty list (omit the field unless the item is a caption)")
		}
		if it.Options != nil {
			return Item{}, fieldError("attributes", "given with options: an item is either multiple choice or a caption")
		}
		for i, a := range attrs {
			if len(words(a)) == 0 {
				return Item{}, fieldError("attributes", "attribute %d (%q) has no letters or digits", i, a)
			}
		}
		it.Attributes = attrs
	}
	if it.Category == world.CaptionCat && it.Attributes == nil {
		return Item{}, fieldError("attributes", "missing: caption questions are scored by attribute recall")
	}
	switch it.Kind() {
	case MultipleChoice:
		a, err := req("answer", r.Answer)
		if err != nil {
			return Item{}, err
		}
		if letterIndex(a) < 0 || letterIndex(a) >= len(it.Options) {
			return Item{}, fieldError("answer", "%q is not one of the option letters %s", a,
				strings.Join(world.Letters[:len(it.Options)], ", "))
		}
		it.Answer = a
	case Open:
		if it.Answer, err = req("answer", r.Answer); err != nil {
			return Item{}, err
		}
	case Caption:
		if r.Answer != nil {
			it.Answer = strings.TrimSpace(*r.Answer)
		}
	}
	return it, nil
}

// letterIndex is the position of l in world.Letters, or -1.
func letterIndex(l string) int {
	for i, x := range world.Letters {
		if x == l {
			return i
		}
	}
	return -1
}
