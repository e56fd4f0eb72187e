package safetensors

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// file builds a safetensors file from a header string and a data length,
// with the header length prefix set to len(header).
func file(header string, data int) []byte {
	b := make([]byte, 8, 8+len(header)+data)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

// withLen builds a file whose length prefix is n regardless of the header.
func withLen(n uint64, rest string) []byte {
	b := make([]byte, 8, 8+len(rest))
	binary.LittleEndian.PutUint64(b, n)
	return append(b, rest...)
}

const i32x4 = `{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}`

// One case per validation rule. Each asserts the error class (errors.Is) and
// that the message names the file, the tensor and the field it is about.
func TestMalformed(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		kind error
		want []string // substrings of the message, besides the file name
	}{
		// Header length prefix.
		{"empty file", nil, ErrHeaderTooSmall, []string{"file is 0 bytes", "8-byte header length"}},
		{"short file", []byte{1, 2, 3}, ErrHeaderTooSmall, []string{"file is 3 bytes"}},
		{"header over 100MB", withLen(MaxHeaderSize+1, "{}"), ErrHeaderTooLarge, []string{"header length 100000001 exceeds the 100000000-byte limit"}},
		// safetensors/src/tensor.rs test_header_too_large
		{"absurd header length", append([]byte("<\x00\x00\x00\x00\xff\xff\xff"), file(`{"test":`+i32x4+`}`, 16)[8:]...), ErrHeaderTooLarge, []string{"header length 18446742974197923900"}},
		// test_invalid_header_length
		{"header past end of file", withLen(60, ""), ErrHeaderLength, []string{"header length 60 exceeds the 0 bytes that follow"}},
		{"header past end of file by one", withLen(3, "{}"), ErrHeaderLength, []string{"header length 3 exceeds the 2 bytes"}},
		// Header text.
		{"non-UTF-8 header", withLen(1, "\xff"), ErrHeaderUTF8, []string{"not valid UTF-8", "0xff at header byte 0"}},
		{"non-UTF-8 in a name", file(`{"t`+"\xc3\x28"+`":`+i32x4+`}`, 16), ErrHeaderUTF8, []string{"header byte 3"}},
		{"empty header", file("", 0), ErrHeaderJSON, []string{"header is empty"}},
		{"blank header", file("        ", 0), ErrHeaderJSON, []string{"header is empty"}},
		{"header not an object", file("[]", 0), ErrHeaderJSON, []string{"must be a JSON object starting with '{'", `found '['`}},
		{"garbage before object", file("x{}", 0), ErrHeaderJSON, []string{"starting with '{'", `found 'x'`}},
		// test_invalid_header_not_json
		{"truncated JSON", withLen(1, "{"), ErrHeaderJSON, []string{"invalid JSON", "ends early"}},
		{"bad JSON", file(`{"a":}`, 0), ErrHeaderJSON, []string{"invalid JSON at header byte"}},
		{"trailing comma", file(`{"a":`+i32x4+`,}`, 16), ErrHeaderJSON, []string{"invalid JSON"}},
		{"trailing characters", file(`{}x`, 0), ErrHeaderJSON, []string{"trailing characters", "header byte 2"}},
		{"trailing NUL padding", file("{}\x00\x00", 0), ErrHeaderJSON, []string{"trailing characters"}},
		{"second object", file(`{}{}`, 0), ErrHeaderJSON, []string{"trailing characters"}},
		{"lone high surrogate", file(`{"a\ud800":`+i32x4+`}`, 16), ErrHeaderJSON, []string{"unpaired UTF-16 surrogate", "header byte 3"}},
		{"lone low surrogate", file(`{"__metadata__":{"k":"\udc00"}}`, 0), ErrHeaderJSON, []string{"unpaired UTF-16 surrogate"}},
		{"reversed surrogates", file(`{"__metadata__":{"k":"\udc00\ud800"}}`, 0), ErrHeaderJSON, []string{"unpaired UTF-16 surrogate"}},
		// Tensor entries.
		{"entry not an object", file(`{"w":[1,2]}`, 0), ErrHeaderJSON, []string{`tensor "w"`, "entry must be an object", "found an array"}},
		{"unknown dtype", file(`{"w":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}`, 4), ErrDType, []string{`tensor "w"`, "dtype", `unknown dtype "F17"`}},
		{"lowercase dtype", file(`{"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}`, 4), ErrDType, []string{`tensor "w"`, `unknown dtype "f32"`}},
		{"dtype not a string", file(`{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, 4), ErrDType, []string{`tensor "w"`, "dtype must be a string", "number 4"}},
		{"missing dtype", file(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, 4), ErrDType, []string{`tensor "w"`, "missing field dtype"}},
		{"missing shape", file(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, 4), ErrShape, []string{`tensor "w"`, "missing field shape"}},
		{"missing data_offsets", file(`{"w":{"dtype":"F32","shape":[1]}}`, 4), ErrOffsets, []string{`tensor "w"`, "missing field data_offsets"}},
		{"negative shape", file(`{"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]}}`, 4), ErrShape, []string{`tensor "w"`, "shape element 1 is -1", "not a non-negative integer"}},
		{"fractional shape", file(`{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,4]}}`, 4), ErrShape, []string{`tensor "w"`, "shape element 0 is 2.5"}},
		{"exponent shape", file(`{"w":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}`, 4), ErrShape, []string{`tensor "w"`, "shape element 0 is 1e0"}},
		{"string in shape", file(`{"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}`, 4), ErrShape, []string{`tensor "w"`, "shape element 0 must be a non-negative integer", `string "1"`}},
		{"shape not an array", file(`{"w":{"dtype":"F32","shape":1,"data_offsets":[0,4]}}`, 4), ErrShape, []string{`tensor "w"`, "shape must be an array", "number 1"}},
		{"shape beyond u64", file(`{"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}}`, 4), ErrShape, []string{`tensor "w"`, "not a non-negative integer below 2^64"}},
		{"three data_offsets", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 4), ErrOffsets, []string{`tensor "w"`, "data_offsets [0 4 8] must hold exactly two numbers"}},
		{"one data_offset", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, 4), ErrOffsets, []string{`tensor "w"`, "exactly two"}},
		{"negative data_offset", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 4), ErrOffsets, []string{`tensor "w"`, "data_offsets element 0 is -4"}},
		{"data_offsets not an array", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":"0,4"}}`, 4), ErrOffsets, []string{`tensor "w"`, "data_offsets must be an array"}},
		{"data_offset beyond int64", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,9223372036854775808]}}`, 4), ErrOffsets, []string{`tensor "w"`, "offset 9223372036854775808 is beyond any file"}},
		{"dtype twice", file(`{"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), ErrDuplicate, []string{`tensor "w"`, "dtype appears twice"}},
		{"shape twice", file(`{"w":{"dtype":"F32","shape":[1],"shape":[1],"data_offsets":[0,4]}}`, 4), ErrDuplicate, []string{`tensor "w"`, "shape appears twice"}},
		{"data_offsets twice", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"data_offsets":[0,4]}}`, 4), ErrDuplicate, []string{`tensor "w"`, "data_offsets appears twice"}},
		{"duplicate tensor name", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), ErrDuplicate, []string{`tensor "w"`, "name appears twice"}},
		// __metadata__.
		{"metadata not an object", file(`{"__metadata__":"pt"}`, 0), ErrMetadata, []string{"__metadata__ must be an object of strings", `string "pt"`}},
		{"metadata value not a string", file(`{"__metadata__":{"format":1}}`, 0), ErrMetadata, []string{`__metadata__ value of key "format" must be a string`, "number 1"}},
		{"metadata nested object", file(`{"__metadata__":{"format":{}}}`, 0), ErrMetadata, []string{`key "format"`, "an object"}},
		{"metadata twice", file(`{"__metadata__":{},"__metadata__":{}}`, 0), ErrDuplicate, []string{"__metadata__ appears twice"}},
		{"metadata key twice", file(`{"__metadata__":{"a":"1","a":"2"}}`, 0), ErrDuplicate, []string{`__metadata__ key "a" appears twice`}},
		// Sizes: shape x dtype against data_offsets.
		{"end before begin", file(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, 4), ErrOffsets, []string{`tensor "w"`, "data_offsets [4 0]: end is before begin"}},
		// test_invalid_info
		{"size mismatch", file(`{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}`, 4), ErrSizeMismatch, []string{`tensor "test"`, "data_offsets [0 4] hold 4 bytes, shape [2 2] I32 needs 16"}},
		{"size mismatch x.weight", file(`{"x.weight":{"dtype":"F32","shape":[3,2],"data_offsets":[0,10]}}`, 10), ErrSizeMismatch, []string{`tensor "x.weight": data_offsets [0 10] hold 10 bytes, shape [3 2] F32 needs 24`}},
		{"zero-size shape with bytes", file(`{"w":{"dtype":"F32","shape":[3,0],"data_offsets":[0,4]}}`, 4), ErrSizeMismatch, []string{`tensor "w"`, "needs 0"}},
		// test_validation_overflow (both files)
		{"shape dimension overflow", file(`{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}`, 16), ErrOverflow, []string{`tensor "test"`, "shape", "dimension 18446744073709551614 is too large"}},
		{"element count overflow", file(`{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}`, 16), ErrOverflow, []string{`tensor "test"`, "shape", "overflow"}},
		{"bit count overflow", file(`{"test":{"dtype":"U8","shape":[4611686018427387904],"data_offsets":[0,16]}}`, 16), ErrOverflow, []string{`tensor "test"`, "bit count overflows"}},
		{"sub-byte misaligned", file(`{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, 2), ErrMisaligned, []string{`tensor "w"`, "holds 12 bits, not a whole number of bytes"}},
		// Layout of the data section.
		// test_metadata_incomplete_buffer, second file (2 bytes missing)
		{"data past end of file", file(`{"test":`+i32x4+`}`, 14), ErrOffsets, []string{`tensor "test"`, "data_offsets [0 16] run past the end of the data section, which holds 14 bytes"}},
		{"overlap", file(`{"a":{"dtype":"I32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"I32","shape":[4],"data_offsets":[8,24]}}`, 24), ErrOffsets, []string{`tensor "b"`, `data_offsets [8 24] overlap tensor "a" at [0 16]`}},
		{"zero-size tensor inside another", file(`{"a":{"dtype":"I32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"I32","shape":[0],"data_offsets":[8,8]}}`, 16), ErrOffsets, []string{`tensor "b"`, `overlap tensor "a"`}},
		{"gap", file(`{"a":{"dtype":"I32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"I32","shape":[4],"data_offsets":[20,36]}}`, 36), ErrOffsets, []string{`tensor "b"`, `data_offsets [20 36] leave a gap [16 20) after tensor "a"`}},
		{"first tensor not at 0", file(`{"a":{"dtype":"I32","shape":[4],"data_offsets":[4,20]}}`, 20), ErrOffsets, []string{`tensor "a"`, "the first tensor must begin at 0"}},
		// test_metadata_incomplete_buffer, first file (polyglot tail)
		{"trailing data", append(file(`{"test":`+i32x4+`}`, 16), "extra_bogus_data_for_polyglot_file"...), ErrIncompleteBuffer, []string{"data_offsets", "tensors cover 16 bytes but the data section holds 50; 34 trailing bytes"}},
		{"data without tensors", file(`{}`, 3), ErrIncompleteBuffer, []string{"tensors cover 0 bytes but the data section holds 3"}},
	}
	// test_json_attack: ten tensors all claiming [0,16].
	{
		var entries []string
		for i := 0; i < 10; i++ {
			entries = append(entries, `"weight_`+string(rune('0'+i))+`":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}`)
		}
		cases = append(cases, struct {
			name string
			data []byte
			kind error
			want []string
		}{"json attack", file("{"+strings.Join(entries, ",")+"}", 16), ErrOffsets, []string{`tensor "weight_1"`, `data_offsets [0 16] overlap tensor "weight_0" at [0 16]`}})
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strconv.IntSize < 64 && c.name == "bit count overflow" {
				t.Skip("a 32-bit int rejects the dimension itself")
			}
			const fname = "model.safetensors"
			_, err := FromBytes(fname, c.data)
			checkErr(t, err, fname, c.kind, c.want)

			// The same through Open, on a real file.
			path := filepath.Join(t.TempDir(), fname)
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err == nil {
				f.Close()
			}
			checkErr(t, err, path, c.kind, c.want)
		})
	}
}

func checkErr(t *testing.T, err error, fname string, kind error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %v", kind)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q is not %v", err, kind)
	}
	var fe *Error
	if !errors.As(err, &fe) {
		t.Errorf("error %q is not an *Error", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, fname+": ") {
		t.Errorf("error %q does not start with the file name %q", msg, fname)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

// Files the reference accepts that a too-strict reader might refuse.
func TestAcceptedOddities(t *testing.T) {
	cases := []struct {
		name  string
		data  []byte
		names []string
	}{
		{"unknown fields ignored", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":{"x":[1,{"y":null}]}}}`, 4), []string{"w"}},
		{"metadata null", file(`{"__metadata__":null,"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), []string{"w"}},
		{"header order differs from data order", file(`{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, 4), []string{"a", "b"}},
		{"zero-size tensors sharing offsets", file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]},"c":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"d":{"dtype":"F64","shape":[0,5],"data_offsets":[1,1]}}`, 1), []string{"a", "b", "c", "d"}},
		{"zero dimension before a huge one", file(`{"a":{"dtype":"F32","shape":[0,9223372036854775807,4],"data_offsets":[0,0]}}`, 0), []string{"a"}},
		{"whitespace inside JSON", file("{ \"a\" :\n{\"dtype\" : \"U8\" ,\t\"shape\":[ 1 ],\"data_offsets\":[ 0 , 1 ] } }   ", 1), []string{"a"}},
		{"surrogate pair", file(`{"\ud83d\ude00\\\"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), []string{"\U0001F600\\\""}},
		{"escaped name", file(`{"a\u00e9\n":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), []string{"aé\n"}},
		{"empty name", file(`{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1), []string{""}},
		{"sub-byte F6", file(`{"a":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[0,3]}}`, 3), []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strconv.IntSize < 64 && c.name == "zero dimension before a huge one" {
				t.Skip("the dimension does not fit a 32-bit int")
			}
			f, err := FromBytes(c.name, c.data)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Names(); strings.Join(got, "|") != strings.Join(c.names, "|") || len(got) != len(c.names) {
				t.Fatalf("names %q, want %q", got, c.names)
			}
			for _, n := range c.names {
				if _, err := f.Bytes(n); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
