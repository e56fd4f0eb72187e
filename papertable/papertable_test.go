package papertable

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestRowTable(t *testing.T) {
	rows := Rows()
	names := map[string]bool{}
	perSection := map[string]int{}
	mbq := map[string]int{}
	for _, r := range rows {
		if r.Name == "" || names[r.Name] {
			t.Errorf("row name %q empty or repeated", r.Name)
		}
		names[r.Name] = true
		sec, ok := SectionByID(r.Section)
		if !ok {
			t.Errorf("%s: unknown section %q", r.Name, r.Section)
		}
		perSection[r.Section]++
		if r.IsFP() {
			continue
		}
		if r.Setting() != sec.Setting {
			t.Errorf("%s: setting %q, section says %q", r.Name, r.Setting(), sec.Setting)
		}
		switch r.Method {
		case "rtn", "awq", "smoothquant", "gptq", "mbq":
		default:
			t.Errorf("%s: method %q", r.Name, r.Method)
		}
		if r.Calib != CalibImageCaption && r.Calib != CalibText {
			t.Errorf("%s: calibration %q", r.Name, r.Calib)
		}
		if (r.Method == "mbq") != (r.Loss != "" && r.Balance != "") {
			t.Errorf("%s: loss/balance only (and always) for mbq", r.Name)
		}
		if r.ABits < 16 && r.Group != 0 {
			t.Errorf("%s: weight-activation row with a group", r.Name)
		}
		if r.IsMBQ() && !r.Baseline {
			mbq[r.Section]++
		}
		if r.Baseline && r.IsMBQ() {
			t.Errorf("%s: MBQ marked as a baseline", r.Name)
		}
	}
	for _, s := range Sections {
		if perSection[s.ID] == 0 {
			t.Errorf("section %s has no row", s.ID)
		}
		if s.ID != SecFP && mbq[s.ID] != 1 {
			t.Errorf("section %s has %d MBQ rows, want 1", s.ID, mbq[s.ID])
		}
	}
	if perSection[SecFP] != 1 || !rows[0].IsFP() {
		t.Error("want exactly one FP row, first")
	}
	// The paper's settings.
	want := map[string][]string{
		SecT2W3A16: {"RTN", "GPTQ", "AWQ", "MBQ"}, SecT2W4A8: {"RTN", "SQ", "MBQ"},
		SecT11W4A16: {"RTN", "GPTQ", "AWQ", "MBQ"}, SecT11W8A8: {"RTN", "SQ", "MBQ"},
		SecStressW2A16: {"RTN", "GPTQ", "AWQ", "MBQ"}, SecStressW3A16C: {"RTN", "GPTQ", "AWQ", "MBQ"},
		SecStressW4A6: {"RTN", "SQ", "MBQ"}, SecStressW4A4: {"RTN", "SQ", "MBQ"},
	}
	for sec, labels := range want {
		var got []string
		for _, r := range rows {
			if r.Section == sec {
				got = append(got, r.Label)
			}
		}
		if !reflect.DeepEqual(got, labels) {
			t.Errorf("%s: %v, want %v", sec, got, labels)
		}
	}
	// Table 4's last row is Table 2's MBQ recipe; its text row is Table 2's AWQ.
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	base := cacheKey{Code: "x"}
	for _, p := range [][2]string{{"t4-w3a16-bal-mae", "t2-w3a16-mbq"}, {"t4-w3a16-cwe-text", "t2-w3a16-awq"},
		{"t4-w4a8-cwe-text", "t2-w4a8-sq"}, {"t4-w4a8-bal-mae", "t2-w4a8-mbq"}} {
		if recipeKey(base, byName[p[0]]).hash() != recipeKey(base, byName[p[1]]).hash() {
			t.Errorf("%s and %s should share a result", p[0], p[1])
		}
	}
	if r := byName["t4-w3a16-cwe-ic"]; r.Method != "mbq" || r.Balance != "off" || r.Loss != "mse" || r.Calib != CalibImageCaption {
		t.Errorf("CWE image-caption row: %+v", r)
	}
}

func TestSelect(t *testing.T) {
	rows, err := Select(Rows(), "^t11-w8a8")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || !rows[0].IsFP() {
		t.Errorf("got %d rows: %+v", len(rows), rows)
	}
	if rows, err := Select(Rows(), "stress-w4a4"); err != nil || len(rows) != 4 {
		t.Errorf("by section: %d rows, %v", len(rows), err)
	}
	if _, err := Select(Rows(), "zzz"); err == nil {
		t.Error("no match: no error")
	}
	if _, err := Select(Rows(), "("); err == nil {
		t.Error("bad regexp: no error")
	}
	q := InSections(Rows(), QuickSections)
	if len(q) != 8 {
		t.Errorf("quick rows: %d", len(q))
	}
}

func TestCacheKeyChangesWithEveryField(t *testing.T) {
	row := Row{Name: "a", Section: SecT2W3A16, Label: "MBQ", Method: "mbq", WBits: 3, ABits: 16, Group: 128,
		Loss: "mae", Balance: "auto", Calib: CalibImageCaption}
	base := cacheKey{Code: CodeVersion, QuantVersion: 1, Model: "m", Bench: "b", CalibData: "c", Samples: 128,
		Seed: 1, TextBlockLen: 256, Limit: 0, MaxNew: 32, MaxCaption: 256, BatchSize: 0, Alpha: 0.5}
	h0 := recipeKey(base, row).hash()
	// Every recipe field of the row.
	for _, mut := range []func(*Row){
		func(r *Row) { r.Method = "awq" }, func(r *Row) { r.WBits = 4 }, func(r *Row) { r.ABits = 8 },
		func(r *Row) { r.Group = 64 }, func(r *Row) { r.Loss = "mse" }, func(r *Row) { r.Balance = "off" },
		func(r *Row) { r.Calib = CalibText },
	} {
		r := row
		mut(&r)
		if recipeKey(base, r).hash() == h0 {
			t.Errorf("key unchanged by %+v", r)
		}
	}
	// Placement fields do not matter.
	r := row
	r.Name, r.Section, r.Label, r.Baseline = "b", SecT4W3A16, "x", true
	if recipeKey(base, r).hash() != h0 {
		t.Error("key depends on the row's placement")
	}
	// Every field of the key.
	v := reflect.ValueOf(&base).Elem()
	for i := 0; i < v.NumField(); i++ {
		k := base
		f := reflect.ValueOf(&k).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(f.String() + "x")
		case reflect.Int:
			f.SetInt(f.Int() + 1)
		case reflect.Uint64:
			f.SetUint(f.Uint() + 1)
		case reflect.Float64:
			f.SetFloat(f.Float() + 0.25)
		default:
			t.Fatalf("field %s: kind %s not covered", v.Type().Field(i).Name, f.Kind())
		}
		if recipeKey(k, row).hash() == h0 && !isRecipeField(v.Type().Field(i).Name) {
			t.Errorf("key unchanged by field %s", v.Type().Field(i).Name)
		}
	}
}

func isRecipeField(n string) bool {
	switch n {
	case "Method", "WBits", "ABits", "Group", "Loss", "Balance", "Calib":
		return true // overwritten by recipeKey; covered above
	}
	return false
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "out.md")
	for _, s := range []string{"first\n", "second\n"} {
		if err := WriteFileAtomic(p, []byte(s)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != s {
			t.Errorf("content %q, want %q", b, s)
		}
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("leftover files: %v", ents)
	}
	// A path whose directory is a file fails and leaves nothing.
	if err := WriteFileAtomic(filepath.Join(p, "x"), []byte("y")); err == nil {
		t.Error("no error writing under a file")
	}
}

func TestGatesAndComparisons(t *testing.T) {
	// Perception mixes multiple-choice and open items: 90% over all, 86%
	// over its multiple-choice items; counting is all multiple choice.
	fp := RowResult{Row: Rows()[0], Categories: map[string]float64{"perception": 90, "counting": 85, "caption": 50},
		MultipleChoice: map[string]float64{"perception": 86, "counting": 85}, Average: 70, NLL: 1}
	mk := func(name string, avg, nll float64) RowResult {
		for _, r := range Rows() {
			if r.Name == name {
				return RowResult{Row: r, Average: avg, NLL: nll}
			}
		}
		t.Fatalf("no row %s", name)
		return RowResult{}
	}
	tab := &Table{Quick: true, Samples: 32, PerCategory: map[string]int{"perception": 25, "caption": 25},
		Categories: []string{"perception", "counting", "caption"}, MCCategories: []string{"perception", "counting"},
		Rows: []RowResult{fp, mk("t2-w3a16-rtn", 66, 1.05), mk("t2-w3a16-gptq", 69, 1.2),
			mk("t2-w3a16-awq", 68.8, 1.003), mk("t2-w3a16-mbq", 69.0, 1.004)}}
	tab.Finish()
	if len(tab.Gates) != 2 || tab.Gates[0].Pass == nil || !*tab.Gates[0].Pass || tab.Gates[1].Pass == nil || *tab.Gates[1].Pass {
		t.Fatalf("gates: %+v", tab.Gates)
	}
	if want := "multiple-choice items of each category: perception 86.0, counting 85.0 → FP gate: yes"; !strings.Contains(tab.Gates[0].Line, want) {
		t.Errorf("FP gate line %q, want %q in it", tab.Gates[0].Line, want)
	}
	// The gate reads the multiple-choice items: a mixed category whose
	// open items carry its overall accuracy above the gate still fails.
	low := *tab
	low.Rows = slices.Clone(tab.Rows)
	low.Rows[0].MultipleChoice = map[string]float64{"perception": 60, "counting": 85}
	low.Finish()
	if g := low.Gates[0]; g.Pass == nil || *g.Pass || !strings.Contains(g.Line, "perception 60.0") {
		t.Errorf("FP gate with perception's multiple choice at 60%%: %+v", g)
	}
	// A row from before the per-category multiple-choice accuracy: not measured.
	low.Rows[0].MultipleChoice = nil
	low.Finish()
	if g := low.Gates[0]; g.Pass == nil || *g.Pass || !strings.Contains(g.Line, "perception not measured") {
		t.Errorf("FP gate without multiple-choice accuracies: %+v", g)
	}
	if !strings.Contains(tab.Gates[1].Line, "Δavg = -4.0 points, ΔNLL = +5.0% → quantization bites: no") {
		t.Errorf("gate line: %s", tab.Gates[1].Line)
	}
	got := map[string][2]string{}
	for _, c := range tab.Comparisons {
		got[c.Baseline] = [2]string{c.ByAcc, c.ByNLL}
	}
	want := map[string][2]string{"RTN": {"win", "win"}, "GPTQ": {"tie", "win"}, "AWQ": {"tie", "tie"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("comparisons %v, want %v", got, want)
	}
	md := string(tab.Markdown())
	if !strings.HasPrefix(strings.SplitN(md, "\n\n", 2)[1], "> **QUICK MODE: 32 samples, 25 questions per category — not the reported numbers**") {
		t.Errorf("markdown banner:\n%s", md)
	}
	if !strings.Contains(md, "| MBQ | image-caption | – | – | – | **69.0** | -1.0 | 1.0040 | +0.4% | 0 | 0+0 |") {
		t.Errorf("markdown row:\n%s", md)
	}
	acc, nll := tab.Tally()
	if acc != [3]int{1, 2, 0} || nll != [3]int{2, 1, 0} {
		t.Errorf("tally %v %v", acc, nll)
	}
}
