package image

import (
	"mbq/internal/pymath"

	"fmt"
	"math"
)

// SelectBestResolution picks the pinpoint ([height, width]) that keeps the
// most of the original resolution, ties broken by the least waste, the first
// of equals winning: transformers' image_processing_utils.select_best_resolution,
// evaluated with the same float64 operations. It returns (0, 0) for no pinpoints.
func SelectBestResolution(origH, origW int, pinpoints [][2]int) (h, w int) {
	maxEffective := 0
	minWasted := math.Inf(1)
	for _, p := range pinpoints {
		ph, pw := p[0], p[1]
		scale := math.Min(float64(pw)/float64(origW), float64(ph)/float64(origH))
		dw, dh := int(float64(origW)*scale), int(float64(origH)*scale)
		effective := min(dw*dh, origW*origH)
		wasted := float64(pw*ph - effective)
		if effective > maxEffective || (effective == maxEffective && wasted < minWasted) {
			maxEffective, minWasted = effective, wasted
			h, w = ph, pw
		}
	}
	return h, w
}

// PatchOutputSize is transformers' get_patch_output_size: the size the image
// is resized to, aspect ratio kept, before being padded to the target.
func PatchOutputSize(origH, origW, targetH, targetW int) (h, w int) {
	scaleW := float64(targetW) / float64(origW)
	scaleH := float64(targetH) / float64(origH)
	if scaleW < scaleH {
		return min(int(math.Ceil(float64(origH)*scaleW)), targetH), targetW
	}
	return targetH, min(int(math.Ceil(float64(origW)*scaleH)), targetW)
}

// PreprocessAnyres is LlavaOnevisionImageProcessor.preprocess for one image
// (the single-image case, which always uses anyres): the base tile (the whole
// image resized to size) first, then the tiles of the image resized to fit
// the best pinpoint, zero-padded (uint8 0, before rescaling) to it
// symmetrically (extra pixel bottom/right), cut row-major into side x side
// tiles with side = size's height. Every tile is then resized to size (a copy
// when it already has that size), rescaled and normalized.
func (c *ProcessorConfig) PreprocessAnyres(m *RGB) ([]*Pixels, error) {
	if len(c.ImageGridPinpoints) == 0 {
		return nil, fmt.Errorf("%simage_grid_pinpoints: empty, anyres needs at least one", c.where())
	}
	th, tw := c.TargetSize()
	bh, bw := SelectBestResolution(m.Height, m.Width, c.ImageGridPinpoints)
	nh, nw := PatchOutputSize(m.Height, m.Width, bh, bw)
	resized, err := Resize(m, nw, nh, c.Resample)
	if err != nil {
		return nil, fmt.Errorf("%s%w", c.where(), err)
	}
	padded := NewRGB(bw, bh)
	py, px := (bh-nh)/2, (bw-nw)/2
	for y := 0; y < nh; y++ {
		copy(padded.Pix[3*((y+py)*bw+px):], resized.Pix[3*y*nw:3*(y+1)*nw])
	}
	base, err := Resize(m, tw, th, c.Resample)
	if err != nil {
		return nil, fmt.Errorf("%s%w", c.where(), err)
	}
	tiles := []*RGB{base}
	side := th
	for y := 0; y < bh; y += side {
		for x := 0; x < bw; x += side {
			tiles = append(tiles, crop(padded, x, y, min(side, bw-x), min(side, bh-y)))
		}
	}
	out := make([]*Pixels, len(tiles))
	for i, t := range tiles {
		if c.DoResize {
			if t, err = Resize(t, tw, th, c.Resample); err != nil {
				return nil, fmt.Errorf("%s%w", c.where(), err)
			}
		}
		out[i] = RescaleNormalize(t, c.DoRescale, c.RescaleFactor, c.DoNormalize, c.ImageMean, c.ImageStd)
	}
	return out, nil
}

func crop(m *RGB, x0, y0, w, h int) *RGB {
	out := NewRGB(w, h)
	for y := 0; y < h; y++ {
		copy(out.Pix[3*y*w:3*(y+1)*w], m.Pix[3*((y0+y)*m.Width+x0):])
	}
	return out
}

// NumImageTokens is the number of <image> tokens LLaVA-OneVision's processor
// expands one image of origH x origW into (LlavaOnevisionProcessor.
// _get_number_of_features with the "full" feature strategy; subtract 1 for
// "default"): the base tile's (tile/patch)^2 tokens, plus the un-padded grid
// tokens and one newline per grid row, the grid downsampled when it holds more
// than 1.1 x maxNumPatches tiles' worth ("anyres_max_9": maxNumPatches = 9).
// tile is the processed tile size (size's height; square tiles), patch the
// vision tower's patch size. Unpadding uses int(round(x, 7)) as current
// transformers does (hf-semantics.md item 5).
func NumImageTokens(origH, origW, tile, patch int, pinpoints [][2]int, maxNumPatches int) (int, error) {
	if origH <= 0 || origW <= 0 || tile <= 0 || patch <= 0 || patch > tile || maxNumPatches <= 0 {
		return 0, fmt.Errorf("image tokens: invalid sizes (image %dx%d, tile %d, patch %d, max %d)",
			origH, origW, tile, patch, maxNumPatches)
	}
	bh, bw := SelectBestResolution(origH, origW, pinpoints)
	if bh == 0 {
		return 0, fmt.Errorf("image tokens: no image_grid_pinpoints")
	}
	scaleH, scaleW := bh/tile, bw/tile
	ph, pw := tile/patch, tile/patch
	ch, cw := ph*scaleH, pw*scaleW
	if ch == 0 || cw == 0 {
		return 0, fmt.Errorf("image tokens: pinpoint %dx%d smaller than a tile of %d", bh, bw, tile)
	}
	if float64(origW)/float64(origH) > float64(cw)/float64(ch) {
		newH := pymath.Round7Int(float64(origH) * (float64(cw) / float64(origW)))
		ch -= pymath.FloorDivInt(ch-newH, 2) * 2
	} else {
		newW := pymath.Round7Int(float64(origW) * (float64(ch) / float64(origH)))
		cw -= pymath.FloorDivInt(cw-newW, 2) * 2
	}
	unpadded, newlines := ch*cw, ch
	ratio := math.Sqrt(float64(ch*cw) / float64(maxNumPatches*ph*ph))
	if ratio > 1.1 {
		rh := int(pymath.FloorDiv(float64(ch), ratio))
		rw := int(pymath.FloorDiv(float64(cw), ratio))
		unpadded, newlines = rh*rw, rh
	}
	return unpadded + newlines + ph*pw, nil
}
