package nn

import (
	"math"

	"mbq/kernels"
	"mbq/tensor"
)

// IgnoreIndex is the label value CrossEntropy skips, as in PyTorch and HF.
const IgnoreIndex = -100

// ShiftLabels returns the HF causal-LM targets of a sequence: out[t] =
// labels[t+1] (position t predicts the next token) and out[T-1] =
// IgnoreIndex. CrossEntropy itself does not shift; callers holding HF-style
// labels (aligned with input_ids) pass ShiftLabels(labels).
func ShiftLabels(labels []int) []int {
	out := make([]int, len(labels))
	if len(labels) == 0 {
		return out
	}
	copy(out, labels[1:])
	out[len(out)-1] = IgnoreIndex
	return out
}

// CrossEntropy returns the mean over positions with labels[t] != IgnoreIndex
// of logsumexp(logits[t]) - logits[t][labels[t]], and the gradient of that
// mean with respect to the logits: (softmax(logits[t]) - onehot(labels[t])) / n
// on counted rows, zero on ignored ones. labels are already aligned with the
// logits rows (see ShiftLabels). With no counted position the loss is 0 and
// the gradient zero (PyTorch would return NaN).
func CrossEntropy(logits *tensor.Tensor, labels []int) (loss float64, dlogits *tensor.Tensor) {
	dlogits = like(logits)
	n := 0
	for _, l := range labels {
		if l != IgnoreIndex {
			n++
		}
	}
	if n == 0 {
		matrix(logits, logits.Cols(), "nn: CrossEntropy: logits must be a matrix")
		if logits.Rows() != len(labels) {
			panic("nn: CrossEntropy: one label per logits row")
		}
		return 0, dlogits
	}
	sum, _ := CrossEntropySum(dlogits, logits, labels, float32(1/float64(n)))
	return sum / float64(n), dlogits
}

// CrossEntropySum returns the summed negative log-likelihood over counted
// positions and their number, and writes gradScale·(softmax - onehot) into
// the counted rows of dlogits (zero into ignored rows); dlogits may be nil
// for the loss alone. Batches that normalise over several sequences (HF's
// mean over all counted tokens of a batch) call it per sequence with
// gradScale = 1/total count.
func CrossEntropySum(dlogits, logits *tensor.Tensor, labels []int, gradScale float32) (sum float64, count int) {
	v := logits.Cols()
	t := matrix(logits, v, "nn: CrossEntropy: logits must be a matrix")
	if t != len(labels) {
		panic("nn: CrossEntropy: one label per logits row")
	}
	if dlogits != nil && len(dlogits.Data) != len(logits.Data) {
		panic("nn: CrossEntropy: dlogits not shaped like logits")
	}
	nll := make([]float64, t)
	parallelRange(t, 4, func(lo, hi int) {
		var scratch []float32
		for r := lo; r < hi; r++ {
			lab := labels[r]
			var drow []float32
			if dlogits != nil {
				drow = dlogits.Data[r*v : (r+1)*v]
			}
			if lab == IgnoreIndex {
				clear(drow)
				continue
			}
			if lab < 0 || lab >= v {
				panic("nn: CrossEntropy: label out of range")
			}
			z := logits.Data[r*v : (r+1)*v]
			m := float32(math.Inf(-1))
			for _, x := range z {
				m = max(m, x)
			}
			// e = exp(z - m) (into drow when there is one), then
			// lse = m + log Σe and softmax = e / Σe.
			e := drow
			if e == nil {
				if scratch == nil {
					scratch = make([]float32, v)
				}
				e = scratch
			}
			kernels.ExpAffine(e, z, 1, -m)
			var s float64
			for _, x := range e {
				s += float64(x)
			}
			nll[r] = float64(m) + math.Log(s) - float64(z[lab])
			if drow != nil {
				k := float32(float64(gradScale) / s)
				for j, x := range drow {
					drow[j] = x * k
				}
				drow[lab] -= gradScale
			}
		}
	})
	for r, l := range labels {
		if l != IgnoreIndex {
			sum += nll[r]
			count++
		}
	}
	return sum, count
}
