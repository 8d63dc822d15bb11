package mla

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readST parses a safetensors image named h.safetensors.
func readST(file []byte) (*SafetensorsFile, error) {
	return ReadSafetensors(bytes.NewReader(file), int64(len(file)), "h.safetensors")
}

// f32Entry is a header entry of an F32 vector over data bytes [b, e).
func f32Entry(name string, b, e int) string {
	return fmt.Sprintf(`%q:{"dtype":"F32","shape":[%d],"data_offsets":[%d,%d]}`, name, (e-b)/4, b, e)
}

func jsonObj(members ...string) string { return "{" + strings.Join(members, ",") + "}" }

// TestSafetensorsTiling: sorted by offset, the tensors must cover the data exactly,
// as the reference implementation requires; any header order is fine.
func TestSafetensorsTiling(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		data         int
		want         string
	}{
		{"gap", jsonObj(f32Entry("a", 0, 4), f32Entry("b", 8, 12)), 12,
			`4 bytes of data between tensors "a" (ends at byte 4) and "b" (begins at byte 8) belong to no tensor`},
		{"leading bytes", jsonObj(f32Entry("a", 4, 8)), 8,
			`the data begins with 4 bytes that no tensor holds: the first tensor, "a", begins at byte 4`},
		{"trailing bytes", jsonObj(f32Entry("a", 0, 4)), 8,
			"the tensors end at byte 4 of the 8 bytes of data: 4 trailing bytes belong to no tensor"},
		{"data but no tensors", "{}", 4, "the tensors end at byte 0 of the 4 bytes of data: 4 trailing bytes"},
		{"overlap", jsonObj(f32Entry("a", 0, 8), f32Entry("b", 4, 8)), 8, `tensors "a" and "b" overlap (bytes [0, 8) and [4, 8) of the data)`},
		{"same bytes", jsonObj(f32Entry("a", 0, 4), f32Entry("b", 0, 4)), 4, `tensors "a" and "b" overlap`},
		{"empty tensor inside another", jsonObj(f32Entry("a", 0, 8), `"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}`), 8, `tensors "a" and "z" overlap`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readST(stFile(tc.header, make([]byte, tc.data)))
			require.ErrorContains(t, err, "mla: safetensors h.safetensors: "+tc.want)
		})
	}
	ok := jsonObj(f32Entry("b", 4, 8), `"e":{"dtype":"BF16","shape":[5,0],"data_offsets":[8,8]}`,
		f32Entry("a", 0, 4), `"z":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`)
	sf, err := readST(stFile(ok, make([]byte, 8)))
	require.NoError(t, err)
	require.Equal(t, []string{"z", "a", "b", "e"}, sf.Names())
	e, _ := sf.Info("e")
	require.Equal(t, TensorInfo{Name: "e", DType: BF16, Shape: []int{5, 0}, Offset: 8 + 8 + int64(len(ok)), Size: 0}, e)
}

// TestSafetensorsStrictKeys: keys match exactly and never repeat, at any level;
// the header is valid UTF-8.
func TestSafetensorsStrictKeys(t *testing.T) {
	const w = `"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`
	for _, tc := range []struct{ name, header, want string }{
		{"case-variant key", `{"w":{"DType":"F32","shape":[1],"data_offsets":[0,4]}}`,
			`tensor "w": key "DType" is not "dtype": keys are case-sensitive`},
		{"case-variant beside the key", `{"w":{"dtype":"F32","Shape":[2],"shape":[1],"data_offsets":[0,4]}}`,
			`tensor "w": key "Shape" is not "shape"`},
		{"Unicode case folding", `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"data_offſets":[0,8]}}`,
			`key "data_offſets" is not "data_offsets"`},
		{"duplicate field", `{"w":{"dtype":"F16","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
			`tensor "w": key "dtype" appears twice`},
		{"duplicate tensor, one escaped", `{` + w + `,"\u0077":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
			`tensor "w" appears twice`},
		{"duplicate metadata key", `{"__metadata__":{"a":"1","a":"2"},` + w + `}`, `key "a" appears twice`},
		{"metadata twice", `{"__metadata__":{},"__metadata__":null,` + w + `}`, "__metadata__ appears twice"},
		{"duplicate inside an unknown field", `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":{"k":1,"k":2}}}`,
			`tensor "w": x: key "k" appears twice`},
		{"missing field", `{"w":{"dtype":"F32","shape":[1]}}`, `tensor "w": no "data_offsets"`},
		{"fractional dimension", `{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}`,
			`tensor "w": shape: dimension 0: 1.0 is not a non-negative integer`},
		{"invalid UTF-8 in a name", "{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
			"header is not valid UTF-8 (first invalid byte at offset 3)"},
		{"invalid UTF-8 in metadata", "{\"__metadata__\":{\"k\":\"\xc3\"}," + w + "}", "header is not valid UTF-8"},
		{"lone surrogate", `{"w\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, `lone UTF-16 surrogate`},
		{"NUL padding", "{" + w + "}\x00\x00", "bad header JSON: at byte 54: data after the JSON value"},
		{"trailing comma", "{" + w + ",}", "bad header JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readST(stFile(tc.header, make([]byte, 4)))
			require.ErrorContains(t, err, "mla: safetensors h.safetensors: ")
			require.ErrorContains(t, err, tc.want)
		})
	}
	// Unknown keys are skipped, as the reference implementation skips them.
	sf, err := readST(stFile(`{"w":{"note":{"any":[1,"x",null,{}]},"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":null}`, make([]byte, 4)))
	require.NoError(t, err)
	require.Equal(t, []string{"w"}, sf.Names())
	require.Nil(t, sf.Metadata())
}

// TestSafetensorsLimits: tensor count, rank, dimension, metadata and nesting limits.
func TestSafetensorsLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range maxTensors + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"t%d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`, i)
	}
	b.WriteString("}")
	_, err := readST(stFile(b.String(), nil))
	require.ErrorContains(t, err, "h.safetensors: more than 131072 tensors, this reader's limit")

	b.Reset()
	b.WriteString(`{"__metadata__":{`)
	for i := range maxMetadataEntries + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":""`, i)
	}
	b.WriteString("}}")
	_, err = readST(stFile(b.String(), nil))
	require.ErrorContains(t, err, "h.safetensors: __metadata__ has more than 16384 entries")

	for _, tc := range []struct{ name, header, want string }{
		{"rank", `{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}`,
			`tensor "w": shape: more than 8 dimensions, this reader's limit`},
		{"dimension of an empty tensor", `{"w":{"dtype":"F32","shape":[0,1099511627777],"data_offsets":[0,0]}}`,
			`tensor "w": shape: dimension 1: 1099511627777 is over the limit of 1099511627776`},
		{"offset past uint64", `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}`,
			`tensor "w": data_offsets: 18446744073709551616 is out of range`},
		{"nesting", `{"w":{"x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}}`, "nested deeper than 16 levels"},
	} {
		_, err := readST(stFile(tc.header, make([]byte, 4)))
		require.ErrorContains(t, err, tc.want, tc.name)
	}
}

// TestReadFloat32Allocates: converting a tensor allocates its float32 result and a
// bounded staging buffer, nothing more.
func TestReadFloat32Allocates(t *testing.T) {
	const n = 1 << 20
	var buf bytes.Buffer
	for _, dt := range []DType{BF16, F32} {
		buf.Reset()
		tn, err := NewTensor("w", []int{n}, make([]float32, n), dt)
		require.NoError(t, err)
		require.NoError(t, EncodeSafetensors(&buf, []Tensor{tn}, nil))
		sf, err := readST(buf.Bytes())
		require.NoError(t, err)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v, _, err := sf.ReadFloat32("w")
		runtime.ReadMemStats(&after)
		require.NoError(t, err)
		require.Len(t, v, n)
		require.LessOrEqual(t, after.TotalAlloc-before.TotalAlloc, uint64(4*n+readChunkBytes+1<<16), dt)
	}
}

// TestWriterCheckedSizes: the writer computes shape products and byte sizes with
// overflow checks and refuses what a reader would refuse, before writing anything.
func TestWriterCheckedSizes(t *testing.T) {
	_, err := NewTensor("x", []int{1 << 32, 1 << 32}, nil, F32)
	require.ErrorContains(t, err, `mla: tensor "x": shape [4294967296 4294967296] has a negative dimension or more elements than an int can count`)
	_, err = NewTensor("x", []int{-1, -1}, []float32{1}, F32)
	require.ErrorContains(t, err, "has a negative dimension")

	var b bytes.Buffer
	for _, tc := range []struct {
		name     string
		tensors  []Tensor
		metadata map[string]string
		want     string
	}{
		{"wrapping shape", []Tensor{{Name: "x", DType: F32, Shape: []int{1 << 40, 1 << 40}}}, nil,
			`mla: safetensors: tensor "x": F32 shape [1099511627776 1099511627776] overflows`},
		{"wrapping byte size", []Tensor{{Name: "x", DType: F64, Shape: []int{1 << 31, 1 << 30, 1 << 2}}}, nil,
			`tensor "x": F64 shape [2147483648 1073741824 4] overflows`},
		{"negative pair", []Tensor{{Name: "x", DType: U8, Shape: []int{-1, -1}, Data: []byte{0}}}, nil, `tensor "x": negative dimension`},
		{"dimension", []Tensor{{Name: "x", DType: U8, Shape: []int{0, 1<<40 + 1}}}, nil, "is over the limit of 1099511627776"},
		{"rank", []Tensor{{Name: "x", DType: U8, Shape: []int{1, 1, 1, 1, 1, 1, 1, 1, 1}, Data: []byte{0}}}, nil, "more than 8 dimensions"},
		{"zero Tensor", []Tensor{{}}, nil, `invalid tensor name ""`},
		{"invalid dtype", []Tensor{{Name: "x", DType: DType(99)}}, nil, `tensor "x": invalid dtype DType(99)`},
		{"invalid UTF-8 name", []Tensor{{Name: "x\xff", DType: U8, Shape: []int{0}}}, nil, "invalid tensor name"},
		{"invalid UTF-8 metadata", nil, map[string]string{"k": "v\xff"}, `metadata "k": keys and values must be valid UTF-8`},
	} {
		b.Reset()
		err := EncodeSafetensors(&b, tc.tensors, tc.metadata)
		require.ErrorContains(t, err, tc.want, tc.name)
		require.Zero(t, b.Len(), tc.name)
	}
	// The header keeps the tensors' order, so a file reads back as written.
	var ts []Tensor
	for _, name := range []string{"z", "b", "a"} {
		ts = append(ts, Tensor{Name: name, DType: U8, Shape: []int{0}})
	}
	require.NoError(t, EncodeSafetensors(&b, ts, map[string]string{"format": "pt"}))
	sf, err := readST(b.Bytes())
	require.NoError(t, err)
	require.Equal(t, []string{"z", "b", "a"}, sf.Names())
}

func TestTensorInfoNumel(t *testing.T) {
	require.Equal(t, 1, TensorInfo{}.Numel())
	require.Equal(t, 0, TensorInfo{Shape: []int{0, 5}}.Numel())
	require.Equal(t, 6, TensorInfo{Shape: []int{2, 3}}.Numel())
	require.Equal(t, -1, TensorInfo{Shape: []int{1 << 32, 1 << 32}}.Numel(), "wraps to 0 unchecked")
	require.Equal(t, -1, TensorInfo{Shape: []int{-2, -3}}.Numel(), "is 6 unchecked")
}

// writeConfigJSON replaces dir's config.json with c's.
func writeConfigJSON(t *testing.T, dir string, c Config) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), mustConfigJSON(t, c), 0o644))
}

// TestFootprint: Footprint's layer size is AttentionParams in float32, its model size
// what RandomModelWeights allocates, and it refuses wrapping sizes.
func TestFootprint(t *testing.T) {
	for _, c := range []Config{DeepSeekV2Lite(), DeepSeekV2(), DeepSeekV3(), Seed(64, 4, 8), tinyConfig(), tinyLiteConfig()} {
		fp, err := c.Footprint()
		require.NoError(t, err)
		require.Equal(t, 4*c.AttentionParams(), fp.LayerWeightBytes, c.Name)
		require.Equal(t, int64(4*c.CacheRowWidth()*c.Layers), fp.CacheBytesPerToken, c.Name)
	}
	for _, c := range []Config{tinyConfig(), func() Config { c := Seed(64, 4, 8); c.SharedKVDown = true; return c }()} {
		w, err := RandomModelWeights(c, 1)
		require.NoError(t, err)
		n := len(w.Embed) + len(w.FinalNorm) + len(w.LMHead)
		seen := map[*float32]bool{}
		for _, b := range w.Blocks {
			for _, s := range [][]float32{b.InputNorm, b.PostAttnNorm, b.Gate, b.Up, b.Down, b.Attn.QProj, b.Attn.QAProj, b.Attn.QANorm,
				b.Attn.QBProj, b.Attn.KVAProj, b.Attn.KVANorm, b.Attn.KVANormBias, b.Attn.KVBProj, b.Attn.OProj} {
				if len(s) > 0 && !seen[&s[0]] { // a shared KVAProj counts once
					seen[&s[0]] = true
					n += len(s)
				}
			}
		}
		fp, err := c.Footprint()
		require.NoError(t, err)
		require.Equal(t, int64(4*n), fp.ModelWeightBytes, c.Name)
	}
	c := DeepSeekV3()
	c.Heads, c.QKNopeHeadDim = 1<<40, 1<<40
	_, err := c.Footprint()
	require.ErrorContains(t, err, `mla: config "DeepSeek-V3": its weight or cache size overflows an int`)
}

// TestCheckpointMemoryLimit: a config that implies more float32 weights than the
// limit is refused with the size it would take, and loads once the limit is raised.
func TestCheckpointMemoryLimit(t *testing.T) {
	c := tinyConfig()
	w, err := RandomModelWeights(c, 3)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, WriteCheckpoint(dir, c, w, BF16, 1))
	fp, err := c.Footprint()
	require.NoError(t, err)

	_, err = OpenCheckpoint(dir, WithMemoryLimit(fp.LayerWeightBytes-1))
	require.ErrorContains(t, err, fmt.Sprintf("config.json: mla: config %q: one layer's attention weights take %d bytes", c.Name, fp.LayerWeightBytes))
	require.ErrorContains(t, err, "raise it with mla.WithMemoryLimit")
	ck, err := OpenCheckpoint(dir, WithMemoryLimit(fp.LayerWeightBytes))
	require.NoError(t, err)
	_, err = ck.LoadLayer(1)
	require.NoError(t, err)
	_, err = ck.LoadModel()
	require.ErrorContains(t, err, fmt.Sprintf("the model's 2 layers take %d bytes", fp.ModelWeightBytes))
	require.NoError(t, ck.Close())
	ck, err = OpenCheckpoint(dir, WithMemoryLimit(fp.ModelWeightBytes))
	require.NoError(t, err)
	_, err = ck.LoadModel()
	require.NoError(t, err)
	require.NoError(t, ck.Close())
	_, err = OpenCheckpoint(dir, WithMemoryLimit(0))
	require.ErrorContains(t, err, "WithMemoryLimit(0): want a positive number of bytes")

	// A config.json implying terabytes is refused by default, before any weight is
	// looked at, and opens with the limit lifted.
	big := c
	big.Hidden, big.Heads, big.QLoRARank, big.QKNopeHeadDim, big.VHeadDim = 1<<17, 1<<12, 0, 1<<12, 1<<12
	fp, err = big.Footprint()
	require.NoError(t, err)
	require.Greater(t, fp.LayerWeightBytes, int64(8<<40))
	writeConfigJSON(t, dir, big)
	_, err = OpenCheckpoint(dir)
	require.ErrorContains(t, err, fmt.Sprintf("one layer's attention weights take %d bytes (%.1f TiB) as float32, over the memory limit of 274877906944 bytes (256.0 GiB)",
		fp.LayerWeightBytes, float64(fp.LayerWeightBytes)/(1<<40)))
	ck, err = OpenCheckpoint(dir, WithMemoryLimit(math.MaxInt64))
	require.NoError(t, err)
	require.NoError(t, ck.Close())
	_, err = OpenCheckpointFile(filepath.Join(dir, "model.safetensors"), big)
	require.ErrorContains(t, err, "over the memory limit")
}

// TestCheckpointLayersBeyondFiles: num_hidden_layers cannot exceed the layers the
// checkpoint holds; LoadModel says so before allocating, and LoadLayer names a layer
// with no tensors.
func TestCheckpointLayersBeyondFiles(t *testing.T) {
	c := tinyConfig()
	w, err := RandomModelWeights(c, 3)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, WriteCheckpoint(dir, c, w, F32, 1))
	c.Layers = 1000
	writeConfigJSON(t, dir, c)
	ck, err := OpenCheckpoint(dir)
	require.NoError(t, err)
	defer ck.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = ck.LoadModel()
	runtime.ReadMemStats(&after)
	require.ErrorContains(t, err, "model.safetensors: the config has 1000 layers (num_hidden_layers), but the checkpoint holds tensors of layers 0 to 1 (998 missing, the first is layer 2)")
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20))
	_, err = ck.LoadLayer(5)
	require.ErrorContains(t, err, "model.safetensors: no tensor of layer 5 (model.layers.5.*): it holds tensors of layers 0 to 1")
	got, err := ck.LoadLayer(1)
	require.NoError(t, err)
	require.Equal(t, w.Blocks[1].Attn, got)
}

// TestShardIndexNames: no index can name a file outside the model directory, and
// its keys are strict.
func TestShardIndexNames(t *testing.T) {
	for _, name := range []string{"../x.safetensors", "/tmp/x.safetensors", `a\u0000b.safetensors`, "sub/x.safetensors",
		"./x.safetensors", "x.bin", ".safetensors", ""} {
		_, err := ParseShardIndex([]byte(`{"weight_map":{"w":"` + name + `"}}`))
		require.ErrorContains(t, err, `weight_map: tensor "w" maps to `, name)
		require.ErrorContains(t, err, "which is not a .safetensors file name inside the model directory", name)
	}
	for _, tc := range []struct{ idx, want string }{
		{`{"weight_map":{"w":"a.safetensors","w":"b.safetensors"}}`, `weight_map: tensor "w" is listed twice`},
		{`{"Weight_Map":{"w":"a.safetensors"}}`, `key "Weight_Map" is not "weight_map"`},
		{`{"weight_map":{"w":"a.safetensors"},"weight_map":{"w":"a.safetensors"}}`, `key "weight_map" appears twice`},
		{`{"metadata":{"total_size":1,"total_size":2},"weight_map":{"w":"a.safetensors"}}`, `metadata: key "total_size" appears twice`},
		{`{"weight_map":{}}`, "empty or missing weight_map"},
		{`{"weight_map":{"w":7}}`, `tensor "w" maps to a number`},
		{`{"weight_map":{"":"a.safetensors"}}`, "a tensor has an empty name"},
	} {
		_, err := ParseShardIndex([]byte(tc.idx))
		require.ErrorContains(t, err, tc.want, tc.idx)
	}
	m, err := ParseShardIndex([]byte(`{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`))
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}, m)

	// OpenCheckpoint refuses an escaping name even when the file it names exists.
	parent := t.TempDir()
	dir := filepath.Join(parent, "model")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, WriteSafetensors(filepath.Join(parent, "x.safetensors"), nil, nil))
	writeConfigJSON(t, dir, tinyConfig())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map":{"w":"../x.safetensors"}}`), 0o644))
	_, err = OpenCheckpoint(dir)
	require.ErrorContains(t, err, `model.safetensors.index.json: weight_map: tensor "w" maps to "../x.safetensors"`)
}

// TestMissingShardReportedOnce: a missing shard is one error that lists the tensors
// it was to hold, not one error per tensor.
func TestMissingShardReportedOnce(t *testing.T) {
	c := tinyConfig()
	w, err := RandomModelWeights(c, 3)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, WriteCheckpoint(dir, c, w, F32, 3))
	const gone = "model-00002-of-00003.safetensors"
	sf, err := OpenSafetensors(filepath.Join(dir, gone))
	require.NoError(t, err)
	held := sf.Names()
	require.NoError(t, sf.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, gone)))

	ck, err := OpenCheckpoint(dir)
	require.NoError(t, err, "a partial download opens")
	defer ck.Close()
	_, err = ck.LoadModel()
	require.Error(t, err)
	require.Equal(t, 1, strings.Count(err.Error(), gone), err.Error())
	require.ErrorContains(t, err, fmt.Sprintf("shard %s, listed in model.safetensors.index.json, is missing: file does not exist (it was to hold %d of the tensors needed: %s, ",
		gone, len(held), held[0]))
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.Equal(t, 1, strings.Count(err.Error(), "\n")+1, "the missing shard is the only error")
}

// TestCheckpointZeroAndClosed: zero values and use after Close return errors.
func TestCheckpointZeroAndClosed(t *testing.T) {
	var sf SafetensorsFile
	require.Empty(t, sf.Names())
	_, ok := sf.Info("x")
	require.False(t, ok)
	require.Nil(t, sf.Metadata())
	_, _, err := sf.ReadFloat32("x")
	require.ErrorContains(t, err, `no tensor "x"`)
	_, err = sf.ReadRaw("x")
	require.Error(t, err)
	require.NoError(t, sf.Close())
	require.ErrorIs(t, sf.Close(), os.ErrClosed)

	var ck Checkpoint
	require.Empty(t, ck.Names())
	require.Empty(t, ck.Files())
	require.False(t, ck.Has("x"))
	require.Equal(t, Config{}, ck.Config())
	_, err = ck.Tensor("x", 1)
	require.ErrorContains(t, err, "the zero Checkpoint holds no tensors")
	_, err = ck.LoadLayer(0)
	require.ErrorContains(t, err, "the zero Checkpoint holds no tensors")
	_, err = ck.LoadModel()
	require.ErrorContains(t, err, "the zero Checkpoint holds no tensors")
	require.NoError(t, ck.Close())
	_, err = ck.LoadLayer(0)
	require.ErrorIs(t, err, os.ErrClosed)

	c := tinyConfig()
	w, err := RandomModelWeights(c, 3)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, WriteCheckpoint(dir, c, w, F32, 2))
	ck2, err := OpenCheckpoint(dir)
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "model-00001-of-00002.safetensors"), filepath.Join(dir, "model-00002-of-00002.safetensors")}, ck2.Files())
	_, err = ck2.LoadLayer(0)
	require.NoError(t, err)
	require.NoError(t, ck2.Close())
	_, err = ck2.LoadLayer(0)
	require.ErrorIs(t, err, os.ErrClosed)
	_, err = ck2.Tensor("model.norm.weight", c.Hidden)
	require.ErrorIs(t, err, os.ErrClosed)
	require.ErrorIs(t, ck2.Close(), os.ErrClosed)

	sf2, err := OpenSafetensors(filepath.Join(dir, "model-00001-of-00002.safetensors"))
	require.NoError(t, err)
	name := sf2.Names()[0]
	require.NoError(t, sf2.Close())
	_, _, err = sf2.ReadFloat32(name)
	require.ErrorIs(t, err, os.ErrClosed)
	require.ErrorContains(t, err, name)
	_, err = sf2.ReadRaw(name)
	require.ErrorIs(t, err, os.ErrClosed)
}
