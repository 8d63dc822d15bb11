package mla

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPresets(t *testing.T) {
	for _, c := range []Config{DeepSeekV2Lite(), DeepSeekV2(), DeepSeekV3(), Seed(4096, 32, 128)} {
		require.NoError(t, c.Validate(), c.Name)
		require.NoError(t, c.validateModel(), c.Name)
	}
	l, v2, v3 := DeepSeekV2Lite(), DeepSeekV2(), DeepSeekV3()
	require.Equal(t, 0, l.QLoRARank)
	require.Equal(t, []int{2048, 5120, 7168}, []int{l.Hidden, v2.Hidden, v3.Hidden})
	require.Equal(t, []int{16, 128, 128}, []int{l.Heads, v2.Heads, v3.Heads})
	require.Equal(t, []int{1536, 1536}, []int{v2.QLoRARank, v3.QLoRARank})
	require.Equal(t, 192, l.QKHeadDim())
	require.Equal(t, 576, l.CacheRowWidth())
	require.Equal(t, []float64{0.707, 0.707, 1}, []float64{l.YaRN.MScaleAllDim, v2.YaRN.MScaleAllDim, v3.YaRN.MScaleAllDim})
	require.Equal(t, []int{27, 60, 61}, []int{l.Layers, v2.Layers, v3.Layers})
}

// TestTensorShapes: the shapes of every attention tensor.
func TestTensorShapes(t *testing.T) {
	shapes := func(c Config) map[string][]int {
		m := map[string][]int{}
		for _, s := range layerTensorSpecs(c) {
			m[s.name] = s.shape()
		}
		return m
	}
	require.Equal(t, map[string][]int{
		"q_proj.weight": {3072, 2048}, "kv_a_proj_with_mqa.weight": {576, 2048}, "kv_a_layernorm.weight": {512},
		"kv_b_proj.weight": {4096, 512}, "o_proj.weight": {2048, 2048},
	}, shapes(DeepSeekV2Lite()))
	require.Equal(t, map[string][]int{
		"q_a_proj.weight": {1536, 5120}, "q_a_layernorm.weight": {1536}, "q_b_proj.weight": {24576, 1536},
		"kv_a_proj_with_mqa.weight": {576, 5120}, "kv_a_layernorm.weight": {512},
		"kv_b_proj.weight": {32768, 512}, "o_proj.weight": {5120, 16384},
	}, shapes(DeepSeekV2()))
	v3 := shapes(DeepSeekV3())
	require.Equal(t, []int{1536, 7168}, v3["q_a_proj.weight"])
	require.Equal(t, []int{7168, 16384}, v3["o_proj.weight"])
	// V3's FP8 block-scale shapes, ceil(out/128) x ceil(in/128).
	var scales [][]int
	for _, n := range []string{"q_a_proj.weight", "q_b_proj.weight", "kv_a_proj_with_mqa.weight", "kv_b_proj.weight", "o_proj.weight"} {
		s := v3[n]
		scales = append(scales, []int{(s[0] + 127) / 128, (s[1] + 127) / 128})
	}
	require.Equal(t, [][]int{{12, 56}, {192, 12}, {5, 56}, {256, 4}, {56, 128}}, scales)
	require.Equal(t, int64(13_763_072), DeepSeekV2Lite().AttentionParams()) // 13.76 M
	require.InDelta(t, 187.1e6, float64(DeepSeekV3().AttentionParams()), 0.1e6)
}

// TestValidateExplainsTheFix: each error names the field and the way out.
func TestValidateExplainsTheFix(t *testing.T) {
	mod := func(f func(*Config)) Config { c := DeepSeekV2Lite(); f(&c); return c }
	cases := []struct {
		name string
		c    Config
		want []string
	}{
		{"no compression", Seed(768, 12, 2048), []string{"not smaller than the per-token K/V width 768", "about width/32 = 24"}},
		{"odd rope", mod(func(c *Config) { c.QKRopeHeadDim = 63 }), []string{"QKRopeHeadDim = 63", "positive even number"}},
		{"zero heads", mod(func(c *Config) { c.Heads = 0 }), []string{"Heads (num_attention_heads) = 0", "at least one query head"}},
		{"zero latent", mod(func(c *Config) { c.KVLoRARank = 0 }), []string{"KVLoRARank (kv_lora_rank) = 0"}},
		{"negative q lora", mod(func(c *Config) { c.QLoRARank = -1 }), []string{"0 (no query LoRA) or a positive rank"}},
		{"eps", mod(func(c *Config) { c.NormEps = 0 }), []string{"NormEps = 0", "not NaN"}},
		{"rope dims without rope", mod(func(c *Config) { c.RoPE = RoPENone; c.YaRN = nil }), []string{"QKRopeHeadDim = 64 with RoPE none, want 0"}},
		{"odd head after up", func() Config {
			c := Seed(60, 4, 4)
			c.RoPE = RoPEAfterUp
			return c
		}(), []string{"QKNopeHeadDim = 15 is odd"}},
		{"yarn original", mod(func(c *Config) { c.YaRN.OriginalMaxPositions = 0 }), []string{"original_max_position_embeddings, 4096"}},
		{"yarn betas", mod(func(c *Config) { c.YaRN.BetaFast = 1 }), []string{"beta_fast > beta_slow > 0"}},
		{"theta", mod(func(c *Config) { c.RoPETheta = 0 }), []string{"RoPETheta (rope_theta) = 0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
	// Several problems are all reported.
	c := DeepSeekV2Lite()
	c.Heads, c.VHeadDim = 0, 0
	require.Equal(t, 2, strings.Count(c.Validate().Error(), "mla: config"))
	m := DeepSeekV2Lite()
	m.Vocab = 0
	require.ErrorContains(t, m.validateModel(), "Vocab (vocab_size) = 0")
}

// TestCacheSizes: per-token cache sizes and ratios of the presets, the seed's included.
func TestCacheSizes(t *testing.T) {
	l, v2, v3 := DeepSeekV2Lite(), DeepSeekV2(), DeepSeekV3()
	require.Equal(t, int64(31104), l.ModelCacheBytesPerToken(BF16))
	require.Equal(t, int64(69120), v2.ModelCacheBytesPerToken(BF16))
	require.Equal(t, int64(70272), v3.ModelCacheBytesPerToken(BF16))
	require.Equal(t, int64(62208), l.ModelCacheBytesPerToken(F32))
	require.Equal(t, 5120, l.MHACacheElemsPerToken())
	require.Equal(t, 40960, v3.MHACacheElemsPerToken())
	require.InDelta(t, 8.89, 1/l.CacheSizeRatio(), 0.005)
	require.InDelta(t, 71.1, 1/v3.CacheSizeRatio(), 0.05)
	// Against GQA with 2 groups of (192-wide K, 128-wide V): 576 / 640.
	require.InDelta(t, 0.9, l.CacheSizeRatioGQA(2), 1e-12)
	require.Equal(t, 640, l.GQACacheElemsPerToken(2))
	// The seed's example: 128 heads of 128 (Seed derives head_dim = hidden/heads, hence
	// hidden 16384), latent 512: 64x smaller than MHA (ratio 0.0156), 4x than GQA-8.
	s := Seed(16384, 128, 512)
	require.InDelta(t, 1.0/64, s.CacheSizeRatio(), 1e-12)
	require.InDelta(t, 512.0/(2*8*128), s.CacheSizeRatioGQA(8), 1e-12)
}

// TestCostModel: the FLOP counters.
func TestCostModel(t *testing.T) {
	l, v3 := DeepSeekV2Lite(), DeepSeekV3()
	for _, s := range []int{1, 4096, 131072} {
		require.Equal(t, 4_194_304+34_816*float64(s), l.AbsorbedAttentionFLOPs(s))
		require.Equal(t, 33_554_432+278_528*float64(s), v3.AbsorbedAttentionFLOPs(s))
		require.Equal(t, 4_204_544*float64(s), l.NaiveAttentionFLOPs(s))
		require.Equal(t, 33_636_352*float64(s), v3.NaiveAttentionFLOPs(s))
	}
	require.InDelta(t, 23.33e6, l.projectionFLOPs(), 0.01e6)
	require.InDelta(t, 340.7e6, v3.projectionFLOPs(), 0.1e6)
	k := l.DecodeCost(4096, BF16)
	require.Equal(t, int64(1152*4096), k.CacheBytes)
	require.InDelta(t, 170e6, k.FLOPs, 1e6) // "absorbed 170 M" at S = 4096
}

func TestParseHFConfig(t *testing.T) {
	v2lite := `{"model_type":"deepseek_v2","hidden_size":2048,"num_attention_heads":16,"num_key_value_heads":16,
	"num_hidden_layers":27,"q_lora_rank":null,"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,
	"v_head_dim":128,"rope_theta":10000,"rms_norm_eps":1e-06,"max_position_embeddings":163840,"vocab_size":102400,
	"intermediate_size":10944,"attention_bias":false,
	"rope_scaling":{"type":"yarn","factor":40,"original_max_position_embeddings":4096,"beta_fast":32,"beta_slow":1,
	"mscale":0.707,"mscale_all_dim":0.707}}`
	c, err := ParseHFConfig([]byte(v2lite))
	require.NoError(t, err)
	want := DeepSeekV2Lite()
	want.Name = "deepseek_v2"
	require.Equal(t, want, c)

	// DeepSeek's own encoding of "no q LoRA" is 0; newer transformers use rope_parameters.
	v3 := `{"model_type":"deepseek_v3","hidden_size":7168,"num_attention_heads":128,"num_hidden_layers":61,
	"q_lora_rank":0,"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,"v_head_dim":128,
	"rope_parameters":{"rope_type":"yarn","rope_theta":10000,"factor":40,"original_max_position_embeddings":4096,
	"mscale":1.0,"mscale_all_dim":1.0},"vocab_size":129280,"intermediate_size":18432,"rms_norm_eps":1e-6,
	"quantization_config":{"quant_method":"fp8","weight_block_size":[128,128]}}`
	c, err = ParseHFConfig([]byte(v3))
	require.NoError(t, err)
	require.Equal(t, 0, c.QLoRARank)
	require.Equal(t, 1.0, c.YaRN.MScaleAllDim)
	require.Equal(t, 32.0, c.YaRN.BetaFast, "default beta_fast")
	require.InDelta(t, 0.1352337788608801, c.SoftmaxScale(), 1e-15)

	// Round trip through MarshalHFConfig, the seed's extension keys included.
	for _, cfg := range []Config{DeepSeekV3(), Seed(64, 4, 8)} {
		js, err := MarshalHFConfig(cfg)
		require.NoError(t, err)
		back, err := ParseHFConfig(js)
		require.NoError(t, err)
		require.Equal(t, cfg, back)
	}

	for _, bad := range []struct{ json, want string }{
		{`{`, "config.json"},
		{`{"hidden_size":"big"}`, "hidden_size"},
		{`{"hidden_size":64,"num_attention_heads":4,"kv_lora_rank":8,"qk_nope_head_dim":16,"qk_rope_head_dim":8,"v_head_dim":16,"rope_scaling":{"type":"dynamic","factor":2}}`, `type "dynamic" is not supported`},
		{`{"hidden_size":64,"num_attention_heads":4,"kv_lora_rank":8,"qk_nope_head_dim":16,"qk_rope_head_dim":8,"v_head_dim":16,"attention_bias":true}`, "attention_bias"},
		{`{"hidden_size":64,"num_attention_heads":0,"kv_lora_rank":8,"qk_nope_head_dim":16,"qk_rope_head_dim":8,"v_head_dim":16}`, "at least one query head"},
		{`{"hidden_size":64,"num_attention_heads":4,"kv_lora_rank":8,"qk_nope_head_dim":16,"qk_rope_head_dim":8,"v_head_dim":16,"mla_rope":"sideways"}`, "mla_rope"},
	} {
		_, err := ParseHFConfig([]byte(bad.json))
		require.ErrorContains(t, err, bad.want, bad.json)
	}
}

// TestMarshalHFConfigForTransformers: the written config.json carries what Hugging
// Face transformers needs to load a DeepSeek model (model_type, architectures,
// auto_map, dense layers), and WriteCheckpoint's files are 0644.
func TestMarshalHFConfigForTransformers(t *testing.T) {
	for _, tc := range []struct{ name, modelType, arch string }{
		{"deepseek_v2", "deepseek_v2", "DeepseekV2"}, {"deepseek_v3", "deepseek_v3", "DeepseekV3"}, {"tiny", "deepseek_v2", "DeepseekV2"},
	} {
		c := tinyConfig()
		c.Name = tc.name
		js, err := MarshalHFConfig(c)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(js, &m))
		require.Equal(t, tc.modelType, m["model_type"])
		require.Equal(t, []any{tc.arch + "ForCausalLM"}, m["architectures"])
		require.Equal(t, "modeling_deepseek."+tc.arch+"ForCausalLM", m["auto_map"].(map[string]any)["AutoModelForCausalLM"])
		require.Nil(t, m["n_routed_experts"])
		require.Equal(t, "silu", m["hidden_act"])
		back, err := ParseHFConfig(js)
		require.NoError(t, err)
		require.Equal(t, tc.name, back.Name)
	}
	c := tinyConfig()
	w, err := RandomModelWeights(c, 3)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, WriteCheckpoint(dir, c, w, BF16, 2))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		st, err := os.Stat(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "%s", e.Name())
	}
}
