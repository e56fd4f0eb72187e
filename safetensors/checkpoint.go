package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File names Hugging Face uses for a checkpoint (transformers'
// SAFE_WEIGHTS_NAME and SAFE_WEIGHTS_INDEX_NAME).
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// Checkpoint is one or more safetensors files (shards) behind one name space.
// Every tensor name lives in exactly one shard.
type Checkpoint struct {
	index  string  // path of the index file, "" for a single file
	files  []*File // sorted by path
	owner  map[string]*File
	names  []string
	closed bool
}

// OpenCheckpoint opens the checkpoint at path, which is either
//   - a directory holding model.safetensors (preferred, as transformers does),
//     or model.safetensors.index.json, or exactly one *.safetensors.index.json,
//     or exactly one *.safetensors file;
//   - a *.safetensors.index.json file;
//   - a single *.safetensors file.
//
// For an index, its "weight_map" (tensor name -> shard file name in the same
// directory) must name only existing shards, every listed tensor must be in
// the shard the map names, and no tensor may be held by two shards. Tensors a
// shard holds that the map does not list are still reachable. Every shard is
// memory-mapped and validated as Open does.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.IsDir() {
		if strings.HasSuffix(path, ".index.json") {
			return openIndexed(path)
		}
		return openSingle(path)
	}
	single := filepath.Join(path, SingleFileName)
	if isFile(single) {
		return openSingle(single)
	}
	index := filepath.Join(path, IndexFileName)
	if isFile(index) {
		return openIndexed(index)
	}
	indexes, _ := filepath.Glob(filepath.Join(path, "*.safetensors.index.json"))
	if len(indexes) == 1 {
		return openIndexed(indexes[0])
	}
	if len(indexes) > 1 {
		return nil, fmt.Errorf("safetensors: %s: no %s and %d candidate index files %v; open one of them directly", path, IndexFileName, len(indexes), baseNames(indexes))
	}
	files, _ := filepath.Glob(filepath.Join(path, "*.safetensors"))
	switch len(files) {
	case 1:
		return openSingle(files[0])
	case 0:
		return nil, fmt.Errorf("safetensors: %s: no %s, %s or other *.safetensors file", path, SingleFileName, IndexFileName)
	}
	return nil, fmt.Errorf("safetensors: %s: no %s or index, and %d *.safetensors files %v; open one directly", path, SingleFileName, len(files), baseNames(files))
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func openSingle(path string) (*Checkpoint, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{files: []*File{f}, owner: make(map[string]*File, f.Len()), names: f.Names()}
	for _, n := range c.names {
		c.owner[n] = f
	}
	return c, nil
}

// indexFile is the JSON of model.safetensors.index.json.
type indexFile struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

func openIndexed(indexPath string) (c *Checkpoint, err error) {
	ierr := func(format string, args ...any) error {
		return &Error{File: indexPath, Field: "weight_map", Msg: fmt.Sprintf(format, args...), Kind: ErrIndex}
	}
	raw, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var idx indexFile
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, &Error{File: indexPath, Field: "index", Msg: fmt.Sprintf("invalid JSON: %v", err), Kind: ErrIndex}
	}
	if idx.WeightMap == nil {
		return nil, ierr("weight_map is missing")
	}
	dir := filepath.Dir(indexPath)
	shardNames := map[string]bool{}
	for tensor, shard := range idx.WeightMap {
		if shard == "" || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) || filepath.IsAbs(shard) {
			return nil, &Error{File: indexPath, Tensor: tensor, Field: "weight_map", Kind: ErrIndex,
				Msg: fmt.Sprintf("weight_map names shard %q, which is not a plain file name in the index's directory", shard)}
		}
		shardNames[shard] = true
	}
	shards := make([]string, 0, len(shardNames))
	for s := range shardNames {
		shards = append(shards, s)
	}
	sort.Strings(shards)

	ck := &Checkpoint{index: indexPath, owner: make(map[string]*File)}
	defer func() {
		if err != nil {
			ck.Close()
		}
	}()
	c = ck
	byName := make(map[string]*File, len(shards))
	for _, s := range shards {
		p := filepath.Join(dir, s)
		if !isFile(p) {
			// Name one tensor that points at it, deterministically.
			var tensors []string
			for t, sh := range idx.WeightMap {
				if sh == s {
					tensors = append(tensors, t)
				}
			}
			sort.Strings(tensors)
			return nil, &Error{File: indexPath, Tensor: tensors[0], Field: "weight_map", Kind: ErrIndex,
				Msg: fmt.Sprintf("weight_map names shard %q (for %d tensors), which does not exist", s, len(tensors))}
		}
		f, err := Open(p)
		if err != nil {
			return nil, err
		}
		c.files = append(c.files, f)
		byName[s] = f
	}
	listed := make([]string, 0, len(idx.WeightMap))
	for t := range idx.WeightMap {
		listed = append(listed, t)
	}
	sort.Strings(listed)
	for _, t := range listed {
		s := idx.WeightMap[t]
		if _, ok := byName[s].h.index[t]; !ok {
			return nil, &Error{File: indexPath, Tensor: t, Field: "weight_map", Kind: ErrIndex,
				Msg: fmt.Sprintf("weight_map places the tensor in shard %q, which does not hold it", s)}
		}
	}
	for _, f := range c.files {
		for _, n := range f.names {
			if other, dup := c.owner[n]; dup {
				return nil, &Error{File: indexPath, Tensor: n, Field: "tensor", Kind: ErrDuplicate,
					Msg: fmt.Sprintf("held by two shards, %s and %s", filepath.Base(other.path), filepath.Base(f.path))}
			}
			c.owner[n] = f
			c.names = append(c.names, n)
		}
	}
	sort.Strings(c.names)
	return c, nil
}

// Close closes every shard.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.files {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.closed = true
	return errors.Join(errs...)
}

// Files returns the paths of the shard files, sorted.
func (c *Checkpoint) Files() []string {
	out := make([]string, len(c.files))
	for i, f := range c.files {
		out[i] = f.path
	}
	return out
}

// IndexPath is the path of the index file, or "" for a single-file checkpoint.
func (c *Checkpoint) IndexPath() string { return c.index }

// Metadata returns the "__metadata__" of the first shard (in file-name
// order); writers such as transformers give every shard the same one.
func (c *Checkpoint) Metadata() map[string]string {
	if len(c.files) == 0 {
		return nil
	}
	return c.files[0].Metadata()
}

// Names returns all tensor names, sorted.
func (c *Checkpoint) Names() []string { return append([]string(nil), c.names...) }

// Len is the number of tensors.
func (c *Checkpoint) Len() int { return len(c.names) }

// Shard returns the path of the shard holding the named tensor.
func (c *Checkpoint) Shard(name string) (string, bool) {
	f, ok := c.owner[name]
	if !ok {
		return "", false
	}
	return f.path, true
}

// Info describes the named tensor; Offsets are relative to its shard's data section.
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	f, ok := c.owner[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

func (c *Checkpoint) file(name string) (*File, error) {
	f, ok := c.owner[name]
	if !ok {
		where := c.index
		if where == "" && len(c.files) > 0 {
			where = c.files[0].path
		}
		return nil, &Error{File: where, Tensor: name, Field: "tensor", Msg: "no such tensor", Kind: ErrNotFound}
	}
	return f, nil
}

// Bytes returns the named tensor's bytes, aliasing its shard's mapping (see File.Bytes).
func (c *Checkpoint) Bytes(name string) ([]byte, error) {
	f, err := c.file(name)
	if err != nil {
		return nil, err
	}
	return f.Bytes(name)
}

// Float32 converts the named tensor to a new []float32 (see File.Float32).
func (c *Checkpoint) Float32(name string) ([]float32, error) {
	f, err := c.file(name)
	if err != nil {
		return nil, err
	}
	return f.Float32(name)
}

// Tensor returns the named tensor with Data aliasing its shard's mapping.
func (c *Checkpoint) Tensor(name string) (Tensor, error) {
	f, err := c.file(name)
	if err != nil {
		return Tensor{}, err
	}
	return f.Tensor(name)
}

// ShardName is the Hugging Face name of shard i (1-based) of n:
// model-00001-of-00003.safetensors.
func ShardName(i, n int) string { return fmt.Sprintf("model-%05d-of-%05d.safetensors", i, n) }

// WriteSharded writes tensors into dir as a Hugging Face checkpoint, split the
// way huggingface_hub's split_state_dict_into_shards_factory splits a state
// dict (the splitter transformers' save_pretrained uses): tensors are taken
// in the order given; a tensor larger than maxShardBytes gets a shard of its
// own (placed before the shard being filled); otherwise a new shard starts
// when the current one would exceed maxShardBytes. Sizes are data bytes.
//
// With a single shard (or maxShardBytes <= 0, meaning no limit) it writes
// dir/model.safetensors and no index, as transformers does. Otherwise it
// writes model-0000i-of-0000n.safetensors files, each with the given
// metadata, and model.safetensors.index.json formatted as Python's
// json.dumps(index, indent=2, sort_keys=True) + "\n":
//
//	{"metadata": {"total_parameters": P, "total_size": S}, "weight_map": {name: shard}}
//
// where S is the sum of the tensors' data bytes and P the sum of their
// element counts (transformers counts model parameters, which excludes
// buffers and counts tied weights once). Every shard is validated before
// anything is written, and each file is written atomically.
func WriteSharded(dir string, tensors []Tensor, metadata map[string]string, maxShardBytes int64) error {
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		if seen[t.Name] {
			return fmt.Errorf("safetensors: %s: tensor %s: name appears twice", dir, quote(t.Name))
		}
		seen[t.Name] = true
	}
	var shards [][]Tensor
	var cur []Tensor
	var curSize, totalSize, totalParams int64
	for _, t := range tensors {
		size := int64(len(t.Data))
		n := int64(1)
		for _, s := range t.Shape {
			n *= int64(s)
		}
		totalParams += n
		totalSize += size
		if maxShardBytes > 0 && size > maxShardBytes {
			shards = append(shards, []Tensor{t})
			continue
		}
		if maxShardBytes > 0 && curSize+size > maxShardBytes && len(cur) > 0 {
			shards = append(shards, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, t)
		curSize += size
	}
	if len(cur) > 0 {
		shards = append(shards, cur)
	}
	if len(shards) <= 1 {
		return WriteFile(filepath.Join(dir, SingleFileName), tensors, metadata)
	}
	preps := make([]*prepared, len(shards))
	for i, s := range shards {
		p, err := prepare(s, metadata)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, ShardName(i+1, len(shards))), err)
		}
		preps[i] = p
	}
	weightMap := make(map[string]string, len(tensors))
	for i, s := range shards {
		name := ShardName(i+1, len(shards))
		if err := writeAtomic(filepath.Join(dir, name), func(w io.Writer) error { return preps[i].write(w, s) }); err != nil {
			return err
		}
		for _, t := range s {
			weightMap[t.Name] = name
		}
	}
	idx := indexJSON(totalParams, totalSize, weightMap)
	return writeAtomic(filepath.Join(dir, IndexFileName), func(w io.Writer) error {
		_, err := w.Write(idx)
		return err
	})
}

// indexJSON renders the index as Python's json.dumps(indent=2, sort_keys=True) + "\n".
func indexJSON(totalParams, totalSize int64, weightMap map[string]string) []byte {
	names := make([]string, 0, len(weightMap))
	for n := range weightMap {
		names = append(names, n)
	}
	sort.Strings(names)
	b := []byte("{\n  \"metadata\": {\n    \"total_parameters\": ")
	b = appendUint(b, totalParams)
	b = append(b, ",\n    \"total_size\": "...)
	b = appendUint(b, totalSize)
	b = append(b, "\n  },\n  \"weight_map\": {"...)
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = appendPythonString(b, n)
		b = append(b, ": "...)
		b = appendPythonString(b, weightMap[n])
	}
	if len(names) > 0 {
		b = append(b, "\n  "...)
	}
	b = append(b, "}\n}\n"...)
	return b
}
