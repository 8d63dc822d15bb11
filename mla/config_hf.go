package mla

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mlasimd/mlasimd/internal/strictjson"
)

// hfConfig is the subset of a Hugging Face DeepSeek config.json this package reads,
// plus a few "mla_" keys of its own for the seed variant, which Hugging Face has no
// model type for.
type hfConfig struct {
	ModelType             string
	MLAName               string // the Config's Name when it is not the model_type
	HasMLAName            bool   // mla_name was given (an empty name is a name)
	HiddenSize            int
	NumAttentionHeads     int
	NumHiddenLayers       int
	QLoRARank             *int // null (HF) or 0 (DeepSeek) mean none
	KVLoRARank            int
	QKNopeHeadDim         int
	QKRopeHeadDim         int
	VHeadDim              int
	RopeTheta             *float64
	RopeScaling           *hfRope
	RopeParameters        *hfRope // newer transformers
	RMSNormEps            *float64
	MaxPositionEmbeddings int
	VocabSize             int
	IntermediateSize      int
	AttentionBias         bool
	BlockSize             []int // quantization_config.weight_block_size

	MLALatentNorm   string // "rmsnorm" (default) or "layernorm"
	MLALatentEps    *float64
	MLARoPE         string // "decoupled" (default), "none", "after_up"
	MLARoPELayout   string
	MLANames        string // "deepseek" (default) or "seed"
	MLASharedKVDown bool

	MoE hfMoE
}

// hfConfigKeys are the config.json keys read (see unknownKey).
var hfConfigKeys = []string{"model_type", "hidden_size", "num_attention_heads", "num_hidden_layers",
	"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "rope_theta",
	"rope_scaling", "rope_parameters", "rms_norm_eps", "max_position_embeddings", "vocab_size",
	"intermediate_size", "attention_bias", "quantization_config", "mla_latent_norm", "mla_latent_norm_eps",
	"mla_name", "mla_rope", "mla_rope_layout", "mla_names", "mla_shared_kv_down"}

// hfRope is rope_scaling or rope_parameters.
type hfRope struct {
	Type                 string
	RopeType             string
	RopeTheta            *float64
	Factor               *float64
	OriginalMaxPositions *int
	BetaFast             *float64
	BetaSlow             *float64
	MScale               *float64
	MScaleAllDim         *float64
}

// ReadHFConfig reads a Hugging Face config.json file (see ParseHFConfig), which must
// be a regular file of at most 4 MiB.
func ReadHFConfig(path string) (_ Config, err error) {
	defer func() { err = configErr(err) }()
	data, err := readSmallFile(path, maxConfigBytes, "config.json")
	if err != nil {
		return Config{}, err
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
// original_max_position_embeddings 4096) for absent ones. Keys match exactly and may
// not repeat, at any level; keys it does not read are ignored, as Hugging Face
// ignores them, unless they differ from one it reads only in case. The result is
// validated.
func ParseHFConfig(data []byte) (_ Config, err error) {
	defer func() { err = configErr(err) }()
	c, _, err := parseHFConfig(data)
	return c, err
}

func parseHFConfig(data []byte) (Config, *hfConfig, error) {
	h, err := decodeHFConfig(data)
	if err != nil {
		return Config{}, nil, fmt.Errorf("mla: config.json: %w", err)
	}
	if h.AttentionBias {
		return Config{}, nil, fmt.Errorf("mla: config.json: attention_bias is true, but this package implements bias-free attention linears (as every DeepSeek checkpoint has)")
	}
	c := Config{
		Name: h.ModelType, Hidden: h.HiddenSize, Heads: h.NumAttentionHeads, Layers: h.NumHiddenLayers,
		KVLoRARank: h.KVLoRARank, QKNopeHeadDim: h.QKNopeHeadDim, QKRopeHeadDim: h.QKRopeHeadDim, VHeadDim: h.VHeadDim,
		LatentNorm: RMSNormKind, NormEps: 1e-6, RoPE: RoPEDecoupled, RoPELayout: Interleaved, RoPETheta: 10000,
		MaxPositions: h.MaxPositionEmbeddings, Vocab: h.VocabSize, Intermediate: h.IntermediateSize,
		RMSNormEps: 1e-6, SharedKVDown: h.MLASharedKVDown,
	}
	if h.HasMLAName {
		c.Name = h.MLAName
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
	if c.LatentNorm, err = parseEnum(h.MLALatentNorm, "mla_latent_norm", map[string]NormKind{"": RMSNormKind, "rmsnorm": RMSNormKind, "layernorm": LayerNormKind}); err != nil {
		return Config{}, nil, err
	}
	if c.RoPE, err = parseEnum(h.MLARoPE, "mla_rope", map[string]RoPEMode{"": RoPEDecoupled, "decoupled": RoPEDecoupled, "none": RoPENone, "after_up": RoPEAfterUp}); err != nil {
		return Config{}, nil, err
	}
	if c.RoPELayout, err = parseEnum(h.MLARoPELayout, "mla_rope_layout", map[string]RoPELayout{"": Interleaved, "interleaved": Interleaved, "half_split": HalfSplit}); err != nil {
		return Config{}, nil, err
	}
	if c.Names, err = parseEnum(h.MLANames, "mla_names", map[string]NameScheme{"": DeepSeekNames, "deepseek": DeepSeekNames, "seed": SeedNames}); err != nil {
		return Config{}, nil, err
	}
	if h.RopeTheta != nil {
		c.RoPETheta = *h.RopeTheta
	}
	if err := c.applyRope("rope_scaling", h.RopeScaling); err != nil {
		return Config{}, nil, err
	}
	if err := c.applyRope("rope_parameters", h.RopeParameters); err != nil {
		return Config{}, nil, err
	}
	if b := h.BlockSize; b != nil && (len(b) != 2 || b[0] <= 0 || b[1] <= 0 || b[0] > maxBlockSize || b[1] > maxBlockSize) {
		return Config{}, nil, fmt.Errorf("mla: config.json: quantization_config.weight_block_size = %v, want [rows, cols] in [1, %d], e.g. [128, 128]", b, maxBlockSize)
	}
	if c.MoE, err = h.MoE.config(h.ModelType); err != nil {
		return Config{}, nil, err
	}
	if c.MoE != nil {
		if err := c.MoE.validate(c.Name, c.Hidden); err != nil {
			return Config{}, nil, fmt.Errorf("mla: config.json: %w", err)
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, nil, fmt.Errorf("mla: config.json describes an invalid layer: %w", err)
	}
	return c, h, nil
}

// decodeHFConfig reads the keys of hfConfig with the strict parser.
func decodeHFConfig(data []byte) (*hfConfig, error) {
	p, err := strictjson.New(data)
	if err != nil {
		return nil, err
	}
	h := &hfConfig{}
	err = p.Object(func(key string) error {
		var err error
		switch key {
		case "model_type":
			err = p.OptString(&h.ModelType)
		case "hidden_size":
			err = p.OptInt(&h.HiddenSize)
		case "num_attention_heads":
			err = p.OptInt(&h.NumAttentionHeads)
		case "num_hidden_layers":
			err = p.OptInt(&h.NumHiddenLayers)
		case "q_lora_rank":
			err = p.OptIntPtr(&h.QLoRARank)
		case "kv_lora_rank":
			err = p.OptInt(&h.KVLoRARank)
		case "qk_nope_head_dim":
			err = p.OptInt(&h.QKNopeHeadDim)
		case "qk_rope_head_dim":
			err = p.OptInt(&h.QKRopeHeadDim)
		case "v_head_dim":
			err = p.OptInt(&h.VHeadDim)
		case "rope_theta":
			err = p.OptFloatPtr(&h.RopeTheta)
		case "rope_scaling":
			h.RopeScaling, err = decodeRope(p)
		case "rope_parameters":
			h.RopeParameters, err = decodeRope(p)
		case "rms_norm_eps":
			err = p.OptFloatPtr(&h.RMSNormEps)
		case "max_position_embeddings":
			err = p.OptInt(&h.MaxPositionEmbeddings)
		case "vocab_size":
			err = p.OptInt(&h.VocabSize)
		case "intermediate_size":
			err = p.OptInt(&h.IntermediateSize)
		case "attention_bias":
			err = p.OptBool(&h.AttentionBias)
		case "quantization_config":
			h.BlockSize, err = decodeQuantization(p)
		case "mla_name":
			h.HasMLAName = true
			err = p.OptString(&h.MLAName)
		case "mla_latent_norm":
			err = p.OptString(&h.MLALatentNorm)
		case "mla_latent_norm_eps":
			err = p.OptFloatPtr(&h.MLALatentEps)
		case "mla_rope":
			err = p.OptString(&h.MLARoPE)
		case "mla_rope_layout":
			err = p.OptString(&h.MLARoPELayout)
		case "mla_names":
			err = p.OptString(&h.MLANames)
		case "mla_shared_kv_down":
			err = p.OptBool(&h.MLASharedKVDown)
		default:
			if ok, err := h.MoE.decode(p, key); ok {
				return strictjson.KeyErr(key, err)
			}
			return p.UnknownKey(key, append(hfConfigKeys, hfMoEKeys...)...)
		}
		return strictjson.KeyErr(key, err)
	})
	if err == nil {
		err = p.End()
	}
	return h, err
}

var hfRopeKeys = []string{"type", "rope_type", "rope_theta", "factor", "original_max_position_embeddings",
	"beta_fast", "beta_slow", "mscale", "mscale_all_dim"}

// decodeRope reads a rope_scaling / rope_parameters object, or null (nil).
func decodeRope(p *strictjson.Parser) (*hfRope, error) {
	if p.Null() {
		return nil, nil
	}
	r := &hfRope{}
	return r, p.Object(func(key string) error {
		var err error
		switch key {
		case "type":
			err = p.OptString(&r.Type)
		case "rope_type":
			err = p.OptString(&r.RopeType)
		case "rope_theta":
			err = p.OptFloatPtr(&r.RopeTheta)
		case "factor":
			err = p.OptFloatPtr(&r.Factor)
		case "original_max_position_embeddings":
			err = p.OptIntPtr(&r.OriginalMaxPositions)
		case "beta_fast":
			err = p.OptFloatPtr(&r.BetaFast)
		case "beta_slow":
			err = p.OptFloatPtr(&r.BetaSlow)
		case "mscale":
			err = p.OptFloatPtr(&r.MScale)
		case "mscale_all_dim":
			err = p.OptFloatPtr(&r.MScaleAllDim)
		default:
			return p.UnknownKey(key, hfRopeKeys...)
		}
		return strictjson.KeyErr(key, err)
	})
}

// decodeQuantization reads quantization_config (or null) for its weight_block_size.
func decodeQuantization(p *strictjson.Parser) ([]int, error) {
	if p.Null() {
		return nil, nil
	}
	var block []int
	err := p.Object(func(key string) error {
		if key != "weight_block_size" {
			return p.UnknownKey(key, "weight_block_size", "quant_method")
		}
		if p.Null() {
			return nil
		}
		block = []int{}
		return strictjson.KeyErr(key, p.Array(func(i int) error {
			if i >= 2 {
				return errors.New("more than 2 values, want [rows, cols]")
			}
			v, err := p.Integer()
			block = append(block, v)
			return err
		}))
	})
	return block, err
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

// applyRope applies a rope_scaling / rope_parameters object (nil: nothing).
func (c *Config) applyRope(key string, r *hfRope) error {
	if r == nil {
		return nil
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
// c is not DeepSeek's own form), readable by ParseHFConfig. For DeepSeek's form it is
// one that Hugging Face transformers loads: model_type deepseek_v3 when c.Name is
// "deepseek_v3", else deepseek_v2 (c.Name, when it is neither, goes in "mla_name"),
// with the architectures and auto_map entries of DeepSeek's published configs and
// no routed experts (every layer a dense MLP of intermediate_size, as Model runs).
func MarshalHFConfig(c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !utf8.ValidString(c.Name) {
		// encoding/json would write U+FFFD: the file would not name the model given.
		return nil, fmt.Errorf("mla: config %q: the name is not valid UTF-8", c.Name)
	}
	modelType, arch := "deepseek_v2", "DeepseekV2"
	if c.Name == "deepseek_v3" {
		modelType, arch = "deepseek_v3", "DeepseekV3"
	}
	m := map[string]any{
		"model_type": modelType, "architectures": []string{arch + "ForCausalLM"},
		"auto_map": map[string]string{
			"AutoConfig":           "configuration_deepseek." + arch + "Config",
			"AutoModel":            "modeling_deepseek." + arch + "Model",
			"AutoModelForCausalLM": "modeling_deepseek." + arch + "ForCausalLM",
		},
		"hidden_act": "silu", "n_routed_experts": nil, "n_shared_experts": nil, "first_k_dense_replace": 0,
		"moe_layer_freq": 1, "tie_word_embeddings": false, "attention_dropout": 0.0, "initializer_range": 0.02,
		"hidden_size": c.Hidden, "num_attention_heads": c.Heads,
		"num_key_value_heads": c.Heads, "num_hidden_layers": c.Layers,
		"kv_lora_rank": c.KVLoRARank, "qk_nope_head_dim": c.QKNopeHeadDim, "qk_rope_head_dim": c.QKRopeHeadDim,
		"v_head_dim": c.VHeadDim, "rope_theta": c.RoPETheta, "rms_norm_eps": c.RMSNormEps,
		"max_position_embeddings": c.MaxPositions, "vocab_size": c.Vocab, "intermediate_size": c.Intermediate,
		"attention_bias": false, "q_lora_rank": nil, "rope_scaling": nil,
	}
	if c.Name != modelType {
		m["mla_name"] = c.Name
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
	if c.MoE != nil {
		c.MoE.hfKeys(m)
	}
	return json.MarshalIndent(m, "", "  ")
}
