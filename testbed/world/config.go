package world

import "fmt"

// Config sets the shape of the world: image size, grid and how scenes and
// training samples are drawn. The zero value is not usable; start from
// DefaultConfig.
type Config struct {
	// Size is the width and height of the square images in pixels.
	Size int
	// Grid is the number of rows and columns of cells (objects sit one per cell).
	Grid int
	// MinObjects and MaxObjects bound the number of objects per scene.
	MinObjects, MaxObjects int
	// SignProb is the probability that a scene has a sign.
	SignProb float64
	// Noise is the amplitude (+-) of the per-pixel background noise in 8-bit units.
	Noise int
	// CaptionShare and LanguageShare are the fractions of training samples
	// that are captions and language-only questions; the rest are
	// benchmark-style questions about an image.
	CaptionShare, LanguageShare float64
	// LookupShare is the fraction of training samples that are the
	// multiple-choice letter drill of LookupQuestion (never in the
	// benchmark).
	LookupShare float64 `json:",omitempty"`
	// Countries and Creatures size the fact table of the language
	// questions (Facts); zero means NumCountries and NumCreatures.
	Countries int `json:",omitempty"`
	Creatures int `json:",omitempty"`
}

// DefaultConfig is the world of the testbed: 128x128 images, a 4x4 grid,
// 1 to 6 objects, a sign in about 40% of the scenes.
func DefaultConfig() Config {
	return Config{
		Size:          128,
		Grid:          4,
		MinObjects:    1,
		MaxObjects:    6,
		SignProb:      0.4,
		Noise:         6,
		CaptionShare:  0.3,
		LanguageShare: 0.15,
		LookupShare:   0.15,
	}
}

// cell is the side of one grid cell in pixels.
func (c Config) cell() int { return c.Size / c.Grid }

// Validate reports a configuration the world cannot be drawn with.
func (c Config) Validate() error {
	switch {
	case c.Grid < 2 || c.Grid > len(ordinals):
		return fmt.Errorf("world config: grid %d, want 2..%d", c.Grid, len(ordinals))
	case c.Size < 16*c.Grid:
		return fmt.Errorf("world config: size %d, want >= %d (16 pixels per cell of a %dx%d grid)", c.Size, 16*c.Grid, c.Grid, c.Grid)
	case c.MinObjects < 1 || c.MaxObjects < c.MinObjects:
		return fmt.Errorf("world config: objects %d..%d, want 1 <= min <= max", c.MinObjects, c.MaxObjects)
	case c.MaxObjects > c.Grid*c.Grid-2:
		return fmt.Errorf("world config: max objects %d, want <= %d (cells of the grid less the sign's two)", c.MaxObjects, c.Grid*c.Grid-2)
	case c.SignProb < 0 || c.SignProb > 1:
		return fmt.Errorf("world config: sign probability %g, want 0..1", c.SignProb)
	case c.Noise < 0 || c.Noise > 64:
		return fmt.Errorf("world config: noise %d, want 0..64", c.Noise)
	case c.Countries < 0 || c.Countries > MaxFacts || c.Creatures < 0 || c.Creatures > MaxFacts:
		return fmt.Errorf("world config: %d countries and %d creatures, want 0..%d each (0: %d and %d)", c.Countries, c.Creatures, MaxFacts, NumCountries, NumCreatures)
	case (c.Countries > 0 && c.Countries < 4) || (c.Creatures > 0 && c.Creatures < 4):
		return fmt.Errorf("world config: %d countries and %d creatures, want at least 4 each (the options of a question)", c.Countries, c.Creatures)
	case c.CaptionShare < 0 || c.LanguageShare < 0 || c.LookupShare < 0 || c.CaptionShare+c.LanguageShare+c.LookupShare > 1:
		return fmt.Errorf("world config: caption share %g + language share %g + lookup share %g, want non-negative and <= 1",
			c.CaptionShare, c.LanguageShare, c.LookupShare)
	}
	return nil
}
