package main

import "mbq/testbed/embedded"

// Defaults of --model, --calib and --bench: an explicit value wins; an
// empty one means the embedded testbed (the committed testbed model, and
// the testbed world's default calibration set and benchmark, materialised
// in the user cache directory on first use).
const (
	modelFlagHelp = "checkpoint directory (default: the embedded testbed model)"
	calibFlagHelp = "calibration image-caption pairs, ShareGPT4V layout (default: the testbed's calib.json)"
	benchFlagHelp = "benchmark file: JSON lines, images relative to it (default: the testbed's bench.jsonl)"
)

// resolveModel returns dir, or the embedded testbed model's directory.
func resolveModel(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	return embedded.ModelDir()
}

// resolveCalib returns path, or the testbed's default calibration file.
func resolveCalib(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	return embedded.CalibPath()
}

// resolveBench returns path, or the testbed's default benchmark file.
func resolveBench(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	return embedded.BenchPath()
}
