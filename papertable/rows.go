package papertable

import (
	"fmt"
	"io"
	"regexp"
)

// Calibration kinds of a row (quantize.CalibOptions.Kind).
const (
	CalibImageCaption = "image-caption"
	CalibText         = "text"
)

// MethodFP marks the unquantized reference row.
const MethodFP = "fp"

// Section is one table of the report: a paper table at one setting, or a
// stress setting.
type Section struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Paper names the paper table the section reproduces ("" for the
	// testbed's stress settings).
	Paper string `json:"paper,omitempty"`
	// Setting is the quantization setting of every row of the section
	// ("W3A16 g128", "W4A8", ...): the unit of the wins/ties/losses summary.
	Setting string `json:"setting"`
}

// Section IDs.
const (
	SecFP           = "fp"
	SecT2W3A16      = "t2-w3a16"
	SecT2W4A8       = "t2-w4a8"
	SecT4W3A16      = "t4-w3a16"
	SecT4W4A8       = "t4-w4a8"
	SecT11W4A16     = "t11-w4a16"
	SecT11W8A8      = "t11-w8a8"
	SecStressW2A16  = "stress-w2a16"
	SecStressW3A16C = "stress-w3a16-perchannel"
	SecStressW4A6   = "stress-w4a6"
	SecStressW4A4   = "stress-w4a4"
)

// Sections lists the report's sections in output order.
var Sections = []Section{
	{ID: SecFP, Title: "Full precision (FP: the testbed model's stored float32/bf16 weights, the paper's FP16 row)", Setting: "FP"},
	{ID: SecT2W3A16, Title: "Table 2 — W3A16 g128 (weight-only)", Paper: "Table 2", Setting: "W3A16 g128"},
	{ID: SecT2W4A8, Title: "Table 2 — W4A8 (weights per channel, activations per token)", Paper: "Table 2", Setting: "W4A8"},
	{ID: SecT4W3A16, Title: "Table 4 ablation — W3A16 g128", Paper: "Table 4", Setting: "W3A16 g128"},
	{ID: SecT4W4A8, Title: "Table 4 ablation — W4A8", Paper: "Table 4", Setting: "W4A8"},
	{ID: SecT11W4A16, Title: "Table 11 — W4A16 g128", Paper: "Table 11", Setting: "W4A16 g128"},
	{ID: SecT11W8A8, Title: "Table 11 — W8A8", Paper: "Table 11", Setting: "W8A8"},
	{ID: SecStressW2A16, Title: "Stress — W2A16 g128", Setting: "W2A16 g128"},
	{ID: SecStressW3A16C, Title: "Stress — W3A16 per-channel", Setting: "W3A16 per-channel"},
	{ID: SecStressW4A6, Title: "Stress — W4A6", Setting: "W4A6"},
	{ID: SecStressW4A4, Title: "Stress — W4A4", Setting: "W4A4"},
}

// SectionByID returns the section with the given ID.
func SectionByID(id string) (Section, bool) {
	for _, s := range Sections {
		if s.ID == id {
			return s, true
		}
	}
	return Section{}, false
}

// Row is one line of the report: a quantization recipe (or the FP model)
// evaluated on the benchmark. The recipe fields (Method .. Calib) are what
// the result depends on; Name, Section and Label only place it in the
// report, so rows with equal recipes in several sections (Table 2's MBQ and
// Table 4's "+ balance (MAE)") share one result.
type Row struct {
	Name    string `json:"name"`    // unique, e.g. "t2-w3a16-mbq"
	Section string `json:"section"` // a Sections ID
	Label   string `json:"label"`   // as in the paper: "RTN", "AWQ", "CWE, text calib.", ...
	// Method is MethodFP or a quantize method (rtn, awq, smoothquant, gptq, mbq).
	Method string `json:"method"`
	WBits  int    `json:"wbits,omitempty"`
	ABits  int    `json:"abits,omitempty"` // 16: weight-only
	// Group is the weight-only group size (<= 0: per output channel;
	// ignored, and 0 here, for weight-activation rows).
	Group   int    `json:"group,omitempty"`
	Loss    string `json:"loss,omitempty"`    // mbq: mae or mse
	Balance string `json:"balance,omitempty"` // mbq: auto or off
	Calib   string `json:"calib,omitempty"`   // CalibImageCaption or CalibText ("" for FP)
	// Baseline marks the rows the MBQ row of the section is compared with.
	Baseline bool `json:"baseline,omitempty"`
}

// IsFP reports whether r is the unquantized reference.
func (r Row) IsFP() bool { return r.Method == MethodFP }

// IsMBQ reports whether r is full MBQ (balance auto, MAE, image-caption).
func (r Row) IsMBQ() bool {
	return r.Method == "mbq" && r.Loss == "mae" && r.Balance == "auto" && r.Calib == CalibImageCaption
}

// Setting formats the row's quantization setting: "W3A16 g128",
// "W3A16 per-channel", "W4A8", or "FP".
func (r Row) Setting() string {
	switch {
	case r.IsFP():
		return "FP"
	case r.ABits < 16:
		return fmt.Sprintf("W%dA%d", r.WBits, r.ABits)
	case r.Group <= 0:
		return fmt.Sprintf("W%dA16 per-channel", r.WBits)
	}
	return fmt.Sprintf("W%dA16 g%d", r.WBits, r.Group)
}

// Recipe formats the recipe fields: "mbq W3A16 g128 loss=mae balance=auto
// calib=image-caption".
func (r Row) Recipe() string {
	if r.IsFP() {
		return "fp"
	}
	s := r.Method + " " + r.Setting()
	if r.Loss != "" {
		s += " loss=" + r.Loss
	}
	if r.Balance != "" {
		s += " balance=" + r.Balance
	}
	return s + " calib=" + r.Calib
}

// Rows returns the row table, in output order.
func Rows() []Row {
	fp := Row{Name: "fp", Section: SecFP, Label: "FP", Method: MethodFP}
	rows := []Row{fp}
	wo := func(sec string, bits, group int) func(name, label, method, loss, balance, cal string, baseline bool) {
		return func(name, label, method, loss, balance, cal string, baseline bool) {
			rows = append(rows, Row{Name: sec + "-" + name, Section: sec, Label: label, Method: method,
				WBits: bits, ABits: 16, Group: group, Loss: loss, Balance: balance, Calib: cal, Baseline: baseline})
		}
	}
	wa := func(sec string, wbits, abits int) func(name, label, method, loss, balance, cal string, baseline bool) {
		return func(name, label, method, loss, balance, cal string, baseline bool) {
			rows = append(rows, Row{Name: sec + "-" + name, Section: sec, Label: label, Method: method,
				WBits: wbits, ABits: abits, Loss: loss, Balance: balance, Calib: cal, Baseline: baseline})
		}
	}
	const ic, txt = CalibImageCaption, CalibText
	// Weight-only settings: RTN, GPTQ, AWQ, MBQ. As in the paper (Sec.
	// 4.3.1, and Table 4's AWQ/SQ rows equal Table 2's), AWQ and
	// SmoothQuant calibrate on text; GPTQ and MBQ on image-caption pairs.
	// RTN uses no calibration statistics (the pipeline still runs the
	// image-caption samples through the blocks).
	weightOnly := func(sec string, bits, group int) {
		add := wo(sec, bits, group)
		add("rtn", "RTN", "rtn", "", "", ic, true)
		add("gptq", "GPTQ", "gptq", "", "", ic, true)
		add("awq", "AWQ", "awq", "", "", txt, true)
		add("mbq", "MBQ", "mbq", "mae", "auto", ic, false)
	}
	weightAct := func(sec string, wbits, abits int) {
		add := wa(sec, wbits, abits)
		add("rtn", "RTN", "rtn", "", "", ic, true)
		add("sq", "SQ", "smoothquant", "", "", txt, true)
		add("mbq", "MBQ", "mbq", "mae", "auto", ic, false)
	}
	weightOnly(SecT2W3A16, 3, 128)
	weightAct(SecT2W4A8, 4, 8)

	// Table 4: RTN, CWE with text calibration (AWQ / SmoothQuant), CWE with
	// image-caption calibration (the MBQ search with balancing off, MSE),
	// + modality balance (MSE), + modality balance (MAE) = MBQ.
	t4 := wo(SecT4W3A16, 3, 128)
	t4("rtn", "RTN", "rtn", "", "", ic, true)
	t4("cwe-text", "CWE, text calib. (AWQ)", "awq", "", "", txt, true)
	t4("cwe-ic", "CWE, image-caption calib.", "mbq", "mse", "off", ic, true)
	t4("bal-mse", "+ modality balance (MSE)", "mbq", "mse", "auto", ic, true)
	t4("bal-mae", "+ modality balance (MAE) = MBQ", "mbq", "mae", "auto", ic, false)
	t4a := wa(SecT4W4A8, 4, 8)
	t4a("rtn", "RTN", "rtn", "", "", ic, true)
	t4a("cwe-text", "CWE, text calib. (SQ)", "smoothquant", "", "", txt, true)
	t4a("cwe-ic", "CWE, image-caption calib.", "mbq", "mse", "off", ic, true)
	t4a("bal-mse", "+ modality balance (MSE)", "mbq", "mse", "auto", ic, true)
	t4a("bal-mae", "+ modality balance (MAE) = MBQ", "mbq", "mae", "auto", ic, false)

	weightOnly(SecT11W4A16, 4, 128)
	weightAct(SecT11W8A8, 8, 8)

	weightOnly(SecStressW2A16, 2, 128)
	weightOnly(SecStressW3A16C, 3, 0)
	weightAct(SecStressW4A6, 4, 6)
	weightAct(SecStressW4A4, 4, 4)
	return rows
}

// QuickSections are the sections --quick runs by default: Table 2, the
// headline rows.
var QuickSections = []string{SecFP, SecT2W3A16, SecT2W4A8}

// Select returns the rows whose Name or Section matches the regular
// expression expr (all rows for ""), always keeping the FP row, which the
// deltas need.
func Select(rows []Row, expr string) ([]Row, error) {
	if expr == "" {
		return rows, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("rows: %w", err)
	}
	var out []Row
	n := 0
	for _, r := range rows {
		match := re.MatchString(r.Name) || re.MatchString(r.Section)
		if match {
			n++
		}
		if match || r.IsFP() {
			out = append(out, r)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("rows: %q matches no row (see --list)", expr)
	}
	return out, nil
}

// InSections returns the rows of the given sections (and the FP row).
func InSections(rows []Row, ids []string) []Row {
	var out []Row
	for _, r := range rows {
		for _, id := range ids {
			if r.Section == id || r.IsFP() {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// WriteList prints the row table, one row a line.
func WriteList(w io.Writer, rows []Row) error {
	for _, r := range rows {
		if _, err := fmt.Fprintf(w, "%-34s %-26s %-32s %s\n", r.Name, r.Section, r.Label, r.Recipe()); err != nil {
			return err
		}
	}
	return nil
}
