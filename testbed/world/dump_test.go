package world

import (
	"image"
	"image/draw"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestDumpSheet writes a contact sheet of scenes to $WORLD_DUMP for viewing.
func TestDumpSheet(t *testing.T) {
	dir := os.Getenv("WORLD_DUMP")
	if dir == "" {
		t.Skip("set WORLD_DUMP=dir to write a contact sheet of scenes")
	}
	cfg := DefaultConfig()
	const n = 4
	sheet := image.NewRGBA(image.Rect(0, 0, n*(cfg.Size+4), n*(cfg.Size+4)))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n*n; i++ {
		s := newScene(rng, cfg, i%2 == 0)
		img := s.Render()
		at := image.Pt((i%n)*(cfg.Size+4), (i/n)*(cfg.Size+4))
		draw.Draw(sheet, img.Rect.Add(at), img, image.Point{}, draw.Src)
		if i < 3 {
			t.Log(s.Caption(rng))
		}
	}
	f, err := os.Create(filepath.Join(dir, "sheet.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, sheet); err != nil {
		t.Fatal(err)
	}
}
