package safetensors

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// Golden byte arrays from the reference implementation's own unit tests:
// github.com/huggingface/safetensors, safetensors/src/tensor.rs (tests module,
// read at commit 24b0b2857fef49be734b9ab72ce97c09bb25f5b9). The numbers are
// re-typed here as data.

func f32le(vals ...float32) []byte { return F32Tensor("", nil, vals).Data }

// test_serialization: F32 "attn.0" of shape [1,2,3] holding 0..5.
var goldenSerialization = []byte{
	64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
	116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
	58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
	101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
	0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
}

// test_serialization_fp4: F4 "attn.0" of shape [1,2] holding one zero byte.
var goldenFP4 = []byte{
	64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
	116, 121, 112, 101, 34, 58, 34, 70, 52, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
	91, 49, 44, 50, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116,
	115, 34, 58, 91, 48, 44, 49, 93, 125, 125, 32, 32, 32, 32, 0,
}

// test_empty: no tensors, no metadata.
var goldenEmpty = []byte{8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32}

// test_empty: no tensors, metadata {"framework": "pt"}.
var goldenEmptyMeta = []byte{
	40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
	95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
	116, 34, 125, 125, 32, 32, 32, 32, 32,
}

// test_serialization_forced_alignement: F32 "attn0" of shape [1,1,2,3]; the
// shorter name forces 7 bytes of space padding.
var goldenForcedAlignment = []byte{
	72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
	121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
	91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
	115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
	32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
	160, 64,
}

func TestGoldenSerialize(t *testing.T) {
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    []byte
	}{
		{"test_serialization", []Tensor{F32Tensor("attn.0", []int{1, 2, 3}, []float32{0, 1, 2, 3, 4, 5})}, nil, goldenSerialization},
		{"test_serialization_fp4", []Tensor{{Name: "attn.0", DType: F4, Shape: []int{1, 2}, Data: []byte{0}}}, nil, goldenFP4},
		{"test_empty", nil, nil, goldenEmpty},
		{"test_empty/metadata", nil, map[string]string{"framework": "pt"}, goldenEmptyMeta},
		{"test_serialization_forced_alignement", []Tensor{F32Tensor("attn0", []int{1, 1, 2, 3}, []float32{0, 1, 2, 3, 4, 5})}, nil, goldenForcedAlignment},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Serialize(&buf, c.tensors, c.meta); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), c.want) {
				t.Fatalf("Serialize:\n got %q\nwant %q", buf.Bytes(), c.want)
			}
			if n, err := Size(c.tensors, c.meta); err != nil || n != int64(len(c.want)) {
				t.Fatalf("Size = %d, %v; want %d", n, err, len(c.want))
			}
			// The golden file parses, and re-serializing what was read gives it back.
			f, err := FromBytes(c.name, c.want)
			if err != nil {
				t.Fatal(err)
			}
			var again bytes.Buffer
			if err := Serialize(&again, tensorsOf(t, f), f.Metadata()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), c.want) {
				t.Fatalf("re-serialized:\n got %q\nwant %q", again.Bytes(), c.want)
			}
		})
	}
}

// tensorsOf reads every tensor of f (data aliasing f).
func tensorsOf(t testing.TB, f *File) []Tensor {
	t.Helper()
	var out []Tensor
	for _, n := range f.Names() {
		tt, err := f.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tt)
	}
	return out
}

// Files the reference's tests deserialize successfully.
func TestGoldenDeserialize(t *testing.T) {
	zeros := func(n int) string { return string(make([]byte, n)) }
	cases := []struct {
		name  string
		file  string
		check func(t *testing.T, f *File)
	}{
		{"test_deserialization", "<\x00\x00\x00\x00\x00\x00\x00{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}" + zeros(16),
			func(t *testing.T, f *File) {
				info, ok := f.Info("test")
				if !ok || info.DType != I32 || !slices.Equal(info.Shape, []int{2, 2}) || info.Offsets != [2]int64{0, 16} {
					t.Fatalf("info = %+v, %v", info, ok)
				}
				b, _ := f.Bytes("test")
				if !bytes.Equal(b, make([]byte, 16)) {
					t.Fatalf("bytes = %v", b)
				}
			}},
		{"test_empty_shapes_allowed", "8\x00\x00\x00\x00\x00\x00\x00{\"test\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}" + zeros(4),
			func(t *testing.T, f *File) {
				info, _ := f.Info("test")
				if len(info.Shape) != 0 || info.NumElements() != 1 {
					t.Fatalf("info = %+v", info)
				}
				v, err := f.Float32("test")
				if err != nil || len(v) != 1 || v[0] != 0 {
					t.Fatalf("Float32 = %v, %v", v, err)
				}
			}},
		{"test_zero_sized_tensor", "<\x00\x00\x00\x00\x00\x00\x00{\"test\":{\"dtype\":\"I32\",\"shape\":[2,0],\"data_offsets\":[0, 0]}}",
			func(t *testing.T, f *File) {
				b, err := f.Bytes("test")
				if err != nil || len(b) != 0 {
					t.Fatalf("bytes = %v, %v", b, err)
				}
				v, err := f.Float32("test")
				if err != nil || len(v) != 0 {
					t.Fatalf("Float32 = %v, %v", v, err)
				}
			}},
		{"test_whitespace_padded_header", "\x06\x00\x00\x00\x00\x00\x00\x00{}\x0D\x20\x09\x0A",
			func(t *testing.T, f *File) {
				if f.Len() != 0 || f.Metadata() != nil {
					t.Fatalf("len %d meta %v", f.Len(), f.Metadata())
				}
			}},
		{"test_whitespace_leading_padded_header", "\x06\x00\x00\x00\x00\x00\x00\x00\x09\x0A{}\x0D\x20",
			func(t *testing.T, f *File) {
				if f.Len() != 0 {
					t.Fatalf("len %d", f.Len())
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := FromBytes(c.name, []byte(c.file))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, f)
		})
	}
}

// The reference's tensor ordering: descending Dtype enum, then name. The
// expected header below is written out by hand from that rule (BF16 comes
// after F16 in the enum, so BF16 tensors are written before F16 ones).
func TestSerializeOrdering(t *testing.T) {
	tensors := []Tensor{
		{Name: "b", DType: F16, Shape: []int{1}, Data: []byte{1, 2}},
		{Name: "z", DType: U8, Shape: []int{3}, Data: []byte{3, 4, 5}},
		{Name: "a", DType: F16, Shape: []int{1}, Data: []byte{6, 7}},
		{Name: "m", DType: BF16, Shape: []int{2}, Data: []byte{8, 9, 10, 11}},
		{Name: "c", DType: F32, Shape: []int{}, Data: []byte{12, 13, 14, 15}},
		{Name: "q", DType: BOOL, Shape: []int{0}, Data: nil},
		{Name: "u", DType: U64, Shape: []int{1}, Data: []byte{16, 17, 18, 19, 20, 21, 22, 23}},
	}
	meta := map[string]string{"format": "pt", "a\"b\\c\n": "é\x01\u2028<>&/"}
	wantHeader := `{"__metadata__":{"a\"b\\c\n":"é\u0001` + "\u2028" + `<>&/","format":"pt"},` +
		`"u":{"dtype":"U64","shape":[1],"data_offsets":[0,8]},` +
		`"c":{"dtype":"F32","shape":[],"data_offsets":[8,12]},` +
		`"m":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},` +
		`"a":{"dtype":"F16","shape":[1],"data_offsets":[16,18]},` +
		`"b":{"dtype":"F16","shape":[1],"data_offsets":[18,20]},` +
		`"z":{"dtype":"U8","shape":[3],"data_offsets":[20,23]},` +
		`"q":{"dtype":"BOOL","shape":[0],"data_offsets":[23,23]}}`
	for len(wantHeader)%8 != 0 {
		wantHeader += " "
	}
	wantData := []byte{16, 17, 18, 19, 20, 21, 22, 23, 12, 13, 14, 15, 8, 9, 10, 11, 6, 7, 1, 2, 3, 4, 5}
	var buf bytes.Buffer
	if err := Serialize(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	if n := int(got[0]) | int(got[1])<<8; n != len(wantHeader) {
		t.Fatalf("header length %d, want %d", n, len(wantHeader))
	}
	if h := string(got[8 : 8+len(wantHeader)]); h != wantHeader {
		t.Fatalf("header\n got %s\nwant %s", h, wantHeader)
	}
	if d := got[8+len(wantHeader):]; !bytes.Equal(d, wantData) {
		t.Fatalf("data %v, want %v", d, wantData)
	}
	f, err := FromBytes("ordering", got)
	if err != nil {
		t.Fatal(err)
	}
	if m := f.Metadata(); len(m) != 2 || m["a\"b\\c\n"] != "é\x01\u2028<>&/" {
		t.Fatalf("metadata %q", m)
	}
}

func TestSerializeErrors(t *testing.T) {
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"size", []Tensor{{Name: "w", DType: F32, Shape: []int{3, 2}, Data: make([]byte, 10)}}, nil, `tensor "w": data: holds 10 bytes, shape [3 2] F32 needs 24`},
		{"dtype", []Tensor{{Name: "w", DType: "F17", Shape: []int{1}, Data: make([]byte, 4)}}, nil, `tensor "w": dtype: unknown dtype "F17"`},
		{"dup", []Tensor{F32Tensor("w", []int{1}, []float32{1}), F32Tensor("w", []int{1}, []float32{2})}, nil, `tensor "w": name: appears twice`},
		{"reserved", []Tensor{F32Tensor("__metadata__", []int{1}, []float32{1})}, nil, `reserved`},
		{"utf8", []Tensor{F32Tensor("\xff", []int{1}, []float32{1})}, nil, `not valid UTF-8`},
		{"negative", []Tensor{{Name: "w", DType: F32, Shape: []int{-1}}}, nil, `negative dimension`},
		{"misaligned", []Tensor{{Name: "w", DType: F4, Shape: []int{3}, Data: make([]byte, 2)}}, nil, `not a whole number of bytes`},
		{"meta utf8", nil, map[string]string{"k": "\xff"}, `__metadata__ key "k"`},
		{"too large", nil, map[string]string{"k": strings.Repeat("a", MaxHeaderSize)}, `exceeds the 100000000-byte limit`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Serialize(&buf, c.tensors, c.meta)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Fatalf("wrote %d bytes before failing", buf.Len())
			}
		})
	}
	var buf bytes.Buffer
	if err := Serialize(&buf, nil, map[string]string{"k": strings.Repeat("a", MaxHeaderSize)}); !errors.Is(err, ErrHeaderTooLarge) {
		t.Fatalf("err = %v, want ErrHeaderTooLarge", err)
	}
}
