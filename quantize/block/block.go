package block

import (
	"errors"
	"fmt"
	"math"

	"mbq/model"
	"mbq/nn"
	"mbq/quant"
	"mbq/tensor"
)

// Branch is the part of a decoder block whose output a group's loss
// compares, and whose modality ratio the MBQ loss uses.
type Branch int

const (
	// Attention is the self-attention branch (o_proj output).
	Attention Branch = iota
	// MLP is the feed-forward branch (down_proj output).
	MLP
)

// String returns "attention" or "mlp".
func (b Branch) String() string {
	if b == Attention {
		return "attention"
	}
	return "mlp"
}

// GroupID identifies a CWE group of a Qwen2 block (see the package doc).
type GroupID int

// The four groups, in processing order.
const (
	QKV GroupID = iota
	VO
	GateUp
	Down
	NumGroups
)

// GroupInfo names a group's producer and consumers.
type GroupInfo struct {
	Name     string   // "qkv", "vo", "gate_up", "down"
	Producer string   // module whose output channels are divided by s
	Linears  []string // HF names of the linears whose input channels are multiplied by s
	Branch   Branch   // the compared output
}

var groupInfo = [NumGroups]GroupInfo{
	{"qkv", "input_layernorm", []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}, Attention},
	{"vo", "self_attn.v_proj", []string{"self_attn.o_proj"}, Attention},
	{"gate_up", "post_attention_layernorm", []string{"mlp.gate_proj", "mlp.up_proj"}, MLP},
	{"down", "mlp.up_proj", []string{"mlp.down_proj"}, MLP},
}

// Info returns the group's names.
func (g GroupID) Info() GroupInfo { return groupInfo[g] }

// String returns the group's short name.
func (g GroupID) String() string {
	if g < 0 || g >= NumGroups {
		return fmt.Sprintf("GroupID(%d)", int(g))
	}
	return groupInfo[g].Name
}

// Spec is the quantization format of a run.
type Spec struct {
	WBits int // weight bits, 2..8
	ABits int // activation bits: 16 (or 0) for weight-only, else 2..8
	Group int // group size of weight-only quantization; <= 0: per output channel
}

// WeightOnly reports whether activations stay in full precision.
func (s Spec) WeightOnly() bool { return s.ABits <= 0 || s.ABits >= 16 }

// ActBits is the run-time per-token activation bit width (0: none).
func (s Spec) ActBits() int {
	if s.WeightOnly() {
		return 0
	}
	return s.ABits
}

// Weight returns the weight quantizer: group-wise asymmetric for
// weight-only specs, per-output-channel symmetric for weight-activation
// specs (design/algorithm.md §1).
func (s Spec) Weight() quant.WeightSpec {
	if s.WeightOnly() {
		return quant.WeightSpec{Bits: s.WBits, Group: s.Group}
	}
	return quant.WeightSpec{Bits: s.WBits, Symmetric: true}
}

// Validate checks the bit widths.
func (s Spec) Validate() error {
	if s.WBits < 2 || s.WBits > 8 {
		return fmt.Errorf("weight bits %d: want 2..8", s.WBits)
	}
	if !s.WeightOnly() && (s.ABits < 2 || s.ABits > 8) {
		return fmt.Errorf("activation bits %d: want 2..8, or 16 for weight-only", s.ABits)
	}
	return nil
}

// String formats the spec as e.g. "W3A16 g128" or "W4A8".
func (s Spec) String() string {
	a := 16
	if !s.WeightOnly() {
		a = s.ABits
	}
	str := fmt.Sprintf("W%dA%d", s.WBits, a)
	if s.WeightOnly() && s.Group > 0 {
		str += fmt.Sprintf(" g%d", s.Group)
	}
	return str
}

// Options configure a Context.
type Options struct {
	Spec Spec
	// KeepGQAVO keeps the v_proj -> o_proj group under grouped-query
	// attention (one scale per key/value channel, repeated per query head)
	// instead of skipping it.
	KeepGQAVO bool
}

// LossFunc is a reconstruction loss between the full-precision output ref
// and a candidate output got ([N, C], rows as in Context.Mod) of a group's
// compared module on branch b.
type LossFunc func(b Branch, ref, got *tensor.Tensor) float64

// MSE is the plain mean squared error over every row and channel (AWQ's
// loss), accumulated in float64.
func MSE(_ Branch, ref, got *tensor.Tensor) float64 {
	var s float64
	for i, v := range ref.Data {
		d := float64(v) - float64(got.Data[i])
		s += d * d
	}
	if len(ref.Data) == 0 {
		return 0
	}
	return s / float64(len(ref.Data))
}

// Context is one decoder block under quantization, with its calibration
// activations. Methods modify Block (fold scales, quantize weights) through
// the Context's methods.
type Context struct {
	Index int                       // block index
	Block *nn.Qwen2Block            // the live block, modified in place
	Orig  *nn.Qwen2Block            // a copy of the block's original weights
	Spec  Spec                      // quantization format
	X     *tensor.Tensor            // block input [N, hidden], all samples' rows concatenated
	Seqs  []int                     // rows per sample
	Rope  *nn.RoPETable             // positions of the rows (restarting per sample)
	Mod   []model.Modality          // modality of each row
	Ratio [2]float64                // modality ratio r per Branch (set by the pipeline, read by MBQ)
	In    [NumGroups]*tensor.Tensor // each group's full-precision input: n1, attn, n2, act
	Out   [2]*tensor.Tensor         // full-precision branch outputs: o_proj, down_proj
	FPOut *tensor.Tensor            // full-precision block output [N, hidden]

	Scales  [NumGroups][]float32 // folded scales (nil: none)
	Alpha   [NumGroups]float64   // grid alpha or migration strength of the folded scales (NaN: none)
	Skipped [NumGroups]bool      // the group is not equalized (VO under GQA)
	Params  map[string]*quant.Params

	folded  *nn.Qwen2Block // the folded full-precision weights, taken when quantization starts
	keepGQA bool
}

// NewContext captures block b's full-precision activations on x (rows of
// the samples concatenated: seqs lists each sample's rows, positions their
// positions, mod their modalities) and returns the block's context. b is
// copied into Orig; nothing of b is modified.
func NewContext(index int, b *nn.Qwen2Block, x *tensor.Tensor, seqs, positions []int, mod []model.Modality, opts Options) (*Context, error) {
	if err := opts.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("block %d: %w", index, err)
	}
	H := b.Cfg.Hidden
	if x == nil || x.Cols() != H || len(x.Data) != x.Rows()*H {
		return nil, fmt.Errorf("block %d: input must be [N, %d]", index, H)
	}
	n := x.Rows()
	total := 0
	for _, s := range seqs {
		total += s
	}
	if total != n || len(positions) != n || len(mod) != n {
		return nil, fmt.Errorf("block %d: %d rows, but %d in sequences, %d positions, %d modalities", index, n, total, len(positions), len(mod))
	}
	ws := opts.Spec.Weight()
	for _, l := range b.Linears() {
		if _, err := ws.GroupSize(l.In()); err != nil {
			return nil, fmt.Errorf("block %d: %s: %d input channels: %w", index, l.Name, l.In(), err)
		}
	}
	c := &Context{
		Index: index, Block: b, Orig: cloneBlock(b), Spec: opts.Spec,
		X: x, Seqs: seqs, Mod: mod, Params: map[string]*quant.Params{},
		Rope:    nn.NewRoPETable(positions, b.Cfg.RopeTheta, b.Attention().HeadDim),
		keepGQA: opts.KeepGQAVO,
	}
	for g := range c.Alpha {
		c.Alpha[g] = math.NaN()
	}
	c.Skipped[VO] = b.V.Out() != b.O.In() && !opts.KeepGQAVO
	hooks := &nn.Hooks{Forward: func(name string, in, out *tensor.Tensor) {
		switch name {
		case "self_attn.q_proj":
			c.In[QKV] = in
		case "self_attn.o_proj":
			c.In[VO] = in
			c.Out[Attention] = out.Clone() // the block adds the residual into out afterwards
		case "mlp.gate_proj":
			c.In[GateUp] = in
		case "mlp.down_proj":
			c.In[Down] = in
			c.Out[MLP] = out.Clone()
		}
	}}
	c.FPOut = c.Orig.Forward(x, c.Rope, seqs, hooks).Out
	for g, t := range c.In {
		if t == nil {
			return nil, fmt.Errorf("block %d: group %s: input not captured", index, GroupID(g))
		}
	}
	if c.Out[Attention] == nil || c.Out[MLP] == nil {
		return nil, fmt.Errorf("block %d: branch outputs not captured", index)
	}
	return c, nil
}

// Rows is the number of calibration rows.
func (c *Context) Rows() int { return len(c.Mod) }

// Branch is the compared branch of group g.
func (c *Context) Branch(g GroupID) Branch { return groupInfo[g].Branch }

// GQA reports whether group g's scales are per key/value channel and
// repeated over the query heads (VO under grouped-query attention).
func (c *Context) GQA(g GroupID) bool { return g == VO && c.Block.V.Out() != c.Block.O.In() }

// ScaleLen is the number of scales of group g.
func (c *Context) ScaleLen(g GroupID) int {
	if c.GQA(g) {
		return c.Block.V.Out()
	}
	return c.In[g].Cols()
}

// Linears returns group g's linears in b (b is Block, Orig or a copy).
func Linears(b *nn.Qwen2Block, g GroupID) []*nn.Linear {
	switch g {
	case QKV:
		return []*nn.Linear{b.Q, b.K, b.V}
	case VO:
		return []*nn.Linear{b.O}
	case GateUp:
		return []*nn.Linear{b.Gate, b.Up}
	}
	return []*nn.Linear{b.Down}
}

// expand maps group g's scales to its consumers' input channels: the
// identity except for VO under GQA, where key/value channel g·d+j is
// repeated for each query head h of kv head g (columns h·d+j).
func (c *Context) expand(g GroupID, s []float32) []float32 {
	if s == nil || !c.GQA(g) {
		return s
	}
	att := c.Block.Attention()
	d, rep := att.HeadDim, att.NumHeads/att.NumKVHeads
	out := make([]float32, att.NumHeads*d)
	for h := 0; h < att.NumHeads; h++ {
		kv := h / rep
		copy(out[h*d:(h+1)*d], s[kv*d:(kv+1)*d])
	}
	return out
}

// InputAbsMean returns x_mean of group g: the mean over all rows of
// |x[t, c]| of the group's input (for VO under GQA, averaged further over
// the query heads sharing each key/value channel).
func (c *Context) InputAbsMean(g GroupID) []float64 {
	x := c.In[g]
	C := x.Cols()
	sum := make([]float64, C)
	for t := 0; t < x.Rows(); t++ {
		for j, v := range x.Data[t*C : (t+1)*C] {
			sum[j] += math.Abs(float64(v))
		}
	}
	n := float64(max(x.Rows(), 1))
	for j := range sum {
		sum[j] /= n
	}
	return c.reduceGQA(g, sum, false)
}

// InputAbsMax returns max over rows of |x[t, c]| of group g's input (for VO
// under GQA, the maximum over the query heads sharing each channel).
func (c *Context) InputAbsMax(g GroupID) []float64 {
	x := c.In[g]
	C := x.Cols()
	mx := make([]float64, C)
	for t := 0; t < x.Rows(); t++ {
		for j, v := range x.Data[t*C : (t+1)*C] {
			mx[j] = math.Max(mx[j], math.Abs(float64(v)))
		}
	}
	return c.reduceGQA(g, mx, true)
}

// WeightAbsMax returns, per input channel of group g's consumers, the
// maximum |W[r, c]| over the rows of all of the group's original linears
// (for VO under GQA, over the query heads sharing each channel too).
func (c *Context) WeightAbsMax(g GroupID) []float64 {
	lins := Linears(c.Orig, g)
	C := lins[0].In()
	mx := make([]float64, C)
	for _, l := range lins {
		w := l.W.Value.Data
		for r := 0; r < l.Out(); r++ {
			for j, v := range w[r*C : (r+1)*C] {
				mx[j] = math.Max(mx[j], math.Abs(float64(v)))
			}
		}
	}
	return c.reduceGQA(g, mx, true)
}

func (c *Context) reduceGQA(g GroupID, v []float64, useMax bool) []float64 {
	if !c.GQA(g) {
		return v
	}
	att := c.Block.Attention()
	d, rep := att.HeadDim, att.NumHeads/att.NumKVHeads
	out := make([]float64, att.NumKVHeads*d)
	for h := 0; h < att.NumHeads; h++ {
		kv := h / rep
		for j := 0; j < d; j++ {
			if useMax {
				out[kv*d+j] = math.Max(out[kv*d+j], v[h*d+j])
			} else {
				out[kv*d+j] += v[h*d+j] / float64(rep)
			}
		}
	}
	return out
}

// checkScales validates a scale vector for group g.
func (c *Context) checkScales(g GroupID, s []float32) error {
	if len(s) != c.ScaleLen(g) {
		return fmt.Errorf("block %d: group %s: %d scales, want %d", c.Index, g, len(s), c.ScaleLen(g))
	}
	for i, v := range s {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("block %d: group %s: scale %d is %v, want a positive finite value", c.Index, g, i, v)
		}
	}
	return nil
}

// scaledInput returns group g's input divided by its (expanded) scales; the
// captured tensor itself when s is nil.
func (c *Context) scaledInput(g GroupID, s []float32) *tensor.Tensor {
	x := c.In[g]
	if s == nil {
		return x
	}
	e := c.expand(g, s)
	out := tensor.New(x.Shape...)
	C := x.Cols()
	for t := 0; t < x.Rows(); t++ {
		src, dst := x.Data[t*C:(t+1)*C], out.Data[t*C:(t+1)*C]
		for j, v := range src {
			dst[j] = v / e[j]
		}
	}
	return out
}

// candidate returns group g's linears of src with columns multiplied by s
// (nil: unscaled) and fake-quantized with the context's spec; biases are
// shared with src.
func (c *Context) candidate(src *nn.Qwen2Block, g GroupID, s []float32) ([]*nn.Linear, error) {
	e := c.expand(g, s)
	var out []*nn.Linear
	for i, l := range Linears(src, g) {
		w := append([]float32(nil), l.W.Value.Data...)
		if e != nil {
			scaleCols(w, l.Out(), l.In(), e, false)
		}
		if err := quant.FakeQuant(w, l.Out(), l.In(), c.Spec.Weight()); err != nil {
			return nil, fmt.Errorf("block %d: %s: %w", c.Index, groupInfo[g].Linears[i], err)
		}
		t := &tensor.Tensor{Shape: append([]int(nil), l.W.Value.Shape...), Data: w}
		out = append(out, &nn.Linear{W: nn.NewParam(t), B: l.B, ActBits: c.Spec.ActBits()})
	}
	return out, nil
}

// output runs group g's compared module of ref with the group's linears
// replaced by lins on the group input in.
func (c *Context) output(g GroupID, ref *nn.Qwen2Block, lins []*nn.Linear, in *tensor.Tensor) *tensor.Tensor {
	tmp := *ref
	switch g {
	case QKV:
		tmp.Q, tmp.K, tmp.V = lins[0], lins[1], lins[2]
		return tmp.SelfAttention(in, c.Rope, c.Seqs, nil)
	case GateUp:
		tmp.Gate, tmp.Up = lins[0], lins[1]
		return tmp.MLP(in, nil)
	}
	return lins[0].Forward(in)
}

// Loss returns the loss of the candidate with scales s (nil: plain
// quantization) for group g against the original block: the group's
// linears become Q(W·s), their input x/s, the rest stays full precision.
func (c *Context) Loss(g GroupID, s []float32, loss LossFunc) (float64, error) {
	if s != nil {
		if err := c.checkScales(g, s); err != nil {
			return 0, err
		}
	}
	lins, err := c.candidate(c.Orig, g, s)
	if err != nil {
		return 0, err
	}
	got := c.output(g, c.Orig, lins, c.scaledInput(g, s))
	return loss(c.Branch(g), c.Out[c.Branch(g)], got), nil
}

// Fold applies group g's scales s to the live block: the producer's output
// channels are divided by s, the consumers' input channels multiplied. It
// must come before any weight is quantized, once per group.
func (c *Context) Fold(g GroupID, s []float32, alpha float64) error {
	if g < 0 || g >= NumGroups {
		return fmt.Errorf("block %d: no group %d", c.Index, int(g))
	}
	if c.folded != nil {
		return fmt.Errorf("block %d: group %s: folding after quantization started", c.Index, g)
	}
	if c.Scales[g] != nil {
		return fmt.Errorf("block %d: group %s: scales already folded", c.Index, g)
	}
	if c.Skipped[g] {
		return fmt.Errorf("block %d: group %s is skipped (grouped-query attention)", c.Index, g)
	}
	if err := c.checkScales(g, s); err != nil {
		return err
	}
	s = append([]float32(nil), s...)
	b := c.Block
	e := c.expand(g, s)
	for _, l := range Linears(b, g) {
		scaleCols(l.W.Value.Data, l.Out(), l.In(), e, false)
	}
	switch g {
	case QKV:
		divide(b.InputNorm.W.Value.Data, s)
	case VO:
		scaleRows(b.V, s)
	case GateUp:
		divide(b.PostNorm.W.Value.Data, s)
	case Down:
		scaleRows(b.Up, s)
	}
	c.Scales[g], c.Alpha[g] = s, alpha
	return nil
}

// FoldedInput returns group g's input as the folded block sees it: the
// captured input divided by the group's folded scales.
func (c *Context) FoldedInput(g GroupID) *tensor.Tensor { return c.scaledInput(g, c.Scales[g]) }

func (c *Context) beginQuantize() {
	if c.folded == nil {
		c.folded = cloneBlock(c.Block)
	}
}

// linearByName returns the live linear called name.
func (c *Context) linearByName(name string) (*nn.Linear, error) {
	for _, l := range c.Block.Linears() {
		if l.Name == name {
			return l.Linear, nil
		}
	}
	return nil, fmt.Errorf("block %d: no linear %q", c.Index, name)
}

// QuantizeRTN quantizes, round-to-nearest with the context's spec, every
// linear of the live block not quantized yet: W <- Dequantize(Quantize(W)),
// recording the parameters and setting the run-time activation bits.
func (c *Context) QuantizeRTN() error {
	c.beginQuantize()
	ws := c.Spec.Weight()
	for _, l := range c.Block.Linears() {
		if c.Params[l.Name] != nil {
			continue
		}
		w := l.W.Value.Data
		p, err := quant.ComputeParams(w, l.Out(), l.In(), ws)
		if err != nil {
			return fmt.Errorf("block %d: %s: %w", c.Index, l.Name, err)
		}
		quant.Dequantize(quant.Quantize(w, p), p, w)
		l.ActBits = c.Spec.ActBits()
		c.Params[l.Name] = p
	}
	return nil
}

// SetQuantized installs the dequantized weights w of linear name computed
// by an external quantizer (GPTQ) with parameters p.
func (c *Context) SetQuantized(name string, w []float32, p *quant.Params) error {
	l, err := c.linearByName(name)
	if err != nil {
		return err
	}
	if len(w) != len(l.W.Value.Data) || p == nil || p.Rows != l.Out() || p.Cols != l.In() {
		return fmt.Errorf("block %d: %s: quantized weights do not match [%d %d]", c.Index, name, l.Out(), l.In())
	}
	c.beginQuantize()
	copy(l.W.Value.Data, w)
	l.ActBits = c.Spec.ActBits()
	c.Params[name] = p
	return nil
}

// GroupReport is one group's outcome, as written to mbq_scales.json.
type GroupReport struct {
	Group    string    `json:"group"`
	Producer string    `json:"producer"`
	Linears  []string  `json:"linears"`
	Skipped  bool      `json:"skipped,omitempty"`
	Alpha    *float64  `json:"alpha,omitempty"`
	Scales   []float32 `json:"scales,omitempty"`
	// LossBefore is the loss of plain quantization of the original
	// weights; LossAfter that of the final weights on the folded input.
	LossBefore float64 `json:"loss_before"`
	LossAfter  float64 `json:"loss_after"`
}

// ErrNotQuantized is wrapped by Finish's error for a linear the method left
// in full precision.
var ErrNotQuantized = errors.New("linear not quantized")

// Finish checks that every linear is quantized and reports, per group, the
// loss before and after (see GroupReport) in loss.
func (c *Context) Finish(loss LossFunc) ([]GroupReport, error) {
	for _, l := range c.Block.Linears() {
		if c.Params[l.Name] == nil {
			return nil, fmt.Errorf("block %d: %s: %w", c.Index, l.Name, ErrNotQuantized)
		}
	}
	reps := make([]GroupReport, NumGroups)
	for g := QKV; g < NumGroups; g++ {
		info := groupInfo[g]
		r := GroupReport{Group: info.Name, Producer: info.Producer, Linears: info.Linears, Skipped: c.Skipped[g], Scales: c.Scales[g]}
		if !math.IsNaN(c.Alpha[g]) {
			a := c.Alpha[g]
			r.Alpha = &a
		}
		before, err := c.Loss(g, nil, loss)
		if err != nil {
			return nil, err
		}
		hybrid := *c.folded
		got := c.output(g, &hybrid, Linears(c.Block, g), c.FoldedInput(g))
		r.LossBefore, r.LossAfter = before, loss(c.Branch(g), c.Out[c.Branch(g)], got)
		if !finite(r.LossBefore) || !finite(r.LossAfter) {
			return nil, fmt.Errorf("block %d: group %s: loss is not finite (before %v, after %v)", c.Index, g, r.LossBefore, r.LossAfter)
		}
		reps[g] = r
	}
	return reps, nil
}

// QuantizedOutput runs the live (quantized) block on the calibration rows.
func (c *Context) QuantizedOutput() *tensor.Tensor {
	return c.Block.Forward(c.X, c.Rope, c.Seqs, nil).Out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// scaleCols multiplies (div: divides) column j of the rows×cols matrix w by s[j].
func scaleCols(w []float32, rows, cols int, s []float32, div bool) {
	for r := 0; r < rows; r++ {
		row := w[r*cols : (r+1)*cols]
		for j := range row {
			if div {
				row[j] /= s[j]
			} else {
				row[j] *= s[j]
			}
		}
	}
}

// scaleRows divides output channel r of l (weight row and bias) by s[r].
func scaleRows(l *nn.Linear, s []float32) {
	in := l.In()
	w := l.W.Value.Data
	for r, v := range s {
		row := w[r*in : (r+1)*in]
		for j := range row {
			row[j] /= v
		}
	}
	if l.B != nil {
		divide(l.B.Value.Data, s)
	}
}

func divide(x, s []float32) {
	for i := range x {
		x[i] /= s[i]
	}
}

func cloneParam(p *nn.Param) *nn.Param {
	if p == nil {
		return nil
	}
	return nn.NewParam(p.Value.Clone())
}

func cloneLinear(l *nn.Linear) *nn.Linear {
	return &nn.Linear{W: cloneParam(l.W), B: cloneParam(l.B), ActBits: l.ActBits}
}

// cloneBlock deep-copies b's weights.
func cloneBlock(b *nn.Qwen2Block) *nn.Qwen2Block {
	return &nn.Qwen2Block{
		Cfg:       b.Cfg,
		InputNorm: &nn.RMSNorm{W: cloneParam(b.InputNorm.W), Eps: b.InputNorm.Eps},
		PostNorm:  &nn.RMSNorm{W: cloneParam(b.PostNorm.W), Eps: b.PostNorm.Eps},
		Q:         cloneLinear(b.Q), K: cloneLinear(b.K), V: cloneLinear(b.V), O: cloneLinear(b.O),
		Gate: cloneLinear(b.Gate), Up: cloneLinear(b.Up), Down: cloneLinear(b.Down),
	}
}

// Method is a quantization method at block level: it equalizes (or not)
// and quantizes every linear of c.Block through c's methods.
type Method interface {
	// Name is the method's command-line name.
	Name() string
	// Loss is the reconstruction loss the method optimises (or, for
	// methods without a search, the one reports use) on block c.
	Loss(c *Context) LossFunc
	// Quantize equalizes and quantizes block c.
	Quantize(c *Context) error
}
