package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense row-major float32 array. The zero value is an empty
// tensor. Shape and Data are exported so kernels can work on Data directly;
// len(Data) == product(Shape) is an invariant every constructor keeps.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Numel returns the number of elements a shape holds, or -1 for a negative
// dimension or a product that overflows int.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > int(^uint(0)>>1)/d {
			return -1
		}
		n *= d
	}
	return n
}

// New returns a zero-filled tensor of the given shape. It panics on a negative
// dimension (a programming error, never a user's file: loaders validate first).
func New(shape ...int) *Tensor {
	n := Numel(shape)
	if n < 0 {
		panic("tensor: invalid shape")
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromData wraps data (no copy) in a tensor of the given shape, or returns an
// error if the sizes disagree.
func FromData(data []float32, shape ...int) (*Tensor, error) {
	n := Numel(shape)
	if n < 0 || n != len(data) {
		return nil, fmt.Errorf("tensor: shape %v holds %d elements, data has %d", shape, n, len(data))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Numel returns the number of elements.
func (t *Tensor) Numel() int { return len(t.Data) }

// Dim returns the size of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Rows is the product of all but the last axis: the number of rows when the
// tensor is viewed as a matrix [Rows, Cols].
func (t *Tensor) Rows() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return Numel(t.Shape[:len(t.Shape)-1])
}

// Cols is the size of the last axis (1 for a scalar).
func (t *Tensor) Cols() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[len(t.Shape)-1]
}

// Row returns row i of the matrix view, sharing memory.
func (t *Tensor) Row(i int) []float32 {
	c := t.Cols()
	return t.Data[i*c : (i+1)*c : (i+1)*c]
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Reshape returns a tensor sharing t's data with a new shape of the same
// size; one dimension may be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	s := append([]int(nil), shape...)
	infer := -1
	known := 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("tensor: reshape %v to %v: bad dimension %d", t.Shape, shape, d)
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || len(t.Data)%known != 0 {
			return nil, fmt.Errorf("tensor: reshape %v to %v: cannot infer dimension", t.Shape, shape)
		}
		s[infer] = len(t.Data) / known
	}
	if Numel(s) != len(t.Data) {
		return nil, fmt.Errorf("tensor: reshape %v (%d elements) to %v", t.Shape, len(t.Data), shape)
	}
	return &Tensor{Shape: s, Data: t.Data}, nil
}

// String describes the shape, e.g. "tensor[2 3]".
func (t *Tensor) String() string {
	parts := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		parts[i] = fmt.Sprint(d)
	}
	return "tensor[" + strings.Join(parts, " ") + "]"
}
