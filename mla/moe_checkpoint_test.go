package mla

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlasimd/mlasimd/safetensors"
	"github.com/stretchr/testify/require"
)

// v2LiteJSON is DeepSeek-V2-Lite's config.json with its dimensions shrunk (its MoE
// keys and values as published, but 8 experts of width 32 and 3 layers).
const v2LiteJSON = `{
  "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
  "hidden_size": 64, "intermediate_size": 96, "moe_intermediate_size": 32,
  "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
  "n_shared_experts": 2, "n_routed_experts": 8, "num_experts_per_tok": 3,
  "first_k_dense_replace": 1, "moe_layer_freq": 1, "ep_size": 1,
  "routed_scaling_factor": 1.0, "scoring_func": "softmax", "topk_method": "greedy",
  "n_group": 1, "topk_group": 1, "norm_topk_prob": false, "aux_loss_alpha": 0.001, "seq_aux": true,
  "kv_lora_rank": 32, "q_lora_rank": null, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16,
  "max_position_embeddings": 163840, "rms_norm_eps": 1e-06, "rope_theta": 10000,
  "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
    "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707},
  "vocab_size": 97, "torch_dtype": "bfloat16", "attention_bias": false
}`

// v3JSON is DeepSeek-V3's config.json shrunk the same way, with FP8 weights in
// 16x16 blocks.
const v3JSON = `{
  "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3",
  "hidden_size": 64, "intermediate_size": 96, "moe_intermediate_size": 32,
  "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
  "n_shared_experts": 1, "n_routed_experts": 8, "num_experts_per_tok": 3,
  "first_k_dense_replace": 1, "moe_layer_freq": 1, "ep_size": 1,
  "routed_scaling_factor": 2.5, "scoring_func": "sigmoid", "topk_method": "noaux_tc",
  "n_group": 4, "topk_group": 2, "norm_topk_prob": true,
  "kv_lora_rank": 32, "q_lora_rank": 32, "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16,
  "max_position_embeddings": 163840, "rms_norm_eps": 1e-06, "rope_theta": 10000,
  "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
    "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
  "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [16, 16]},
  "vocab_size": 97, "torch_dtype": "bfloat16", "attention_bias": false
}`

func TestMoEParseHFConfig(t *testing.T) {
	c, err := ParseHFConfig([]byte(v2LiteJSON))
	require.NoError(t, err)
	require.Equal(t, &MoEConfig{RoutedExperts: 8, ExpertsPerToken: 3, Intermediate: 32, SharedExperts: 2, FirstDense: 1,
		LayerFreq: 1, Scoring: ScoringSoftmax, TopK: TopKGreedy, Groups: 1, TopKGroups: 1, RoutedScaling: 1}, c.MoE)
	require.False(t, c.IsMoELayer(0))
	require.True(t, c.IsMoELayer(1))
	c3, err := ParseHFConfig([]byte(v3JSON))
	require.NoError(t, err)
	require.Equal(t, &MoEConfig{V3: true, RoutedExperts: 8, ExpertsPerToken: 3, Intermediate: 32, SharedExperts: 1, FirstDense: 1,
		LayerFreq: 1, Scoring: ScoringSigmoid, TopK: TopKNoAuxTC, Groups: 4, TopKGroups: 2, NormTopK: true, RoutedScaling: 2.5}, c3.MoE)

	// The config round-trips through MarshalHFConfig.
	js, err := MarshalHFConfig(c3)
	require.NoError(t, err)
	back, err := ParseHFConfig(js)
	require.NoError(t, err)
	require.Equal(t, c3.MoE, back.MoE)

	for _, tc := range []struct{ from, to, want string }{
		{`"num_experts_per_tok": 3`, `"num_experts_per_tok": 9`, "num_experts_per_tok = 9, want in [1, n_routed_experts = 8]"},
		{`"num_experts_per_tok": 3`, `"num_experts_per_tok": 0`, "num_experts_per_tok = 0"},
		{`"moe_intermediate_size": 32`, `"moe_intermediate_size": -1`, "moe_intermediate_size = -1"},
		{`"n_routed_experts": 8`, `"n_routed_experts": 100000000`, "n_routed_experts = 100000000"},
		{`"n_group": 4`, `"n_group": 3`, "n_group = 3 must divide n_routed_experts = 8"},
		{`"topk_group": 2`, `"topk_group": 5`, "topk_group = 5, want in [1, n_group = 4]"},
		{`"topk_group": 2`, `"topk_group": 1`, "num_experts_per_tok = 3 exceeds the 2 experts of topk_group = 1 groups"},
		{`"n_group": 4`, `"n_group": 8`, "num_experts_per_tok = 3 exceeds the 2 experts of topk_group = 2 groups"},
		{`"scoring_func": "sigmoid"`, `"scoring_func": "softmax"`, "deepseek_v3 scores with sigmoid"},
		{`"topk_method": "noaux_tc"`, `"topk_method": "greedy"`, "deepseek_v3 takes topk_method noaux_tc"},
		{`"topk_method": "noaux_tc"`, `"topk_method": "best"`, `topk_method = "best"`},
		{`"routed_scaling_factor": 2.5`, `"routed_scaling_factor": 0`, "routed_scaling_factor = 0"},
		{`"moe_layer_freq": 1`, `"moe_layer_freq": 0`, "moe_layer_freq = 0"},
		{`"first_k_dense_replace": 1`, `"first_k_dense_replace": -2`, "first_k_dense_replace = -2"},
		{`"n_routed_experts": 8`, `"n_routed_experts": "8"`, "n_routed_experts"},
		{`"n_routed_experts": 8`, `"N_routed_experts": 8`, "keys are case-sensitive"},
		{`"moe_intermediate_size": 32`, `"moe_intermediate_size": 4611686018427387904`, "overflow"},
	} {
		require.Contains(t, v3JSON, tc.from)
		_, err := ParseHFConfig([]byte(strings.Replace(v3JSON, tc.from, tc.to, 1)))
		require.ErrorContains(t, err, tc.want, tc.to)
	}
	small := MoEConfig{V3: true, RoutedExperts: 4, ExpertsPerToken: 2, Intermediate: 32, LayerFreq: 1, Scoring: ScoringSigmoid,
		TopK: TopKNoAuxTC, Groups: 4, TopKGroups: 4, RoutedScaling: 1}
	require.ErrorContains(t, small.validate("x", 64), "groups of 1 experts are too small")
	_, err = ParseHFConfig([]byte(strings.Replace(v2LiteJSON, `"scoring_func": "softmax"`, `"scoring_func": "sigmoid"`, 1)))
	require.ErrorContains(t, err, "deepseek_v2 scores with softmax")
}

// writeMoECheckpoint writes w under config.json text js in 3 shards: float32, or
// for FP8 matrices their E4M3 bytes and weight_scale_inv.
func writeMoECheckpoint(t *testing.T, js string, c Config, w *ModelWeights) string {
	dir := t.TempDir()
	var tensors []safetensors.Tensor
	add := func(name string, shape []int, v []float32) {
		st, err := safetensors.NewTensor(name, shape, v, F32)
		require.NoError(t, err)
		tensors = append(tensors, st)
	}
	mat := func(name string, m Matrix) {
		if m.Format() == FormatFP8 {
			tensors = append(tensors, safetensors.Tensor{Name: name, DType: safetensors.F8E4M3, Shape: []int{m.rows, m.cols}, Data: m.fp8})
			add(name+"_scale_inv", []int{ceilDiv(m.rows, m.br), ceilDiv(m.cols, m.bc)}, m.scale)
			return
		}
		add(name, []int{m.rows, m.cols}, m.Widen())
	}
	for i := range w.Blocks {
		for _, s := range layerTensorSpecs(c) {
			if s.mat != nil {
				mat(layerPrefix(i)+s.name, *s.mat(w.Blocks[i].Attn))
			} else {
				add(layerPrefix(i)+s.name, s.shape(), *s.vec(w.Blocks[i].Attn))
			}
		}
	}
	for _, mt := range w.tensors(c) {
		if mt.mat == nil {
			add(mt.name, []int{mt.rows}, *mt.vec)
		} else {
			mat(mt.name, *mt.mat)
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(js), 0o644))
	weightMap := map[string]string{}
	const shards = 3
	for s := range shards {
		lo, hi := span(len(tensors), s, shards, 1)
		file := "model-0000" + string(rune('1'+s)) + "-of-00003.safetensors"
		for _, tn := range tensors[lo:hi] {
			weightMap[tn.Name] = file
		}
		require.NoError(t, safetensors.Write(filepath.Join(dir, file), tensors[lo:hi], nil))
	}
	idx, err := json.Marshal(map[string]any{"weight_map": weightMap})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644))
	return dir
}

// TestMoECheckpoint: a V2-Lite-shaped directory (float32 shards) and a V3-shaped one
// (FP8 experts with block scales) load with their real tensor names into Models
// whose logits equal those of the weights written; a prompt prefills and generates;
// the resident bytes are known before loading.
func TestMoECheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		js   string
		fp8  bool
	}{{"v2-lite", v2LiteJSON, false}, {"v3-fp8", v3JSON, true}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseHFConfig([]byte(tc.js))
			require.NoError(t, err)
			w := testMoEModel(t, c)
			if tc.fp8 {
				// Every matrix but the gate in FP8 with 16x16 blocks, as V3 stores them.
				for _, mt := range w.tensors(c) {
					if mt.mat != nil && !mt.f32 {
						*mt.mat, err = mt.mat.ToFP8(16, 16)
						require.NoError(t, err)
					}
				}
				for i := range w.Blocks {
					a := w.Blocks[i].Attn
					for _, s := range layerTensorSpecs(c) {
						if s.mat != nil {
							*s.mat(a), err = s.mat(a).ToFP8(16, 16)
							require.NoError(t, err)
						}
					}
				}
			}
			dir := writeMoECheckpoint(t, tc.js, c, w)
			ck, err := OpenCheckpoint(dir)
			require.NoError(t, err)
			defer ck.Close()
			require.Equal(t, c.MoE, ck.Config().MoE)
			bytes, err := ck.ResidentBytes()
			require.NoError(t, err)
			got, err := ck.LoadModel()
			require.NoError(t, err)
			require.Equal(t, got.Bytes(), bytes, "resident bytes predicted before loading")
			small, err := OpenCheckpoint(dir, WithMemoryLimit(bytes-1))
			require.NoError(t, err)
			_, err = small.LoadModel()
			require.ErrorContains(t, err, "over the memory limit")
			require.NoError(t, small.Close())
			if tc.fp8 {
				require.Equal(t, FormatFP8, got.Blocks[1].MoE.Experts[3].Up.Format())
				require.Equal(t, FormatFP8, got.Blocks[1].Attn.KVBProj.Format())
			}
			require.Equal(t, FormatF32, got.Blocks[1].MoE.Gate.Format())

			logits := func(w *ModelWeights) ([]float32, []int) {
				m, err := NewModel(c, w, WithWorkers(2))
				require.NoError(t, err)
				defer m.Close()
				mc, err := m.NewCache(CacheOptions{})
				require.NoError(t, err)
				out := make([]float32, c.Vocab)
				require.NoError(t, m.Forward([]int{3, 1, 4, 1, 5}, mc, out))
				gen, err := m.Generate([]int{9, 2, 6}, 4, mc, nil)
				require.NoError(t, err)
				return out, gen
			}
			wantL, wantG := logits(w)
			gotL, gotG := logits(got)
			require.Equal(t, wantL, gotL)
			require.Equal(t, wantG, gotG)

			// Q8_0 on load: experts quantized, the gate kept.
			ckq, err := OpenCheckpoint(dir, WithWeightFormat(FormatQ8_0))
			require.NoError(t, err)
			defer ckq.Close()
			q, err := ckq.LoadModel()
			require.NoError(t, err)
			require.Equal(t, FormatQ8_0, q.Blocks[2].MoE.Experts[0].Down.Format())
			require.Equal(t, FormatF32, q.Blocks[2].MoE.Gate.Format())
			qb, err := ckq.ResidentBytes()
			require.NoError(t, err)
			require.Equal(t, q.Bytes(), qb)
			logits(q)
		})
	}
}

// TestMoECheckpointErrors: a missing expert, a mis-shaped gate and a missing bias are
// named; MoE weights on a dense block are refused.
func TestMoECheckpointErrors(t *testing.T) {
	c, err := ParseHFConfig([]byte(v3JSON))
	require.NoError(t, err)
	w := testMoEModel(t, c)

	broken := *w
	broken.Blocks = append([]BlockWeights(nil), w.Blocks...)
	moe := *w.Blocks[2].MoE
	moe.Experts = append([]ExpertWeights(nil), moe.Experts...)
	moe.Experts[5].Up = Matrix{}
	moe.Bias = nil
	moe.Gate = NewMatrix(7, c.Hidden, moe.Gate.f32[:7*c.Hidden])
	broken.Blocks[2].MoE = &moe
	err = broken.Check(c)
	require.ErrorContains(t, err, "model.layers.2.mlp.experts.5.up_proj.weight")
	require.ErrorContains(t, err, "model.layers.2.mlp.gate.e_score_correction_bias has 0 values, want 8")
	require.ErrorContains(t, err, "model.layers.2.mlp.gate.weight")

	// In a checkpoint: the missing tensors are named.
	dir := writeMoECheckpoint(t, v3JSON, c, w)
	idx := filepath.Join(dir, "model.safetensors.index.json")
	raw, err := os.ReadFile(idx)
	require.NoError(t, err)
	var m map[string]map[string]string
	require.NoError(t, json.Unmarshal(raw, &m))
	delete(m["weight_map"], "model.layers.1.mlp.experts.7.down_proj.weight")
	delete(m["weight_map"], "model.layers.2.mlp.gate.e_score_correction_bias")
	raw, _ = json.Marshal(m)
	require.NoError(t, os.WriteFile(idx, raw, 0o644))
	ck, err := OpenCheckpoint(dir)
	require.NoError(t, err)
	defer ck.Close()
	_, err = ck.LoadModel()
	require.ErrorContains(t, err, "model.layers.1.mlp.experts.7.down_proj.weight not found")
	require.ErrorContains(t, err, "model.layers.2.mlp.gate.e_score_correction_bias not found")

	// MoE weights on a dense block.
	dense := *w
	dense.Blocks = append([]BlockWeights(nil), w.Blocks...)
	dense.Blocks[0].MoE = w.Blocks[1].MoE
	require.ErrorContains(t, dense.Check(c), "block 0 has MoE weights")

	// NewMoEBlock checks too.
	_, err = NewMoEBlock(c, &moe)
	require.ErrorContains(t, err, "experts.5.up_proj.weight")
	_, err = NewMoEBlock(tinyConfig(), w.Blocks[1].MoE)
	require.ErrorContains(t, err, "has no MoE")
}
