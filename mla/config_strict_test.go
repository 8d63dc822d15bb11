package mla

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// tinyConfigJSON is a small valid config.json with extra members appended.
func tinyConfigJSON(extra string) []byte {
	return []byte(`{"hidden_size":64,"num_attention_heads":4,"kv_lora_rank":8,"qk_nope_head_dim":16,` +
		`"qk_rope_head_dim":8,"v_head_dim":16` + extra + `}`)
}

// TestParseHFConfigStrict: config.json keys are case-sensitive and unique at every
// level; numbers are finite; unknown keys are ignored as Hugging Face ignores them.
func TestParseHFConfigStrict(t *testing.T) {
	for _, tc := range []struct{ extra, want string }{
		{`,"Hidden_Size":4096`, `key "Hidden_Size" is not "hidden_size": keys are case-sensitive`},
		{`,"hidden_size":128`, `key "hidden_size" appears twice`},
		{`,"rope_scaling":{"type":"yarn","factor":40,"factor":4}`, `rope_scaling: key "factor" appears twice`},
		{`,"rope_scaling":{"type":"yarn","Factor":4}`, `rope_scaling: key "Factor" is not "factor"`},
		{`,"rope_parameters":{"rope_type":"yarn","beta_fast":32,"beta_fast":64}`, `rope_parameters: key "beta_fast" appears twice`},
		{`,"quantization_config":{"weight_block_size":[128,128],"weight_block_size":[1,1]}`, `quantization_config: key "weight_block_size" appears twice`},
		{`,"quantization_config":{"Weight_Block_Size":[1,1]}`, `key "Weight_Block_Size" is not "weight_block_size"`},
		{`,"quantization_config":{"weight_block_size":[128,128,1]}`, `weight_block_size: more than 2 values`},
		{`,"quantization_config":{"weight_block_size":[128,1000000]}`, `weight_block_size = [128 1000000], want [rows, cols] in [1, 65536]`},
		{`,"auto_map":{"AutoConfig":"a","AutoConfig":"b"}`, `auto_map: key "AutoConfig" appears twice`},
		{`,"model_type":"deep` + "\xff" + `seek"`, "config.json: not valid UTF-8"},
		{`,"model_type":"\udc00"`, "lone UTF-16 surrogate"},
		{`,"rope_theta":NaN`, "rope_theta: at byte"},
		{`,"rope_theta":Infinity`, "rope_theta: at byte"},
		{`,"rope_theta":1e999`, "rope_theta: 1e999 is out of the range of float64"},
		{`,"num_hidden_layers":99999999999999999999`, "num_hidden_layers: 99999999999999999999 is out of range"},
		{`,"num_hidden_layers":1e3`, "num_hidden_layers: 1e3 is not an integer"},
		{`,"vocab_size":1099511627776`, "Vocab (vocab_size) = 1099511627776 is over this package's limit of 8388608"},
		{`,"num_hidden_layers":1048576`, "Layers (num_hidden_layers) = 1048576 is over this package's limit of 4096"},
		{`,"rope_scaling":{"type":"yarn","factor":1e300,"mscale_all_dim":1}`, "YaRN.Factor = 1e+300"},
		{`,"rope_scaling":{"type":"yarn","factor":40,"mscale":1e300}`, "YaRN mscale = 1e+300"},
		{`,"rms_norm_eps":1e-50`, ""},
	} {
		_, err := ParseHFConfig(tinyConfigJSON(tc.extra))
		if tc.want == "" {
			require.NoError(t, err, "rms_norm_eps only matters to a Model: %s", tc.extra)
			continue
		}
		require.ErrorContains(t, err, "mla: config.json", tc.extra)
		require.ErrorContains(t, err, tc.want, tc.extra)
	}
	_, err := ParseHFConfig(append(tinyConfigJSON(""), " {}"...))
	require.ErrorContains(t, err, "data after the JSON value")

	c, err := ParseHFConfig(tinyConfigJSON(`,"architectures":["DeepseekV2ForCausalLM"],"auto_map":{"AutoConfig":"x"},` +
		`"torch_dtype":"bfloat16","ep_size":1,"aux_loss_alpha":0.001,"rope_scaling":null,"q_lora_rank":null`))
	require.NoError(t, err)
	require.Equal(t, 64, c.Hidden)
	require.Nil(t, c.YaRN)
}

// TestValidateFiniteAndInRange: non-finite YaRN, theta and eps values, derived scales
// that float32 cannot hold, and dimensions past the caps are all refused.
func TestValidateFiniteAndInRange(t *testing.T) {
	inf := math.Inf(1)
	mod := func(f func(*Config)) Config { c := DeepSeekV2Lite(); f(&c); return c }
	for _, tc := range []struct {
		name string
		c    Config
		want string
	}{
		{"infinite factor", mod(func(c *Config) { c.YaRN.Factor = inf }), "YaRN.Factor = +Inf, want a factor in [1, 1073741824]"},
		{"NaN factor", mod(func(c *Config) { c.YaRN.Factor = math.NaN() }), "YaRN.Factor = NaN"},
		{"infinite beta_fast", mod(func(c *Config) { c.YaRN.BetaFast = inf }), "want finite beta_fast > beta_slow > 0"},
		{"NaN beta_slow", mod(func(c *Config) { c.YaRN.BetaSlow = math.NaN() }), "beta_slow = NaN"},
		{"infinite mscale", mod(func(c *Config) { c.YaRN.MScale = inf }), "want values in [0, 1000]"},
		{"NaN mscale_all_dim", mod(func(c *Config) { c.YaRN.MScaleAllDim = math.NaN() }), "mscale_all_dim = NaN"},
		{"original positions", mod(func(c *Config) { c.YaRN.OriginalMaxPositions = 1 << 40 }), "want the pre-extension context in [1, 1073741824]"},
		{"infinite theta", mod(func(c *Config) { c.RoPETheta = inf }), "RoPETheta (rope_theta) = +Inf, want a finite base > 1"},
		{"infinite eps", mod(func(c *Config) { c.NormEps = inf }), "NormEps = +Inf, want a finite eps > 0"},
		{"eps float32 rounds to 0", mod(func(c *Config) { c.NormEps = 1e-50 }), "NormEps = 1e-50, want a finite eps > 0 that float32 can hold"},
		{"factor cap", mod(func(c *Config) { c.YaRN.Factor = 1e300 }), "YaRN.Factor = 1e+300, want a factor in [1, 1073741824]"},
		{"mscale cap", mod(func(c *Config) { c.YaRN.MScale, c.YaRN.MScaleAllDim = 1e20, 1e20 }), "mscale = 1e+20, mscale_all_dim = 1e+20, want values in [0, 1000]"},
		{"hidden cap", mod(func(c *Config) { c.Hidden = 1 << 40 }), "Hidden (hidden_size) = 1099511627776 is over this package's limit of 131072"},
		{"heads cap", mod(func(c *Config) { c.Heads = 1 << 40 }), "Heads (num_attention_heads) = 1099511627776 is over"},
		{"head dim cap", mod(func(c *Config) { c.VHeadDim = 1 << 20 }), "VHeadDim (v_head_dim) = 1048576 is over"},
		{"rank cap", mod(func(c *Config) { c.QLoRARank = 1 << 20 }), "QLoRARank (q_lora_rank) = 1048576 is over"},
		{"intermediate cap", mod(func(c *Config) { c.Intermediate = 1 << 30 }), "Intermediate (intermediate_size) = 1073741824 is over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorContains(t, tc.c.Validate(), tc.want)
		})
	}
	c := DeepSeekV2Lite()
	c.RMSNormEps = inf
	require.ErrorContains(t, c.validateModel(), "RMSNormEps (rms_norm_eps) = +Inf, want a finite eps > 0")
	c.RMSNormEps = 1e-50
	require.ErrorContains(t, c.validateModel(), "RMSNormEps (rms_norm_eps) = 1e-50")
}
