package sensitivity

import (
	"mbq/internal/font5x7"

	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"strconv"
)

// Size of the image Plot draws.
const (
	PlotWidth  = 800
	PlotHeight = 800
)

var (
	colBG       = color.RGBA{255, 255, 255, 255}
	colAxis     = color.RGBA{40, 40, 40, 255}
	colGrid     = color.RGBA{225, 225, 225, 255}
	colText     = color.RGBA{20, 20, 20, 255}
	colVision   = color.RGBA{230, 120, 20, 255}
	colLanguage = color.RGBA{40, 90, 200, 255}
	colAttnR    = color.RGBA{150, 50, 170, 255}
	colMLPR     = color.RGBA{30, 150, 70, 255}
)

// series is one line of a panel.
type series struct {
	name   string
	col    color.RGBA
	values []float64
	dashed bool // a horizontal reference line (values all equal), no markers
}

// panel is one chart: a plot area and its y axis.
type panel struct {
	title  string
	area   image.Rectangle
	log    bool
	lo, hi float64 // y range (log10 of the values when log)
	series []series
}

// Plot draws the paper's Figure 1 for r: three panels over the decoder
// blocks — mean |gradient| on vision and on caption (language) rows at the
// o_proj output (attention) and at the down_proj output (MLP), log-scale,
// and the ratios r = g_v / g_l of both branches with their medians (the
// clamp thresholds, dashed). Zero gradients, which a log axis cannot show
// (the last block's vision rows), are drawn as an x on the bottom edge.
func (r *Result) Plot() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, PlotWidth, PlotHeight))
	draw.Draw(img, img.Bounds(), image.NewUniform(colBG), image.Point{}, draw.Src)
	n := len(r.Blocks)
	get := func(f func(b BlockSens) float64) []float64 {
		out := make([]float64, n)
		for i, b := range r.Blocks {
			out[i] = f(b)
		}
		return out
	}
	const left, right, ph, gap, top = 80, 20, 190, 62, 40
	title := fmt.Sprintf("MBQ SENSITIVITY: %d BLOCKS, %d SAMPLES, LOSS %.4g", n, r.Samples, r.Loss)
	drawText(img, (PlotWidth-textWidth(title, 2))/2, 10, title, 2, colText)
	rect := func(k int) image.Rectangle {
		y0 := top + k*(ph+gap) + 18
		return image.Rect(left, y0, PlotWidth-right, y0+ph)
	}
	flat := func(v float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	panels := []*panel{
		{title: "ATTENTION (O_PROJ OUTPUT): MEAN |GRAD|", area: rect(0), log: true, series: []series{
			{name: "VISION", col: colVision, values: get(func(b BlockSens) float64 { return b.AttnVision })},
			{name: "LANGUAGE", col: colLanguage, values: get(func(b BlockSens) float64 { return b.AttnLanguage })},
		}},
		{title: "MLP (DOWN_PROJ OUTPUT): MEAN |GRAD|", area: rect(1), log: true, series: []series{
			{name: "VISION", col: colVision, values: get(func(b BlockSens) float64 { return b.MLPVision })},
			{name: "LANGUAGE", col: colLanguage, values: get(func(b BlockSens) float64 { return b.MLPLanguage })},
		}},
		{title: "RATIO R = G_V / G_L (DASHED: MEDIAN, THE CLAMP)", area: rect(2), series: []series{
			{name: "ATTENTION", col: colAttnR, values: get(func(b BlockSens) float64 { return b.AttnRatio })},
			{name: "MLP", col: colMLPR, values: get(func(b BlockSens) float64 { return b.MLPRatio })},
			{name: "", col: colAttnR, values: flat(r.AttnMedian), dashed: true},
			{name: "", col: colMLPR, values: flat(r.MLPMedian), dashed: true},
		}},
	}
	for _, p := range panels {
		p.scale()
		p.draw(img, n)
	}
	label := "DECODER BLOCK"
	a := panels[len(panels)-1].area
	drawText(img, (a.Min.X+a.Max.X-textWidth(label, 1))/2, a.Max.Y+22, label, 1, colText)
	return img
}

// scale sets the y range from the panel's values.
func (p *panel) scale() {
	if p.log {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range p.series {
			for _, v := range s.values {
				if v > 0 && finite(v) {
					lo = min(lo, math.Log10(v))
					hi = max(hi, math.Log10(v))
				}
			}
		}
		if math.IsInf(lo, 1) {
			lo, hi = -1, 0
		}
		p.lo, p.hi = math.Floor(lo), math.Ceil(hi)
		if p.hi <= p.lo {
			p.hi = p.lo + 1
		}
		return
	}
	hi := 0.0
	for _, s := range p.series {
		for _, v := range s.values {
			if finite(v) {
				hi = max(hi, v)
			}
		}
	}
	if hi <= 0 {
		hi = 1
	}
	step := niceStep(hi / 5)
	p.lo, p.hi = 0, math.Ceil(hi/step)*step
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= x*(1-1e-9) {
			return m * e
		}
	}
	return 10 * e
}

// y maps a value to a pixel row; ok is false for a value a log axis
// cannot show.
func (p *panel) y(v float64) (int, bool) {
	if !finite(v) {
		return 0, false
	}
	if p.log {
		if v <= 0 {
			return p.area.Max.Y - 1, false
		}
		v = math.Log10(v)
	}
	f := (v - p.lo) / (p.hi - p.lo)
	f = min(max(f, 0), 1)
	return p.area.Max.Y - 1 - int(math.Round(f*float64(p.area.Dy()-1))), true
}

func (p *panel) x(i, n int) int {
	w := float64(p.area.Dx())
	return p.area.Min.X + int(math.Round((float64(i)+0.5)*w/float64(n)))
}

func (p *panel) draw(img *image.RGBA, n int) {
	a := p.area
	drawText(img, a.Min.X, a.Min.Y-14, p.title, 1, colText)
	// Y grid and tick labels.
	var ticks []float64
	if p.log {
		step := math.Max(1, math.Ceil((p.hi-p.lo)/8))
		for e := p.lo; e <= p.hi+1e-9; e += step {
			ticks = append(ticks, e)
		}
	} else {
		step := niceStep(p.hi / 5)
		for v := 0.0; v <= p.hi*(1+1e-9); v += step {
			ticks = append(ticks, v)
		}
	}
	for _, t := range ticks {
		var yy int
		var lab string
		if p.log {
			f := (t - p.lo) / (p.hi - p.lo)
			yy = a.Max.Y - 1 - int(math.Round(f*float64(a.Dy()-1)))
			lab = "1E" + strconv.Itoa(int(t))
		} else {
			yy, _ = p.y(t)
			lab = strconv.FormatFloat(t, 'g', 3, 64)
		}
		hline(img, a.Min.X, a.Max.X-1, yy, colGrid)
		hline(img, a.Min.X-4, a.Min.X, yy, colAxis)
		drawText(img, a.Min.X-8-textWidth(lab, 1), yy-3, lab, 1, colText)
	}
	// X ticks: every block, labelled every k-th so labels do not collide.
	k := max(1, int(math.Ceil(float64(n)*24/float64(a.Dx()))))
	for i := range n {
		xx := p.x(i, n)
		vline(img, xx, a.Max.Y, a.Max.Y+3, colAxis)
		if i%k == 0 || i == n-1 && (n-1)%k > k/2 {
			lab := strconv.Itoa(i)
			drawText(img, xx-textWidth(lab, 1)/2, a.Max.Y+6, lab, 1, colText)
		}
	}
	// Frame.
	hline(img, a.Min.X, a.Max.X-1, a.Max.Y, colAxis)
	hline(img, a.Min.X, a.Max.X-1, a.Min.Y, colAxis)
	vline(img, a.Min.X, a.Min.Y, a.Max.Y, colAxis)
	vline(img, a.Max.X-1, a.Min.Y, a.Max.Y, colAxis)
	// Series.
	zeros := false
	for _, s := range p.series {
		if s.dashed {
			if len(s.values) > 0 {
				if yy, ok := p.y(s.values[0]); ok {
					for xx := a.Min.X + 1; xx < a.Max.X-1; xx++ {
						if (xx/6)%2 == 0 {
							img.SetRGBA(xx, yy, s.col)
						}
					}
				}
			}
			continue
		}
		px, py, prevOK := 0, 0, false
		for i, v := range s.values {
			xx := p.x(i, n)
			yy, ok := p.y(v)
			if !ok {
				if finite(v) { // zero on a log axis
					cross(img, xx, a.Max.Y-4, s.col)
					zeros = true
				}
				prevOK = false
				continue
			}
			if prevOK {
				thickLine(img, px, py, xx, yy, s.col)
			}
			square(img, xx, yy, s.col)
			px, py, prevOK = xx, yy, true
		}
	}
	if zeros {
		note := "x: ZERO"
		drawText(img, a.Max.X-8-textWidth(note, 1), a.Min.Y+22, note, 1, colText)
	}
	// Legend, top right.
	lx := a.Max.X - 8
	for i := len(p.series) - 1; i >= 0; i-- {
		s := p.series[i]
		if s.name == "" {
			continue
		}
		w := textWidth(s.name, 1)
		lx -= w
		drawText(img, lx, a.Min.Y+8, s.name, 1, colText)
		lx -= 14
		thickLine(img, lx, a.Min.Y+11, lx+10, a.Min.Y+11, s.col)
		square(img, lx+5, a.Min.Y+11, s.col)
		lx -= 14
	}
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

// thickLine draws a 2-pixel-wide line (Bresenham).
func thickLine(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		img.SetRGBA(x0, y0+1, c)
		img.SetRGBA(x0+1, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func square(img *image.RGBA, x, y int, c color.RGBA) {
	for dy := -3; dy <= 3; dy++ {
		for dx := -3; dx <= 3; dx++ {
			img.SetRGBA(x+dx, y+dy, c)
		}
	}
}

func cross(img *image.RGBA, x, y int, c color.RGBA) {
	for d := -4; d <= 4; d++ {
		img.SetRGBA(x+d, y+d, c)
		img.SetRGBA(x+d+1, y+d, c)
		img.SetRGBA(x+d, y-d, c)
		img.SetRGBA(x+d+1, y-d, c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// textWidth is the width in pixels of s drawn at scale.
func textWidth(s string, scale int) int {
	if len(s) == 0 {
		return 0
	}
	return (6*len(s) - 1) * scale
}

// drawText draws s with the 5x7 font, its top-left corner at (x, y).
// Characters the font lacks are drawn as a box.
func drawText(img *image.RGBA, x, y int, s string, scale int, c color.RGBA) {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		g, ok := font5x7.Glyph(ch)
		if !ok && ch >= 'a' && ch <= 'z' {
			g, ok = font5x7.Glyph(ch - 'a' + 'A')
		}
		if !ok {
			g = [7]uint8{0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f}
		}
		for row := range 7 {
			for col := range 5 {
				if g[row]&(0x10>>col) == 0 {
					continue
				}
				for sy := range scale {
					for sx := range scale {
						img.SetRGBA(x+(i*6+col)*scale+sx, y+row*scale+sy, c)
					}
				}
			}
		}
	}
}

func encodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
