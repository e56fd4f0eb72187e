// Package rtn is round-to-nearest weight quantization: no equalization, no
// error feedback. Each weight matrix W [rows, cols] (rows = output channels)
// is quantized independently with the quantizers of package quant
// (design/algorithm.md §1):
//
//	asymmetric, groups of g input channels (g <= 0: per output row):
//	  scale = max(max(w) - min(w), 1e-5) / (2^b - 1)
//	  zero  = clamp(-round(min(w)/scale), 0, 2^b - 1)
//	  q     = clamp(round(w/scale) + zero, 0, 2^b - 1),  w' = (q - zero)*scale
//	symmetric, per output row (weight-activation modes):
//	  scale = max(max|w|, 1e-5) / (2^(b-1) - 1)
//	  q     = clamp(round(w/scale), -2^(b-1), 2^(b-1) - 1), w' = q*scale
//
// with round half to even, in float32. The functions here are matrix-level;
// the block-level method interface belongs to the pipeline (package quantize).
package rtn
