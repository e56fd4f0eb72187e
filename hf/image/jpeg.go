package image

import stdimage "image"

// libjpeg's YCbCr->RGB tables (jdcolor.c, build_ycc_rgb_table): 16-bit
// fixed point, FIX(x) = int(x*65536 + 0.5).
var yccTables = func() (t struct{ crR, cbB, crG, cbG [256]int32 }) {
	const (
		scaleBits = 16
		oneHalf   = 1 << (scaleBits - 1)
	)
	fix := func(x float64) int32 { return int32(x*(1<<scaleBits) + 0.5) }
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		t.crR[i] = (fix(1.40200)*x + oneHalf) >> scaleBits
		t.cbB[i] = (fix(1.77200)*x + oneHalf) >> scaleBits
		t.crG[i] = -fix(0.71414) * x
		t.cbG[i] = -fix(0.34414)*x + oneHalf
	}
	return t
}()

func clampU8(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// ycbcrToRGB converts a decoded JPEG the way libjpeg(-turbo) does by default
// (and hence PIL): chroma is upsampled with libjpeg's "fancy" triangle filter
// (jdsample.c h2v1/h2v2/h1v2_fancy_upsample, edge rows and columns
// replicated) and converted with libjpeg's fixed-point tables. The IDCT is
// still Go's, which rounds differently from libjpeg's jidctint, so samples
// can differ by a level or two. Chroma layouts other than 4:4:4, 4:2:2,
// 4:2:0 and 4:4:0 fall back to replication.
func ycbcrToRGB(m *stdimage.YCbCr) *RGB {
	b := m.Rect
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	var hs, vs int // chroma subsampling factors
	switch m.SubsampleRatio {
	case stdimage.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case stdimage.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case stdimage.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case stdimage.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				i := 3 * (y*w + x)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = yccToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
		return out
	}
	// Downsampled plane sizes as libjpeg computes them (ceil).
	dsw, dsh := (w+hs-1)/hs, (h+vs-1)/vs
	// libjpeg only upsamples "fancily" horizontally when the plane is wider than 2.
	fancyH := hs == 2 && dsw > 2
	cx0, cy0 := b.Min.X/hs, b.Min.Y/vs
	plane := func(p []uint8, x, y int) int32 { return int32(p[(cy0+y)*m.CStride+cx0+x]) }

	cb := make([]uint8, w)
	cr := make([]uint8, w)
	colsum := make([]int32, dsw)
	up := func(p []uint8, dst []uint8, oy int) {
		// Vertical step: colsum = 3*nearer + further (or the row itself).
		iy := oy / vs
		if vs == 2 {
			nb := iy - 1
			if oy%2 == 1 {
				nb = iy + 1
			}
			nb = max(0, min(nb, dsh-1))
			for c := range colsum {
				colsum[c] = 3*plane(p, c, iy) + plane(p, c, nb)
			}
		} else {
			for c := range colsum {
				colsum[c] = plane(p, c, iy)
			}
		}
		switch {
		case hs == 1 && vs == 1:
			for x := range dst {
				dst[x] = uint8(colsum[x])
			}
		case hs == 1: // h1v2
			for x := range dst {
				dst[x] = uint8((colsum[x] + 1) >> 2)
			}
		case !fancyH: // h2v1_upsample: replicate (vs == 1 here; plain h2v2 is handled by the caller)
			for x := range dst {
				dst[x] = uint8(colsum[x/2])
			}
		case vs == 1: // h2v1 fancy
			for x := range dst {
				c := x / 2
				switch {
				case x%2 == 0 && c == 0:
					dst[x] = uint8(colsum[0])
				case x%2 == 0:
					dst[x] = uint8((3*colsum[c] + colsum[c-1] + 1) >> 2)
				case c == dsw-1:
					dst[x] = uint8(colsum[c])
				default:
					dst[x] = uint8((3*colsum[c] + colsum[c+1] + 2) >> 2)
				}
			}
		default: // h2v2 fancy
			for x := range dst {
				c := x / 2
				switch {
				case x%2 == 0 && c == 0:
					dst[x] = uint8((colsum[0]*4 + 8) >> 4)
				case x%2 == 0:
					dst[x] = uint8((3*colsum[c] + colsum[c-1] + 8) >> 4)
				case c == dsw-1:
					dst[x] = uint8((colsum[c]*4 + 7) >> 4)
				default:
					dst[x] = uint8((3*colsum[c] + colsum[c+1] + 7) >> 4)
				}
			}
		}
	}
	for y := 0; y < h; y++ {
		if vs == 2 && !fancyH && hs == 2 {
			// Plain h2v2 replication: no vertical filtering either.
			for x := 0; x < w; x++ {
				ci := (cy0+y/2)*m.CStride + cx0 + x/2
				cb[x], cr[x] = m.Cb[ci], m.Cr[ci]
			}
		} else {
			up(m.Cb, cb, y)
			up(m.Cr, cr, y)
		}
		yrow := m.Y[(b.Min.Y+y)*m.YStride+b.Min.X:]
		o := out.Pix[3*y*w : 3*(y+1)*w]
		for x := 0; x < w; x++ {
			o[3*x], o[3*x+1], o[3*x+2] = yccToRGB(yrow[x], cb[x], cr[x])
		}
	}
	return out
}

// yccToRGB is libjpeg's ycc_rgb_convert for one pixel.
func yccToRGB(y, cb, cr uint8) (uint8, uint8, uint8) {
	t := &yccTables
	Y := int32(y)
	r := Y + t.crR[cr]
	g := Y + (t.cbG[cb]+t.crG[cr])>>16
	b := Y + t.cbB[cb]
	return clampU8(r), clampU8(g), clampU8(b)
}
