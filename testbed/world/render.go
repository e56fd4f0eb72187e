package world

import (
	"mbq/internal/font5x7"

	"image"
	"image/color"
	"math"
	"math/rand/v2"
)

// Render draws the scene: background with noise, the sign (a white board with
// black text in the embedded 5x7 font) and the objects, anti-aliased with
// 4x4 supersampling. The result depends only on the scene.
func (s *Scene) Render() *image.RGBA {
	size := s.Config.Size
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	bg := backgrounds[s.Background]
	noise := rand.New(rand.NewPCG(s.noiseSeed, 0x6e6f697365))
	amp := s.Config.Noise
	for i := 0; i < size*size; i++ {
		d := 0
		if amp > 0 {
			d = noise.IntN(2*amp+1) - amp
		}
		p := img.Pix[4*i : 4*i+4]
		for c := 0; c < 3; c++ {
			p[c] = clamp8(int(bg[c]) + d)
		}
		p[3] = 255
	}
	if s.Sign != nil {
		s.drawSign(img)
	}
	for _, o := range s.Objects {
		s.drawObject(img, o)
	}
	return img
}

func clamp8(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// objectRadius is the half-extent of an object in pixels.
func (s *Scene) objectRadius(o Object) float64 {
	cell := float64(s.Config.cell())
	if o.Size == "large" {
		return cell * 0.44
	}
	return cell * 0.27
}

func (s *Scene) drawObject(img *image.RGBA, o Object) {
	cell := s.Config.cell()
	cx := float64(o.Col*cell) + float64(cell)/2
	cy := float64(o.Row*cell) + float64(cell)/2
	r := s.objectRadius(o)
	base := colorRGB[indexOf(Colors, o.Color)]
	var col [3]int
	for c := range col {
		col[c] = int(clamp8(int(base[c]) + int(o.jitter[c])))
	}
	inside := shapeFuncs[o.Shape]
	x0, x1 := int(math.Floor(cx-r))-1, int(math.Ceil(cx+r))+1
	y0, y1 := int(math.Floor(cy-r))-1, int(math.Ceil(cy+r))+1
	const ss = 4
	for py := y0; py <= y1; py++ {
		for px := x0; px <= x1; px++ {
			if !(image.Point{px, py}.In(img.Rect)) {
				continue
			}
			hits := 0
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					u := (float64(px) + (float64(sx)+0.5)/ss - cx) / r
					v := (float64(py) + (float64(sy)+0.5)/ss - cy) / r
					if inside(u, v) {
						hits++
					}
				}
			}
			if hits == 0 {
				continue
			}
			i := img.PixOffset(px, py)
			for c := 0; c < 3; c++ {
				old := int(img.Pix[i+c])
				img.Pix[i+c] = uint8((old*(ss*ss-hits) + col[c]*hits + ss*ss/2) / (ss * ss))
			}
		}
	}
}

// signRect is the board of the sign in pixels.
func (s *Scene) signRect() image.Rectangle {
	cell := s.Config.cell()
	sg := s.Sign
	x0 := sg.Col*cell + 2
	x1 := (sg.Col+2)*cell - 2
	h := cell * 3 / 4
	y0 := sg.Row*cell + (cell-h)/2
	return image.Rect(x0, y0, x1, y0+h)
}

// signScale is the integer magnification of the 5x7 glyphs on the board.
func (s *Scene) signScale(board image.Rectangle) int {
	n := len(s.Sign.Text)
	w := 6*n - 1
	sc := 3
	for sc > 1 && (w*sc > board.Dx()-4 || 7*sc > board.Dy()-4) {
		sc--
	}
	return sc
}

// SignGlyphs returns the pixel box of each character of the sign in reading
// order (5x7 glyph cells times the board's magnification); nil without a
// sign. Training uses it to label image patches with the characters they
// show.
func (s *Scene) SignGlyphs() []image.Rectangle {
	if s.Sign == nil {
		return nil
	}
	board := s.signRect()
	sc := s.signScale(board)
	n := len(s.Sign.Text)
	x := board.Min.X + (board.Dx()-(6*n-1)*sc)/2
	y := board.Min.Y + (board.Dy()-7*sc)/2
	out := make([]image.Rectangle, n)
	for k := range out {
		out[k] = image.Rect(x+6*k*sc, y, x+(6*k+5)*sc, y+7*sc)
	}
	return out
}

func (s *Scene) drawSign(img *image.RGBA) {
	board := s.signRect()
	fill(img, board, color.RGBA{40, 40, 40, 255})
	fill(img, board.Inset(1), color.RGBA{245, 245, 235, 255})
	sc := s.signScale(board)
	text := s.Sign.Text
	w := (6*len(text) - 1) * sc
	x := board.Min.X + (board.Dx()-w)/2
	y := board.Min.Y + (board.Dy()-7*sc)/2
	ink := color.RGBA{10, 10, 10, 255}
	for k := 0; k < len(text); k++ {
		g, _ := font5x7.Glyph(text[k])
		for row := 0; row < 7; row++ {
			for bit := 0; bit < 5; bit++ {
				if g[row]&(0x10>>bit) != 0 {
					gx := x + (6*k+bit)*sc
					gy := y + row*sc
					fill(img, image.Rect(gx, gy, gx+sc, gy+sc), ink)
				}
			}
		}
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// Shape tests in coordinates normalised to the object's half-extent, y down.
var shapeFuncs = map[string]func(u, v float64) bool{
	"circle": func(u, v float64) bool { return u*u+v*v <= 1 },
	"square": func(u, v float64) bool { return math.Abs(u) <= 0.8 && math.Abs(v) <= 0.8 },
	"diamond": func(u, v float64) bool {
		return math.Abs(u)+math.Abs(v) <= 1
	},
	"cross": func(u, v float64) bool {
		au, av := math.Abs(u), math.Abs(v)
		return (au <= 0.3 && av <= 0.95) || (av <= 0.3 && au <= 0.95)
	},
	"triangle": func(u, v float64) bool { return inPolygon(trianglePoly, u, v) },
	"star":     func(u, v float64) bool { return inPolygon(starPoly, u, v) },
	"hexagon":  func(u, v float64) bool { return inPolygon(hexagonPoly, u, v) },
	"heart": func(u, v float64) bool {
		x, y := u*1.2, -v*1.2+0.2
		a := x*x + y*y - 1
		return a*a*a-x*x*y*y*y <= 0
	},
}

var (
	trianglePoly = [][2]float64{{0, -0.95}, {1, 0.8}, {-1, 0.8}}
	starPoly     = regularPoly(10, -math.Pi/2, 1, 0.42)
	hexagonPoly  = regularPoly(6, 0, 1, 1)
)

// regularPoly returns n vertices on a circle starting at angle a0,
// alternating between radii r0 and r1.
func regularPoly(n int, a0, r0, r1 float64) [][2]float64 {
	p := make([][2]float64, n)
	for i := range p {
		a := a0 + 2*math.Pi*float64(i)/float64(n)
		r := r0
		if i%2 == 1 {
			r = r1
		}
		p[i] = [2]float64{r * math.Cos(a), r * math.Sin(a)}
	}
	return p
}

// inPolygon is the even-odd crossing test.
func inPolygon(p [][2]float64, x, y float64) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		xi, yi, xj, yj := p[i][0], p[i][1], p[j][0], p[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}
