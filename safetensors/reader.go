package safetensors

import (
	"fmt"
	"os"
	"sort"
	"sync"
)

// File is an open safetensors file: a validated header over a read-only
// memory mapping of the whole file. Tensor data is not read until it is asked
// for (and then only the pages it touches are faulted in).
//
// A File is safe for concurrent use. Slices returned by Bytes alias the
// mapping and must not be used after Close.
type File struct {
	path  string
	data  []byte // the whole file
	h     *header
	names []string // sorted

	mu     sync.RWMutex
	closed bool
	unmap  func([]byte) error
}

// Open memory-maps the file at path and validates its header. Any file the
// reference implementation would reject is rejected here with an *Error that
// names the file, the tensor and the field.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s: not a regular file", path)
	}
	size := st.Size()
	if size < 8 {
		// Too short for the length prefix; mmap of an empty file fails anyway.
		return nil, &Error{File: path, Field: "header", Kind: ErrHeaderTooSmall,
			Msg: fmt.Sprintf("file is %d bytes, shorter than the 8-byte header length", size)}
	}
	data, unmap, err := mapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: mapping file: %w", path, err)
	}
	sf, err := newFile(path, data)
	if err != nil {
		unmap(data)
		return nil, err
	}
	sf.unmap = unmap
	return sf, nil
}

// FromBytes parses a safetensors file held in memory; name is used in error
// messages. The File aliases data, which must not change while it is in use.
func FromBytes(name string, data []byte) (*File, error) {
	return newFile(name, data)
}

func newFile(path string, data []byte) (*File, error) {
	h, err := parseFile(path, data)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(h.tensors))
	for i, t := range h.tensors {
		names[i] = t.Name
	}
	sort.Strings(names)
	return &File{path: path, data: data, h: h, names: names}, nil
}

// Close releases the mapping. Slices obtained from Bytes become invalid.
// Closing twice is not an error.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if f.unmap != nil {
		err = f.unmap(f.data)
		if err != nil {
			err = fmt.Errorf("safetensors: %s: unmapping: %w", f.path, err)
		}
	}
	f.data = nil
	return err
}

// Path is the path the file was opened from (or the name given to FromBytes).
func (f *File) Path() string { return f.path }

// Metadata returns a copy of the header's "__metadata__" map, or nil if the
// header has none.
func (f *File) Metadata() map[string]string {
	if !f.h.hasMeta {
		return nil
	}
	m := make(map[string]string, len(f.h.metadata))
	for k, v := range f.h.metadata {
		m[k] = v
	}
	return m
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Len is the number of tensors.
func (f *File) Len() int { return len(f.h.tensors) }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.h.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.h.tensors[i]
	t.Shape = append([]int{}, t.Shape...)
	return t, true
}

// DataOffset is the absolute file offset of the data section (8 + header length).
func (f *File) DataOffset() int64 { return 8 + f.h.n }

// Bytes returns the named tensor's raw little-endian bytes as a slice of the
// mapping, without copying. The slice must not be written to (the mapping is
// read-only: writing faults) nor used after Close.
func (f *File) Bytes(name string) ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.bytesLocked(name)
}

func (f *File) bytesLocked(name string) ([]byte, error) {
	if f.closed {
		return nil, &Error{File: f.path, Tensor: name, Field: "tensor", Msg: "file is closed", Kind: ErrClosed}
	}
	i, ok := f.h.index[name]
	if !ok {
		return nil, &Error{File: f.path, Tensor: name, Field: "tensor", Msg: "no such tensor", Kind: ErrNotFound}
	}
	t := f.h.tensors[i]
	start := 8 + f.h.n
	return f.data[start+t.Offsets[0] : start+t.Offsets[1] : start+t.Offsets[1]], nil
}

// Tensor returns the named tensor with Data aliasing the mapping (see Bytes),
// ready to be passed back to Serialize.
func (f *File) Tensor(name string) (Tensor, error) {
	b, err := f.Bytes(name)
	if err != nil {
		return Tensor{}, err
	}
	info, _ := f.Info(name)
	return Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: b}, nil
}

// Float32 converts the named tensor to a new []float32. It accepts F32, F16,
// BF16, F64, the 8-bit float types, BOOL and all integer types (large integers
// and F64 values round to the nearest float32). C64 and the sub-byte types F4
// and F6_* are refused.
func (f *File) Float32(name string) ([]float32, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, err := f.bytesLocked(name)
	if err != nil {
		return nil, err
	}
	t := f.h.tensors[f.h.index[name]]
	out, err := ToFloat32(t.DType, b)
	if err != nil {
		return nil, &Error{File: f.path, Tensor: name, Field: "dtype", Msg: err.Error(), Kind: ErrDType}
	}
	return out, nil
}
