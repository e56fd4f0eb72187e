package calib

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"mbq/hf/chat"
	"mbq/hf/image"
	"mbq/model"
)

// DefaultSamples is the number of calibration samples taken when
// Options.N is 0 (the paper's and the reference's 128).
const DefaultSamples = 128

// ImagePlaceholder marks where an image goes in a ShareGPT human turn.
const ImagePlaceholder = "<image>"

// Options control which records are loaded.
type Options struct {
	// N is the number of samples taken after the shuffle: 0 means
	// DefaultSamples, a negative value means every record. A file with
	// fewer records gives them all.
	N int
	// Seed seeds the shuffle (see Shuffle). The same file, N and Seed
	// always give the same samples in the same order.
	Seed uint64
	// ImagesDir, if set, is the directory relative image paths are
	// resolved against; else the directory of the calibration file.
	ImagesDir string
}

func (o Options) n(total int) int {
	switch {
	case o.N == 0:
		return min(DefaultSamples, total)
	case o.N < 0:
		return total
	}
	return min(o.N, total)
}

// ErrFormat is wrapped by every error about the content of a calibration
// file (as opposed to an I/O error).
var ErrFormat = errors.New("calibration file")

type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }
func (e *formatError) Unwrap() error { return ErrFormat }

func formatErr(format string, args ...any) error {
	return &formatError{fmt.Sprintf(format, args...)}
}

// turn is one entry of "conversations".
type turn struct {
	From  *string `json:"from"`
	Value *string `json:"value"`
}

// record is one ShareGPT4V entry; image is a path or a list of paths.
type record struct {
	ID            json.RawMessage `json:"id"`
	Image         json.RawMessage `json:"image"`
	Conversations []turn          `json:"conversations"`
}

// rawRecord is a record before decoding, with where it came from.
type rawRecord struct {
	data  json.RawMessage
	index int // 0-based record index
	line  int // 1-based line of a JSON-lines record; 0 for a JSON list
}

// where names a record in errors: `record 3 (line 4, id "x")`.
func (r *rawRecord) where(id string) string {
	var parts []string
	if r.line > 0 {
		parts = append(parts, "line "+strconv.Itoa(r.line))
	}
	if id != "" {
		parts = append(parts, "id "+strconv.Quote(id))
	}
	s := "record " + strconv.Itoa(r.index)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// parsed is a validated record: its messages, with image parts, and the
// paths of its images in placeholder order.
type parsed struct {
	id       string
	where    string
	messages []chat.Message
	images   []string
}

// LoadShareGPT reads image–caption (or any ShareGPT-layout) conversations
// from path, a JSON list of records or JSON lines (one record per line,
// blank lines skipped), shuffles them with opts.Seed, keeps the first
// opts.N and decodes their images. See the package documentation for the
// record layout and how turns become chat messages.
//
// Every record is validated, taken or not; images are read only for the
// records taken. Errors name the file, the record (index, line for JSON
// lines, id) and the field.
func LoadShareGPT(path string, opts Options) ([]model.Sample, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raws, err := splitRecords(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(raws) == 0 {
		return nil, fmt.Errorf("%s: %w", path, formatErr("no records"))
	}
	recs := make([]*parsed, len(raws))
	for i := range raws {
		p, err := parseRecord(&raws[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		recs[i] = p
	}
	base := opts.ImagesDir
	if base == "" {
		base = filepath.Dir(path)
	}
	order := Shuffle(len(recs), opts.Seed)
	order = order[:opts.n(len(recs))]
	out := make([]model.Sample, 0, len(order))
	for _, k := range order {
		p := recs[k]
		s := model.Sample{Messages: p.messages}
		for _, rel := range p.images {
			file := rel
			if !filepath.IsAbs(file) {
				file = filepath.Join(base, filepath.FromSlash(rel))
			}
			img, err := image.DecodeFile(file)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: image %q: %w", path, p.where, rel, err)
			}
			s.Images = append(s.Images, img)
		}
		out = append(out, s)
	}
	return out, nil
}

// splitRecords cuts a JSON list or JSON lines into records.
func splitRecords(data []byte) ([]rawRecord, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	trimmed = bytes.TrimPrefix(trimmed, []byte("\xef\xbb\xbf"))
	if len(trimmed) == 0 {
		return nil, nil
	}
	if trimmed[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, formatErr("not a JSON list of records: %s", jsonErr(trimmed, err))
		}
		out := make([]rawRecord, len(list))
		for i, r := range list {
			out[i] = rawRecord{data: r, index: i}
		}
		return out, nil
	}
	var out []rawRecord
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		if len(b) == 0 {
			continue
		}
		if !json.Valid(b) {
			var v any
			err := json.Unmarshal(b, &v)
			return nil, formatErr("line %d: not a JSON value (JSON lines): %s", line, jsonErr(b, err))
		}
		out = append(out, rawRecord{data: append(json.RawMessage(nil), b...), index: len(out), line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// jsonErr adds the line and column of a syntax error.
func jsonErr(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset > 0 && int(se.Offset) <= len(data) {
		pre := data[:se.Offset]
		line := bytes.Count(pre, []byte("\n")) + 1
		col := int(se.Offset) - bytes.LastIndexByte(pre, '\n') - 1
		return fmt.Sprintf("line %d, column %d: %v", line, col, err)
	}
	return err.Error()
}

// roles maps ShareGPT speaker names (and the chat names, accepted as
// aliases) to chat roles.
var roles = map[string]string{
	"human": "user", "user": "user",
	"gpt": "assistant", "assistant": "assistant",
	"system": "system",
}

func parseRecord(r *rawRecord) (*parsed, error) {
	if b := bytes.TrimSpace(r.data); len(b) == 0 || b[0] != '{' {
		return nil, formatErr("%s: not a JSON object", r.where(""))
	}
	var rec record
	if err := json.Unmarshal(r.data, &rec); err != nil {
		// Name the record by its id if that much can be read.
		var idOnly struct{ ID json.RawMessage }
		json.Unmarshal(r.data, &idOnly)
		id, _ := idString(idOnly.ID)
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, formatErr("%s: field %q: %v is not a %s", r.where(id), te.Field, te.Value, kindName(te.Field))
		}
		return nil, formatErr("%s: %v", r.where(id), err)
	}
	p := &parsed{}
	if id, err := idString(rec.ID); err != nil {
		return nil, formatErr("%s: field \"id\": %v", r.where(""), err)
	} else {
		p.id = id
	}
	p.where = r.where(p.id)
	images, err := imagePaths(rec.Image)
	if err != nil {
		return nil, formatErr("%s: field \"image\": %v", p.where, err)
	}
	p.images = images
	if rec.Conversations == nil {
		return nil, formatErr("%s: field \"conversations\": missing", p.where)
	}
	if len(rec.Conversations) == 0 {
		return nil, formatErr("%s: field \"conversations\": empty", p.where)
	}
	placeholders := 0
	firstUser := -1
	answers := 0
	for i, t := range rec.Conversations {
		field := fmt.Sprintf("conversations[%d]", i)
		if t.From == nil {
			return nil, formatErr("%s: %s: field \"from\": missing", p.where, field)
		}
		if t.Value == nil {
			return nil, formatErr("%s: %s: field \"value\": missing", p.where, field)
		}
		role, ok := roles[*t.From]
		if !ok {
			return nil, formatErr("%s: %s.from: unknown role %q (want \"human\", \"gpt\" or \"system\")", p.where, field, *t.From)
		}
		n := strings.Count(*t.Value, ImagePlaceholder)
		if n > 0 && role != "user" {
			return nil, formatErr("%s: %s.value: %s in a %q turn (only human turns may hold images)", p.where, field, ImagePlaceholder, *t.From)
		}
		placeholders += n
		switch role {
		case "user":
			if firstUser < 0 {
				firstUser = len(p.messages)
			}
			p.messages = append(p.messages, chat.Parts("user", userParts(*t.Value)...))
		case "assistant":
			answers++
			p.messages = append(p.messages, chat.Parts("assistant", chat.TextPart(*t.Value)))
		default:
			p.messages = append(p.messages, chat.Parts(role, chat.TextPart(*t.Value)))
		}
	}
	if answers == 0 {
		return nil, formatErr("%s: field \"conversations\": no \"gpt\" turn (the loss needs an answer)", p.where)
	}
	switch {
	case placeholders == 0 && len(p.images) > 0:
		// No placeholder: the images go first in the first human turn, as
		// LLaVA's data loader does.
		if firstUser < 0 {
			return nil, formatErr("%s: field \"conversations\": an image but no \"human\" turn to hold it", p.where)
		}
		m := &p.messages[firstUser]
		pre := make([]chat.Part, 0, len(p.images)+len(m.Parts))
		for range p.images {
			pre = append(pre, chat.ImagePart())
		}
		m.Parts = append(pre, m.Parts...)
	case placeholders != len(p.images):
		return nil, formatErr("%s: field \"image\": %d image(s) for %d %s placeholder(s) in the human turns",
			p.where, len(p.images), placeholders, ImagePlaceholder)
	}
	return p, nil
}

// userParts splits a human turn at each <image> into text and image parts.
// One newline right after a placeholder (ShareGPT4V's "<image>\n...") or
// right before one ("...\n<image>") is dropped, since the chat template
// puts its own separator between an image and the text; empty text parts
// are dropped.
func userParts(v string) []chat.Part {
	segs := strings.Split(v, ImagePlaceholder)
	var parts []chat.Part
	for i, s := range segs {
		if i > 0 {
			parts = append(parts, chat.ImagePart())
			if t, ok := strings.CutPrefix(s, "\r\n"); ok {
				s = t
			} else {
				s = strings.TrimPrefix(s, "\n")
			}
		}
		if i < len(segs)-1 {
			if t, ok := strings.CutSuffix(s, "\r\n"); ok {
				s = t
			} else {
				s = strings.TrimSuffix(s, "\n")
			}
		}
		if s != "" {
			parts = append(parts, chat.TextPart(s))
		}
	}
	if parts == nil {
		parts = []chat.Part{chat.TextPart("")}
	}
	return parts
}

func kindName(field string) string {
	switch field {
	case "conversations":
		return "list of turns"
	}
	if strings.HasSuffix(field, ".from") || strings.HasSuffix(field, ".value") {
		return "string"
	}
	return "valid value"
}

// idString renders an id that is a string or a number; absent is "".
func idString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("%s is not a string or a number", abbrev(raw))
}

// imagePaths reads "image": absent/null (text-only), a path, or a list of
// paths.
func imagePaths(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return nil, errors.New("empty path")
		}
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s is not a path or a list of paths", abbrev(raw))
	}
	for i, s := range list {
		if s == "" {
			return nil, fmt.Errorf("[%d]: empty path", i)
		}
	}
	return list, nil
}

func abbrev(b []byte) string {
	if len(b) > 40 {
		return string(b[:37]) + "..."
	}
	return string(b)
}
