//go:build !amd64

package kernels

func int8KernelImpl(kp int, a []int32, b []int8, c []float32, ldc int, sa, sb []float32) {
	int8Kernel6x16Go(kp, a, b, c, ldc, sa, sb)
}

var useI8VNNI = false
