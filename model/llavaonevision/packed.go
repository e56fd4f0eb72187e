package llavaonevision

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"mbq/nn"
	"mbq/quant"
	"mbq/safetensors"
)

// Packed checkpoints (quantization_config.format "packed").
//
// mbq quantize --pack writes the decoder linears of W3/W4 (asymmetric,
// group-wise, weight-only), W8A8 and W4A8 models in the packed layouts of
// package mbq/quant instead of as fake-quantized float32 weights. For each
// decoder linear with HF module name NAME (e.g.
// language_model.model.layers.0.self_attn.q_proj), model.safetensors holds,
// in place of NAME.weight:
//
//	NAME.qweight  U8  [out, stride]   the packed rows (PackedMatrix.Data)
//	NAME.scales   F16 [out, in/group] binary16 group scales (W3, W4)
//	              F32 [out]           per-channel scales (W8, W4S)
//	NAME.qzeros   U8  [out, in/group] zero points (W3, W4 only)
//
// with stride in/2 (W4), 3·in/8 (W3), in rounded up to 32 (W8) or in
// rounded up to 64, halved (W4S). Biases (NAME.bias) and every other tensor
// (vision tower, projector, embeddings, norms, lm_head) are stored as
// before, in float32. The file's __metadata__ names the layout of all its
// packed linears under LayoutKey:
//
//	"mbq.layout": "w4g128-nibbles-v1" | "w3g128-planes-v1" | "w8-rows-v1" | "w4s-rows-v1"
//
// (the group size is part of the name; v1 is the layout of quant/pack.go).
// Load reads such a checkpoint straight into quant.PackedMatrix values
// (nn.Linear.Packed; the linear's W is nil, no float32 weight is built),
// validating every tensor's dtype and shape in the loader's error style. The
// packed bytes are copied out of the mapping (Load closes the checkpoint),
// which costs the packed size, not the float32 size.

// PackedFormat is quantization_config.format of a packed checkpoint.
const PackedFormat = "packed"

// LayoutKey is the safetensors __metadata__ key naming the packed layout.
const LayoutKey = "mbq.layout"

// Layout returns the layout name of a packed matrix (the LayoutKey value).
func Layout(p *quant.PackedMatrix) string {
	switch p.Format {
	case quant.FormatW4:
		return "w4g" + strconv.Itoa(p.Group) + "-nibbles-v1"
	case quant.FormatW3:
		return "w3g" + strconv.Itoa(p.Group) + "-planes-v1"
	case quant.FormatW8:
		return "w8-rows-v1"
	case quant.FormatW4S:
		return "w4s-rows-v1"
	}
	return ""
}

// ParseLayout parses a layout name: its format and, for W3/W4, group size
// (0 for the per-channel formats).
func ParseLayout(s string) (quant.Format, int, error) {
	switch s {
	case "w8-rows-v1":
		return quant.FormatW8, 0, nil
	case "w4s-rows-v1":
		return quant.FormatW4S, 0, nil
	}
	for _, c := range []struct {
		f           quant.Format
		prefix, suf string
	}{{quant.FormatW4, "w4g", "-nibbles-v1"}, {quant.FormatW3, "w3g", "-planes-v1"}} {
		if g, ok := strings.CutPrefix(s, c.prefix); ok {
			if g, ok = strings.CutSuffix(g, c.suf); ok {
				n, err := strconv.Atoi(g)
				if err != nil || n <= 0 || n%c.f.Unit() != 0 {
					return 0, 0, fmt.Errorf("layout %q: group must be a positive multiple of %d", s, c.f.Unit())
				}
				return c.f, n, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("layout %q is not supported (want w4g<G>-nibbles-v1, w3g<G>-planes-v1, w8-rows-v1 or w4s-rows-v1)", s)
}

// packedStride is the row stride in bytes of format f with cols columns.
func packedStride(f quant.Format, cols int) int {
	switch f {
	case quant.FormatW4:
		return cols / 2
	case quant.FormatW3:
		return cols * 3 / 8
	case quant.FormatW8:
		return (cols + 31) / 32 * 32
	case quant.FormatW4S:
		return (cols + 63) / 64 * 32
	}
	return 0
}

// PackedTensors returns the tensors of the packed linear named module (HF
// module name, without ".weight"): module.qweight, module.scales and, for
// W3/W4, module.qzeros. The data alias p's slices where the dtype allows.
func PackedTensors(module string, p *quant.PackedMatrix) []safetensors.Tensor {
	ts := []safetensors.Tensor{{Name: module + ".qweight", DType: "U8", Shape: []int{p.Rows, p.Stride}, Data: p.Data}}
	switch p.Format {
	case quant.FormatW3, quant.FormatW4:
		sc := make([]byte, 2*len(p.Scales))
		for i, h := range p.Scales {
			binary.LittleEndian.PutUint16(sc[2*i:], h)
		}
		ts = append(ts, safetensors.Tensor{Name: module + ".scales", DType: "F16", Shape: []int{p.Rows, p.Groups()}, Data: sc},
			safetensors.Tensor{Name: module + ".qzeros", DType: "U8", Shape: []int{p.Rows, p.Groups()}, Data: p.Zeros})
	default:
		ts = append(ts, safetensors.F32Tensor(module+".scales", []int{p.Rows}, p.RowScales))
	}
	return ts
}

// DecoderLinears lists the decoder's linears under their HF module names
// (language_model.model.layers.i.self_attn.q_proj, ...).
func (m *Model) DecoderLinears() []nn.NamedLinear {
	var ls []nn.NamedLinear
	for i, b := range m.Blocks {
		for _, l := range b.Linears() {
			ls = append(ls, nn.NamedLinear{Name: textPrefix + "layers." + strconv.Itoa(i) + "." + l.Name, Linear: l.Linear})
		}
	}
	return ls
}

// IsPacked reports whether the decoder's linears hold packed weights.
func (m *Model) IsPacked() bool {
	for _, l := range m.DecoderLinears() {
		if l.Packed != nil {
			return true
		}
	}
	return false
}

// SetPacked replaces the float32 weight of every decoder linear named in
// packed (module name -> weight of the linear's shape) by the packed
// weight (W becomes nil). Names that are not decoder linears and shape
// mismatches are errors, and nothing is changed then.
func (m *Model) SetPacked(packed map[string]*quant.PackedMatrix) error {
	ls := map[string]*nn.Linear{}
	for _, l := range m.DecoderLinears() {
		ls[l.Name] = l.Linear
	}
	for name, p := range packed {
		l, ok := ls[name]
		if !ok {
			return fmt.Errorf("set packed: %s is not a decoder linear", name)
		}
		if p.Rows != l.Out() || p.Cols != l.In() {
			return fmt.Errorf("set packed: %s: packed weight [%d %d], want [%d %d]", name, p.Rows, p.Cols, l.Out(), l.In())
		}
	}
	for name, p := range packed {
		ls[name].Packed, ls[name].W = p, nil
	}
	return nil
}

// PackDecoder quantizes every decoder linear's current float32 weight with
// spec (plain round-to-nearest, quant.PackWeights) and replaces it by the
// packed weight. spec must have a packed format (W3/W4 asymmetric with a
// group multiple of 128/64, or symmetric 8/4 bits).
func (m *Model) PackDecoder(spec quant.WeightSpec) error {
	packed := map[string]*quant.PackedMatrix{}
	for _, l := range m.DecoderLinears() {
		if l.W == nil {
			return fmt.Errorf("pack: %s is already packed", l.Name)
		}
		p, err := quant.PackWeights(l.W.Value.Data, l.Out(), l.In(), spec)
		if err != nil {
			return fmt.Errorf("pack: %s: %w", l.Name, err)
		}
		packed[l.Name] = p
	}
	return m.SetPacked(packed)
}

// PackedCheckpointTensors returns the tensors of model.safetensors for a
// packed checkpoint: every parameter in float32 as Save writes it, except
// the weights of the decoder linears named in packed, which are stored as
// PackedTensors; and the metadata ({"format": "pt", LayoutKey: layout}).
// All packed weights must share one layout.
func (m *Model) PackedCheckpointTensors(packed map[string]*quant.PackedMatrix) ([]safetensors.Tensor, map[string]string, error) {
	layout := ""
	for _, p := range packed {
		if l := Layout(p); layout == "" {
			layout = l
		} else if l != layout {
			return nil, nil, fmt.Errorf("packed checkpoint: layouts %s and %s mixed", layout, l)
		}
	}
	if layout == "" {
		return nil, nil, errors.New("packed checkpoint: no packed linear")
	}
	skip := map[string]bool{}
	var ts []safetensors.Tensor
	for _, l := range m.DecoderLinears() {
		if p, ok := packed[l.Name]; ok {
			if p.Rows != l.Out() || p.Cols != l.In() {
				return nil, nil, fmt.Errorf("packed checkpoint: %s: packed weight [%d %d], want [%d %d]", l.Name, p.Rows, p.Cols, l.Out(), l.In())
			}
			skip[l.Name+".weight"] = true
			ts = append(ts, PackedTensors(l.Name, p)...)
		}
	}
	for _, p := range m.Params() {
		if !skip[p.Name] {
			ts = append(ts, safetensors.F32Tensor(p.Name, p.Value.Shape, p.Value.Data))
		}
	}
	return ts, map[string]string{"format": "pt", LayoutKey: layout}, nil
}

// configFormat returns quantization_config.format of an mbq config ("" for
// a model without mbq's quantization_config).
func (m *Model) configFormat() (string, error) {
	raw, ok := m.Cfg.Extra[QuantizationConfigKey]
	if !ok {
		return "", nil
	}
	var q quantizationHeader
	if err := json.Unmarshal(raw, &q); err != nil {
		return "", fmt.Errorf("%s: %w", QuantizationConfigKey, err)
	}
	if q.QuantMethod != "mbq" {
		return "", nil
	}
	return q.Format, nil
}

// loadPacked reads the packed decoder linears of a checkpoint whose
// quantization_config.format is "packed" (before LoadWeights, which then no
// longer asks for their float32 weights). Other checkpoints are left alone.
func (m *Model) loadPacked(ck *safetensors.Checkpoint) error {
	f, err := m.configFormat()
	if err != nil || f != PackedFormat {
		return err
	}
	layout, ok := ck.Metadata()[LayoutKey]
	if !ok {
		return fmt.Errorf("quantization_config.format is %q but the safetensors metadata has no %q", PackedFormat, LayoutKey)
	}
	format, group, err := ParseLayout(layout)
	if err != nil {
		return err
	}
	packed := map[string]*quant.PackedMatrix{}
	var errs []error
	more := 0
	for _, l := range m.DecoderLinears() {
		p, err := readPacked(ck, l.Name, l.Out(), l.In(), format, group)
		if err != nil {
			if len(errs) < 20 {
				errs = append(errs, err)
			} else {
				more++
			}
			continue
		}
		packed[l.Name] = p
	}
	if more > 0 {
		errs = append(errs, fmt.Errorf("and %d more tensor errors", more))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return m.SetPacked(packed)
}

// readPacked reads module's packed weight [rows, cols] of the given format.
func readPacked(ck *safetensors.Checkpoint, module string, rows, cols int, f quant.Format, group int) (*quant.PackedMatrix, error) {
	get := func(suffix string, dtype safetensors.DType, shape ...int) ([]byte, error) {
		name := module + suffix
		info, ok := lookup(ck, name)
		if !ok {
			return nil, &tensorError{name, "missing"}
		}
		if info.DType != dtype {
			return nil, &tensorError{name, "dtype " + string(info.DType) + ", want " + string(dtype)}
		}
		if !slices.Equal(info.Shape, shape) {
			return nil, &tensorError{name, "shape " + shapeString(info.Shape) + ", want " + shapeString(shape)}
		}
		b, err := ck.Bytes(info.Name)
		if err != nil {
			return nil, &tensorError{name, err.Error()}
		}
		return b, nil
	}
	p := &quant.PackedMatrix{Format: f, Rows: rows, Cols: cols, Group: group, Stride: packedStride(f, cols)}
	if group == 0 {
		p.Group = cols
	} else if cols%group != 0 {
		return nil, &tensorError{module + ".qweight", fmt.Sprintf("%d input channels are not a multiple of the layout's group %d", cols, group)}
	}
	data, err := get(".qweight", "U8", rows, p.Stride)
	if err != nil {
		return nil, err
	}
	p.Data = append([]byte(nil), data...) // Load closes the mapping
	switch f {
	case quant.FormatW3, quant.FormatW4:
		g := cols / group
		sc, err := get(".scales", "F16", rows, g)
		if err != nil {
			return nil, err
		}
		z, err := get(".qzeros", "U8", rows, g)
		if err != nil {
			return nil, err
		}
		p.Scales = make([]uint16, rows*g)
		for i := range p.Scales {
			p.Scales[i] = binary.LittleEndian.Uint16(sc[2*i:])
		}
		hi := uint8(15)
		if f == quant.FormatW3 {
			hi = 7
		}
		p.Zeros = append([]uint8(nil), z...)
		for i, v := range p.Zeros {
			if v > hi {
				return nil, &tensorError{module + ".qzeros", fmt.Sprintf("zero point %d at index %d exceeds %d", v, i, hi)}
			}
		}
	default:
		sc, err := get(".scales", "F32", rows)
		if err != nil {
			return nil, err
		}
		p.RowScales = make([]float32, rows)
		for i := range p.RowScales {
			p.RowScales[i] = math.Float32frombits(binary.LittleEndian.Uint32(sc[4*i:]))
		}
	}
	return p, nil
}
