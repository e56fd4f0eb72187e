// Package embedded holds the committed testbed model and makes it, and the
// testbed's default calibration and benchmark data, available as ordinary
// directories: every mbq command that takes --model (or --calib, --bench)
// defaults to them, so mbq runs out of the box.
//
// The checkpoint (Hugging Face layout: config.json, model.safetensors,
// tokenizer.json, tokenizer_config.json, preprocessor_config.json,
// generation_config.json) is compiled into the binary with go:embed and
// extracted on first use into
//
//	$XDG_CACHE_HOME/mbq/testbed-model-<first 12 hex digits of its SHA-256>/
//
// (os.UserCacheDir, falling back to the system temp directory). The data set
// is generated deterministically by testbed/world with DataSeed into
// .../mbq/testbed-data-<seed>-<calib>-<bench>/. Both are written to a
// temporary sibling directory and renamed into place, so an interrupted run
// never leaves a partial directory behind and concurrent runs agree.
package embedded

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"mbq/testbed/world"
)

//go:embed model
var modelFS embed.FS

// DataSeed is the seed of the default testbed data set (calib.json and
// bench.jsonl). The trainer draws its samples from separate random streams,
// so these scenes and questions are never seen in training.
const DataSeed = 20250611

// Default sizes of the testbed data set: 128 calibration pairs (the paper's
// default) and 1200 benchmark questions (>= 150 per category).
const (
	DataCalib = 128
	DataBench = 1200
)

// ModelFiles lists the embedded checkpoint's files, sorted.
func ModelFiles() []string {
	entries, _ := fs.ReadDir(modelFS, "model")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// ModelDigest is the SHA-256 of the embedded checkpoint (file names and
// contents, in name order), in hex.
func ModelDigest() string {
	h := sha256.New()
	for _, n := range ModelFiles() {
		b, _ := modelFS.ReadFile(path.Join("model", n))
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CacheRoot is mbq's directory in the user cache (os.UserCacheDir()/mbq, or
// the system temp directory's mbq/ when there is no cache directory): where
// the testbed model is extracted, its data generated, and other commands
// keep their work (mbq table's row cache).
func CacheRoot() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "mbq")
	}
	return filepath.Join(os.TempDir(), "mbq")
}

// ModelDir returns a directory holding the embedded testbed checkpoint,
// extracting it on first use.
func ModelDir() (string, error) {
	dir := filepath.Join(CacheRoot(), "testbed-model-"+ModelDigest()[:12])
	return dir, materialize(dir, func(tmp string) error {
		for _, n := range ModelFiles() {
			b, err := modelFS.ReadFile(path.Join("model", n))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(tmp, n), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}

// DataDir returns a directory holding the default testbed data set
// (img/, calib.json, bench.jsonl), generating it on first use (a few seconds).
func DataDir() (string, error) {
	dir := filepath.Join(CacheRoot(), fmt.Sprintf("testbed-data-%d-%d-%d", DataSeed, DataCalib, DataBench))
	return dir, materialize(dir, func(tmp string) error {
		// WriteDataset wants to create its own directory.
		if err := os.Remove(tmp); err != nil {
			return err
		}
		return world.WriteDataset(tmp, DataSeed, DataCalib, DataBench, nil)
	})
}

// CalibPath is the default calibration file (ShareGPT4V layout).
func CalibPath() (string, error) {
	d, err := DataDir()
	return filepath.Join(d, "calib.json"), err
}

// BenchPath is the default benchmark file.
func BenchPath() (string, error) {
	d, err := DataDir()
	return filepath.Join(d, "bench.jsonl"), err
}

// materialize creates dir with fill unless it already exists: fill writes
// into a fresh temporary sibling, which is then renamed to dir. If another
// process won the race, its copy is kept.
func materialize(dir string, fill func(tmp string) error) error {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("testbed cache: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return fmt.Errorf("testbed cache: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	if err := fill(tmp); err != nil {
		return fmt.Errorf("testbed cache %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if st, serr := os.Stat(dir); serr == nil && st.IsDir() {
			return nil // a concurrent run created it first
		}
		return fmt.Errorf("testbed cache: %w", err)
	}
	return nil
}
