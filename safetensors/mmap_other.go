//go:build !unix

package safetensors

import (
	"io"
	"os"
)

// mapFile reads the whole file into memory on systems without syscall.Mmap.
func mapFile(f *os.File, size int64) ([]byte, func([]byte) error, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, nil, err
	}
	return b, func([]byte) error { return nil }, nil
}
