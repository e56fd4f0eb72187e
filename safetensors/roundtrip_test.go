package safetensors

import (
	"bytes"
	"errors"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mbq/tensor"
)

// randomTensor makes a tensor of dtype d with random bytes; shapes are chosen
// so that sub-byte dtypes fill whole bytes.
func randomTensor(r *rand.Rand, name string, d DType) Tensor {
	shapes := [][]int{{}, {5}, {2, 3}, {2, 1, 4}, {4, 0}, {1, 1, 1, 8}}
	var shape []int
	for {
		shape = shapes[r.Intn(len(shapes))]
		if _, err := byteLen(d, shape); err == nil {
			break
		}
	}
	n, _ := byteLen(d, shape)
	data := make([]byte, n)
	r.Read(data)
	return Tensor{Name: name, DType: d, Shape: shape, Data: data}
}

func TestRoundTripEveryDType(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var all []Tensor
	for i, d := range DTypes() {
		for j := 0; j < 3; j++ {
			all = append(all, randomTensor(r, string(rune('a'+j))+"."+string(d)+"."+string(rune('A'+i)), d))
		}
		one := []Tensor{randomTensor(r, "t", d), {Name: "s", DType: d, Shape: []int{0, 3}}}
		t.Run(string(d), func(t *testing.T) { roundTrip(t, one, nil) })
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	t.Run("all", func(t *testing.T) { roundTrip(t, all, map[string]string{"format": "pt", "note": "every dtype"}) })
	t.Run("empty metadata map", func(t *testing.T) { roundTrip(t, all[:3], map[string]string{}) })
	t.Run("no tensors", func(t *testing.T) { roundTrip(t, nil, nil) })
}

// roundTrip writes tensors, reads them back (from memory and through Open on
// a file), checks every field and byte, and re-serializes what it read: the
// bytes must be identical.
func roundTrip(t *testing.T, tensors []Tensor, meta map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	if err := Serialize(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	first := buf.Bytes()
	if n := binary64(first); (8+n)%8 != 0 {
		t.Fatalf("header length %d leaves the data section unaligned", n)
	}
	path := filepath.Join(t.TempDir(), "rt.safetensors")
	if err := WriteFile(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, first) {
		t.Fatal("WriteFile and Serialize disagree")
	}
	mem, err := FromBytes("rt", first)
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer mapped.Close()
	for _, f := range []*File{mem, mapped} {
		if f.Len() != len(tensors) {
			t.Fatalf("%d tensors, want %d", f.Len(), len(tensors))
		}
		gotMeta := f.Metadata()
		if (gotMeta == nil) != (meta == nil) || len(gotMeta) != len(meta) {
			t.Fatalf("metadata %v, want %v", gotMeta, meta)
		}
		for k, v := range meta {
			if gotMeta[k] != v {
				t.Fatalf("metadata %v, want %v", gotMeta, meta)
			}
		}
		for _, want := range tensors {
			info, ok := f.Info(want.Name)
			if !ok || info.DType != want.DType || !slices.Equal(info.Shape, want.Shape) || info.ByteLen() != int64(len(want.Data)) {
				t.Fatalf("%s: info %+v, want %s %v", want.Name, info, want.DType, want.Shape)
			}
			b, err := f.Bytes(want.Name)
			if err != nil || !bytes.Equal(b, want.Data) {
				t.Fatalf("%s: bytes differ (%v)", want.Name, err)
			}
		}
		var again bytes.Buffer
		if err := Serialize(&again, tensorsOf(t, f), f.Metadata()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), first) {
			t.Fatal("write -> read -> write changed the bytes")
		}
	}
}

func binary64(b []byte) int64 {
	var n int64
	for i := 7; i >= 0; i-- {
		n = n<<8 | int64(b[i])
	}
	return n
}

func TestFloat32(t *testing.T) {
	vals := []float32{0, 1, -2.5, 3.25, 65504, -1e-3, float32(math.Inf(1))}
	i64 := []int64{0, -1, 1 << 40, math.MaxInt64}
	tensors := []Tensor{
		F32Tensor("f32", []int{len(vals)}, vals),
		F16Tensor("f16", []int{len(vals)}, vals),
		BF16Tensor("bf16", []int{len(vals)}, vals),
		I32Tensor("i32", []int{3}, []int32{-7, 0, math.MaxInt32}),
		I64Tensor("i64", []int{4}, i64),
		I8Tensor("i8", []int{3}, []int8{-128, 0, 127}),
		U8Tensor("u8", []int{3}, []uint8{0, 1, 255}),
		{Name: "bool", DType: BOOL, Shape: []int{2}, Data: []byte{1, 0}},
		{Name: "f64", DType: F64, Shape: []int{2}, Data: F32Tensor("", nil, nil).Data},
		{Name: "i16", DType: I16, Shape: []int{2}, Data: []byte{0xff, 0xff, 0x00, 0x80}},
		{Name: "u16", DType: U16, Shape: []int{2}, Data: []byte{0xff, 0xff, 0x00, 0x80}},
		{Name: "u32", DType: U32, Shape: []int{1}, Data: []byte{0xff, 0xff, 0xff, 0xff}},
		{Name: "u64", DType: U64, Shape: []int{1}, Data: []byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{Name: "e4m3", DType: F8_E4M3, Shape: []int{5}, Data: []byte{0x7e, 0x01, 0x38, 0xb8, 0x08}},
		{Name: "e5m2", DType: F8_E5M2, Shape: []int{4}, Data: []byte{0x7b, 0x7c, 0x3c, 0x01}},
		{Name: "e8m0", DType: F8_E8M0, Shape: []int{3}, Data: []byte{127, 0, 130}},
		{Name: "e4m3fnuz", DType: F8_E4M3FNUZ, Shape: []int{3}, Data: []byte{0x7f, 0x40, 0x00}},
		{Name: "e5m2fnuz", DType: F8_E5M2FNUZ, Shape: []int{3}, Data: []byte{0x7f, 0x40, 0xc0}},
		{Name: "f4", DType: F4, Shape: []int{2}, Data: []byte{0}},
		{Name: "c64", DType: C64, Shape: []int{1}, Data: make([]byte, 8)},
	}
	f64 := make([]byte, 16)
	for i, v := range []float64{1.5, -1e300} {
		bits := math.Float64bits(v)
		for j := 0; j < 8; j++ {
			f64[8*i+j] = byte(bits >> (8 * j))
		}
	}
	tensors[8].Data = f64
	var buf bytes.Buffer
	if err := Serialize(&buf, tensors, nil); err != nil {
		t.Fatal(err)
	}
	f, err := FromBytes("conv", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"f32":      vals,
		"f16":      {0, 1, -2.5, 3.25, 65504, tensor.HalfToFloat(tensor.FloatToHalf(-1e-3)), float32(math.Inf(1))},
		"bf16":     {0, 1, -2.5, 3.25, 65536, tensor.BFloat16ToFloat(tensor.FloatToBFloat16(-1e-3)), float32(math.Inf(1))},
		"i32":      {-7, 0, math.MaxInt32},
		"i64":      {0, -1, 1 << 40, math.MaxInt64},
		"i8":       {-128, 0, 127},
		"u8":       {0, 1, 255},
		"bool":     {1, 0},
		"f64":      {1.5, float32(math.Inf(-1))},
		"i16":      {-1, -32768},
		"u16":      {65535, 32768},
		"u32":      {4294967295},
		"u64":      {1},
		"e4m3":     {448, 1.0 / 512, 1, -1, 1.0 / 64},
		"e5m2":     {57344, float32(math.Inf(1)), 1, 1.0 / 65536},
		"e8m0":     {1, float32(math.Ldexp(1, -127)), 8},
		"e4m3fnuz": {240, 1, 0},
		"e5m2fnuz": {57344, 1, -1},
	}
	for name, w := range want {
		got, err := f.Float32(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(w) {
			t.Fatalf("%s: %v, want %v", name, got, w)
		}
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%s[%d] = %v, want %v (all %v)", name, i, got[i], w[i], got)
			}
		}
	}
	for _, name := range []string{"f4", "c64"} {
		_, err := f.Float32(name)
		if err == nil || !strings.Contains(err.Error(), `tensor "`+name+`"`) || !strings.Contains(err.Error(), "cannot convert") {
			t.Fatalf("%s: err = %v", name, err)
		}
	}
	// NaNs of the 8-bit formats.
	for _, c := range []struct {
		d DType
		b byte
	}{{F8_E4M3, 0x7f}, {F8_E4M3, 0xff}, {F8_E5M2, 0x7e}, {F8_E8M0, 0xff}, {F8_E4M3FNUZ, 0x80}, {F8_E5M2FNUZ, 0x80}} {
		if v := FP8ToFloat32(c.d, c.b); !math.IsNaN(float64(v)) {
			t.Errorf("%s 0x%02x = %v, want NaN", c.d, c.b, v)
		}
	}
	// Large F16 tensors cross the conversion chunk size.
	big := make([]float32, 10000)
	for i := range big {
		big[i] = float32(i%2048) - 1024
	}
	g, _ := ToFloat32(F16, F16Tensor("", nil, big).Data)
	for i := range big {
		if g[i] != big[i] {
			t.Fatalf("F16[%d] = %v, want %v", i, g[i], big[i])
		}
	}
}

func TestFileAccessors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	ts := []Tensor{F32Tensor("b", []int{2}, []float32{1, 2}), F16Tensor("a", []int{1}, []float32{3})}
	if err := WriteFile(path, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Names(); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("Names = %v", got)
	}
	if _, ok := f.Info("nope"); ok {
		t.Fatal("Info of a missing tensor")
	}
	if _, err := f.Bytes("nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `tensor "nope"`) {
		t.Fatalf("err = %v", err)
	}
	info, _ := f.Info("b")
	info.Shape[0] = 99 // Info returns a copy
	if again, _ := f.Info("b"); again.Shape[0] != 2 {
		t.Fatal("Info shares its shape slice")
	}
	m := f.Metadata()
	m["format"] = "changed"
	if f.Metadata()["format"] != "pt" {
		t.Fatal("Metadata shares its map")
	}
	if f.DataOffset()%8 != 0 {
		t.Fatalf("DataOffset %d", f.DataOffset())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := f.Bytes("b"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Bytes after Close: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.safetensors")); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Fatalf("Open of a missing file: %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Open of a directory: %v", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	old := []Tensor{F32Tensor("w", []int{2}, []float32{1, 2})}
	if err := WriteFile(path, old, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	// A bad tensor: nothing is written, the old file stays.
	bad := []Tensor{{Name: "w", DType: F32, Shape: []int{3}, Data: make([]byte, 4)}}
	err := WriteFile(path, bad, nil)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `tensor "w"`) {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("failed write changed the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries after a failed write", len(entries))
	}

	// Rewriting a file that is mapped: the mapping keeps the old bytes.
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := WriteFile(path, []Tensor{F32Tensor("w", []int{2}, []float32{7, 8})}, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Float32("w"); v[0] != 1 || v[1] != 2 {
		t.Fatalf("old mapping now reads %v", v)
	}
	g, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if v, _ := g.Float32("w"); v[0] != 7 || v[1] != 8 {
		t.Fatalf("new file reads %v", v)
	}
	// A missing directory is an error, not a panic.
	if err := WriteFile(filepath.Join(dir, "no", "such", "x.safetensors"), old, nil); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
}
