//go:build !amd64

package kernels

func gemvW4Impl(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group, _ int, q *qact) {
	gemvW4Go(y, data, scales, zeros, groups, group, q)
}

func gemvW3Impl(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group, _ int, q *qact) {
	gemvW3Go(y, data, scales, zeros, groups, group, q)
}

func gemvW8Impl(y []float32, data []byte, rowScales []float32, stride int, q *qact) {
	gemvW8Go(y, data, rowScales, stride, q)
}

func gemvW4FloatImpl(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group int, x, sxn []float32) {
	gemvW4FloatGo(y, data, scales, zeros, groups, group, x, sxn)
}

func gemvF32Impl(y, x, w []float32, ldw int) { gemvF32Go(y, x, w, ldw) }

func streamImpl(b []byte) uint64 { return streamGo(b) }

func useQAVX2Flag() bool { return false }

func setQAVX2(bool) {}

func quantActBlocks(x []float32, bs int, a []int8, d []float32, s []int32) int { return 0 }

// qSlabCodes has no effect without the assembly kernels.
var qSlabCodes = 1 << 30

func dequantRow(bits int, dst []float32, row []byte, scales []uint16, zeros []uint8, group int) {
	dequantRowGo(bits, dst, row, scales, zeros, group)
}

func gemvW3FloatImpl(y []float32, data []byte, scales []uint16, zeros []uint8, groups, group int, x, sxn []float32) {
	gemvW3FloatGo(y, data, scales, zeros, groups, group, x, sxn)
}
