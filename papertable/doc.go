// Package papertable reproduces the MBQ paper's result tables on a model
// and benchmark (by default the testbed's): `mbq table`.
//
// # Rows
//
// Rows returns the row table, as data: per row a name, a section (Sections:
// Table 2 at W3A16 g128 and W4A8, the Table 4 ablation at both, Table 11 at
// W4A16 g128 and W8A8, and the stress settings W2A16 g128, W3A16
// per-channel, W4A6 and W4A4) and a recipe (method, bits, group, MBQ's loss
// and balance, calibration kind). The FP row is the unquantized model (the
// testbed stores float32/bf16 weights: the paper's FP16 row). Following the
// paper (Sec. 4.3.1; Table 4's AWQ and SQ rows equal Table 2's), AWQ and
// SmoothQuant calibrate on text (by default a corpus of the testbed world's
// language, world.Corpus), GPTQ and MBQ on image-caption pairs; RTN needs
// no statistics. Table 4's steps are AWQ/SmoothQuant with text
// calibration, the MBQ search with balancing off and MSE on image-caption
// pairs, + balance (MSE), + balance (MAE) = MBQ.
//
// # Runner and cache
//
// For each row the Runner loads the checkpoint, quantizes it in memory
// with quantize.Run (calibration samples loaded once per kind and shared),
// saves it with quantize.Save into WORK/models/KEY/, reloads that directory
// with model.Load (so the scored model is the artifact users get) and
// evaluates it with eval.Evaluate; the directory is removed afterwards
// unless Config.Keep.
//
// A row's result is cached as WORK/rows/KEY.json, written atomically after
// its evaluation. KEY is a hash of the code version (CodeVersion and
// quantize.Version), the SHA-256 of the checkpoint directory, a digest of
// the selected benchmark items and their image files, the recipe, the
// calibration (kind, digest of the loaded samples' messages and pixels,
// requested count, seed, text block length, SmoothQuant's alpha) and the
// evaluation limits. The row's name and section are not part of it, so
// equal recipes in several sections (Table 4's rows that repeat Table 2's)
// are computed once, and an interrupted or repeated run resumes where it
// stopped. Config.Fresh ignores the cache files (rows computed earlier in
// the same run are still shared).
//
// # Output
//
// Table holds every row's result (accuracy per category, average,
// answer-token NLL overall and per category, failures, times); Finish
// computes the testbed gates (design/testbed.md) and the wins/ties/losses
// of MBQ against each baseline row of its section, by average accuracy
// (tie: |Δ| < TieAccuracy points) and by NLL (tie: |Δ| < TieNLL percent).
// WriteText prints it, Markdown renders GitHub markdown (sections per
// paper table, command, date, counts, gate lines), JSON the whole Table. A
// quick run (Table.Quick) is marked by Banner at the top and the bottom of
// both.
package papertable
