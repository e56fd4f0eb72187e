package safetensors

import (
	"bytes"
	"testing"
)

// FuzzOpen checks that parsing arbitrary bytes never panics, and that every
// file it accepts can be read in full and re-serialized into a file that
// parses to the same tensors. Under plain `go test` only the seeds run.
func FuzzOpen(f *testing.F) {
	for _, seed := range [][]byte{
		goldenSerialization, goldenFP4, goldenEmpty, goldenEmptyMeta, goldenForcedAlignment,
		file(`{"test":`+i32x4+`}`, 16),
		file(`{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F8_E4M3","shape":[0],"data_offsets":[4,4]}}`, 4),
		file(`{"a":{"dtype":"I32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"I32","shape":[4],"data_offsets":[8,24]}}`, 24),
		file(`{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}`, 16),
		file(`{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, 2),
		withLen(1<<62, "{}"),
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := FromBytes("fuzz", data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			return
		}
		var ts []Tensor
		for _, n := range sf.Names() {
			tt, err := sf.Tensor(n)
			if err != nil {
				t.Fatal(err)
			}
			sf.Float32(n) // may refuse the dtype; must not panic
			ts = append(ts, tt)
		}
		var buf bytes.Buffer
		if err := Serialize(&buf, ts, sf.Metadata()); err != nil {
			t.Fatalf("re-serializing an accepted file: %v", err)
		}
		back, err := FromBytes("again", buf.Bytes())
		if err != nil {
			t.Fatalf("re-serialized file rejected: %v", err)
		}
		if back.Len() != sf.Len() {
			t.Fatalf("%d tensors became %d", sf.Len(), back.Len())
		}
		for _, tt := range ts {
			b, err := back.Bytes(tt.Name)
			if err != nil || !bytes.Equal(b, tt.Data) {
				t.Fatalf("%s changed", tt.Name)
			}
		}
		var again bytes.Buffer
		if err := Serialize(&again, tensorsOf(t, back), back.Metadata()); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
			t.Fatal("serialization is not a fixed point")
		}
	})
}
