package safetensors

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tensorOfSize makes an F32 tensor of n bytes (n a multiple of 4) whose
// values identify it.
func tensorOfSize(name string, n int, seed float32) Tensor {
	v := make([]float32, n/4)
	for i := range v {
		v[i] = seed + float32(i)
	}
	return F32Tensor(name, []int{len(v)}, v)
}

func TestWriteShardedSplitsLikeHuggingFace(t *testing.T) {
	// huggingface_hub's docstring example: limit 10, sizes [6,6,2,6,2,2] ->
	// shards [6], [6+2], [6+2+2].
	dir := t.TempDir()
	var ts []Tensor
	for i, s := range []int{6, 6, 2, 6, 2, 2} {
		ts = append(ts, tensorOfSize(string(rune('a'+i)), 4*s, float32(10*i)))
	}
	meta := map[string]string{"format": "pt"}
	if err := WriteSharded(dir, ts, meta, 40); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"model-00001-of-00003.safetensors": {"a"},
		"model-00002-of-00003.safetensors": {"b", "c"},
		"model-00003-of-00003.safetensors": {"d", "e", "f"},
	}
	for shard, names := range want {
		f, err := Open(filepath.Join(dir, shard))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Names(); strings.Join(got, ",") != strings.Join(names, ",") {
			t.Errorf("%s holds %v, want %v", shard, got, names)
		}
		if f.Metadata()["format"] != "pt" {
			t.Errorf("%s metadata %v", shard, f.Metadata())
		}
		f.Close()
	}
	idx, err := os.ReadFile(filepath.Join(dir, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	// Python: json.dumps(index, indent=2, sort_keys=True) + "\n"
	wantIdx := `{
  "metadata": {
    "total_parameters": 24,
    "total_size": 96
  },
  "weight_map": {
    "a": "model-00001-of-00003.safetensors",
    "b": "model-00002-of-00003.safetensors",
    "c": "model-00002-of-00003.safetensors",
    "d": "model-00003-of-00003.safetensors",
    "e": "model-00003-of-00003.safetensors",
    "f": "model-00003-of-00003.safetensors"
  }
}
`
	if string(idx) != wantIdx {
		t.Fatalf("index:\n%s\nwant:\n%s", idx, wantIdx)
	}

	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.IndexPath() == "" || len(c.Files()) != 3 {
		t.Fatalf("index %q files %v", c.IndexPath(), c.Files())
	}
	if got := c.Names(); strings.Join(got, ",") != "a,b,c,d,e,f" || c.Len() != 6 {
		t.Fatalf("names %v", got)
	}
	for _, tt := range ts {
		b, err := c.Bytes(tt.Name)
		if err != nil || !bytes.Equal(b, tt.Data) {
			t.Fatalf("%s: %v", tt.Name, err)
		}
		v, err := c.Float32(tt.Name)
		if err != nil || v[0] != float32(10*(tt.Name[0]-'a')) {
			t.Fatalf("%s: %v %v", tt.Name, v, err)
		}
		info, ok := c.Info(tt.Name)
		if !ok || info.DType != F32 {
			t.Fatalf("%s: info %+v", tt.Name, info)
		}
		if s, _ := c.Shard(tt.Name); filepath.Base(s) == "" {
			t.Fatal("no shard")
		}
		if got, err := c.Tensor(tt.Name); err != nil || !bytes.Equal(got.Data, tt.Data) {
			t.Fatalf("%s: Tensor %v", tt.Name, err)
		}
	}
	if c.Metadata()["format"] != "pt" {
		t.Fatalf("metadata %v", c.Metadata())
	}
	if _, err := c.Bytes("zz"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `tensor "zz"`) {
		t.Fatalf("missing tensor: %v", err)
	}
	// Opening the index file directly works too.
	c2, err := OpenCheckpoint(filepath.Join(dir, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
}

func TestWriteShardedOversizedTensor(t *testing.T) {
	// A tensor above the limit gets its own shard, appended before the shard
	// being filled (huggingface_hub's order).
	dir := t.TempDir()
	ts := []Tensor{tensorOfSize("x", 16, 0), tensorOfSize("big", 80, 1), tensorOfSize("y", 16, 2)}
	if err := WriteSharded(dir, ts, nil, 40); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for name, shard := range map[string]string{"big": ShardName(1, 2), "x": ShardName(2, 2), "y": ShardName(2, 2)} {
		if s, _ := c.Shard(name); filepath.Base(s) != shard {
			t.Errorf("%s in %s, want %s", name, s, shard)
		}
	}
}

func TestWriteShardedSingle(t *testing.T) {
	dir := t.TempDir()
	ts := []Tensor{tensorOfSize("a", 8, 0), tensorOfSize("b", 8, 1)}
	if err := WriteSharded(dir, ts, nil, 1<<20); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != SingleFileName {
		t.Fatalf("wrote %v", entries)
	}
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.IndexPath() != "" || c.Len() != 2 {
		t.Fatalf("index %q len %d", c.IndexPath(), c.Len())
	}
	// A bad tensor in a later shard: nothing at all is written.
	dir2 := t.TempDir()
	bad := []Tensor{tensorOfSize("a", 8, 0), {Name: "b", DType: F32, Shape: []int{5}, Data: make([]byte, 8)}}
	if err := WriteSharded(dir2, bad, nil, 8); err == nil || !strings.Contains(err.Error(), `tensor "b"`) {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir2); len(entries) != 0 {
		t.Fatalf("a failed WriteSharded left %d files", len(entries))
	}
	if err := WriteSharded(dir2, []Tensor{tensorOfSize("a", 8, 0), tensorOfSize("a", 8, 0)}, nil, 8); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("duplicate names: %v", err)
	}
}

func TestOpenCheckpointLayouts(t *testing.T) {
	write := func(t *testing.T, path string, ts ...Tensor) {
		t.Helper()
		if err := WriteFile(path, ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("single file path", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "weights.safetensors")
		write(t, p, tensorOfSize("w", 4, 0))
		c, err := OpenCheckpoint(p)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.Len() != 1 {
			t.Fatal(c.Names())
		}
	})
	t.Run("lone safetensors in dir", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "adapter_model.safetensors"), tensorOfSize("w", 4, 0))
		c, err := OpenCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	t.Run("model.safetensors preferred over index", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, SingleFileName), tensorOfSize("single", 4, 0))
		os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":{"x":"missing.safetensors"}}`), 0o644)
		c, err := OpenCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if n := c.Names(); len(n) != 1 || n[0] != "single" {
			t.Fatal(n)
		}
	})
	t.Run("other index name", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "s1.safetensors"), tensorOfSize("a", 4, 0))
		write(t, filepath.Join(dir, "s2.safetensors"), tensorOfSize("b", 4, 0), tensorOfSize("extra", 4, 0))
		os.WriteFile(filepath.Join(dir, "diffusion_pytorch_model.safetensors.index.json"),
			[]byte(`{"metadata":{"total_size":8},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`), 0o644)
		c, err := OpenCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := strings.Join(c.Names(), ","); got != "a,b,extra" {
			t.Fatalf("names %s", got)
		}
	})
	t.Run("metadata from first shard", func(t *testing.T) {
		dir := t.TempDir()
		WriteFile(filepath.Join(dir, "s1.safetensors"), []Tensor{tensorOfSize("a", 4, 0)}, map[string]string{"format": "pt"})
		WriteFile(filepath.Join(dir, "s2.safetensors"), []Tensor{tensorOfSize("b", 4, 0)}, map[string]string{"format": "other"})
		os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`), 0o644)
		c, err := OpenCheckpoint(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.Metadata()["format"] != "pt" {
			t.Fatal(c.Metadata())
		}
	})
}

func TestOpenCheckpointErrors(t *testing.T) {
	type setup func(t *testing.T, dir string)
	shard := func(name string, tensors ...string) setup {
		return func(t *testing.T, dir string) {
			var ts []Tensor
			for i, n := range tensors {
				ts = append(ts, tensorOfSize(n, 4, float32(i)))
			}
			if err := WriteFile(filepath.Join(dir, name), ts, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	index := func(js string) setup {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, IndexFileName), []byte(js), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw := func(name, content string) setup {
		return func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644) }
	}
	cases := []struct {
		name  string
		setup []setup
		kind  error // nil: only check the message
		want  []string
	}{
		{"empty dir", nil, nil, []string{"no model.safetensors, model.safetensors.index.json or other *.safetensors file"}},
		{"two loose files", []setup{shard("a.safetensors", "x"), shard("b.safetensors", "y")}, nil, []string{"2 *.safetensors files", "a.safetensors", "b.safetensors"}},
		{"two indexes", []setup{raw("a.safetensors.index.json", "{}"), raw("b.safetensors.index.json", "{}")}, nil, []string{"2 candidate index files"}},
		{"index not JSON", []setup{index(`{"weight_map":`)}, ErrIndex, []string{IndexFileName, "index: invalid JSON"}},
		{"index weight_map wrong type", []setup{index(`{"weight_map":{"a":1}}`)}, ErrIndex, []string{"invalid JSON"}},
		{"index without weight_map", []setup{index(`{"metadata":{}}`)}, ErrIndex, []string{"weight_map is missing"}},
		{"missing shard", []setup{shard("model-00001-of-00002.safetensors", "a"), index(`{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`)},
			ErrIndex, []string{`tensor "b"`, `weight_map names shard "model-00002-of-00002.safetensors" (for 1 tensors), which does not exist`}},
		{"tensor missing from its shard", []setup{shard("s1.safetensors", "a"), shard("s2.safetensors", "b"), index(`{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}}`)},
			ErrIndex, []string{`tensor "b"`, `weight_map places the tensor in shard "s1.safetensors", which does not hold it`}},
		{"tensor in two shards", []setup{shard("s1.safetensors", "a", "b"), shard("s2.safetensors", "b"), index(`{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`)},
			ErrDuplicate, []string{`tensor "b"`, "held by two shards, s1.safetensors and s2.safetensors"}},
		{"shard path traversal", []setup{index(`{"weight_map":{"a":"../evil.safetensors"}}`)}, ErrIndex, []string{`tensor "a"`, "not a plain file name"}},
		{"absolute shard path", []setup{index(`{"weight_map":{"a":"/etc/passwd"}}`)}, ErrIndex, []string{"not a plain file name"}},
		{"corrupt shard", []setup{raw("s1.safetensors", "\x02\x00\x00\x00\x00\x00\x00\x00{}x"), index(`{"weight_map":{"a":"s1.safetensors"}}`)},
			ErrIncompleteBuffer, []string{"s1.safetensors", "trailing bytes"}},
		{"corrupt single file", []setup{raw(SingleFileName, "xx")}, ErrHeaderTooSmall, []string{SingleFileName}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, s := range c.setup {
				s(t, dir)
			}
			ck, err := OpenCheckpoint(dir)
			if err == nil {
				ck.Close()
				t.Fatal("no error")
			}
			if c.kind != nil && !errors.Is(err, c.kind) {
				t.Errorf("error %q is not %v", err, c.kind)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := OpenCheckpoint(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("OpenCheckpoint of a missing path succeeded")
	}
}
