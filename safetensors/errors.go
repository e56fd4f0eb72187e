package safetensors

import (
	"errors"
	"strconv"
	"strings"
)

// Classes of format errors, one per rule of the reference implementation
// (its SafeTensorError variants). Every error this package returns for a bad
// file is an *Error that wraps one of these, so callers can test the class
// with errors.Is while the message names the file, the tensor and the field.
var (
	ErrHeaderTooSmall   = errors.New("file shorter than the 8-byte header length")
	ErrHeaderTooLarge   = errors.New("header too large")
	ErrHeaderLength     = errors.New("invalid header length")
	ErrHeaderUTF8       = errors.New("header is not valid UTF-8")
	ErrHeaderJSON       = errors.New("invalid JSON header")
	ErrDType            = errors.New("unknown dtype")
	ErrShape            = errors.New("invalid shape")
	ErrOffsets          = errors.New("invalid data_offsets")
	ErrDuplicate        = errors.New("duplicate name")
	ErrOverflow         = errors.New("overflow computing tensor size")
	ErrMisaligned       = errors.New("sub-byte tensor does not end on a byte boundary")
	ErrSizeMismatch     = errors.New("data_offsets do not match shape and dtype")
	ErrIncompleteBuffer = errors.New("data section not exactly covered by tensors")
	ErrMetadata         = errors.New("invalid __metadata__")
	ErrNotFound         = errors.New("tensor not found")
	ErrClosed           = errors.New("file closed")
	ErrIndex            = errors.New("invalid sharded checkpoint index")
)

// Error is a format or usage error about one file (and, where it applies, one
// tensor and one of its fields).
type Error struct {
	File   string // path of the file, or the name given to FromBytes
	Tensor string // tensor name, "" when the error is about the file as a whole
	Field  string // "dtype", "shape", "data_offsets", "__metadata__", "header", ...
	Msg    string // what is wrong, in words, with the offending values
	Kind   error  // one of the Err* classes above
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Tensor != "" || e.Field == "tensor" {
		b.WriteString(": tensor ")
		b.WriteString(quote(e.Tensor))
	}
	b.WriteString(": ")
	if e.Field != "" && e.Field != "tensor" && !strings.HasPrefix(e.Msg, e.Field) {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the error's class.
func (e *Error) Unwrap() error { return e.Kind }

func quote(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}
