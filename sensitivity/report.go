package sensitivity

import (
	"mbq/internal/atomicfile"

	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes r to path as indented JSON, atomically: a temporary
// file in the same directory is synced and renamed over path.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeAtomic(path, append(b, '\n'))
}

// ReadJSON reads a Result written by WriteJSON.
func ReadJSON(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, bl := range r.Blocks {
		if bl.Block != i {
			return nil, fmt.Errorf("%s: blocks[%d]: block %d, want %d", path, i, bl.Block, i)
		}
	}
	return &r, nil
}

// writeAtomic writes data to a temporary file beside path and renames it
// into place.
func writeAtomic(path string, data []byte) error { return atomicfile.WriteFile(path, data) }

// Table writes r as an aligned text table, one row per block:
//
//	block  attn g_v  attn g_l  attn r  attn r*  mlp g_v  mlp g_l  mlp r  mlp r*
//
// followed by the medians, the sample counts and the mean loss. r* is the
// clamped ratio.
func (r *Result) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "block\tattn g_v\tattn g_l\tattn r\tattn r*\tmlp g_v\tmlp g_l\tmlp r\tmlp r*\t")
	for _, b := range r.Blocks {
		fmt.Fprintf(tw, "%d\t%.3e\t%.3e\t%.4f\t%.4f\t%.3e\t%.3e\t%.4f\t%.4f\t\n", b.Block,
			b.AttnVision, b.AttnLanguage, b.AttnRatio, b.AttnClamped,
			b.MLPVision, b.MLPLanguage, b.MLPRatio, b.MLPClamped)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "median r: attention %.4f, MLP %.4f (r* = max(r, median))\n"+
		"samples %d (%d with images), vision tokens %d, answer tokens %d, mean answer loss %.4f\n",
		r.AttnMedian, r.MLPMedian, r.Samples, r.VisionSamples, r.VisionTokens, r.AnswerTokens, r.Loss)
	return err
}

// String is the table as text.
func (r *Result) String() string {
	var sb strings.Builder
	r.Table(&sb)
	return sb.String()
}

// PlotPNG draws r (see Plot) and writes it to path as PNG, atomically.
func (r *Result) PlotPNG(path string) error {
	if len(r.Blocks) == 0 {
		return errors.New("plot: no blocks")
	}
	b, err := encodePNG(r.Plot())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeAtomic(path, b)
}

// finite reports whether v can be drawn.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
