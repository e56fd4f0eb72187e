//go:build !amd64

package kernels

const hasExpAVX2 = false

func expAffineAVX2(dst, src *float32, n int, a, b float32) {
	panic("kernels: expAffineAVX2 off amd64")
}
