// Package kernels holds the numerical inner loops of mbq: the row kernels of
// the transformer layers (RMSNorm, softmax, activations, RoPE: rows*.go) and
// the single-precision matrix multiply (gemm*.go). Model code calls these
// functions and never assembly or cgo directly; every fast path has a
// pure-Go twin and is tested against a reference on odd sizes.
//
// # GEMM
//
// [Sgemm] computes, on row-major float32 matrices,
//
//	C = alpha·op(A)·op(B) + beta·C,   op(A) m×k, op(B) k×n, C m×n,
//
// with op(X) = X or Xᵀ (transA: A stored k×m; transB: B stored n×k, the
// layout of a PyTorch Linear weight [out, in]) and the reference-BLAS
// conventions: beta == 0 means C is not read, alpha == 0 or k == 0 means A
// and B are not read, only the m×n window of C is written. [MatMul],
// [MatMulTransB], [MatMulTransA] and their Acc forms are dense shorthands.
// Contract violations panic with a constant "kernels: Sgemm: ..." message.
//
// # Implementations and dispatch
//
//	ref       the defining triple loop (float64 sums); the oracle of the tests
//	go        pure-Go packed/blocked GEMM, goroutines over C, 2×4 register blocks
//	avx2      the same driver with AVX2/FMA assembly kernels (amd64 only, and only
//	          when golang.org/x/sys/cpu reports AVX2 and FMA)
//	openblas  cgo to cblas_sgemm, only in builds with -tags openblas (-lopenblas)
//
// [Active], which [Sgemm] calls, is the implementation named by the
// environment variable MBQ_GEMM (read once at start-up) if it is available,
// else openblas if built, else avx2 if supported, else go. An unknown or
// unavailable MBQ_GEMM name is ignored. [Implementations] lists what this
// binary and CPU support, ref first; [Lookup] finds one by name.
//
// # The packed driver (go and avx2)
//
// The Goto/BLIS loop nest. C is cut into column ranges (rows for narrow
// C), one per goroutine (up to runtime.GOMAXPROCS; a single one below
// m·n·k ≈ 160³, where waking a second core costs more than it saves), each
// with its own pack buffers from a sync.Pool. In each range:
//
//	for jc in blocks of nc (<= 4096) columns:
//	  for pc in blocks of kc (<= 256) of the k axis:
//	    pack op(B)[pc:pc+kc, jc:jc+nc] into panels of 16 columns, each kc×16:
//	      element (p, j) of a panel at [p*16 + j]
//	    for ic in blocks of mc (<= 96) rows:
//	      pack op(A)[ic:ic+mc, pc:pc+kc] into panels of 6 rows, each kc×6:
//	        element (i, p) of a panel at [p*6 + i]
//	      for each B panel, for each A panel:
//	        C[6×16 tile] = alpha·(A panel)·(B panel) + beta'·C[tile]
//
// with beta' = beta for the first k block and 1 after it. Panels are padded
// with zeros; a tile that overhangs C's edge is computed into a scratch
// 6×16 tile and the in-range part merged in Go, so nothing outside C's
// window is touched. The avx2 micro-kernel keeps the 6×16 tile in twelve
// ymm accumulators (row i in Y(2i):Y(2i+1)); each step p loads one 16-float
// row of the B panel into two ymm registers, broadcasts the six A values
// of column p, and issues 12 VFMADD231PS (4 steps unrolled). Its doc comment
// and that of the Go twin kernel6x16Go give the reference loop.
//
// Three shortcuts serve shapes where packing costs more than it saves:
//
//   - direct: m or n <= 2, or m·n·k <= 8³: C built row by row (m <= n) or
//     column by column (n < m) from axpy and dot products over contiguous
//     rows, vectorised in avx2 (this covers GEMV in either orientation);
//   - A·Bᵀ with m <= 16 and k >= 128 (avx2 only): 4×3 blocks of dot
//     products read A's and B's rows in place (dotNT4x3AVX2), nothing packed;
//   - A·B with m <= 256 per goroutine and a row stride of B that is not a
//     multiple of 512 floats (such rows fall into one or two L1 sets): full
//     B panels are read in place by the micro-kernel (its ldb argument), and
//     only the ragged last panel is packed.
//
// A transposed B panel is packed by 8×8 AVX2 transposes (packBT16AVX2).
//
// Tests: gemm_test.go runs every implementation, plus tiny-block variants
// of the packed ones, on all transpose combinations, alpha/beta pairs and
// odd sizes inside sentinel-filled guard bands, against ref. Benchmarks:
// BenchmarkSgemm, BenchmarkLinear and BenchmarkSgemmRatio (ratios to
// OpenBLAS measured in one run; see BENCHMARKS.md at the repository root).
//
// # Quantized kernels
//
// qgemv*.go: fused dequantize–GEMV for the packed W3/W4 group-wise and W8
// per-channel layouts of package quant (the bit layouts are documented in
// quant/pack.go). The default path quantizes the activation vector to int8
// per group of 128 and accumulates integer dot products (VPMADDUBSW,
// VPMADDWD), folding each group's zero point in once per row; the ...Float
// variants dequantize to float32 in registers instead (exact to float
// rounding, 2.3–2.8x slower). qgemv_prefill.go: W3/W4 × many tokens by
// dequantizing blocks of rows into the fp32 GEMM. int8gemm*.go: int8×int8
// GEMM with per-token dynamic activation quantization (W8A8, W4A8), a 6×16
// VPMADDWD micro-kernel (VPDPWSSD where AVX512-VNNI is present). Every fast
// kernel has a pure-Go twin and a conformance test with guard bands.
package kernels
