package image

import "fmt"

// Pixels is a float32 image tensor [Channels, Height, Width], row-major
// (channel-first, as transformers returns pixel_values with data_format
// ChannelDimension.FIRST).
type Pixels struct {
	Channels, Height, Width int
	Data                    []float32
}

// At returns element [c, y, x].
func (p *Pixels) At(c, y, x int) float32 { return p.Data[(c*p.Height+y)*p.Width+x] }

// RescaleNormalize turns an RGB image into channel-first float32 exactly as
// transformers' slow image processors do after resizing:
//
//	rescale:   x = float32(float64(u8) * rescale_factor)    (numpy: astype(float64) * scale, astype(float32))
//	normalize: x = (x - float32(mean[c])) / float32(std[c])  (float32 arithmetic, each op rounded)
//
// Without rescaling, normalize starts from float32(u8); with neither, the
// output is float32(u8).
func RescaleNormalize(m *RGB, doRescale bool, factor float64, doNormalize bool, mean, std [3]float64) *Pixels {
	n := m.Width * m.Height
	p := &Pixels{Channels: 3, Height: m.Height, Width: m.Width, Data: make([]float32, 3*n)}
	for c := 0; c < 3; c++ {
		var lut [256]float32
		mc, sc := float32(mean[c]), float32(std[c])
		for v := range lut {
			x := float32(v)
			if doRescale {
				x = float32(float64(v) * factor)
			}
			if doNormalize {
				x = (x - mc) / sc
			}
			lut[v] = x
		}
		dst := p.Data[c*n : (c+1)*n]
		for i := range dst {
			dst[i] = lut[m.Pix[3*i+c]]
		}
	}
	return p
}

// Preprocess runs the base-resolution path of the config's image processor
// on an RGB image: resize to the configured size with the configured filter
// (Pillow-exact), rescale, normalize, channel-first. This is
// SiglipImageProcessor.preprocess, and for LlavaOnevisionImageProcessor the
// first ("base") tile of the anyres output: the whole image resized to
// size x size.
//
// The image is always RGB here: transformers converts to RGB only when
// do_convert_rgb is set (SigLIP's default is None), but a vision tower takes
// three channels, and for a file that is already RGB both agree.
func (c *ProcessorConfig) Preprocess(m *RGB) (*Pixels, error) {
	if c.DoResize {
		h, w := c.TargetSize()
		var err error
		if m, err = Resize(m, w, h, c.Resample); err != nil {
			return nil, fmt.Errorf("%s%w", c.where(), err)
		}
	}
	return RescaleNormalize(m, c.DoRescale, c.RescaleFactor, c.DoNormalize, c.ImageMean, c.ImageStd), nil
}

// Patches cuts channel-first pixels into non-overlapping patchSize x
// patchSize patches, the input of SigLIP's patch embedding (a Conv2d with
// kernel = stride = patchSize, no padding). The result is
// [numPatches, 3*P*P] row-major: patches run row-major over the
// (Height/P) x (Width/P) grid, and each patch is flattened channel-major,
// C x P x P, the order of a Conv2d weight [out, C, P, P], so that the
// embedding is patches · weight^T. Rows and columns past the last whole patch
// are dropped, as the convolution drops them. It panics if patchSize <= 0.
func Patches(pix *Pixels, patchSize int) []float32 {
	if patchSize <= 0 {
		panic("image: Patches: patchSize must be positive")
	}
	P := patchSize
	gh, gw := pix.Height/P, pix.Width/P
	C := pix.Channels
	out := make([]float32, gh*gw*C*P*P)
	o := 0
	for py := 0; py < gh; py++ {
		for px := 0; px < gw; px++ {
			for c := 0; c < C; c++ {
				for y := 0; y < P; y++ {
					src := pix.Data[(c*pix.Height+py*P+y)*pix.Width+px*P:]
					o += copy(out[o:o+P], src[:P])
				}
			}
		}
	}
	return out
}
