package papertable

import (
	"mbq/internal/atomicfile"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"mbq/eval"
	"mbq/model"
)

// CodeVersion names the version of the code a cached row result came from:
// bump it whenever quantization, evaluation or the result format change in
// a way that invalidates cached rows.
const CodeVersion = "papertable/2" // 2: rows carry the per-category multiple-choice accuracy

// cacheKey holds everything a row's result depends on; its SHA-256 (of the
// JSON form) names the row's cache file. Row.Name, Section, Label and
// Baseline are left out: equal recipes share a result.
type cacheKey struct {
	Code         string  `json:"code"`
	QuantVersion int     `json:"quant_version"`
	Model        string  `json:"model"` // digest of the checkpoint directory
	Bench        string  `json:"bench"` // digest of the selected benchmark items and their images
	Method       string  `json:"method"`
	WBits        int     `json:"wbits"`
	ABits        int     `json:"abits"`
	Group        int     `json:"group"`
	Loss         string  `json:"loss"`
	Balance      string  `json:"balance"`
	Alpha        float64 `json:"alpha"`
	Calib        string  `json:"calib"`      // kind
	CalibData    string  `json:"calib_data"` // digest of the calibration samples
	Samples      int     `json:"samples"`    // requested
	Seed         uint64  `json:"seed"`       // calibration shuffle
	TextBlockLen int     `json:"text_block_len"`
	Limit        int     `json:"limit"`
	MaxNew       int     `json:"max_new_tokens"`
	MaxCaption   int     `json:"max_caption_tokens"`
	BatchSize    int     `json:"batch_size"`
}

func (k cacheKey) hash() string {
	b, _ := json.Marshal(k)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

// DirDigest returns the SHA-256 (hex) of the regular files directly in dir:
// names, sizes and contents, in name order.
func DirDigest(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		if err := hashFile(h, filepath.Join(dir, n), n); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h io.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	fmt.Fprintf(h, "%s\x00%d\x00", name, st.Size())
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("digest: %s: %w", path, err)
	}
	return nil
}

// benchDigest hashes the selected benchmark items (every field that
// affects scoring) and the content of their image files.
func benchDigest(items []eval.Item) (string, error) {
	h := sha256.New()
	seen := map[string]bool{}
	for _, it := range items {
		b, err := json.Marshal(struct {
			ID, Category, Question, Answer string
			Options, Attributes            []string
			Image                          bool
		}{it.ID, it.Category, it.Question, it.Answer, it.Options, it.Attributes, it.Image != ""})
		if err != nil {
			return "", fmt.Errorf("digest: %w", err)
		}
		h.Write(b)
		if it.Image != "" {
			if !seen[it.Image] {
				seen[it.Image] = true
				if err := hashFile(h, it.Image, filepath.Base(it.Image)); err != nil {
					return "", err
				}
			} else {
				fmt.Fprintf(h, "again %s\x00", filepath.Base(it.Image))
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// samplesDigest hashes calibration samples: their messages and pixels.
func samplesDigest(samples []model.Sample) (string, error) {
	h := sha256.New()
	for _, s := range samples {
		b, err := json.Marshal(s.Messages)
		if err != nil {
			return "", fmt.Errorf("digest: calibration messages: %w", err)
		}
		fmt.Fprintf(h, "%d\x00", len(b))
		h.Write(b)
		for _, img := range s.Images {
			fmt.Fprintf(h, "img %dx%d\x00", img.Width, img.Height)
			h.Write(img.Pix)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cacheEntry is the content of a row's cache file.
type cacheEntry struct {
	Key    cacheKey  `json:"key"`
	Result RowResult `json:"result"`
}

func (r *Runner) cachePath(key string) string {
	return filepath.Join(r.cfg.WorkDir, "rows", key+".json")
}

// loadCached returns the cached result of key, or nil.
func (r *Runner) loadCached(key string, k cacheKey) *RowResult {
	b, err := os.ReadFile(r.cachePath(key))
	if err != nil {
		return nil
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Key != k {
		return nil
	}
	return &e.Result
}

func (r *Runner) storeCached(key string, k cacheKey, res RowResult) error {
	b, err := json.MarshalIndent(cacheEntry{Key: k, Result: res}, "", "  ")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return WriteFileAtomic(r.cachePath(key), append(b, '\n'))
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory (created if needed), synced and renamed into place.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, data)
}
