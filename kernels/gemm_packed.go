package kernels

import (
	"runtime"
	"sync"
	"unsafe"
)

// The packed GEMM driver (Goto/BLIS blocking) shared by the "go" and "avx2"
// implementations; they differ only in the micro-kernel and the vector
// helpers of the direct path.
//
//	for jc over n in blocks of nc:           B block kc×nc (per thread, L3)
//	  for pc over k in blocks of kc:
//	    pack op(B)[pc:pc+kc, jc:jc+nc] into nc/16 panels, each kc×16
//	    for ic over m in blocks of mc:       A block mc×kc (L2)
//	      pack op(A)[ic:ic+mc, pc:pc+kc] into mc/6 panels, each kc×6
//	      for jr over the B panels:          B panel kc×16 (L1)
//	        for ir over the A panels:
//	          micro-kernel: C[6×16 tile] = alpha*Apanel·Bpanel + beta'*C
//
// with beta' = beta for the first k block and 1 after it. Panels are padded
// with zeros to full 6 or 16; a partial tile of C goes through a 6×16
// scratch tile and is merged by Go code, so nothing outside the m×n window
// is read or written. Work is split across goroutines by cutting C into
// independent column (or, for narrow C, row) ranges, each running the loop
// above with its own pack buffers.

const (
	gemmMR = 6  // rows of the micro-tile (A panel width)
	gemmNR = 16 // columns of the micro-tile (B panel width): two ymm registers
)

// microKernel computes one 6×16 tile from a packed A panel and a B panel
// (packed, ldb = 16, or read in place from B with its row stride); see
// kernel6x16Go for the reference loop. a holds kc×6 floats, b kc rows of 16
// with row stride ldb, and c addresses a 6×16 window with row stride ldc.
// beta == 0 (either sign) means C is not read.
type microKernel func(kc int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// packedGEMM is a blocked, packed, multithreaded GEMM around a micro-kernel.
type packedGEMM struct {
	name   string
	kernel microKernel
	dot    func(x, y []float32) float32 // sum x[i]*y[i], len(x) == len(y)
	axpy   func(alpha float32, x, y []float32)

	mc, kc, nc int // maximal block sizes; mc % 6 == 0, nc % 16 == 0
	// direct is the largest m*n*k computed without packing; products with
	// m or n at most skinny are computed without packing too.
	direct, skinny int
	// parMin is the smallest m*n*k split across goroutines.
	parMin int
	// packBT16, when set, packs a full 16-column panel of a transposed B
	// (see packBT16AVX2).
	packBT16 func(k8 int, b *float32, ldb int, dst *float32)
	// nt, when set, computes a 4×3 block of dot products of rows of A and
	// rows of B in place (see dotNT4x3AVX2); it serves A·Bᵀ with at most
	// ntMaxM rows and at least ntMinK columns, where packing B would cost
	// more than the product, blocked by ntKC along k.
	nt                   func(k8 int, a0, a1, a2, a3, b0, b1, b2 *float32, out *[12]float32)
	ntMaxM, ntMinK, ntKC int
	// inPlaceMaxM is the largest m (per goroutine) for which an untransposed
	// B is read in place by the micro-kernel instead of being packed, unless
	// its row stride is a multiple of 2 KiB (rows that fall into one or two
	// L1 sets): with few A panels, packing B costs more than it saves.
	inPlaceMaxM int
	// threads caps the goroutines per call; 0 means runtime.GOMAXPROCS(0).
	threads int

	bufs sync.Pool // *packBufs
}

type packBufs struct {
	a, b []float32
}

func newPackedGEMM(name string, kernel microKernel, dot func(x, y []float32) float32, axpy func(alpha float32, x, y []float32)) *packedGEMM {
	return &packedGEMM{
		name: name, kernel: kernel, dot: dot, axpy: axpy,
		mc: 96, kc: 256, nc: 4096,
		direct: 8 * 8 * 8, skinny: 2,
		parMin: 4 << 20, // ~160³: below, waking a second core costs more than it saves
		ntMaxM: 16, ntMinK: 128, ntKC: 1024,
		inPlaceMaxM: 256,
	}
}

func (g *packedGEMM) Name() string { return g.name }

func (g *packedGEMM) getBufs() *packBufs {
	if p, ok := g.bufs.Get().(*packBufs); ok {
		return p
	}
	return &packBufs{
		a: make([]float32, g.mc*g.kc),
		b: make([]float32, g.kc*g.nc),
	}
}

func (g *packedGEMM) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc) {
		return
	}
	if alpha == 0 || k == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	threads := g.threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	work := m * n * k
	if work < g.parMin {
		threads = 1
	}
	if g.nt != nil && transB && !transA && m <= g.ntMaxM && k >= g.ntMinK && m > g.skinny && n > g.skinny {
		g.ntGemm(threads, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if m <= g.skinny || n <= g.skinny || work <= g.direct {
		g.directGemm(threads, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// Cut C into tn column ranges (multiples of 16) times tm row ranges
	// (multiples of 6); columns first, since every range then packs a
	// disjoint part of B and the large B block is not duplicated.
	tn := min(threads, ceilDiv(n, 4*gemmNR))
	tm := max(1, min(threads/tn, ceilDiv(m, 2*gemmMR)))
	if tn*tm <= 1 {
		bufs := g.getBufs()
		g.serial(bufs, transA, transB, 0, m, 0, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		g.bufs.Put(bufs)
		return
	}
	nStep := roundUp(ceilDiv(n, tn), gemmNR)
	mStep := roundUp(ceilDiv(m, tm), gemmMR)
	// Every range runs on a new goroutine while this one waits. (Running one
	// range here instead leaves the other in this P's runnext slot, which on
	// the project's machines no idle P steals: the ranges then run one after
	// the other.)
	var wg sync.WaitGroup
	for i0 := 0; i0 < m; i0 += mStep {
		for j0 := 0; j0 < n; j0 += nStep {
			i1, j1 := min(m, i0+mStep), min(n, j0+nStep)
			wg.Add(1)
			go func() {
				defer wg.Done()
				bufs := g.getBufs()
				g.serial(bufs, transA, transB, i0, i1, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc)
				g.bufs.Put(bufs)
			}()
		}
	}
	wg.Wait()
}

// serial computes the window C[i0:i1, j0:j1] on the calling goroutine.
func (g *packedGEMM) serial(bufs *packBufs, transA, transB bool, i0, i1, j0, j1, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ncb := blockSize(j1-j0, g.nc, gemmNR)
	kcb := blockSize(k, g.kc, 1)
	mcb := blockSize(i1-i0, g.mc, gemmMR)
	var tile [gemmMR * gemmNR]float32
	inPlace := !transB && i1-i0 <= g.inPlaceMaxM && ldb%512 != 0
	for jc := j0; jc < j1; jc += ncb {
		nc := min(ncb, j1-jc)
		full := nc &^ (gemmNR - 1) // columns in full panels
		for pc := 0; pc < k; pc += kcb {
			kc := min(kcb, k-pc)
			bp := bufs.b[:roundUp(nc, gemmNR)*kc]
			if inPlace {
				// Only the partial panel is packed, into panel slot full/16.
				if full < nc {
					g.packB(false, b, ldb, pc, kc, jc+full, nc-full, bp[full*kc:])
				}
			} else {
				g.packB(transB, b, ldb, pc, kc, jc, nc, bp)
			}
			betaEff := beta
			if pc > 0 {
				betaEff = 1
			}
			for ic := i0; ic < i1; ic += mcb {
				mc := min(mcb, i1-ic)
				ap := bufs.a[:roundUp(mc, gemmMR)*kc]
				packA(transA, a, lda, ic, mc, pc, kc, ap)
				for jr := 0; jr < nc; jr += gemmNR {
					nr := min(gemmNR, nc-jr)
					bPanel, bStride := &bp[jr*kc], gemmNR
					if inPlace && nr == gemmNR {
						bPanel, bStride = &b[pc*ldb+jc+jr], ldb
					}
					for ir := 0; ir < mc; ir += gemmMR {
						mr := min(gemmMR, mc-ir)
						aPanel := &ap[ir*kc]
						off := (ic+ir)*ldc + jc + jr
						if mr == gemmMR && nr == gemmNR {
							g.kernel(kc, aPanel, bPanel, bStride, &c[off], ldc, alpha, betaEff)
							continue
						}
						g.kernel(kc, aPanel, bPanel, bStride, &tile[0], gemmNR, 1, 0)
						mergeTile(mr, nr, &tile, alpha, betaEff, c[off:], ldc)
					}
				}
			}
		}
	}
}

// mergeTile writes C[i][j] = alpha*t[i][j] + beta*C[i][j] for the mr×nr
// corner of a scratch tile; beta == 0 means C is not read.
func mergeTile(mr, nr int, t *[gemmMR * gemmNR]float32, alpha, beta float32, c []float32, ldc int) {
	for i := 0; i < mr; i++ {
		row := c[i*ldc : i*ldc+nr]
		src := t[i*gemmNR : i*gemmNR+nr]
		if beta == 0 {
			for j, v := range src {
				row[j] = alpha * v
			}
			continue
		}
		for j, v := range src {
			row[j] = alpha*v + beta*row[j]
		}
	}
}

// packB copies op(B)[pc:pc+kc, jc:jc+nc] into panels of 16 columns: panel q
// starts at dst[q*kc*16] and holds element (p, q*16+j) at [p*16+j]; columns
// past nc are zero.
func (g *packedGEMM) packB(transB bool, b []float32, ldb, pc, kc, jc, nc int, dst []float32) {
	for q := 0; q*gemmNR < nc; q++ {
		j0 := jc + q*gemmNR
		nr := min(gemmNR, nc-q*gemmNR)
		panel := dst[q*kc*gemmNR : (q+1)*kc*gemmNR]
		if !transB {
			// op(B)(p, j) = b[p*ldb + j]: copy row pieces.
			for p := 0; p < kc; p++ {
				src := b[(pc+p)*ldb+j0:]
				d := panel[p*gemmNR : p*gemmNR+gemmNR]
				if nr == gemmNR {
					copy(d, src[:gemmNR])
				} else {
					copy(d, src[:nr])
					clear(d[nr:])
				}
			}
			continue
		}
		// op(B)(p, j) = b[j*ldb + p]: column j of the panel is a row of b.
		p0 := 0
		if g.packBT16 != nil && nr == gemmNR && kc >= 8 {
			_ = b[(j0+gemmNR-1)*ldb+pc+kc-1] // the last element read
			p0 = kc &^ 7
			g.packBT16(p0, &b[j0*ldb+pc], ldb, &panel[0])
		}
		j := 0
		for ; j+4 <= nr; j += 4 { // four rows of b at a time
			r0 := b[(j0+j)*ldb+pc+p0 : (j0+j)*ldb+pc+kc]
			r1 := b[(j0+j+1)*ldb+pc+p0 : (j0+j+1)*ldb+pc+kc]
			r2 := b[(j0+j+2)*ldb+pc+p0 : (j0+j+2)*ldb+pc+kc]
			r3 := b[(j0+j+3)*ldb+pc+p0 : (j0+j+3)*ldb+pc+kc]
			for p := range r0 {
				o := (p0+p)*gemmNR + j
				d := panel[o : o+4 : o+4]
				d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
			}
		}
		for ; j < nr; j++ {
			src := b[(j0+j)*ldb+pc+p0 : (j0+j)*ldb+pc+kc]
			for p, v := range src {
				panel[(p0+p)*gemmNR+j] = v
			}
		}
		if nr < gemmNR {
			for p := 0; p < kc; p++ {
				clear(panel[p*gemmNR+nr : p*gemmNR+gemmNR])
			}
		}
	}
}

// packA copies op(A)[ic:ic+mc, pc:pc+kc] into panels of 6 rows: panel r
// starts at dst[r*kc*6] and holds element (r*6+i, p) at [p*6+i]; rows past
// mc are zero.
func packA(transA bool, a []float32, lda, ic, mc, pc, kc int, dst []float32) {
	for r := 0; r*gemmMR < mc; r++ {
		i0 := ic + r*gemmMR
		mr := min(gemmMR, mc-r*gemmMR)
		panel := dst[r*kc*gemmMR : (r+1)*kc*gemmMR]
		if transA {
			// op(A)(i, p) = a[p*lda + i]: six consecutive floats per p.
			for p := 0; p < kc; p++ {
				d := panel[p*gemmMR : p*gemmMR+gemmMR]
				src := a[(pc+p)*lda+i0:]
				if mr == gemmMR {
					copy(d, src[:gemmMR])
				} else {
					copy(d, src[:mr])
					clear(d[mr:])
				}
			}
			continue
		}
		// op(A)(i, p) = a[i*lda + p]: interleave six rows.
		if mr == gemmMR {
			r0 := a[(i0+0)*lda+pc : (i0+0)*lda+pc+kc]
			r1 := a[(i0+1)*lda+pc : (i0+1)*lda+pc+kc]
			r2 := a[(i0+2)*lda+pc : (i0+2)*lda+pc+kc]
			r3 := a[(i0+3)*lda+pc : (i0+3)*lda+pc+kc]
			r4 := a[(i0+4)*lda+pc : (i0+4)*lda+pc+kc]
			r5 := a[(i0+5)*lda+pc : (i0+5)*lda+pc+kc]
			for p := range r0 {
				d := panel[p*gemmMR : p*gemmMR+gemmMR : p*gemmMR+gemmMR]
				d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			}
			continue
		}
		for i := 0; i < gemmMR; i++ {
			if i >= mr {
				for p := 0; p < kc; p++ {
					panel[p*gemmMR+i] = 0
				}
				continue
			}
			src := a[(i0+i)*lda+pc : (i0+i)*lda+pc+kc]
			for p, v := range src {
				panel[p*gemmMR+i] = v
			}
		}
	}
}

// directGemm computes small or skinny products without packing. With m <= n
// it builds rows of C (axpy over rows of B, or dot products with rows of a
// transposed B); with n < m it builds columns of C (dot products with rows
// of A, or axpy over rows of a transposed A). The long dimension is split
// across goroutines when the work is large enough.
func (g *packedGEMM) directGemm(threads int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	byRows := m <= n
	long := n
	if !byRows {
		long = m
	}
	parts := min(threads, max(1, long/64))
	if parts <= 1 {
		g.directRange(byRows, transA, transB, 0, long, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	step := roundUp(ceilDiv(long, parts), gemmNR)
	var wg sync.WaitGroup
	for r0 := 0; r0 < long; r0 += step { // all on new goroutines, as in Sgemm
		r1 := min(long, r0+step)
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.directRange(byRows, transA, transB, r0, r1, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}()
	}
	wg.Wait()
}

// vecPool holds scratch vectors of the direct path.
var vecPool = sync.Pool{New: func() any { return new([]float32) }}

func getVec(n int) *[]float32 {
	v := vecPool.Get().(*[]float32)
	if cap(*v) < n {
		*v = make([]float32, n)
	}
	*v = (*v)[:n]
	return v
}

// directRange computes, for the direct path, the columns r0..r1 of C
// (byRows: row by row) or its rows r0..r1 (column by column).
func (g *packedGEMM) directRange(byRows, transA, transB bool, r0, r1, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !byRows {
		g.directCols(transA, transB, r0, r1, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	j0, j1 := r0, r1
	var scratch *[]float32
	if transA && transB {
		scratch = getVec(k)
		defer vecPool.Put(scratch)
	}
	for i := 0; i < m; i++ {
		crow := c[i*ldc+j0 : i*ldc+j1]
		if transB {
			// C[i][j] = alpha * dot(op(A) row i, b row j) + beta*C[i][j]
			var arow []float32
			if transA {
				arow = *scratch
				for p := range arow {
					arow[p] = a[p*lda+i]
				}
			} else {
				arow = a[i*lda : i*lda+k]
			}
			for j := range crow {
				s := alpha * g.dot(arow, b[(j0+j)*ldb:(j0+j)*ldb+k])
				if beta != 0 {
					s += beta * crow[j]
				}
				crow[j] = s
			}
			continue
		}
		// C row i = beta*C row i + sum_p (alpha*op(A)[i][p]) * b row p
		scaleC(1, len(crow), beta, crow, len(crow))
		for p := 0; p < k; p++ {
			var v float32
			if transA {
				v = a[p*lda+i]
			} else {
				v = a[i*lda+p]
			}
			g.axpy(alpha*v, b[p*ldb+j0:p*ldb+j1], crow)
		}
	}
}

// directCols computes rows i0..i1 of C column by column (n < m).
func (g *packedGEMM) directCols(transA, transB bool, i0, i1, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	bvec := getVec(k) // column j of op(B)
	defer vecPool.Put(bvec)
	var acc *[]float32
	if transA {
		acc = getVec(i1 - i0)
		defer vecPool.Put(acc)
	}
	for j := 0; j < n; j++ {
		bcol := *bvec
		if transB {
			bcol = b[j*ldb : j*ldb+k]
		} else {
			for p := range bcol {
				bcol[p] = b[p*ldb+j]
			}
		}
		if !transA {
			// C[i][j] = alpha * dot(a row i, column j of op(B)) + beta*C[i][j]
			for i := i0; i < i1; i++ {
				s := alpha * g.dot(a[i*lda:i*lda+k], bcol)
				if beta != 0 {
					s += beta * c[i*ldc+j]
				}
				c[i*ldc+j] = s
			}
			continue
		}
		// column j of C = sum_p bcol[p] * (row p of a, the column p of op(A))
		col := *acc
		clear(col)
		for p, v := range bcol {
			g.axpy(v, a[p*lda+i0:p*lda+i1], col)
		}
		for i, v := range col {
			s := alpha * v
			if beta != 0 {
				s += beta * c[(i0+i)*ldc+j]
			}
			c[(i0+i)*ldc+j] = s
		}
	}
}

// ntGemm computes C = alpha*A·Bᵀ + beta*C (A m×k, B n×k) from 4×3 blocks
// of in-place dot products, splitting the columns across goroutines.
func (g *packedGEMM) ntGemm(threads, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	parts := min(threads, max(1, n/48))
	if parts <= 1 {
		g.ntRange(0, n, m, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	step := roundUp(ceilDiv(n, parts), 3)
	var wg sync.WaitGroup
	for j0 := 0; j0 < n; j0 += step { // all on new goroutines, as in Sgemm
		j1 := min(n, j0+step)
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.ntRange(j0, j1, m, k, alpha, a, lda, b, ldb, beta, c, ldc)
		}()
	}
	wg.Wait()
}

// ntRange computes columns j0..j1 of C for ntGemm: for each k block, each
// group of 3 rows of B (kept in L1) meets every group of 4 rows of A.
// Partial groups repeat a row pointer and drop the repeated results.
func (g *packedGEMM) ntRange(j0, j1, m, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kcb := blockSize(k, g.ntKC, 8)
	var out [12]float32
	for pc := 0; pc < k; pc += kcb {
		kc := min(kcb, k-pc)
		k8 := kc &^ 7
		betaEff := beta
		if pc > 0 {
			betaEff = 1
		}
		for j := j0; j < j1; j += 3 {
			nr := min(3, j1-j)
			var bp [3]*float32
			for jj := range bp {
				bp[jj] = &b[(j+min(jj, nr-1))*ldb+pc]
			}
			for i := 0; i < m; i += 4 {
				mr := min(4, m-i)
				var ap [4]*float32
				for ii := range ap {
					ap[ii] = &a[(i+min(ii, mr-1))*lda+pc]
				}
				g.nt(k8, ap[0], ap[1], ap[2], ap[3], bp[0], bp[1], bp[2], &out)
				for ii := 0; ii < mr; ii++ {
					arow := a[(i+ii)*lda+pc : (i+ii)*lda+pc+kc]
					crow := c[(i+ii)*ldc+j : (i+ii)*ldc+j+nr]
					for jj := range crow {
						s := out[ii*3+jj]
						brow := b[(j+jj)*ldb+pc : (j+jj)*ldb+pc+kc]
						for p := k8; p < kc; p++ {
							s += arow[p] * brow[p]
						}
						if betaEff == 0 {
							crow[jj] = alpha * s
						} else {
							crow[jj] = alpha*s + betaEff*crow[jj]
						}
					}
				}
			}
		}
	}
}

// kernel6x16Go is the pure-Go micro-kernel and the definition of what every
// micro-kernel computes:
//
//	for i := 0; i < 6; i++ {
//		for j := 0; j < 16; j++ {
//			var s float32
//			for p := 0; p < kc; p++ {
//				s += a[p*6+i] * b[p*ldb+j]
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * s
//			} else {
//				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//			}
//		}
//	}
//
// It works in 2×4 register blocks (8 accumulators, 6 loads per 8 products),
// the most that fits the 15 float registers Go allocates on amd64.
func kernel6x16Go(kc int, ap, bp *float32, ldb int, cp *float32, ldc int, alpha, beta float32) {
	a := unsafe.Slice(ap, kc*gemmMR)
	b := unsafe.Slice(bp, (kc-1)*ldb+gemmNR)
	c := unsafe.Slice(cp, (gemmMR-1)*ldc+gemmNR)
	for i := 0; i < gemmMR; i += 2 {
		for j := 0; j < gemmNR; j += 4 {
			var c00, c01, c02, c03, c10, c11, c12, c13 float32
			ai, bj := i, j
			for p := 0; p < kc; p++ {
				aa := a[ai : ai+2 : ai+2]
				bb := b[bj : bj+4 : bj+4]
				a0, a1 := aa[0], aa[1]
				b0, b1, b2, b3 := bb[0], bb[1], bb[2], bb[3]
				c00 += a0 * b0
				c01 += a0 * b1
				c02 += a0 * b2
				c03 += a0 * b3
				c10 += a1 * b0
				c11 += a1 * b1
				c12 += a1 * b2
				c13 += a1 * b3
				ai += gemmMR
				bj += ldb
			}
			r0 := c[i*ldc+j : i*ldc+j+4 : i*ldc+j+4]
			r1 := c[(i+1)*ldc+j : (i+1)*ldc+j+4 : (i+1)*ldc+j+4]
			if beta == 0 {
				r0[0], r0[1], r0[2], r0[3] = alpha*c00, alpha*c01, alpha*c02, alpha*c03
				r1[0], r1[1], r1[2], r1[3] = alpha*c10, alpha*c11, alpha*c12, alpha*c13
			} else {
				r0[0] = alpha*c00 + beta*r0[0]
				r0[1] = alpha*c01 + beta*r0[1]
				r0[2] = alpha*c02 + beta*r0[2]
				r0[3] = alpha*c03 + beta*r0[3]
				r1[0] = alpha*c10 + beta*r1[0]
				r1[1] = alpha*c11 + beta*r1[1]
				r1[2] = alpha*c12 + beta*r1[2]
				r1[3] = alpha*c13 + beta*r1[3]
			}
		}
	}
}

// dotGo returns sum x[i]*y[i] over len(x) (len(y) >= len(x)).
func dotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xx := x[i : i+4 : i+4]
		yy := y[i : i+4 : i+4]
		s0 += xx[0] * yy[0]
		s1 += xx[1] * yy[1]
		s2 += xx[2] * yy[2]
		s3 += xx[3] * yy[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyGo computes y[i] += alpha*x[i] over len(y) (len(x) >= len(y)).
func axpyGo(alpha float32, x, y []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// goGEMM is the pure-Go implementation, available everywhere.
var goGEMM = newPackedGEMM("go", kernel6x16Go, dotGo, axpyGo)

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, b int) int { return ceilDiv(a, b) * b }

// blockSize splits n into the fewest blocks of at most max (a multiple of
// align) and returns the common block size, rounded up to align, so that
// the last block is not a sliver.
func blockSize(n, max, align int) int {
	if n <= 0 {
		return align
	}
	blocks := ceilDiv(n, max)
	return min(max, roundUp(ceilDiv(n, blocks), align))
}
