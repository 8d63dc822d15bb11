package fuzz_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mlasimd/mlasimd/mla"
	"github.com/mlasimd/mlasimd/safetensors"
	"github.com/stretchr/testify/require"
)

// The parser targets feed arbitrary bytes to the checkpoint loaders: a safetensors
// file, a shard index and a config.json. Each must be refused with an error or
// accepted with every documented invariant holding; none may panic, hang or
// allocate past what its input justifies.

// FuzzSafetensors reads the input as a safetensors file: an accepted file has
// tensors that tile its data exactly and read back at their sizes. The same bytes
// also describe random tensors, which must survive safetensors.Encode and
// safetensors.Read unchanged.
func FuzzSafetensors(f *testing.F) {
	for _, s := range parserSeeds()["FuzzSafetensors"] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSafetensors(t, data)
		roundTripSafetensors(t, data)
	})
}

func checkSafetensors(t *testing.T, data []byte) {
	sf, err := safetensors.Read(bytes.NewReader(data), int64(len(data)), "fuzz.safetensors")
	if err != nil {
		require.Contains(t, err.Error(), "safetensors: fuzz.safetensors: ")
		return
	}
	at := 8 + int64(binary.LittleEndian.Uint64(data))
	for _, name := range sf.Names() {
		info, ok := sf.Info(name)
		require.True(t, ok, name)
		n := info.Numel()
		require.GreaterOrEqual(t, n, 0, name)
		require.Equal(t, int64(n)*int64(info.DType.Size()), info.Size, name)
		require.Equal(t, at, info.Offset, "tensor %q does not start where the previous one ends", name)
		at += info.Size
		raw, err := sf.ReadRaw(name)
		require.NoError(t, err)
		require.Equal(t, data[info.Offset:info.Offset+info.Size], raw, name)
		v, shape, err := sf.ReadFloat32(name)
		switch info.DType {
		case safetensors.F32, safetensors.BF16, safetensors.F16, safetensors.F8E4M3:
			require.NoError(t, err)
			require.Len(t, v, n, name)
			require.Equal(t, info.Shape, shape, name)
		default:
			require.ErrorContains(t, err, "fuzz.safetensors")
		}
		bits, err := sf.ReadUint16(name)
		if info.DType == safetensors.BF16 || info.DType == safetensors.F16 {
			require.NoError(t, err)
			require.Len(t, bits, n, name)
			for i, b := range bits { // the stored little-endian words
				require.Equal(t, binary.LittleEndian.Uint16(raw[2*i:]), b, name)
			}
		} else {
			require.ErrorContains(t, err, "not BF16 or F16")
		}
	}
	require.Equal(t, int64(len(data)), at, "the tensors do not end at the end of the file")
	require.NoError(t, sf.Close())
	_, err = sf.ReadRaw("x")
	require.Error(t, err)
}

// nameSuffixes put characters JSON must escape, or that are not ASCII, in names.
var nameSuffixes = []string{"", `"q"`, "é", "<&>", `\`, "\u2028", "\x00", "😀"}

var fuzzDTypes = []safetensors.DType{safetensors.F32, safetensors.BF16, safetensors.F16, safetensors.F8E4M3,
	safetensors.F8E5M2, safetensors.F64, safetensors.I64, safetensors.I32, safetensors.I16, safetensors.I8,
	safetensors.U8, safetensors.U16, safetensors.U32, safetensors.U64, safetensors.Bool}

func roundTripSafetensors(t *testing.T, data []byte) {
	in := input{b: data}
	tensors := make([]safetensors.Tensor, in.intn(6))
	for i := range tensors {
		dt := fuzzDTypes[in.intn(len(fuzzDTypes))]
		shape := make([]int, in.intn(4))
		n := 1
		for j := range shape {
			shape[j] = in.intn(4)
			n *= shape[j]
		}
		raw := make([]byte, n*dt.Size())
		for j := range raw {
			raw[j] = in.byte()
		}
		tensors[i] = safetensors.Tensor{Name: fmt.Sprintf("t%d%s", i, nameSuffixes[in.intn(len(nameSuffixes))]), DType: dt, Shape: shape, Data: raw}
	}
	var meta map[string]string
	if k := in.intn(3); k > 0 {
		meta = map[string]string{"format": "pt", "k" + nameSuffixes[in.intn(len(nameSuffixes))]: strings.Repeat("v", k)}
	}
	var buf bytes.Buffer
	require.NoError(t, safetensors.Encode(&buf, tensors, meta))
	file := buf.Bytes()
	require.Zero(t, binary.LittleEndian.Uint64(file)%8, "the header is padded to 8 bytes")
	sf, err := safetensors.Read(bytes.NewReader(file), int64(len(file)), "rt.safetensors")
	require.NoError(t, err)
	names := make([]string, len(tensors))
	for i, tn := range tensors {
		names[i] = tn.Name
		info, ok := sf.Info(tn.Name)
		require.True(t, ok, tn.Name)
		require.Equal(t, tn.DType, info.DType, tn.Name)
		require.True(t, slices.Equal(tn.Shape, info.Shape), "%q: shape %v, wrote %v", tn.Name, info.Shape, tn.Shape)
		raw, err := sf.ReadRaw(tn.Name)
		require.NoError(t, err)
		require.True(t, bytes.Equal(tn.Data, raw), tn.Name)
	}
	require.True(t, slices.Equal(names, sf.Names()), "file order %q, written %q", sf.Names(), names)
	if meta == nil {
		require.Nil(t, sf.Metadata())
	} else {
		require.Equal(t, meta, sf.Metadata())
	}
	checkSafetensors(t, file)
}

// indexFixture is a tiny model directory's config.json and single shard, which the
// fuzzed model.safetensors.index.json describes (or not).
type indexFixture struct {
	cfg        mla.Config
	configJSON []byte
	shard      []byte
	want       *mla.LayerWeights // layer 0 as the shard stores it
}

const fixtureShard = "model-00001-of-00001.safetensors"

var fixture = sync.OnceValues(func() (*indexFixture, error) {
	cfg := mla.DeepSeekV2Lite()
	cfg.Name, cfg.Hidden, cfg.Heads, cfg.Layers = "tiny", 16, 2, 1
	cfg.KVLoRARank, cfg.QKNopeHeadDim, cfg.QKRopeHeadDim, cfg.VHeadDim = 4, 8, 4, 8
	cfg.Vocab, cfg.Intermediate = 8, 8
	js, err := mla.MarshalHFConfig(cfg)
	if err != nil {
		return nil, err
	}
	w, err := mla.RandomLayerWeights(cfg, 1)
	if err != nil {
		return nil, err
	}
	ts, err := w.Tensors(cfg, 0, mla.BF16)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, ts, nil); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fixture")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, fixtureShard)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	ck, err := mla.OpenCheckpointFile(path, cfg)
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	want, err := ck.LoadLayer(0)
	return &indexFixture{cfg: cfg, configJSON: js, shard: buf.Bytes(), want: want}, err
})

// FuzzCheckpointIndex opens a model directory whose model.safetensors.index.json is
// the input: OpenCheckpoint either refuses it, as ParseShardIndex does, or returns a
// checkpoint whose files all lie in the directory and whose layer loads either fail
// with an error or give the shard's weights.
func FuzzCheckpointIndex(f *testing.F) {
	for _, s := range parserSeeds()["FuzzCheckpointIndex"] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, index []byte) {
		fx, err := fixture()
		require.NoError(t, err)
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), fx.configJSON, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, fixtureShard), fx.shard, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), index, 0o644))
		m, perr := mla.ParseShardIndex(index)
		ck, err := mla.OpenCheckpoint(dir)
		if err != nil {
			require.Error(t, perr, "OpenCheckpoint refused an index ParseShardIndex accepts: %v", err)
			require.ErrorContains(t, err, "model.safetensors.index.json")
			return
		}
		require.NoError(t, perr)
		defer func() { require.NoError(t, ck.Close()) }()
		require.Len(t, ck.Names(), len(m))
		for _, p := range ck.Files() {
			require.Equal(t, dir, filepath.Dir(p), "a shard outside the model directory: %q", p)
			require.True(t, strings.HasSuffix(p, ".safetensors"), p)
		}
		w, err := ck.LoadLayer(0)
		if err != nil {
			require.ErrorContains(t, err, "mla: ")
			return
		}
		require.Equal(t, fx.want, w)
	})
}

// FuzzHFConfig parses the input as config.json: an accepted config validates,
// survives MarshalHFConfig, and, when its layer is small, builds and decodes a finite
// token.
func FuzzHFConfig(f *testing.F) {
	for _, s := range parserSeeds()["FuzzHFConfig"] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := mla.ParseHFConfig(data)
		if err != nil {
			require.ErrorContains(t, err, "mla: config")
			return
		}
		require.NoError(t, cfg.Validate())
		fp, err := cfg.Footprint()
		require.NoError(t, err)
		js, err := mla.MarshalHFConfig(cfg)
		require.NoError(t, err)
		back, err := mla.ParseHFConfig(js)
		require.NoError(t, err)
		require.Equal(t, cfg, back)
		if fp.LayerWeightBytes > 1<<20 {
			return
		}
		w, err := mla.RandomLayerWeights(cfg, 1)
		require.NoError(t, err)
		layer, err := mla.NewLayer(cfg, w, mla.WithWorkers(1))
		require.NoError(t, err)
		defer layer.Close()
		cache, err := layer.NewCache(mla.CacheOptions{})
		require.NoError(t, err)
		x := make([]float32, cfg.Hidden)
		for i := range x {
			x[i] = float32(math.Sin(float64(i) + 0.5))
		}
		out := make([]float32, cfg.Hidden)
		require.NoError(t, layer.Decode(out, x, cache))
		for i, v := range out {
			require.False(t, math.IsNaN(float64(v)) || math.IsInf(float64(v), 0), "output %d is %v for config %+v", i, v, cfg)
		}
	})
}

// stImage assembles a safetensors file from a header and data.
func stImage(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// tinyJSON is a small config.json whose layer builds in the fuzz target.
const tinyJSON = `{"model_type":"tiny","hidden_size":32,"num_attention_heads":2,"num_hidden_layers":1,` +
	`"q_lora_rank":null,"kv_lora_rank":8,"qk_nope_head_dim":8,"qk_rope_head_dim":4,"v_head_dim":8,` +
	`"rope_theta":10000,"rms_norm_eps":1e-6,"max_position_embeddings":4096,"vocab_size":16,` +
	`"intermediate_size":32,"rope_scaling":{"type":"yarn","factor":40,"original_max_position_embeddings":4096,` +
	`"beta_fast":32,"beta_slow":1,"mscale":0.707,"mscale_all_dim":0.707}}`

// parserSeeds is the committed corpus of the parser targets: valid inputs and one of
// each kind of malformation the parsers refuse.
func parserSeeds() map[string][][]byte {
	const w4 = `"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`
	data4 := []byte{0, 0, 0x80, 0x3f}
	var valid bytes.Buffer
	ts := []safetensors.Tensor{
		{Name: "a", DType: safetensors.F32, Shape: []int{2}, Data: []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}},
		{Name: "b.bf16", DType: safetensors.BF16, Shape: []int{1, 2}, Data: []byte{0x80, 0x3f, 0x00, 0xc0}},
		{Name: "c.fp8", DType: safetensors.F8E4M3, Shape: []int{3}, Data: []byte{0x38, 0xb8, 0x7e}},
		{Name: "d.empty", DType: safetensors.I64, Shape: []int{0, 3}},
		{Name: "é", DType: safetensors.U8, Shape: []int{}, Data: []byte{7}},
	}
	if err := safetensors.Encode(&valid, ts, map[string]string{"format": "pt"}); err != nil {
		panic(err)
	}
	// A valid file, a truncated one, then one of each malformation, as its header.
	st := [][]byte{valid.Bytes(), valid.Bytes()[:len(valid.Bytes())-3], stImage("{"+w4+"}", data4)}
	for _, h := range []struct {
		what, header string
		data         int
	}{
		{"gap", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12},
		{"overlap", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8},
		{"leading bytes", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8},
		{"trailing bytes", "{" + w4 + "}", 8},
		{"duplicate name", `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8},
		{"duplicate key", `{"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`, 4},
		{"case variant", `{"w":{"DType":"F32","shape":[1],"data_offsets":[0,4]}}`, 4},
		{"invalid UTF-8", "{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
		{"wrapping shape", `{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}`, 4},
		{"unknown dtype", `{"__metadata__":{"k":"v"},"w":{"x":[[{}]],"dtype":"F7","shape":[1],"data_offsets":[0,4]}}`, 4},
		{"escaped name", `{"\ud83d\ude00":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}  `, 4},
	} {
		st = append(st, stImage(h.header, make([]byte, h.data)))
	}

	lw := []string{"q_proj.weight", "kv_a_proj_with_mqa.weight", "kv_a_layernorm.weight", "kv_b_proj.weight", "o_proj.weight"}
	index := func(file func(i int) string, extra string) []byte {
		var parts []string
		for i, n := range lw {
			parts = append(parts, fmt.Sprintf(`"model.layers.0.self_attn.%s":%q`, n, file(i)))
		}
		return []byte(`{"metadata":{"total_size":1234}` + extra + `,"weight_map":{` + strings.Join(parts, ",") + `}}`)
	}
	same := func(int) string { return fixtureShard }
	idx := [][]byte{
		index(same, ""),
		index(func(i int) string { return []string{fixtureShard, "model-00002-of-00002.safetensors"}[i%2] }, ""), // a missing shard
		index(func(i int) string { return "../" + fixtureShard }, ""),
		index(func(i int) string { return "/tmp/" + fixtureShard }, ""),
		index(func(i int) string { return "sub/" + fixtureShard }, ""),
		index(same, `,"weight_map":{}`),
		[]byte(`{"Weight_Map":{"model.norm.weight":"` + fixtureShard + `"}}`),
		[]byte(`{"weight_map":{"model.norm.weight":"` + fixtureShard + `","model.norm.weight":"x.safetensors"}}`),
		[]byte(`{"weight_map":{"model.norm.weight":"a\u0000.safetensors"}}`),
		[]byte("{\"weight_map\":{\"model.norm.weight\":\"\xff.safetensors\"}}"),
		[]byte(`{"weight_map":{}}`),
		[]byte(`{"weight_map":{"model.layers.0.self_attn.q_proj.weight":` + fmt.Sprint(7) + `}}`),
	}

	cfgs := [][]byte{
		[]byte(tinyJSON),
		[]byte(strings.Replace(tinyJSON, `"q_lora_rank":null`, `"q_lora_rank":16`, 1)),
		[]byte(strings.Replace(tinyJSON, `"rope_scaling"`, `"rope_parameters"`, 1)),
		[]byte(`{"model_type":"seed","hidden_size":32,"num_attention_heads":4,"kv_lora_rank":8,"qk_nope_head_dim":8,` +
			`"qk_rope_head_dim":0,"v_head_dim":8,"mla_latent_norm":"layernorm","mla_latent_norm_eps":1e-5,"mla_rope":"after_up",` +
			`"mla_rope_layout":"half_split","mla_names":"seed","mla_shared_kv_down":true}`),
		[]byte(`{"model_type":"deepseek_v2","hidden_size":2048,"num_attention_heads":16,"num_key_value_heads":16,` +
			`"num_hidden_layers":27,"q_lora_rank":null,"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,` +
			`"v_head_dim":128,"rope_theta":10000,"rms_norm_eps":1e-06,"max_position_embeddings":163840,"vocab_size":102400,` +
			`"intermediate_size":10944,"attention_bias":false,"architectures":["DeepseekV2ForCausalLM"],` +
			`"auto_map":{"AutoConfig":"configuration_deepseek.DeepseekV2Config"},"rope_scaling":{"type":"yarn","factor":40,` +
			`"original_max_position_embeddings":4096,"beta_fast":32,"beta_slow":1,"mscale":0.707,"mscale_all_dim":0.707}}`),
		[]byte(`{"model_type":"deepseek_v3","hidden_size":7168,"num_attention_heads":128,"num_hidden_layers":61,"q_lora_rank":1536,` +
			`"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,"v_head_dim":128,"vocab_size":129280,` +
			`"intermediate_size":18432,"quantization_config":{"activation_scheme":"dynamic","fmt":"e4m3","quant_method":"fp8",` +
			`"weight_block_size":[128,128]},"rope_scaling":{"type":"yarn","factor":40,"mscale":1.0,"mscale_all_dim":1.0}}`),
		[]byte(strings.Replace(tinyJSON, `"hidden_size":32`, `"Hidden_Size":32,"hidden_size":32`, 1)),
		[]byte(strings.Replace(tinyJSON, `"factor":40`, `"factor":40,"factor":4`, 1)),
		[]byte(strings.Replace(tinyJSON, `"rope_theta":10000`, `"rope_theta":NaN`, 1)),
		[]byte(strings.Replace(tinyJSON, `"rope_theta":10000`, `"rope_theta":1e999`, 1)),
		[]byte(strings.Replace(tinyJSON, `"model_type":"tiny"`, "\"model_type\":\"t\xffny\"", 1)),
		[]byte(strings.Replace(tinyJSON, `"hidden_size":32`, `"hidden_size":1099511627776`, 1)),
	}
	return map[string][][]byte{"FuzzSafetensors": st, "FuzzCheckpointIndex": idx, "FuzzHFConfig": cfgs}
}

// TestParserSeedCorpus checks that every parser target has its committed corpus,
// and with -write-seeds rewrites it (go test ./fuzz -run TestParserSeedCorpus
// -write-seeds).
func TestParserSeedCorpus(t *testing.T) {
	for name, seeds := range parserSeeds() {
		dir := filepath.Join("testdata", "fuzz", name)
		if *writeSeeds {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			for i, s := range seeds {
				body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
				require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644))
			}
		}
		files, _ := filepath.Glob(filepath.Join(dir, "seed-*"))
		require.GreaterOrEqual(t, len(files), len(seeds), "%s: run with -write-seeds", name)
	}
}
