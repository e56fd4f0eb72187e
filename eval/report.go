package eval

import (
	"mbq/internal/atomicfile"

	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
)

// MarshalIndent returns the report as indented JSON ending in a newline.
// Map keys are sorted, so equal reports give equal bytes.
func (r *Report) MarshalIndent() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("eval: report: %w", err)
	}
	return b.Bytes(), nil
}

// WriteFile writes the report as JSON to path atomically: a temporary
// file in the same directory, synced, then renamed over path.
func (r *Report) WriteFile(path string) error {
	b, err := r.MarshalIndent()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	return nil
}

// ReadReport reads a report written by WriteFile.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("eval: %s: %w", path, err)
	}
	return &r, nil
}

// WriteTable prints the per-category table: items, accuracy (caption:
// attribute recall), answer-token NLL and failure counts, then the
// average and the overall NLL.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Right-aligned columns, but category names padded to the left.
	width := len("category")
	for _, c := range r.CategoryOrder {
		width = max(width, len(c))
	}
	name := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	fmt.Fprintf(tw, "%s\tn\taccuracy\tmc_n\tmc_accuracy\tnll\tno_output\trepetition\trandom_symbols\t\n", name("category"))
	for _, c := range r.CategoryOrder {
		acc := "-"
		if v, ok := r.Categories[c]; ok {
			acc = fmt.Sprintf("%.1f%%", v)
		}
		mcN, mcAcc := "0", "-"
		if v, ok := r.MultipleChoice[c]; ok {
			mcN, mcAcc = fmt.Sprint(r.MultipleChoiceCounts[c]), fmt.Sprintf("%.1f%%", v)
		}
		nll := "-"
		if v, ok := r.NLLByCategory[c]; ok {
			nll = fmt.Sprintf("%.4f", v)
		}
		fails := [3]string{"-", "-", "-"}
		if f, ok := r.FailuresByCategory[c]; ok {
			for i, t := range FailureTypes {
				fails[i] = fmt.Sprint(f[t])
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name(c), r.Counts[c], acc, mcN, mcAcc, nll, fails[0], fails[1], fails[2])
	}
	n, mcN := 0, 0
	for _, c := range r.Counts {
		n += c
	}
	for _, c := range r.MultipleChoiceCounts {
		mcN += c
	}
	fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%d\t\t%.4f\t%d\t%d\t%d\t\n", name("average"), n, r.Average, mcN, r.NLL,
		r.Failures[NoOutput], r.Failures[Repetition], r.Failures[RandomSymbols])
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "answer-token NLL %.4f over %d tokens; %d generated answers, %d failures\n",
		r.NLL, r.AnswerTokens, r.Generated, r.Failures[NoOutput]+r.Failures[Repetition]+r.Failures[RandomSymbols])
	if err == nil && r.NonFinite > 0 {
		_, err = fmt.Fprintf(w, "warning: %d items had non-finite logits (left out of the NLL)\n", r.NonFinite)
	}
	return err
}
