// Package gptq implements GPTQ (Frantar et al., "GPTQ: Accurate Post-Training
// Quantization for Generative Pre-trained Transformers") for one linear layer,
// following the reference fasterquant of IST-DASLab/gptq and AutoGPTQ's
// group-wise variant, with the quantizers of package quant
// (design/algorithm.md §1, §3 "GPTQ").
//
// W is [rows, cols] (rows = output channels), X the layer's calibration
// inputs [n, cols]. The objective per output row w is ‖(w - q) Xᵀ‖², with
// Hessian
//
//	H = 2/n Σ_t x_t x_tᵀ                       (Hessian.Add, float64)
//
// Algorithm (Run):
//
//  1. Per-channel and symmetric specs: scales/zeros from the original W.
//  2. Dead columns: H_ii == 0 → H_ii = 1 and W[:, i] = 0.
//  3. Static groups (option): every group's parameters from W now.
//  4. Act order (option): permute columns by decreasing H_ii (stable).
//  5. Damping: H_ii += percdamp · mean(diag H), percdamp = 0.01.
//  6. U = upper Cholesky factor of H⁻¹ (UᵀU = H⁻¹; the reference's
//     cholesky(cholesky_inverse(cholesky(H)), upper=True)).
//  7. For lazy blocks of B = 128 columns [i1, i2), for each column j:
//     if j is a group start (dynamic groups), the group's scale/zero are
//     computed from W[:, j:j+g] as it stood at the start of the block (the
//     reference reads the outer W, which lacks the current block's in-block
//     updates; with g a multiple of B this is the fully updated W);
//     q = Q(w_j) (quant.Code / quant.Decode with the group's parameters),
//     e = (w_j - q) / U_jj,
//     W[:, j:i2] -= e · U[j, j:i2]                (within the block),
//     and after the block W[:, i2:] -= E · U[i1:i2, i2:] (lazy update).
//  8. Loss = Σ e² / 2, which equals ½ Σ_rows ΔᵀH_dΔ (H_d the damped H).
//
// Differences from the reference, all documented choices:
//   - The grid is quant's (AWQ/MBQ formulas, algorithm.md §1), not
//     gptq/quant.py's Quantizer (which widens [min, max] to include 0 and
//     maps all-zero rows to [-1, 1]).
//   - H, U and the working copy of W are float64 (the reference is float32);
//     each column is rounded through float32 exactly as quant does.
//   - If the damped H is not positive definite, Run returns an error; with
//     Options.DampIncrement > 0 it first retries with larger damping
//     (GPTQModel's damp_auto_increment).
//   - Act order with dynamic groups is rejected (quant.Params has no g_idx);
//     use StaticGroups, where group k's parameters cover original columns
//     [k·g, (k+1)·g) and are picked by each permuted column's original index.
//
// Rows are independent given U; they are processed in tiles of 8 rows across
// GOMAXPROCS goroutines, with results identical for any schedule. Cost:
// O(cols³) for step 6 (float64, 2 cols² words of memory) plus O(rows·cols²).
package gptq
