package mla

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mlasimd/mlasimd/safetensors"
	"github.com/stretchr/testify/require"
)

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
		n := len(w.Embed.f32) + len(w.FinalNorm) + len(w.LMHead.f32)
		seen := map[*float32]bool{}
		for _, b := range w.Blocks {
			for _, s := range [][]float32{b.InputNorm, b.PostAttnNorm, b.Gate.f32, b.Up.f32, b.Down.f32, b.Attn.QProj.f32, b.Attn.QAProj.f32, b.Attn.QANorm,
				b.Attn.QBProj.f32, b.Attn.KVAProj.f32, b.Attn.KVANorm, b.Attn.KVANormBias, b.Attn.KVBProj.f32, b.Attn.OProj.f32} {
				if len(s) > 0 && !seen[&s[0]] { // a shared KVAProj counts once
					seen[&s[0]] = true
					n += len(s)
				}
			}
		}
		require.Equal(t, int64(4*n), w.Bytes(), c.Name)
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
	require.NoError(t, safetensors.Write(filepath.Join(parent, "x.safetensors"), nil, nil))
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
	sf, err := safetensors.Open(filepath.Join(dir, gone))
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
	var ck Checkpoint
	require.Empty(t, ck.Names())
	require.Empty(t, ck.Files())
	require.False(t, ck.Has("x"))
	require.Equal(t, Config{}, ck.Config())
	_, err := ck.Tensor("x", 1)
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
	require.ErrorIs(t, ck2.Close(), ErrClosed)
}
