package papertable

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Tolerances of the wins/ties/losses summary: a difference smaller than
// these is a tie.
const (
	TieAccuracy = 0.5 // accuracy points
	TieNLL      = 0.5 // percent of the baseline's NLL
)

// Gate thresholds (design/testbed.md, "So the testbed must be built to make
// quantization matter").
const (
	GateFPAccuracy = 85.0 // FP accuracy per multiple-choice category, percent
	GateBitePoints = 5.0  // W3A16 g128 RTN average loss, points
	GateBiteNLL    = 10.0 // or W3A16 g128 RTN answer-token loss increase, percent
)

// Table is the outcome of a run: every row's result plus what the run
// used. Its JSON form is the --json output.
type Table struct {
	Quick   bool   `json:"quick"`
	Command string `json:"command,omitempty"`
	Date    string `json:"date,omitempty"`

	Samples          int            `json:"samples"`
	Seed             uint64         `json:"seed"`
	TextBlockLen     int            `json:"text_block_len"`
	Group            int            `json:"group_override,omitempty"`
	Limit            int            `json:"limit"` // questions per category (0: all)
	MaxCaptionTokens int            `json:"max_caption_tokens"`
	PerCategory      map[string]int `json:"questions_per_category"`
	Categories       []string       `json:"categories"`
	MCCategories     []string       `json:"multiple_choice_categories"`
	ModelDigest      string         `json:"model_sha256"`
	BenchDigest      string         `json:"bench_sha256"`
	CodeVersion      string         `json:"code_version"`

	Rows    []RowResult `json:"rows"`
	Stats   Stats       `json:"stats"`
	Seconds float64     `json:"seconds"`

	Gates       []Gate       `json:"gates"`
	Comparisons []Comparison `json:"comparisons"`
}

// Gate is one testbed gate computed from the data.
type Gate struct {
	Name string `json:"name"`
	// Pass is nil when the rows the gate needs were not run.
	Pass *bool  `json:"pass"`
	Line string `json:"line"`
}

// Comparison is MBQ against one baseline of the same section.
type Comparison struct {
	Section  string  `json:"section"`
	Setting  string  `json:"setting"`
	Baseline string  `json:"baseline"`       // row label
	DAcc     float64 `json:"delta_accuracy"` // MBQ - baseline, points
	DNLL     float64 `json:"delta_nll_pct"`  // (MBQ - baseline) / baseline, percent
	ByAcc    string  `json:"by_accuracy"`    // win, tie or loss (for MBQ)
	ByNLL    string  `json:"by_nll"`
}

// QuestionsPerCategory is the largest number of questions of a category.
func (t *Table) QuestionsPerCategory() int {
	n := 0
	for _, c := range t.PerCategory {
		n = max(n, c)
	}
	return n
}

// Banner is the quick-mode warning ("" for a full run).
func (t *Table) Banner() string {
	if !t.Quick {
		return ""
	}
	return fmt.Sprintf("QUICK MODE: %d samples, %d questions per category — not the reported numbers",
		t.Samples, t.QuestionsPerCategory())
}

// FP returns the FP row's result.
func (t *Table) FP() *RowResult {
	for i := range t.Rows {
		if t.Rows[i].Row.IsFP() {
			return &t.Rows[i]
		}
	}
	return nil
}

// DeltaAvg is r's average minus FP's (points); DeltaNLL is r's NLL change
// relative to FP, in percent.
func (t *Table) DeltaAvg(r *RowResult) float64 {
	if fp := t.FP(); fp != nil {
		return r.Average - fp.Average
	}
	return math.NaN()
}

// DeltaNLL: see DeltaAvg.
func (t *Table) DeltaNLL(r *RowResult) float64 {
	if fp := t.FP(); fp != nil && fp.NLL > 0 {
		return 100 * (r.NLL - fp.NLL) / fp.NLL
	}
	return math.NaN()
}

// Finish computes the gates and the comparisons.
func (t *Table) Finish() {
	t.Gates = t.gates()
	t.Comparisons = t.compare()
}

func boolp(b bool) *bool { return &b }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (t *Table) gates() []Gate {
	var out []Gate
	fp := t.FP()
	g := Gate{Name: "fp-accuracy"}
	if fp == nil || len(t.MCCategories) == 0 {
		g.Line = fmt.Sprintf("FP >= %.0f%% per multiple-choice category: not computed (no FP row or no multiple-choice category)", GateFPAccuracy)
	} else {
		pass := true
		var parts []string
		for _, c := range t.MCCategories {
			v, ok := fp.MultipleChoice[c]
			pass = pass && ok && v >= GateFPAccuracy
			if ok {
				parts = append(parts, fmt.Sprintf("%s %.1f", c, v))
			} else {
				parts = append(parts, c+" not measured")
			}
		}
		g.Pass = boolp(pass)
		g.Line = fmt.Sprintf("FP accuracy on the multiple-choice items of each category: %s → FP gate: %s (gate: >= %.0f%% each)",
			strings.Join(parts, ", "), yesNo(pass), GateFPAccuracy)
	}
	out = append(out, g)
	g = Gate{Name: "quantization-bites"}
	var rtn *RowResult
	for i := range t.Rows {
		r := &t.Rows[i]
		if r.Row.Section == SecT2W3A16 && r.Row.Method == "rtn" {
			rtn = r
		}
	}
	if rtn == nil || fp == nil {
		g.Line = "W3A16 g128 RTN: not run → quantization bites: not computed"
	} else {
		da, dn := t.DeltaAvg(rtn), t.DeltaNLL(rtn)
		pass := -da >= GateBitePoints || dn >= GateBiteNLL
		g.Pass = boolp(pass)
		g.Line = fmt.Sprintf("%s RTN: Δavg = %+.1f points, ΔNLL = %+.1f%% → quantization bites: %s (gate: >= %.0f points or >= %.0f%% NLL)",
			rtn.Row.Setting(), da, dn, yesNo(pass), GateBitePoints, GateBiteNLL)
	}
	return append(out, g)
}

func verdict(d, tol float64, higherBetter bool) string {
	switch {
	case math.IsNaN(d):
		return "n/a"
	case math.Abs(d) < tol:
		return "tie"
	case (d > 0) == higherBetter:
		return "win"
	}
	return "loss"
}

func (t *Table) compare() []Comparison {
	var out []Comparison
	for _, sec := range Sections {
		var mbq *RowResult
		var base []*RowResult
		for i := range t.Rows {
			r := &t.Rows[i]
			if r.Row.Section != sec.ID {
				continue
			}
			if r.Row.IsMBQ() && !r.Row.Baseline {
				mbq = r
			} else if r.Row.Baseline {
				base = append(base, r)
			}
		}
		if mbq == nil {
			continue
		}
		for _, b := range base {
			c := Comparison{Section: sec.ID, Setting: mbq.Row.Setting(), Baseline: b.Row.Label, DAcc: mbq.Average - b.Average}
			c.DNLL = math.NaN()
			if b.NLL > 0 {
				c.DNLL = 100 * (mbq.NLL - b.NLL) / b.NLL
			}
			c.ByAcc = verdict(c.DAcc, TieAccuracy, true)
			c.ByNLL = verdict(c.DNLL, TieNLL, false)
			if math.IsNaN(c.DNLL) {
				c.DNLL = 0
			}
			out = append(out, c)
		}
	}
	return out
}

// Tally counts the comparisons' verdicts: wins, ties and losses by accuracy
// and by NLL.
func (t *Table) Tally() (acc, nll [3]int) {
	idx := map[string]int{"win": 0, "tie": 1, "loss": 2}
	for _, c := range t.Comparisons {
		if i, ok := idx[c.ByAcc]; ok {
			acc[i]++
		}
		if i, ok := idx[c.ByNLL]; ok {
			nll[i]++
		}
	}
	return acc, nll
}

// sectionRows returns the rows of a section, in table order.
func (t *Table) sectionRows(id string) []*RowResult {
	var out []*RowResult
	for i := range t.Rows {
		if t.Rows[i].Row.Section == id {
			out = append(out, &t.Rows[i])
		}
	}
	return out
}

func calibLabel(r Row) string {
	if r.IsFP() {
		return "–"
	}
	if r.Method == "rtn" {
		return "(none)"
	}
	return r.Calib
}

func (t *Table) failures(r *RowResult) int {
	n := 0
	for _, v := range r.Failures {
		n += v
	}
	return n
}

func fmtNLL(r *RowResult) string {
	s := fmt.Sprintf("%.4f", r.NLL)
	if r.NonFinite > 0 {
		s += fmt.Sprintf(" (%d non-finite)", r.NonFinite)
	}
	return s
}

func seconds(r *RowResult) string {
	if r.Row.IsFP() {
		return fmt.Sprintf("%.0f", r.EvalSeconds)
	}
	return fmt.Sprintf("%.0f+%.0f", r.QuantSeconds, r.EvalSeconds)
}

// WriteText prints the table: the banner, one block per section (the FP row
// first in each), the gates and the wins/ties/losses summary.
func (t *Table) WriteText(w io.Writer) error {
	var b bytes.Buffer
	if s := t.Banner(); s != "" {
		fmt.Fprintf(&b, "%s\n\n", s)
	}
	fp := t.FP()
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	head := "row\tcalib"
	for _, c := range t.Categories {
		head += "\t" + c
	}
	head += "\tavg\tΔavg\tNLL\tΔNLL%\tfail\ttime(s)"
	line := func(r *RowResult) {
		s := r.Row.Label + "\t" + calibLabel(r.Row)
		for _, c := range t.Categories {
			if v, ok := r.Categories[c]; ok {
				s += fmt.Sprintf("\t%.1f", v)
			} else {
				s += "\t-"
			}
		}
		s += fmt.Sprintf("\t%.1f\t%+.1f\t%s\t%+.1f\t%d\t%s", r.Average, t.DeltaAvg(r), fmtNLL(r), t.DeltaNLL(r), t.failures(r), seconds(r))
		if r.Cached {
			s += " (cached)"
		}
		fmt.Fprintln(tw, s)
	}
	for _, sec := range Sections {
		rows := t.sectionRows(sec.ID)
		if sec.ID == SecFP || len(rows) == 0 {
			continue
		}
		fmt.Fprintf(tw, "== %s\n", t.sectionTitle(sec))
		fmt.Fprintln(tw, head)
		if fp != nil {
			line(fp)
		}
		for _, r := range rows {
			line(r)
		}
		fmt.Fprintln(tw)
	}
	if len(t.Rows) == 1 && fp != nil {
		fmt.Fprintln(tw, head)
		line(fp)
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, g := range t.Gates {
		fmt.Fprintln(&b, g.Line)
	}
	if len(t.Comparisons) > 0 {
		fmt.Fprintf(&b, "\nMBQ vs baselines (tie: |Δacc| < %.1f points, |ΔNLL| < %.1f%%):\n", TieAccuracy, TieNLL)
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "section\tbaseline\tΔacc\tby acc\tΔNLL%\tby NLL")
		for _, c := range t.Comparisons {
			fmt.Fprintf(tw, "%s\t%s\t%+.1f\t%s\t%+.1f\t%s\n", c.Section, c.Baseline, c.DAcc, c.ByAcc, c.DNLL, c.ByNLL)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		acc, nll := t.Tally()
		fmt.Fprintf(&b, "MBQ wins/ties/losses: by accuracy %d/%d/%d, by NLL %d/%d/%d\n", acc[0], acc[1], acc[2], nll[0], nll[1], nll[2])
	}
	fmt.Fprintf(&b, "rows: %d quantized, %d evaluated, %d cached; %.0fs\n", t.Stats.Quantized, t.Stats.Evaluated, t.Stats.Cached, t.Seconds)
	if s := t.Banner(); s != "" {
		fmt.Fprintf(&b, "%s\n", s)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Markdown renders the table as GitHub markdown: banner, command, date and
// counts, the gates, one table per section and the wins/ties/losses summary.
func (t *Table) Markdown() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "## `mbq table`: the MBQ paper's tables on the testbed\n\n")
	if s := t.Banner(); s != "" {
		fmt.Fprintf(&b, "> **%s**\n\n", s)
	}
	if t.Command != "" {
		fmt.Fprintf(&b, "Command: `%s`", t.Command)
		if t.Date != "" {
			fmt.Fprintf(&b, " (%s)", t.Date)
		}
		b.WriteString("\n\n")
	}
	n := 0
	for _, c := range t.PerCategory {
		n += c
	}
	fmt.Fprintf(&b, "Benchmark: %d questions (up to %d per category; caption generation capped at %d tokens). ", n, t.QuestionsPerCategory(), t.MaxCaptionTokens)
	fmt.Fprintf(&b, "Calibration: %d samples per row (seed %d): image–caption pairs, or for text rows blocks of %d tokens of the testbed world's language. ", t.Samples, t.Seed, t.TextBlockLen)
	if t.Group > 0 {
		fmt.Fprintf(&b, "Group size of grouped rows overridden to %d. ", t.Group)
	}
	fmt.Fprintf(&b, "Model sha256 %s…, %s.\n\n", short(t.ModelDigest), t.CodeVersion)
	b.WriteString("Accuracy in percent per category (caption: attribute recall), their average, and the answer-token loss " +
		"(NLL, mean cross-entropy in nats over the reference answers and captions); Δ against FP, the unquantized " +
		"testbed model (stored float32/bf16: the paper's FP16 row). AWQ and SmoothQuant calibrate on text, as in the paper; " +
		"GPTQ and MBQ on image–caption pairs; RTN uses no calibration. Best quantized value per section in bold.\n\n")
	b.WriteString("### Gates\n\n")
	for _, g := range t.Gates {
		fmt.Fprintf(&b, "- %s\n", g.Line)
	}
	b.WriteString("\n")
	fp := t.FP()
	for _, sec := range Sections {
		rows := t.sectionRows(sec.ID)
		if sec.ID == SecFP || len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "### %s\n\n", t.sectionTitle(sec))
		b.WriteString("| Method | Calib. |")
		for _, c := range t.Categories {
			fmt.Fprintf(&b, " %s |", c)
		}
		b.WriteString(" Avg | Δavg | NLL | ΔNLL | Failures | Time (s) |\n|---|---|")
		b.WriteString(strings.Repeat("---:|", len(t.Categories)+6))
		b.WriteString("\n")
		bestAvg, bestNLL := math.Inf(-1), math.Inf(1)
		for _, r := range rows {
			bestAvg = math.Max(bestAvg, r.Average)
			bestNLL = math.Min(bestNLL, r.NLL)
		}
		line := func(r *RowResult, bold bool) {
			fmt.Fprintf(&b, "| %s | %s |", r.Row.Label, calibLabel(r.Row))
			for _, c := range t.Categories {
				if v, ok := r.Categories[c]; ok {
					fmt.Fprintf(&b, " %.1f |", v)
				} else {
					b.WriteString(" – |")
				}
			}
			avg, nll := fmt.Sprintf("%.1f", r.Average), fmtNLL(r)
			if bold && len(rows) > 1 && r.Average == bestAvg {
				avg = "**" + avg + "**"
			}
			if bold && len(rows) > 1 && r.NLL == bestNLL {
				nll = "**" + nll + "**"
			}
			da, dn := "–", "–"
			if !r.Row.IsFP() {
				da, dn = fmt.Sprintf("%+.1f", t.DeltaAvg(r)), fmt.Sprintf("%+.1f%%", t.DeltaNLL(r))
			}
			fmt.Fprintf(&b, " %s | %s | %s | %s | %d | %s |\n", avg, da, nll, dn, t.failures(r), seconds(r))
		}
		if fp != nil {
			line(fp, false)
		}
		for _, r := range rows {
			line(r, true)
		}
		b.WriteString("\n")
	}
	if len(t.Comparisons) > 0 {
		fmt.Fprintf(&b, "### MBQ against each baseline\n\nWin, tie or loss for MBQ by average accuracy (tie: |Δ| < %.1f points) "+
			"and by answer-token loss (tie: |Δ| < %.1f%% of the baseline's NLL).\n\n", TieAccuracy, TieNLL)
		b.WriteString("| Section | Baseline | Δacc (MBQ − baseline) | By accuracy | ΔNLL | By NLL |\n|---|---|---:|---|---:|---|\n")
		for _, c := range t.Comparisons {
			title := c.Section
			if s, ok := SectionByID(c.Section); ok {
				title = t.sectionTitle(s)
			}
			fmt.Fprintf(&b, "| %s | %s | %+.1f | %s | %+.1f%% | %s |\n", title, c.Baseline, c.DAcc, c.ByAcc, c.DNLL, c.ByNLL)
		}
		acc, nll := t.Tally()
		fmt.Fprintf(&b, "\nMBQ wins/ties/losses: by accuracy %d/%d/%d, by NLL %d/%d/%d.\n\n", acc[0], acc[1], acc[2], nll[0], nll[1], nll[2])
	}
	if s := t.Banner(); s != "" {
		fmt.Fprintf(&b, "> **%s**\n", s)
	}
	return b.Bytes()
}

// sectionTitle is the section's title with the group override applied.
func (t *Table) sectionTitle(s Section) string {
	if t.Group > 0 {
		return strings.ReplaceAll(s.Title, "g128", fmt.Sprintf("g%d", t.Group))
	}
	return s.Title
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// JSON returns the table as indented JSON.
func (t *Table) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("table: json: %w", err)
	}
	return append(b, '\n'), nil
}
