package mla

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// hfConfig is the subset of a Hugging Face DeepSeek config.json this package reads,
// plus a few "mla_" keys of its own for the seed variant, which Hugging Face has no
// model type for.
type hfConfig struct {
	ModelType             string          `json:"model_type"`
	HiddenSize            int             `json:"hidden_size"`
	NumAttentionHeads     int             `json:"num_attention_heads"`
	NumHiddenLayers       int             `json:"num_hidden_layers"`
	QLoRARank             *int            `json:"q_lora_rank"` // null (HF) or 0 (DeepSeek) mean none
	KVLoRARank            int             `json:"kv_lora_rank"`
	QKNopeHeadDim         int             `json:"qk_nope_head_dim"`
	QKRopeHeadDim         int             `json:"qk_rope_head_dim"`
	VHeadDim              int             `json:"v_head_dim"`
	RopeTheta             *float64        `json:"rope_theta"`
	RopeScaling           json.RawMessage `json:"rope_scaling"`
	RopeParameters        json.RawMessage `json:"rope_parameters"` // newer transformers
	RMSNormEps            *float64        `json:"rms_norm_eps"`
	MaxPositionEmbeddings int             `json:"max_position_embeddings"`
	VocabSize             int             `json:"vocab_size"`
	IntermediateSize      int             `json:"intermediate_size"`
	AttentionBias         bool            `json:"attention_bias"`

	MLALatentNorm   string   `json:"mla_latent_norm,omitempty"` // "rmsnorm" (default) or "layernorm"
	MLALatentEps    *float64 `json:"mla_latent_norm_eps,omitempty"`
	MLARoPE         string   `json:"mla_rope,omitempty"` // "decoupled" (default), "none", "after_up"
	MLARoPELayout   string   `json:"mla_rope_layout,omitempty"`
	MLANames        string   `json:"mla_names,omitempty"` // "deepseek" (default) or "seed"
	MLASharedKVDown bool     `json:"mla_shared_kv_down,omitempty"`
}

// hfRope is rope_scaling or rope_parameters.
type hfRope struct {
	Type                 string   `json:"type"`
	RopeType             string   `json:"rope_type"`
	RopeTheta            *float64 `json:"rope_theta"`
	Factor               *float64 `json:"factor"`
	OriginalMaxPositions *int     `json:"original_max_position_embeddings"`
	BetaFast             *float64 `json:"beta_fast"`
	BetaSlow             *float64 `json:"beta_slow"`
	MScale               *float64 `json:"mscale"`
	MScaleAllDim         *float64 `json:"mscale_all_dim"`
}

// ReadHFConfig reads a Hugging Face config.json file (see ParseHFConfig).
func ReadHFConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("mla: %w", err)
	}
	c, err := ParseHFConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseHFConfig reads a DeepSeek-V2/V3 config.json: q_lora_rank null or 0 means no
// query LoRA; rope_scaling (or rope_parameters) of type "yarn" gives the YaRN fields,
// with the reference defaults (beta_fast 32, beta_slow 1, mscale 1, mscale_all_dim 0,
// original_max_position_embeddings 4096) for absent ones. The result is validated.
func ParseHFConfig(data []byte) (Config, error) {
	var h hfConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&h); err != nil {
		return Config{}, fmt.Errorf("mla: config.json: %w", err)
	}
	if h.AttentionBias {
		return Config{}, fmt.Errorf("mla: config.json: attention_bias is true, but this package implements bias-free attention linears (as every DeepSeek checkpoint has)")
	}
	c := Config{
		Name: h.ModelType, Hidden: h.HiddenSize, Heads: h.NumAttentionHeads, Layers: h.NumHiddenLayers,
		KVLoRARank: h.KVLoRARank, QKNopeHeadDim: h.QKNopeHeadDim, QKRopeHeadDim: h.QKRopeHeadDim, VHeadDim: h.VHeadDim,
		LatentNorm: RMSNormKind, NormEps: 1e-6, RoPE: RoPEDecoupled, RoPELayout: Interleaved, RoPETheta: 10000,
		MaxPositions: h.MaxPositionEmbeddings, Vocab: h.VocabSize, Intermediate: h.IntermediateSize,
		RMSNormEps: 1e-6, SharedKVDown: h.MLASharedKVDown,
	}
	if h.QLoRARank != nil {
		c.QLoRARank = *h.QLoRARank
	}
	if h.RMSNormEps != nil {
		c.RMSNormEps = *h.RMSNormEps
	}
	if h.MLALatentEps != nil {
		c.NormEps = *h.MLALatentEps
	}
	var err error
	if c.LatentNorm, err = parseEnum(h.MLALatentNorm, "mla_latent_norm", map[string]NormKind{"": RMSNormKind, "rmsnorm": RMSNormKind, "layernorm": LayerNormKind}); err != nil {
		return Config{}, err
	}
	if c.RoPE, err = parseEnum(h.MLARoPE, "mla_rope", map[string]RoPEMode{"": RoPEDecoupled, "decoupled": RoPEDecoupled, "none": RoPENone, "after_up": RoPEAfterUp}); err != nil {
		return Config{}, err
	}
	if c.RoPELayout, err = parseEnum(h.MLARoPELayout, "mla_rope_layout", map[string]RoPELayout{"": Interleaved, "interleaved": Interleaved, "half_split": HalfSplit}); err != nil {
		return Config{}, err
	}
	if c.Names, err = parseEnum(h.MLANames, "mla_names", map[string]NameScheme{"": DeepSeekNames, "deepseek": DeepSeekNames, "seed": SeedNames}); err != nil {
		return Config{}, err
	}
	if h.RopeTheta != nil {
		c.RoPETheta = *h.RopeTheta
	}
	for _, raw := range []struct {
		key  string
		data json.RawMessage
	}{{"rope_scaling", h.RopeScaling}, {"rope_parameters", h.RopeParameters}} {
		if err := c.readRope(raw.key, raw.data); err != nil {
			return Config{}, err
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("mla: config.json describes an invalid layer: %w", err)
	}
	return c, nil
}

func parseEnum[T any](v, key string, m map[string]T) (T, error) {
	if e, ok := m[strings.ToLower(v)]; ok {
		return e, nil
	}
	var zero T
	names := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			names = append(names, k)
		}
	}
	return zero, fmt.Errorf("mla: config.json: %s = %q, want one of %v", key, v, names)
}

// readRope applies a rope_scaling / rope_parameters object (absent or null: nothing).
func (c *Config) readRope(key string, data json.RawMessage) error {
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	var r hfRope
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("mla: config.json: %s: %w", key, err)
	}
	if r.RopeTheta != nil {
		c.RoPETheta = *r.RopeTheta
	}
	kind := r.Type
	if kind == "" {
		kind = r.RopeType
	}
	switch kind {
	case "", "default":
		return nil
	case "yarn":
	default:
		return fmt.Errorf("mla: config.json: %s type %q is not supported; DeepSeek checkpoints use \"yarn\" (or no scaling)", key, kind)
	}
	y := &YaRN{Factor: 1, OriginalMaxPositions: 4096, BetaFast: 32, BetaSlow: 1, MScale: 1, MScaleAllDim: 0}
	setF := func(dst *float64, src *float64) {
		if src != nil {
			*dst = *src
		}
	}
	setF(&y.Factor, r.Factor)
	setF(&y.BetaFast, r.BetaFast)
	setF(&y.BetaSlow, r.BetaSlow)
	setF(&y.MScale, r.MScale)
	setF(&y.MScaleAllDim, r.MScaleAllDim)
	if r.OriginalMaxPositions != nil {
		y.OriginalMaxPositions = *r.OriginalMaxPositions
	}
	c.YaRN = y
	return nil
}

// MarshalHFConfig writes c as a DeepSeek-style config.json (with the "mla_" keys when
// c is not DeepSeek's own form), readable by ParseHFConfig.
func MarshalHFConfig(c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := map[string]any{
		"model_type": c.Name, "hidden_size": c.Hidden, "num_attention_heads": c.Heads,
		"num_key_value_heads": c.Heads, "num_hidden_layers": c.Layers,
		"kv_lora_rank": c.KVLoRARank, "qk_nope_head_dim": c.QKNopeHeadDim, "qk_rope_head_dim": c.QKRopeHeadDim,
		"v_head_dim": c.VHeadDim, "rope_theta": c.RoPETheta, "rms_norm_eps": c.RMSNormEps,
		"max_position_embeddings": c.MaxPositions, "vocab_size": c.Vocab, "intermediate_size": c.Intermediate,
		"attention_bias": false, "q_lora_rank": nil, "rope_scaling": nil,
	}
	if c.QLoRARank > 0 {
		m["q_lora_rank"] = c.QLoRARank
	}
	if y := c.YaRN; y != nil {
		m["rope_scaling"] = map[string]any{"type": "yarn", "factor": y.Factor,
			"original_max_position_embeddings": y.OriginalMaxPositions, "beta_fast": y.BetaFast,
			"beta_slow": y.BetaSlow, "mscale": y.MScale, "mscale_all_dim": y.MScaleAllDim}
	}
	if c.LatentNorm != RMSNormKind || c.NormEps != 1e-6 {
		m["mla_latent_norm"], m["mla_latent_norm_eps"] = c.LatentNorm.String(), c.NormEps
	}
	if c.RoPE != RoPEDecoupled {
		m["mla_rope"] = c.RoPE.String()
	}
	if c.RoPELayout != Interleaved {
		m["mla_rope_layout"] = c.RoPELayout.String()
	}
	if c.Names == SeedNames {
		m["mla_names"] = "seed"
	}
	if c.SharedKVDown {
		m["mla_shared_kv_down"] = true
	}
	return json.MarshalIndent(m, "", "  ")
}
