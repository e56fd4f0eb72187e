package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header the reference implementation reads
// or writes (100 MB); longer headers are rejected as absurd.
const MaxHeaderSize = 100_000_000

// TensorInfo describes one tensor of a file: its dtype, its shape and the
// byte range [Offsets[0], Offsets[1]) it occupies, relative to the start of
// the data section.
type TensorInfo struct {
	Name    string
	DType   DType
	Shape   []int
	Offsets [2]int64
}

// NumElements is the product of the shape (1 for a scalar of shape []).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, s := range t.Shape {
		n *= int64(s)
	}
	return n
}

// ByteLen is Offsets[1]-Offsets[0].
func (t TensorInfo) ByteLen() int64 { return t.Offsets[1] - t.Offsets[0] }

// header is a parsed and validated header.
type header struct {
	n        int64 // JSON length N; the data section starts at 8+N
	tensors  []TensorInfo
	index    map[string]int // name -> position in tensors
	metadata map[string]string
	hasMeta  bool
}

// parseFile parses and validates the whole file held in buf (header and data
// section), as the reference's SafeTensors::read_metadata does.
func parseFile(file string, buf []byte) (*header, error) {
	ferr := func(kind error, field, format string, args ...any) error {
		return &Error{File: file, Field: field, Msg: fmt.Sprintf(format, args...), Kind: kind}
	}
	if len(buf) < 8 {
		return nil, ferr(ErrHeaderTooSmall, "header", "file is %d bytes, shorter than the 8-byte header length", len(buf))
	}
	n := binary.LittleEndian.Uint64(buf[:8])
	if n > MaxHeaderSize {
		return nil, ferr(ErrHeaderTooLarge, "header", "header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(len(buf)-8) {
		return nil, ferr(ErrHeaderLength, "header", "header length %d exceeds the %d bytes that follow it in the file", n, len(buf)-8)
	}
	h, err := parseHeaderJSON(file, buf[8:8+n])
	if err != nil {
		return nil, err
	}
	h.n = int64(n)
	if err := h.validate(file, int64(len(buf))-8-int64(n)); err != nil {
		return nil, err
	}
	return h, nil
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseHeaderJSON parses the JSON header strictly: an object whose keys are
// tensor names (each an object with dtype, shape and data_offsets) plus an
// optional "__metadata__" string-to-string object. Duplicate keys, unknown
// dtypes, non-integer or negative numbers and trailing non-whitespace are
// errors. Unknown fields inside a tensor entry are ignored, as the reference
// (serde without deny_unknown_fields) does.
func parseHeaderJSON(file string, js []byte) (*header, error) {
	ferr := func(kind error, tensor, field, format string, args ...any) error {
		return &Error{File: file, Tensor: tensor, Field: field, Msg: fmt.Sprintf(format, args...), Kind: kind}
	}
	if !utf8.Valid(js) {
		i := 0
		for i < len(js) {
			r, size := utf8.DecodeRune(js[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		return nil, ferr(ErrHeaderUTF8, "", "header", "header is not valid UTF-8 (bad byte 0x%02x at header byte %d)", js[i], i)
	}
	// The header must be a JSON object. The reference accepts leading JSON
	// whitespace (writers may pad), so we do too; anything else before '{'
	// is an error.
	first := bytes.IndexFunc(js, func(r rune) bool { return r > 0x7f || !isJSONSpace(byte(r)) })
	if first < 0 {
		return nil, ferr(ErrHeaderJSON, "", "header", "header is empty; it must be a JSON object starting with '{'")
	}
	if js[first] != '{' {
		return nil, ferr(ErrHeaderJSON, "", "header", "header must be a JSON object starting with '{', found %q at header byte %d", js[first], first)
	}

	if i, ok := checkSurrogates(js); !ok {
		return nil, ferr(ErrHeaderJSON, "", "header", "invalid JSON at header byte %d: unpaired UTF-16 surrogate in a \\u escape", i)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	jerr := func(tensor, field string, err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ferr(ErrHeaderJSON, tensor, field, "invalid JSON: header ends early at byte %d", len(js))
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return ferr(ErrHeaderJSON, tensor, field, "invalid JSON at header byte %d: %v", se.Offset, err)
		}
		return ferr(ErrHeaderJSON, tensor, field, "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != nil { // '{'
		return nil, jerr("", "header", err)
	}
	h := &header{index: make(map[string]int)}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jerr("", "header", err)
		}
		name, _ := tok.(string) // object keys are always strings
		if name == "__metadata__" {
			if seenMeta {
				return nil, ferr(ErrDuplicate, "", "__metadata__", "__metadata__ appears twice in the header")
			}
			seenMeta = true
			if err := parseMetadata(file, dec, h, jerr); err != nil {
				return nil, err
			}
			continue
		}
		if _, dup := h.index[name]; dup {
			return nil, ferr(ErrDuplicate, name, "tensor", "name appears twice in the header")
		}
		info, err := parseTensorInfo(file, name, dec, jerr)
		if err != nil {
			return nil, err
		}
		h.index[name] = len(h.tensors)
		h.tensors = append(h.tensors, info)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, jerr("", "header", err)
	}
	rest := js[dec.InputOffset():]
	for i, c := range rest {
		if !isJSONSpace(c) {
			return nil, ferr(ErrHeaderJSON, "", "header", "trailing characters after the JSON object at header byte %d (%q); only whitespace padding is allowed", int(dec.InputOffset())+i, c)
		}
	}
	return h, nil
}

// checkSurrogates reports the position of the first \u escape that encodes
// half of a UTF-16 surrogate pair without its other half. serde_json (the
// reference's parser) rejects these; encoding/json would silently turn them
// into U+FFFD.
func checkSurrogates(js []byte) (int, bool) {
	hex4 := func(i int) (int, bool) {
		if i+4 > len(js) {
			return 0, false
		}
		v, err := strconv.ParseUint(string(js[i:i+4]), 16, 16)
		return int(v), err == nil
	}
	inString := false
	for i := 0; i < len(js); i++ {
		c := js[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			if i+1 >= len(js) {
				return i, true // truncated; the JSON parser reports it
			}
			if js[i+1] != 'u' {
				i++
				continue
			}
			v, ok := hex4(i + 2)
			if !ok {
				return i, true // malformed escape; the JSON parser reports it
			}
			switch {
			case v >= 0xdc00 && v <= 0xdfff:
				return i, false
			case v >= 0xd800 && v <= 0xdbff:
				if i+12 > len(js) || js[i+6] != '\\' || js[i+7] != 'u' {
					return i, false
				}
				lo, ok := hex4(i + 8)
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return i, false
				}
				i += 6
			}
			i += 5
		}
	}
	return 0, true
}

type jsonErrFunc func(tensor, field string, err error) error

func parseMetadata(file string, dec *json.Decoder, h *header, jerr jsonErrFunc) error {
	merr := func(format string, args ...any) error {
		return &Error{File: file, Field: "__metadata__", Msg: fmt.Sprintf(format, args...), Kind: ErrMetadata}
	}
	tok, err := dec.Token()
	if err != nil {
		return jerr("", "__metadata__", err)
	}
	if tok == nil { // "__metadata__": null is None for the reference
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return merr("__metadata__ must be an object of strings, found %s", describeToken(tok))
	}
	h.hasMeta = true
	h.metadata = make(map[string]string)
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return jerr("", "__metadata__", err)
		}
		k, _ := kt.(string)
		vt, err := dec.Token()
		if err != nil {
			return jerr("", "__metadata__", err)
		}
		v, ok := vt.(string)
		if !ok {
			return merr("__metadata__ value of key %q must be a string, found %s", k, describeToken(vt))
		}
		if _, dup := h.metadata[k]; dup {
			return &Error{File: file, Field: "__metadata__", Msg: fmt.Sprintf("__metadata__ key %q appears twice", k), Kind: ErrDuplicate}
		}
		h.metadata[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return jerr("", "__metadata__", err)
	}
	return nil
}

func describeToken(tok any) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return string(v)
	case string:
		return "string " + strconv.Quote(v)
	case json.Number:
		return "number " + v.String()
	case bool:
		return "bool " + strconv.FormatBool(v)
	}
	return fmt.Sprintf("%v", tok)
}

// parseUint parses a JSON number as a non-negative integer; ok is false for
// negatives, fractions, exponents and values beyond 2^64-1.
func parseUint(n json.Number) (uint64, bool) {
	s := string(n)
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func parseTensorInfo(file, name string, dec *json.Decoder, jerr jsonErrFunc) (TensorInfo, error) {
	info := TensorInfo{Name: name}
	terr := func(kind error, field, format string, args ...any) error {
		return &Error{File: file, Tensor: name, Field: field, Msg: fmt.Sprintf(format, args...), Kind: kind}
	}
	tok, err := dec.Token()
	if err != nil {
		return info, jerr(name, "tensor", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return info, terr(ErrHeaderJSON, "tensor", "entry must be an object with dtype, shape and data_offsets, found %s", describeToken(tok))
	}
	var seenDType, seenShape, seenOffsets bool
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return info, jerr(name, "tensor", err)
		}
		key, _ := kt.(string)
		switch key {
		case "dtype":
			if seenDType {
				return info, terr(ErrDuplicate, "dtype", "dtype appears twice")
			}
			seenDType = true
			vt, err := dec.Token()
			if err != nil {
				return info, jerr(name, "dtype", err)
			}
			s, ok := vt.(string)
			if !ok {
				return info, terr(ErrDType, "dtype", "dtype must be a string, found %s", describeToken(vt))
			}
			if !DType(s).Valid() {
				return info, terr(ErrDType, "dtype", "unknown dtype %q", s)
			}
			info.DType = DType(s)
		case "shape":
			if seenShape {
				return info, terr(ErrDuplicate, "shape", "shape appears twice")
			}
			seenShape = true
			vals, err := parseUintArray(dec, name, "shape", jerr, terr)
			if err != nil {
				return info, err
			}
			info.Shape = make([]int, len(vals))
			for i, v := range vals {
				if v > math.MaxInt {
					return info, terr(ErrOverflow, "shape", "shape %v: dimension %d is too large (overflows int)", vals, v)
				}
				info.Shape[i] = int(v)
			}
		case "data_offsets":
			if seenOffsets {
				return info, terr(ErrDuplicate, "data_offsets", "data_offsets appears twice")
			}
			seenOffsets = true
			vals, err := parseUintArray(dec, name, "data_offsets", jerr, terr)
			if err != nil {
				return info, err
			}
			if len(vals) != 2 {
				return info, terr(ErrOffsets, "data_offsets", "data_offsets %v must hold exactly two numbers [begin, end]", vals)
			}
			for i, v := range vals {
				if v > math.MaxInt64 {
					return info, terr(ErrOffsets, "data_offsets", "data_offsets %v: offset %d is beyond any file", vals, v)
				}
				info.Offsets[i] = int64(v)
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return info, jerr(name, key, err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return info, jerr(name, "tensor", err)
	}
	switch {
	case !seenDType:
		return info, terr(ErrDType, "dtype", "missing field dtype")
	case !seenShape:
		return info, terr(ErrShape, "shape", "missing field shape")
	case !seenOffsets:
		return info, terr(ErrOffsets, "data_offsets", "missing field data_offsets")
	}
	return info, nil
}

func parseUintArray(dec *json.Decoder, name, field string, jerr jsonErrFunc, terr func(kind error, field, format string, args ...any) error) ([]uint64, error) {
	kind := ErrShape
	if field == "data_offsets" {
		kind = ErrOffsets
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, jerr(name, field, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, terr(kind, field, "%s must be an array of non-negative integers, found %s", field, describeToken(tok))
	}
	vals := []uint64{}
	for dec.More() {
		vt, err := dec.Token()
		if err != nil {
			return nil, jerr(name, field, err)
		}
		num, ok := vt.(json.Number)
		if !ok {
			return nil, terr(kind, field, "%s element %d must be a non-negative integer, found %s", field, len(vals), describeToken(vt))
		}
		v, ok := parseUint(num)
		if !ok {
			return nil, terr(kind, field, "%s element %d is %s, not a non-negative integer below 2^64", field, len(vals), num)
		}
		vals = append(vals, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jerr(name, field, err)
	}
	return vals, nil
}

// validate applies the reference's Metadata::validate rules plus the final
// coverage check of read_metadata: every tensor's byte length equals
// numel*bits/8 (with checked arithmetic and whole bytes), the tensors sorted
// by offsets tile [0, dataLen) exactly, with no gap and no overlap (zero-size
// tensors may share an offset). Errors name the tensor and the field.
func (h *header) validate(file string, dataLen int64) error {
	for _, t := range h.tensors {
		terr := func(kind error, field, format string, args ...any) error {
			return &Error{File: file, Tensor: t.Name, Field: field, Msg: fmt.Sprintf(format, args...), Kind: kind}
		}
		b, e := t.Offsets[0], t.Offsets[1]
		if e < b {
			return terr(ErrOffsets, "data_offsets", "data_offsets [%d %d]: end is before begin", b, e)
		}
		size, err := byteLen(t.DType, t.Shape)
		if err != nil {
			kind := ErrOverflow
			if errors.Is(err, ErrMisaligned) {
				kind = ErrMisaligned
			}
			return terr(kind, "shape", "%v", err)
		}
		if e-b != size {
			return terr(ErrSizeMismatch, "data_offsets", "data_offsets [%d %d] hold %d bytes, shape %v %s needs %d", b, e, e-b, t.Shape, t.DType, size)
		}
		if e > dataLen {
			return terr(ErrOffsets, "data_offsets", "data_offsets [%d %d] run past the end of the data section, which holds %d bytes", b, e, dataLen)
		}
	}
	order := make([]int, len(h.tensors))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := h.tensors[order[i]], h.tensors[order[j]]
		if a.Offsets != b.Offsets {
			return a.Offsets[0] < b.Offsets[0] || (a.Offsets[0] == b.Offsets[0] && a.Offsets[1] < b.Offsets[1])
		}
		return a.Name < b.Name
	})
	pos := int64(0)
	prev := -1
	for _, i := range order {
		t := h.tensors[i]
		b, e := t.Offsets[0], t.Offsets[1]
		terr := func(kind error, format string, args ...any) error {
			return &Error{File: file, Tensor: t.Name, Field: "data_offsets", Msg: fmt.Sprintf(format, args...), Kind: kind}
		}
		switch {
		case b < pos:
			p := h.tensors[prev]
			return terr(ErrOffsets, "data_offsets [%d %d] overlap tensor %s at [%d %d]", b, e, quote(p.Name), p.Offsets[0], p.Offsets[1])
		case b > pos && prev < 0:
			return terr(ErrOffsets, "data_offsets [%d %d] leave a gap: the first tensor must begin at 0", b, e)
		case b > pos:
			p := h.tensors[prev]
			return terr(ErrOffsets, "data_offsets [%d %d] leave a gap [%d %d) after tensor %s", b, e, pos, b, quote(p.Name))
		}
		pos = e
		prev = i
	}
	if pos != dataLen {
		return &Error{File: file, Field: "data_offsets", Kind: ErrIncompleteBuffer,
			Msg: fmt.Sprintf("tensors cover %d bytes but the data section holds %d; %d trailing bytes are not covered by any tensor", pos, dataLen, dataLen-pos)}
	}
	return nil
}
