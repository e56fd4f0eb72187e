package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"mbq/hf/tokenizer"
	"mbq/model"
	"mbq/nn"
	"mbq/tensor"
	"mbq/testbed/world"
)

// The cell probes. Measured on run20 (README, problem 14) with linear
// probes fitted on unseen scenes: the grid row and column of every image
// token are linearly readable from the decoder's residual stream at every
// block (99%), yet at the answer row of a question that names a cell ("the
// object in the third row, first column") the residual entering the image
// guide's block names the row (93%) but hardly the column (48%, chance
// 25%), although the referent guide's column head looks at the right words;
// and after that block reads the object a "Where is X?" question asks
// about, the residual names its row (83%) but not its column (57%). Both
// lookups the spatial questions need — cell to object and object to cell —
// lose the column.
//
// With CellProbeWeight > 0 two probes teach the residual stream to carry
// it. At each guided answer row (guidedRows) of an image question, the
// hidden state x entering a block is RMS-normalized, u = x/sqrt(mean(x²)+ε),
// and read out by fixed random matrices (training constants drawn from a
// fixed seed, N(0, 1/hidden), not saved): the row logits R_row·u and the
// column logits R_col·u, and
//
//	L_probe = CellProbeWeight/|rows| · Σ_rows [CE(R_row·u, row) + CE(R_col·u, col)]
//
// - the named-cell probe, at the input of the second-to-last block (the
//   image guide's): the row and the column the question's text names
//   ("the third row", "the first column"; either alone counts);
// - the focus probe, at the input of the last block: the cell of the
//   question's single focus object (world.Question.Focus of one cell).
//
// A fixed read-out needs no parameters and no optimizer state; the blocks
// below learn to write the cell in directions those matrices read (any
// direction is as easy to write as another). Evaluation is unchanged.
//
// With CellProbeKeys the probes also teach what those queries are matched
// against, all through the named-cell site's read-out, so a query and its
// key carry a cell in the same directions: at the second-to-last block's
// input every image token its own cell (the image guide's keys), at the
// last block's input the last token of every option line that names a
// cell (the multiple-choice guide's keys for "Where is X?" and "In which
// row is the sign?").

// probeSeed seeds the fixed read-outs.
const probeSeed = 0x63656c6c70726f62 // "cellprob"

// Probe sites, indexing cellProbes.
const (
	namedProbe = iota // second-to-last block's input: the cell the text names
	focusProbe        // last block's input: the focus object's cell
	numProbes
)

// cellProbes are the fixed read-outs: [site][0 row, 1 column], each [grid,
// hidden] with N(0, 1/hidden) entries from probeSeed.
type cellProbes [numProbes][2]*nn.Linear

// newCellProbes draws the read-outs for a grid of the given side and a
// residual stream of width hidden.
func newCellProbes(grid, hidden int) *cellProbes {
	rng := rand.New(rand.NewPCG(probeSeed, uint64(grid)<<32|uint64(hidden)))
	var p cellProbes
	sd := 1 / math.Sqrt(float64(hidden))
	for s := range p {
		for r := range p[s] {
			w := tensor.New(grid, hidden)
			for i := range w.Data {
				w.Data[i] = float32(rng.NormFloat64() * sd)
			}
			p[s][r] = &nn.Linear{W: nn.NewParam(w)}
		}
	}
	return &p
}

// namedCell is the grid row and column a question's text names ("in the
// third row, first column" → 2, 0; "in the second column" → -1, 1): an
// ordinal followed by "row" or "column", the first of each; -1 when none.
func namedCell(question string) (row, col int) {
	row, col = -1, -1
	words := letterWords(question)
	for i := 0; i+1 < len(words); i++ {
		k := world.OrdinalIndex(words[i].w)
		if k < 0 {
			continue
		}
		switch words[i+1].w {
		case "row":
			if row < 0 {
				row = k
			}
		case "column":
			if col < 0 {
				col = k
			}
		}
	}
	return row, col
}

// probeTargets are, for site, the cell a question's guided rows are
// taught: ok is false when the question has no image or the site has
// nothing to teach for it.
func probeTargets(site int, q world.Question, grid int) (row, col int, ok bool) {
	if !q.HasImage {
		return -1, -1, false
	}
	switch site {
	case namedProbe:
		row, col = namedCell(q.Question)
	case focusProbe:
		if len(q.Focus) != 1 {
			return -1, -1, false
		}
		row, col = q.Focus[0]/grid, q.Focus[0]%grid
	}
	return row, col, row >= 0 || col >= 0
}

// grad is the gradient of the probe of site at the hidden states x ([T,
// hidden]) entering its block, for the given rows with their targets
// (-1: none for that role), each row's loss weighted by weights[i]; it
// returns the gradient (nil without rows) and the weighted loss.
func (p *cellProbes) grad(site int, x *tensor.Tensor, rows []int, targets [][2]int, weights []float32) (*tensor.Tensor, float64, error) {
	if len(rows) == 0 {
		return nil, 0, nil
	}
	H := p[site][0].W.Value.Shape[1]
	if len(x.Shape) != 2 || x.Shape[1] != H {
		return nil, 0, fmt.Errorf("cell probe: hidden states of shape %v, want [T %d]", x.Shape, H)
	}
	norm := nn.NewRMSNorm(H, 1e-6)
	sel, err := gatherRows(x, rows)
	if err != nil {
		return nil, 0, fmt.Errorf("cell probe: %w", err)
	}
	u := norm.Forward(sel)
	du := tensor.New(u.Shape...)
	var loss float64
	for role, lin := range p[site] {
		logits := lin.Forward(u)
		dl := tensor.New(logits.Shape...)
		G := logits.Shape[1]
		for i := range rows { // one row at a time: each has its own weight
			k := targets[i][role]
			if k < 0 {
				continue
			}
			z, _ := tensor.FromData(logits.Data[i*G:(i+1)*G], 1, G)
			dz, _ := tensor.FromData(dl.Data[i*G:(i+1)*G], 1, G)
			nll, _ := nn.CrossEntropySum(dz, z, []int{k}, 1)
			loss += float64(weights[i]) * nll
			for j := range dz.Data { // scaled after, as run21 was trained
				dz.Data[j] *= weights[i]
			}
		}
		d := lin.Backward(u, dl)
		for i, v := range d.Data {
			du.Data[i] += v
		}
	}
	return scatterRows(norm.Backward(sel, du), rows, x.Shape[0]), loss, nil
}

// probeRows are the guided rows of a sample's answer turns with, for
// site, each row's targets and weight (weight per turn, shared by its
// rows), the questions paired with turns as answerTurns gives them.
func probeRows(site int, qs []world.Question, turns [][]int, grid int, weight float32) (rows []int, targets [][2]int, weights []float32) {
	for k, q := range qs {
		r, c, ok := probeTargets(site, q, grid)
		if !ok || k >= len(turns) || len(turns[k]) == 0 {
			continue
		}
		g := guidedRows(turns[k])
		for _, row := range g {
			rows = append(rows, row)
			targets = append(targets, [2]int{r, c})
			weights = append(weights, weight/float32(len(g)))
		}
	}
	return rows, targets, weights
}

// probeKeyRows are, with Config.CellProbeKeys, the rows a site teaches
// besides the answer rows: for the named-cell site every image token of
// the sample (both tiles) with its own cell, the sample's tokens sharing
// weight; for the focus site the last token (the one holding the newline)
// of every option line of a multiple-choice question whose text names a
// cell, a turn's lines sharing weight.
func probeKeyRows(site int, tok *tokenizer.Tokenizer, in *model.Input, imageToken int, qs []world.Question, turns [][]int, c *Config, weight float32) (rows []int, targets [][2]int, weights []float32) {
	switch site {
	case namedProbe:
		pos, ok := imagePositions(in, imageToken, c) // false without an image
		if !ok {
			return nil, nil, nil
		}
		side := c.ImageSize / c.PatchSize
		for pr := range side {
			for pc := range side {
				r, col := patchCell(pr, pc, c.PatchSize, c.World.Size, c.World.Grid)
				for _, t := range patchTokens(pos, side, pr, pc) {
					rows = append(rows, t)
					targets = append(targets, [2]int{r, col})
				}
			}
		}
		for range rows {
			weights = append(weights, weight/float32(len(rows)))
		}
	case focusProbe:
		for k, q := range qs {
			if !q.HasImage || !q.MultipleChoice() || k >= len(turns) {
				continue
			}
			// letterGuide's tokens run line by line, each keyed to its
			// line's letter: a line ends where the key changes.
			lines, letters, ok := letterGuide(tok, in, turnStart(turns, k), turns[k])
			if !ok {
				continue
			}
			var ends [][3]int // row, col, last token
			first := lines[0]
			for i, t := range lines {
				if i+1 < len(lines) && letters[i+1][0] == letters[i][0] {
					continue
				}
				if r, col := namedCell(tok.Decode(in.IDs[first:t+1], false)); r >= 0 || col >= 0 {
					ends = append(ends, [3]int{r, col, t})
				}
				if i+1 < len(lines) {
					first = lines[i+1]
				}
			}
			for _, e := range ends {
				rows = append(rows, e[2])
				targets = append(targets, [2]int{e[0], e[1]})
				weights = append(weights, weight/float32(len(ends)))
			}
		}
	}
	return rows, targets, weights
}
