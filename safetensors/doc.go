// Package safetensors reads and writes the safetensors tensor file format of
// Hugging Face, byte-compatible with the reference implementation
// (github.com/huggingface/safetensors, safetensors/src/tensor.rs).
//
// # Byte layout
//
//	offset 0      8 bytes   N, unsigned 64-bit little-endian: the header length
//	offset 8      N bytes   the header: UTF-8 JSON object, optionally padded with
//	                        JSON whitespace (writers pad with spaces to make
//	                        8+N a multiple of 8, so the data section is aligned)
//	offset 8+N    rest      the data section: tensor bytes, back to back
//
// The header maps each tensor name to
//
//	{"dtype":"F32","shape":[2,3],"data_offsets":[BEGIN,END]}
//
// where [BEGIN, END) is the tensor's byte range relative to offset 8+N, and
// may hold one special key "__metadata__" whose value is an object of string
// to string. Tensor data is little-endian, row-major ('C' order); a tensor
// holds numel*bits/8 bytes (numel is the product of the shape, 1 for the
// scalar shape []; 0 for any shape with a 0 dimension). Sub-byte dtypes (F4,
// F6_*) pack elements across bytes and must fill a whole number of bytes.
//
// # Validation (Open, FromBytes)
//
// A file is accepted when the reference accepts it, with two deliberate
// differences, both stricter and both stated by the format specification:
// a tensor name or metadata key that appears twice is an error where the
// reference keeps the last one (a field that appears twice in a tensor entry
// is an error in both), and shape dimensions and offsets must fit in an int
// and an int64 (the reference takes up to 2^64-1, which no real file needs).
// The rules: the file holds at least 8 bytes; N <= 100,000,000
// (MaxHeaderSize) and 8+N <= file size; the header is valid UTF-8 and exactly
// one JSON object (leading and trailing JSON whitespace allowed, nothing
// else; \u escapes must not split a surrogate pair, as in serde_json);
// every dtype is one the reference knows; shapes and data_offsets are arrays
// of non-negative integers (no sign, fraction or exponent), data_offsets
// exactly two; unknown fields in a tensor entry are ignored; "__metadata__"
// is null or an object of strings; END >= BEGIN; END-BEGIN equals
// numel*bits/8 computed without overflow and in whole bytes; sorted by
// offsets, the tensors tile the data section exactly, starting at 0 with no
// gap and no overlap (zero-size tensors may share an offset) and ending at
// the end of the file (no trailing bytes: no polyglot files). An empty file
// is an error; a header "{}" with no data is a valid file of zero tensors.
// Every error is an *Error naming the file, the tensor and the field, and
// wrapping one of the Err* classes.
//
// # Writing (Serialize, WriteFile, WriteSharded)
//
// The writer reproduces the reference's serialize byte for byte: tensors
// sorted by dtype in descending order of the reference's Dtype enum (U64,
// I64, F64, C64, F32, U32, I32, BF16, F16, U16, I16, F8_E5M2FNUZ, ..., BOOL;
// see DTypes for the ascending list) and then by name; header compact JSON
// (serde_json's formatting and string escaping) with "__metadata__" first
// and the tensors in data order; header padded with spaces to a multiple of
// 8. Where the reference's output is not deterministic (it keeps metadata in
// a hash map) the keys are written sorted.
//
// # Reading data
//
// Open maps the file read-only with syscall.Mmap (pure Go, no cgo; systems
// without mmap read the file into memory instead). Bytes returns a slice of
// the mapping without copying; Float32 decodes into a new slice. On
// little-endian hosts F32, F16 and BF16 bytes are copied straight into
// aligned destination memory; on big-endian hosts each element is decoded
// with encoding/binary. As with any mapping, truncating the file while it is
// open makes later reads of the lost pages fault (SIGBUS); WriteFile never
// truncates, it renames a new file into place.
//
// Checkpoints split into shards (model-00001-of-00003.safetensors plus
// model.safetensors.index.json, the layout of transformers' save_pretrained)
// are opened with OpenCheckpoint and written with WriteSharded.
package safetensors
