package mla

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/safetensors"
	"github.com/stretchr/testify/require"
)

func TestCheckpointRoundTrip(t *testing.T) {
	c := tinyConfig()
	w, err := RandomModelWeights(c, 3)
	require.NoError(t, err)
	for _, shards := range []int{1, 3} {
		dir := t.TempDir()
		require.NoError(t, WriteCheckpoint(dir, c, w, F32, shards))
		if shards > 1 {
			_, err := os.Stat(filepath.Join(dir, "model.safetensors.index.json"))
			require.NoError(t, err)
		}
		ck, err := OpenCheckpoint(dir)
		require.NoError(t, err)
		require.Equal(t, c.Hidden, ck.Config().Hidden)
		back, err := ck.LoadModel()
		require.NoError(t, err)
		require.Equal(t, w, back)
		l1, err := ck.LoadLayer(1)
		require.NoError(t, err)
		require.Equal(t, w.Blocks[1].Attn, l1)
		_, err = ck.LoadLayer(2)
		require.ErrorContains(t, err, "layer 2 outside [0, 2)")
		require.NoError(t, ck.Close())
	}
}

// TestCheckpointBF16: a bf16 checkpoint loads as the bf16 rounding of the weights.
func TestCheckpointBF16(t *testing.T) {
	c := tinyLiteConfig()
	w, err := RandomModelWeights(c, 4)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, WriteCheckpoint(dir, c, w, BF16, 2))
	ck, err := OpenCheckpoint(dir)
	require.NoError(t, err)
	defer ck.Close()
	l0, err := ck.LoadLayer(0)
	require.NoError(t, err)
	h := make([]uint16, len(w.Blocks[0].Attn.OProj.f32))
	want := make([]float32, len(h))
	mlasimd.F32ToBF16(h, w.Blocks[0].Attn.OProj.f32)
	mlasimd.BF16ToF32(want, h)
	require.Equal(t, FormatBF16, l0.OProj.Format(), "a BF16 checkpoint stays BF16 by default")
	require.Equal(t, want, l0.OProj.Widen())
}

// TestCheckpointSingleFile reads a layer from one safetensors file with a given config.
func TestCheckpointSingleFile(t *testing.T) {
	c := tinyConfig()
	w := testWeights(t, c, 5)
	ts, err := w.Tensors(c, 7, F16)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "layer.safetensors")
	require.NoError(t, safetensors.Write(path, ts, nil))
	ck, err := OpenCheckpointFile(path, c)
	require.NoError(t, err)
	defer ck.Close()
	_, err = ck.LoadLayer(7)
	require.ErrorContains(t, err, "layer 7 outside [0, 2)")
	c.Layers = 0 // layer-only configs do not bound the index
	ck2, err := OpenCheckpointFile(path, c)
	require.NoError(t, err)
	defer ck2.Close()
	got, err := ck2.LoadLayer(7)
	require.NoError(t, err)
	require.NoError(t, got.Check(c))
	gotKVB := got.KVBProj.Widen()
	for i, v := range w.KVBProj.f32 {
		require.InDelta(t, v, gotKVB[i], 0x1p-11*math.Abs(float64(v))+0x1p-25)
	}
}

// e4m3Value is the FP8 E4M3 definition, independent of the package's table.
func e4m3Value(b byte) float64 {
	s, e, m := b>>7, int(b>>3)&15, float64(b&7)
	v := math.Ldexp(1+m/8, e-7)
	if e == 0 {
		v = math.Ldexp(m/8, -6)
	}
	if s == 1 {
		v = -v
	}
	return v
}

// TestCheckpointFP8: DeepSeek-V3-style F8_E4M3 weights with weight_scale_inv block
// scales, with a block size (from quantization_config) that leaves partial edge
// blocks, dequantize to w[i][j] = fp8(w[i][j]) · scale_inv[i/bs][j/bs].
func TestCheckpointFP8(t *testing.T) {
	c := tinyConfig()
	const bs = 16
	rng := rand.New(rand.NewPCG(8, 8))
	var tensors []safetensors.Tensor
	want := map[string][]float32{}
	for _, s := range layerTensorSpecs(c) {
		name := layerPrefix(0) + s.name
		if s.cols == 0 { // norm gains stay bf16, as in the checkpoint
			v := make([]float32, s.rows)
			for i := range v {
				v[i] = 1
			}
			tn, err := safetensors.NewTensor(name, s.shape(), v, BF16)
			require.NoError(t, err)
			tensors = append(tensors, tn)
			want[name] = v
			continue
		}
		raw := make([]byte, s.rows*s.cols)
		for i := range raw {
			raw[i] = byte(rng.IntN(256))
			if raw[i]&0x7f == 0x7f { // not NaN
				raw[i] ^= 1
			}
		}
		sr, sc := (s.rows+bs-1)/bs, (s.cols+bs-1)/bs
		scale := make([]float32, sr*sc)
		for i := range scale {
			scale[i] = float32(math.Ldexp(1+rng.Float64(), -10))
		}
		dq := make([]float32, len(raw))
		for i := range s.rows {
			for j := range s.cols {
				dq[i*s.cols+j] = float32(e4m3Value(raw[i*s.cols+j]) * float64(scale[(i/bs)*sc+j/bs]))
			}
		}
		want[name] = dq
		st, err := safetensors.NewTensor(name+"_scale_inv", []int{sr, sc}, scale, F32)
		require.NoError(t, err)
		tensors = append(tensors, safetensors.Tensor{Name: name, DType: safetensors.F8E4M3, Shape: s.shape(), Data: raw}, st)
	}
	dir := writeRawCheckpoint(t, c, tensors, `{"quant_method": "fp8", "weight_block_size": [16, 16]}`)
	ck, err := OpenCheckpoint(dir)
	require.NoError(t, err)
	defer ck.Close()
	got, err := ck.LoadLayer(0)
	require.NoError(t, err)
	for _, s := range layerTensorSpecs(c) {
		if s.mat != nil {
			require.Equal(t, FormatFP8, s.mat(got).Format(), "FP8 stays FP8 by default")
			require.Equal(t, want[layerPrefix(0)+s.name], s.mat(got).Widen(), s.name)
		} else {
			require.Equal(t, want[layerPrefix(0)+s.name], *s.vec(got), s.name)
		}
	}
	// The loaded layer runs.
	l := testLayer(t, c, got, false)
	k := newTestCache(t, c, F32, 0)
	out := make([]float32, c.Hidden)
	require.NoError(t, l.Decode(out, randomInputs(1, c.Hidden, 1), k))

	// A wrong scale shape and a missing scale are errors naming the tensor.
	var broken []safetensors.Tensor
	for _, tn := range tensors {
		switch tn.Name {
		case layerPrefix(0) + "o_proj.weight_scale_inv":
			tn.Shape, tn.Data = []int{1, 1}, tn.Data[:4]
		case layerPrefix(0) + "kv_b_proj.weight_scale_inv":
			continue
		}
		broken = append(broken, tn)
	}
	ck2, err := OpenCheckpoint(writeRawCheckpoint(t, c, broken, `{"weight_block_size": [16, 16]}`))
	require.NoError(t, err)
	defer ck2.Close()
	_, err = ck2.LoadLayer(0)
	require.ErrorContains(t, err, "o_proj.weight_scale_inv: scale shape [1 1], want [4 4]")
	require.ErrorContains(t, err, "kv_b_proj.weight is F8_E4M3 but its block scales model.layers.0.self_attn.kv_b_proj.weight_scale_inv are missing")
}

// writeRawCheckpoint writes config.json (with the given quantization_config) and one
// model.safetensors holding tensors.
func writeRawCheckpoint(t *testing.T, c Config, tensors []safetensors.Tensor, quant string) string {
	dir := t.TempDir()
	js, err := MarshalHFConfig(c)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(js, &m))
	if quant != "" {
		var q any
		require.NoError(t, json.Unmarshal([]byte(quant), &q))
		m["quantization_config"] = q
	}
	js, err = json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644))
	require.NoError(t, safetensors.Write(filepath.Join(dir, "model.safetensors"), tensors, nil))
	return dir
}

// TestCheckpointErrors: missing and mis-shaped tensors, hostile indexes, MoE layers
// and missing files all name what is wrong and where.
func TestCheckpointErrors(t *testing.T) {
	c := tinyConfig()
	w := testWeights(t, c, 1)
	ts, err := w.Tensors(c, 0, F32)
	require.NoError(t, err)

	// Missing q_b_proj and a kv_b_proj of the wrong shape: both reported.
	var bad []safetensors.Tensor
	for _, tn := range ts {
		switch {
		case strings.HasSuffix(tn.Name, "q_b_proj.weight"):
			continue
		case strings.HasSuffix(tn.Name, "kv_b_proj.weight"):
			tn.Shape = []int{tn.Shape[1], tn.Shape[0]}
		}
		bad = append(bad, tn)
	}
	dir := writeRawCheckpoint(t, c, bad, "")
	ck, err := OpenCheckpoint(dir)
	require.NoError(t, err)
	_, err = ck.LoadLayer(0)
	require.ErrorContains(t, err, "tensor model.layers.0.self_attn.q_b_proj.weight not found")
	require.ErrorContains(t, err, "model.safetensors: tensor model.layers.0.self_attn.kv_b_proj.weight has shape [32 128] (F32), want [128 32]")
	_, err = ck.LoadModel()
	require.ErrorContains(t, err, "model.safetensors: the config has 2 layers (num_hidden_layers), but the checkpoint holds tensors of layer 0 only (1 missing, the first is layer 1)")
	ck.Close()

	// An index that points outside the model directory is refused.
	dir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), mustConfigJSON(t, c), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"),
		[]byte(`{"weight_map": {"model.embed_tokens.weight": "../../etc/passwd.safetensors"}}`), 0o644))
	_, err = OpenCheckpoint(dir)
	require.ErrorContains(t, err, `maps to "../../etc/passwd.safetensors", which is not a .safetensors file name inside the model directory`)

	// An index entry whose shard lacks the tensor, and a shard that does not exist.
	require.NoError(t, safetensors.Write(filepath.Join(dir, "a.safetensors"), ts[:1], nil))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"),
		[]byte(`{"weight_map": {"`+ts[1].Name+`": "a.safetensors", "`+ts[2].Name+`": "b.safetensors"}}`), 0o644))
	ck, err = OpenCheckpoint(dir)
	require.NoError(t, err)
	_, err = ck.Tensor(ts[1].Name, ts[1].Shape...)
	require.ErrorContains(t, err, "a.safetensors: the index places tensor "+ts[1].Name+" in this file, but it is not there")
	_, err = ck.Tensor(ts[2].Name, ts[2].Shape...)
	require.ErrorContains(t, err, "shard b.safetensors, listed in model.safetensors.index.json, is missing: file does not exist (needed for tensor "+ts[2].Name+")")
	ck.Close()

	// Bad index JSON, no weights, no config.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": 3`), 0o644))
	_, err = OpenCheckpoint(dir)
	require.ErrorContains(t, err, "model.safetensors.index.json")
	empty := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(empty, "config.json"), mustConfigJSON(t, c), 0o644))
	_, err = OpenCheckpoint(empty)
	require.ErrorContains(t, err, "neither model.safetensors.index.json nor model.safetensors")
	_, err = OpenCheckpoint(t.TempDir())
	require.ErrorContains(t, err, "needs config.json")

	// A mixture-of-experts layer is named as such.
	mw, err := RandomModelWeights(c, 2)
	require.NoError(t, err)
	all, err := mw.Tensors(c, F32)
	require.NoError(t, err)
	var moe []safetensors.Tensor
	for _, tn := range all {
		if strings.HasPrefix(tn.Name, "model.layers.1.mlp.") {
			tn.Name = strings.Replace(tn.Name, "mlp.", "mlp.experts.0.", 1)
		}
		moe = append(moe, tn)
	}
	ck, err = OpenCheckpoint(writeRawCheckpoint(t, c, moe, ""))
	require.NoError(t, err)
	_, err = ck.LoadModel()
	require.ErrorContains(t, err, "layer 1 is a mixture-of-experts layer")
	ck.Close()
}

func mustConfigJSON(t *testing.T, c Config) []byte {
	js, err := MarshalHFConfig(c)
	require.NoError(t, err)
	return js
}
