package image

import (
	"bytes"
	"errors"
	"fmt"
	stdimage "image"
	"image/color"
	_ "image/gif" // first frame, as PIL's Image.open
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"
)

// RGB is an 8-bit RGB image, rows top to bottom, 3 interleaved bytes per
// pixel (R, G, B): the layout of numpy.asarray(pil_image.convert("RGB")).
type RGB struct {
	Width, Height int
	Pix           []uint8 // len 3*Width*Height
}

// NewRGB returns a black width x height image.
func NewRGB(width, height int) *RGB {
	return &RGB{Width: width, Height: height, Pix: make([]uint8, 3*width*height)}
}

// Clone returns a deep copy.
func (m *RGB) Clone() *RGB {
	return &RGB{Width: m.Width, Height: m.Height, Pix: append([]uint8(nil), m.Pix...)}
}

// At returns the pixel at column x, row y.
func (m *RGB) At(x, y int) (r, g, b uint8) {
	i := 3 * (y*m.Width + x)
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}

// MaxPixels bounds width*height of an image to decode, checked from the
// header before any pixel is decompressed. The default is the limit at which
// Pillow raises DecompressionBombError (2 * Image.MAX_IMAGE_PIXELS).
var MaxPixels = 2 * 89478485

// maxFileBytes bounds what Decode reads into memory.
const maxFileBytes = 1 << 30

// DecodeFile decodes a PNG, JPEG or GIF file into RGB; see Decode.
func DecodeFile(path string) (*RGB, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Decode reads a PNG, JPEG or GIF (first frame) and converts it to RGB as
// PIL's Image.open(f).convert("RGB") does (see ToRGB). Like PIL, it ignores
// EXIF orientation. The dimensions are checked against MaxPixels before the
// pixels are decoded.
func Decode(r io.Reader) (*RGB, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("image file larger than %d bytes", maxFileBytes)
	}
	cfg, format, err := stdimage.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, stdimage.ErrFormat) {
			return nil, fmt.Errorf("not a PNG, JPEG or GIF image")
		}
		return nil, fmt.Errorf("decode header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s: empty image %dx%d", format, cfg.Width, cfg.Height)
	}
	if cfg.Width > MaxPixels/cfg.Height {
		return nil, fmt.Errorf("%s: image of %dx%d pixels exceeds the limit of %d pixels (decompression bomb?)",
			format, cfg.Width, cfg.Height, MaxPixels)
	}
	img, _, err := stdimage.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", format, err)
	}
	b := img.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("decode %s: header says %dx%d, pixels are %dx%d", format, cfg.Width, cfg.Height, b.Dx(), b.Dy())
	}
	return ToRGB(img), nil
}

// ToRGB converts a decoded image to RGB following PIL's convert("RGB") for
// the mode PIL would have opened the same file in:
//
//	Gray (PNG L, "1", L;2, L;4)      R = G = B = L
//	Gray16 (PNG 16-bit gray, "I")    R = G = B = min(v, 255)   (PIL clips, it does not scale)
//	NRGBA/RGBA (RGBA, LA, tRNS)      alpha dropped, colour kept, no compositing
//	NRGBA64/RGBA64 (16-bit PNG)      high byte of each sample (PIL's "RGB;16B" unpacker)
//	Paletted (P)                     palette colour, transparency ignored
//	CMYK (JPEG)                      PIL's cmyk2rgb: nk = 255-K, R = nk - (C*nk)/255 rounded
//	YCbCr (JPEG)                     libjpeg's fancy upsampling and YCC tables, see below
//
// JPEG caveat: Go's IDCT rounds differently from libjpeg's (used by PIL), so
// JPEG pixels may differ from PIL's by a few levels; PNG is exact.
// transformers' convert_to_rgb is a plain image.convert("RGB") (checked at
// huggingface/transformers 000593ad, image_transforms.py): RGBA is not
// composited on white.
func ToRGB(img stdimage.Image) *RGB {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewRGB(w, h)
	o := out.Pix
	switch m := img.(type) {
	case *stdimage.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				i := 3 * (y*w + x)
				o[i], o[i+1], o[i+2] = v, v, v
			}
		}
	case *stdimage.Gray16:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+2*w]
			for x := 0; x < w; x++ {
				v := uint16(row[2*x])<<8 | uint16(row[2*x+1])
				c := uint8(min(v, 255))
				i := 3 * (y*w + x)
				o[i], o[i+1], o[i+2] = c, c, c
			}
		}
	case *stdimage.NRGBA:
		copyDrop4(o, m.Pix, m.Stride, w, h, 1)
	case *stdimage.RGBA:
		copyDrop4(o, m.Pix, m.Stride, w, h, 1)
	case *stdimage.NRGBA64:
		copyDrop4(o, m.Pix, m.Stride, w, h, 2)
	case *stdimage.RGBA64:
		copyDrop4(o, m.Pix, m.Stride, w, h, 2)
	case *stdimage.Paletted:
		var lut [256][3]uint8 // indices past the palette are black, as in PIL's padded palette
		for i, c := range m.Palette {
			if i >= 256 {
				break
			}
			lut[i] = colorRGB(c)
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, idx := range row {
				i := 3 * (y*w + x)
				c := lut[idx]
				o[i], o[i+1], o[i+2] = c[0], c[1], c[2]
			}
		}
	case *stdimage.CMYK:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				i := 3 * (y*w + x)
				o[i], o[i+1], o[i+2] = cmykToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
			}
		}
	case *stdimage.YCbCr:
		return ycbcrToRGB(m)
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := colorRGB(img.At(b.Min.X+x, b.Min.Y+y))
				i := 3 * (y*w + x)
				o[i], o[i+1], o[i+2] = c[0], c[1], c[2]
			}
		}
	}
	return out
}

// copyDrop4 copies the first three of four samples per pixel; bytesPer is 1
// for 8-bit samples and 2 for big-endian 16-bit ones (high byte kept).
func copyDrop4(o, pix []uint8, stride, w, h, bytesPer int) {
	for y := 0; y < h; y++ {
		row := pix[y*stride : y*stride+4*bytesPer*w]
		for x := 0; x < w; x++ {
			i := 3 * (y*w + x)
			p := 4 * bytesPer * x
			o[i], o[i+1], o[i+2] = row[p], row[p+bytesPer], row[p+2*bytesPer]
		}
	}
}

// colorRGB returns the non-premultiplied 8-bit colour of c, alpha dropped.
func colorRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.RGBA:
		if c.A == 255 {
			return [3]uint8{c.R, c.G, c.B}
		}
	case color.Gray:
		return [3]uint8{c.Y, c.Y, c.Y}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]uint8{uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)}
}

// cmykToRGB is Pillow's cmyk2rgb (Convert.c): with nk = 255 - K,
// out = CLIP8(nk - MULDIV255(in, nk)), MULDIV255(a, b) = ((a*b+128)>>8 + a*b+128) >> 8.
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	nk := 255 - int(k)
	f := func(v uint8) uint8 {
		t := int(v)*nk + 128
		return uint8(max(0, min(255, nk-((t>>8)+t)>>8)))
	}
	return f(c), f(m), f(y)
}
