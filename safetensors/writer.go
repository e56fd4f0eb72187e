package safetensors

import (
	"mbq/internal/atomicfile"

	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"
	"unicode/utf8"
	"unsafe"

	"mbq/tensor"
)

// Tensor is a named tensor to write: Data holds its elements in little-endian
// row-major order, numel*BitSize()/8 bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// prepared is a validated, ordered set of tensors with its padded header.
type prepared struct {
	header  []byte // JSON, padded with spaces to a multiple of 8
	order   []int  // indexes into the caller's slice, in data order
	dataLen int64
}

// prepare validates the tensors and builds the header exactly as the
// reference's `prepare` does: tensors sorted by dtype in descending enum order
// (widest alignment first) and then by name (byte order); data laid out
// contiguously in that order; the header a compact JSON object with
// "__metadata__" first (when metadata is non-nil) and then the tensors in data
// order, each {"dtype":..,"shape":[..],"data_offsets":[b,e]}; the header
// padded with spaces to a multiple of 8 bytes.
//
// The reference keeps metadata in a Rust HashMap, so with two or more keys
// its key order is unspecified (it varies between runs); this writer sorts
// the keys, which is one of the orders the reference can produce, and makes
// the output deterministic.
func prepare(tensors []Tensor, metadata map[string]string) (*prepared, error) {
	seen := make(map[string]bool, len(tensors))
	sizes := make([]int64, len(tensors))
	for i, t := range tensors {
		werr := func(field, format string, args ...any) error {
			return fmt.Errorf("safetensors: tensor %s: %s: %s", quote(t.Name), field, fmt.Sprintf(format, args...))
		}
		if !utf8.ValidString(t.Name) {
			return nil, werr("name", "not valid UTF-8")
		}
		if t.Name == "__metadata__" {
			return nil, werr("name", "__metadata__ is reserved for the metadata map")
		}
		if seen[t.Name] {
			return nil, werr("name", "appears twice")
		}
		seen[t.Name] = true
		if !t.DType.Valid() {
			return nil, werr("dtype", "unknown dtype %q", string(t.DType))
		}
		n, err := byteLen(t.DType, t.Shape)
		if err != nil {
			return nil, werr("shape", "%v", err)
		}
		if int64(len(t.Data)) != n {
			return nil, werr("data", "holds %d bytes, shape %v %s needs %d", len(t.Data), t.Shape, t.DType, n)
		}
		sizes[i] = n
	}
	keys := make([]string, 0, len(metadata))
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("safetensors: __metadata__ key %q: key or value is not valid UTF-8", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)

	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := tensors[order[i]], tensors[order[j]]
		if ra, rb := a.DType.rank(), b.DType.rank(); ra != rb {
			return ra > rb
		}
		return a.Name < b.Name
	})

	h := make([]byte, 0, 64+96*len(tensors))
	h = append(h, '{')
	if metadata != nil {
		h = append(h, `"__metadata__":{`...)
		for i, k := range keys {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendSerdeString(h, k)
			h = append(h, ':')
			h = appendSerdeString(h, metadata[k])
		}
		h = append(h, '}')
	}
	off := int64(0)
	for i, idx := range order {
		t := tensors[idx]
		if i > 0 || metadata != nil {
			h = append(h, ',')
		}
		h = appendSerdeString(h, t.Name)
		h = append(h, `:{"dtype":"`...)
		h = append(h, t.DType...)
		h = append(h, `","shape":[`...)
		for j, s := range t.Shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = appendUint(h, int64(s))
		}
		h = append(h, `],"data_offsets":[`...)
		h = appendUint(h, off)
		h = append(h, ',')
		if sizes[idx] > math.MaxInt64-off {
			return nil, fmt.Errorf("safetensors: tensor %s: total data size overflows", quote(t.Name))
		}
		off += sizes[idx]
		h = appendUint(h, off)
		h = append(h, "]}"...)
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	if len(h) > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header of %d bytes exceeds the %d-byte limit: %w", len(h), MaxHeaderSize, ErrHeaderTooLarge)
	}
	return &prepared{header: h, order: order, dataLen: off}, nil
}

// Serialize writes tensors and metadata in the safetensors format, byte for
// byte as the reference implementation's serialize does (see prepare for the
// layout rules). A nil metadata map writes no "__metadata__" key (the
// reference's None); a non-nil empty map writes "__metadata__":{} (Some of an
// empty map). Tensor names must be unique, valid UTF-8 and not
// "__metadata__"; each Data must hold exactly the bytes its dtype and shape
// need.
func Serialize(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	p, err := prepare(tensors, metadata)
	if err != nil {
		return err
	}
	return p.write(w, tensors)
}

func (p *prepared) write(w io.Writer, tensors []Tensor) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(p.header)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(p.header); err != nil {
		return err
	}
	for _, i := range p.order {
		if _, err := w.Write(tensors[i].Data); err != nil {
			return err
		}
	}
	return nil
}

// Size is the number of bytes Serialize would write for these tensors and
// metadata.
func Size(tensors []Tensor, metadata map[string]string) (int64, error) {
	p, err := prepare(tensors, metadata)
	if err != nil {
		return 0, err
	}
	return 8 + int64(len(p.header)) + p.dataLen, nil
}

// WriteFile serializes tensors to path atomically: it writes a temporary file
// in the same directory, fsyncs it, renames it over path and fsyncs the
// directory. On any error the temporary file is removed and path is left as
// it was. Writing over a file that is currently mapped by Open is safe: the
// old mapping keeps the old contents.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	p, err := prepare(tensors, metadata)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeAtomic(path, func(w io.Writer) error { return p.write(w, tensors) })
}

// writeAtomic writes path through atomicfile: never a partial file.
func writeAtomic(path string, fill func(io.Writer) error) error {
	if err := atomicfile.Write(path, fill); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// F32Tensor builds an F32 tensor from float32 values (copied).
func F32Tensor(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: F32, Shape: shape, Data: b}
}

// F16Tensor builds an F16 tensor, rounding float32 values to nearest even.
func F16Tensor(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], tensor.FloatToHalf(v))
	}
	return Tensor{Name: name, DType: F16, Shape: shape, Data: b}
}

// BF16Tensor builds a BF16 tensor, rounding float32 values to nearest even.
func BF16Tensor(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], tensor.FloatToBFloat16(v))
	}
	return Tensor{Name: name, DType: BF16, Shape: shape, Data: b}
}

// I32Tensor builds an I32 tensor.
func I32Tensor(name string, shape []int, data []int32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return Tensor{Name: name, DType: I32, Shape: shape, Data: b}
}

// I64Tensor builds an I64 tensor.
func I64Tensor(name string, shape []int, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: I64, Shape: shape, Data: b}
}

// I8Tensor builds an I8 tensor.
func I8Tensor(name string, shape []int, data []int8) Tensor {
	b := make([]byte, len(data))
	if len(data) > 0 {
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), len(data)))
	}
	return Tensor{Name: name, DType: I8, Shape: shape, Data: b}
}

// U8Tensor builds a U8 tensor (the bytes are copied).
func U8Tensor(name string, shape []int, data []uint8) Tensor {
	return Tensor{Name: name, DType: U8, Shape: shape, Data: append([]byte{}, data...)}
}
