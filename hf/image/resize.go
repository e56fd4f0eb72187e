package image

import (
	"fmt"
	"math"
)

// Filter is a resampling filter, numbered as PIL's Image.Resampling enum
// (the integers preprocessor_config.json stores in "resample").
type Filter int

const (
	Nearest  Filter = 0
	Lanczos  Filter = 1
	Bilinear Filter = 2
	Bicubic  Filter = 3
	Box      Filter = 4
	Hamming  Filter = 5
)

func (f Filter) valid() bool { return f >= Nearest && f <= Hamming }

func (f Filter) String() string {
	switch f {
	case Nearest:
		return "nearest"
	case Lanczos:
		return "lanczos"
	case Bilinear:
		return "bilinear"
	case Bicubic:
		return "bicubic"
	case Box:
		return "box"
	case Hamming:
		return "hamming"
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// kernel is one of Pillow's resampling kernels (libImaging/Resample.c) with
// its support radius at scale 1. Products are wrapped in float64() so that
// the compiler cannot fuse them into FMAs: Pillow's C is compiled without
// contraction on x86-64, and the last bit matters after fixed-point rounding.
type kernel struct {
	fn      func(x float64) float64
	support float64
}

var kernels = map[Filter]kernel{
	Box:      {boxKernel, 0.5},
	Bilinear: {bilinearKernel, 1},
	Hamming:  {hammingKernel, 1},
	Bicubic:  {bicubicKernel, 2},
	Lanczos:  {lanczosKernel, 3},
}

func boxKernel(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1
	}
	return 0
}

func bilinearKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// float32 constants 0.54f and 0.46f promoted to double, as in Pillow's C.
var hamming054, hamming046 = float64(float32(0.54)), float64(float32(0.46))

func hammingKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x == 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	x = float64(x * math.Pi)
	return float64(math.Sin(x)/x) * (hamming054 + float64(hamming046*math.Cos(x)))
}

// bicubicKernel is Keys' cubic convolution kernel with a = -0.5.
func bicubicKernel(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		t := float64((a + 2) * x)
		t = float64((t - (a + 3)) * x)
		t = float64(t * x)
		return t + 1
	}
	if x < 2 {
		t := float64((x - 5) * x)
		t = float64((t + 8) * x)
		return (t - 4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x = float64(x * math.Pi)
	return math.Sin(x) / x
}

func lanczosKernel(x float64) float64 {
	if -3 <= x && x < 3 {
		return sinc(x) * sinc(x/3)
	}
	return 0
}

// precisionBits is Pillow's PRECISION_BITS = 32 - 8 - 2: coefficients are
// scaled by 2^22, leaving 8 bits for the sample and 2 for overshoot and sign.
const precisionBits = 32 - 8 - 2

// coeffs are the per-output-sample taps of one pass (precompute_coeffs and
// normalize_coeffs_8bpc in Resample.c).
type coeffs struct {
	ksize  int     // stride of k
	bounds []int   // 2 per output: first input index, number of taps
	k      []int32 // fixed-point taps, ksize per output
}

// precomputeCoeffs follows Pillow's precompute_coeffs for the box
// [0, inSize) and then rounds the normalised taps to fixed point.
func precomputeCoeffs(inSize, outSize int, kern kernel) coeffs {
	in0, in1 := 0.0, float64(inSize)
	scale := (in1 - in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := kern.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1

	c := coeffs{ksize: ksize, bounds: make([]int, 2*outSize), k: make([]int32, outSize*ksize)}
	w := make([]float64, ksize)
	ss := 1 / filterscale
	for xx := 0; xx < outSize; xx++ {
		center := in0 + float64((float64(xx)+0.5)*scale)
		xmin := int(center - support + 0.5) // C (int) cast: truncation
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			v := kern.fn((float64(x+xmin) - center + 0.5) * ss)
			w[x] = v
			ww += v
		}
		k := c.k[xx*ksize : (xx+1)*ksize]
		for x := 0; x < xmax; x++ {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			// normalize_coeffs_8bpc: round half away from zero, then truncate.
			if v < 0 {
				k[x] = int32(-0.5 + float64(v*(1<<precisionBits)))
			} else {
				k[x] = int32(0.5 + float64(v*(1<<precisionBits)))
			}
		}
		c.bounds[2*xx] = xmin
		c.bounds[2*xx+1] = xmax
	}
	return c
}

// clip8 is Pillow's clip8: arithmetic shift by PRECISION_BITS, clamp to 0..255.
func clip8(ss int32) uint8 {
	v := ss >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// maxResizeDim bounds output sizes (Pillow's own limit is memory).
const maxResizeDim = 1 << 16

// Resize resamples src to width x height exactly as Pillow's
// Image.resize((width, height), resample=f) does on an "RGB" image: for every
// filter but Nearest, ImagingResample's two separable fixed-point passes
// (horizontal first, each skipped when that dimension is unchanged); for
// Nearest, ImagingScaleAffine. Same size returns a copy.
func Resize(src *RGB, width, height int, f Filter) (*RGB, error) {
	if src == nil || src.Width <= 0 || src.Height <= 0 || len(src.Pix) != 3*src.Width*src.Height {
		return nil, fmt.Errorf("resize: invalid source image")
	}
	if width <= 0 || height <= 0 || width > maxResizeDim || height > maxResizeDim {
		return nil, fmt.Errorf("resize: target size %dx%d out of range 1..%d", width, height, maxResizeDim)
	}
	if width == src.Width && height == src.Height {
		return src.Clone(), nil
	}
	if f == Nearest {
		return resizeNearest(src, width, height), nil
	}
	kern, ok := kernels[f]
	if !ok {
		return nil, fmt.Errorf("resize: unsupported resampling filter %d", int(f))
	}

	needH := width != src.Width
	needV := height != src.Height
	vert := precomputeCoeffs(src.Height, height, kern)
	// Rows of the source the vertical pass reads.
	yFirst := vert.bounds[0]
	yLast := vert.bounds[2*height-2] + vert.bounds[2*height-1]

	cur := src
	if needH {
		horiz := precomputeCoeffs(src.Width, width, kern)
		for i := 0; i < height; i++ {
			vert.bounds[2*i] -= yFirst
		}
		tmp := NewRGB(width, yLast-yFirst)
		resampleHorizontal(tmp, src, yFirst, horiz)
		cur = tmp
	}
	if needV {
		out := NewRGB(cur.Width, height)
		resampleVertical(out, cur, vert)
		cur = out
	}
	return cur, nil
}

func resampleHorizontal(out, in *RGB, offset int, c coeffs) {
	const half = int32(1) << (precisionBits - 1)
	inStride := 3 * in.Width
	for yy := 0; yy < out.Height; yy++ {
		row := in.Pix[(yy+offset)*inStride : (yy+offset+1)*inStride]
		o := out.Pix[yy*3*out.Width : (yy+1)*3*out.Width]
		for xx := 0; xx < out.Width; xx++ {
			xmin, n := c.bounds[2*xx], c.bounds[2*xx+1]
			k := c.k[xx*c.ksize : xx*c.ksize+n]
			p := row[3*xmin : 3*(xmin+n)]
			s0, s1, s2 := half, half, half
			for x, kx := range k {
				s0 += int32(p[3*x]) * kx
				s1 += int32(p[3*x+1]) * kx
				s2 += int32(p[3*x+2]) * kx
			}
			o[3*xx], o[3*xx+1], o[3*xx+2] = clip8(s0), clip8(s1), clip8(s2)
		}
	}
}

func resampleVertical(out, in *RGB, c coeffs) {
	const half = int32(1) << (precisionBits - 1)
	stride := 3 * in.Width
	acc := make([]int32, stride)
	for yy := 0; yy < out.Height; yy++ {
		ymin, n := c.bounds[2*yy], c.bounds[2*yy+1]
		k := c.k[yy*c.ksize : yy*c.ksize+n]
		for i := range acc {
			acc[i] = half
		}
		// Row-at-a-time accumulation: same sums as Pillow's per-pixel loop
		// (integer addition is associative), friendlier to the cache.
		for y, ky := range k {
			row := in.Pix[(ymin+y)*stride : (ymin+y+1)*stride]
			for i, v := range row {
				acc[i] += int32(v) * ky
			}
		}
		o := out.Pix[yy*stride : (yy+1)*stride]
		for i, s := range acc {
			o[i] = clip8(s)
		}
	}
}

// resizeNearest follows ImagingScaleAffine with a = [in/out, 0, 0, 0, in/out, 0]
// as _imaging.c's resize sets it up for NEAREST: the source coordinate starts
// at scale/2 and is advanced by repeated addition (not multiplication), then
// truncated.
func resizeNearest(src *RGB, width, height int) *RGB {
	out := NewRGB(width, height)
	ax := float64(src.Width) / float64(width)
	ay := float64(src.Height) / float64(height)
	coord := func(v float64) int {
		if v < 0 {
			return -1
		}
		return int(v)
	}
	xin := make([]int, width) // -1: outside the source, left black as Pillow's fill does
	xo := float64(ax * 0.5)
	for x := range xin {
		xin[x] = coord(xo)
		if xin[x] >= src.Width {
			xin[x] = -1
		}
		xo += ax
	}
	yo := float64(ay * 0.5)
	for y := 0; y < height; y++ {
		yi := coord(yo)
		yo += ay
		if yi < 0 || yi >= src.Height {
			continue
		}
		row := src.Pix[yi*3*src.Width:]
		o := out.Pix[y*3*width : (y+1)*3*width]
		for x, xi := range xin {
			if xi >= 0 {
				copy(o[3*x:3*x+3], row[3*xi:3*xi+3])
			}
		}
	}
	return out
}
