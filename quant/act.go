package quant

// actScale returns the per-token scale max(absmax(x), 1e-5)/(2^(b-1)-1).
func actScale(x []float32, bits int) float32 {
	s, _ := GroupParams(x, WeightSpec{Bits: bits, Symmetric: true})
	return s
}

func checkAct(n, rows, cols, bits int) {
	if bits < 2 || bits > 8 {
		panic("quant: activation bits out of range 2..8")
	}
	if rows < 0 || cols < 0 || n != rows*cols {
		panic("quant: activation size does not match rows×cols")
	}
}

// FakeQuantActPerToken quantizes and dequantizes each row x of the [rows, cols]
// activation matrix in place (per-token symmetric dynamic quantization):
// scale = max(absmax(x), 1e-5) / (2^(b-1)-1);
// x' = clamp(round(x/scale), -2^(b-1), 2^(b-1)-1) * scale.
// It panics if len(x) != rows*cols or bits is outside 2..8.
func FakeQuantActPerToken(x []float32, rows, cols, bits int) {
	checkAct(len(x), rows, cols, bits)
	lo, hi := WeightSpec{Bits: bits, Symmetric: true}.Range()
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		s := actScale(row, bits)
		for i, v := range row {
			row[i] = Decode(Code(v, s, 0, lo, hi), s, 0)
		}
	}
}

// QuantizeActPerToken is the integer form of FakeQuantActPerToken for int8
// kernels: codes[r*cols+c] = clamp(round(x/scale), -2^(b-1), 2^(b-1)-1) and
// scales[r] = the row's scale, so that x' = float32(codes) * scales[r].
// It panics if the slice lengths do not match or bits is outside 2..8.
func QuantizeActPerToken(x []float32, rows, cols, bits int, codes []int8, scales []float32) {
	checkAct(len(x), rows, cols, bits)
	if len(codes) != len(x) || len(scales) != rows {
		panic("quant: QuantizeActPerToken: codes or scales length mismatch")
	}
	lo, hi := WeightSpec{Bits: bits, Symmetric: true}.Range()
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		s := actScale(row, bits)
		scales[r] = s
		out := codes[r*cols : (r+1)*cols]
		for i, v := range row {
			out[i] = int8(Code(v, s, 0, lo, hi))
		}
	}
}
