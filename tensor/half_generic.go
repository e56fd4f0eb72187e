//go:build !amd64

package tensor

func halfsToFloats(dst []float32, src []uint16) { halfsToFloatsGo(dst, src) }
func floatsToHalfs(dst []uint16, src []float32) { floatsToHalfsGo(dst, src) }
