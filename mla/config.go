package mla

import (
	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
)

// NormKind is the normalization applied to a latent before it is used (and, for the
// KV latent, before it is cached).
type NormKind int

const (
	// RMSNormKind scales by 1/rms and a gain (DeepSeek's q_a_layernorm, kv_a_layernorm).
	RMSNormKind NormKind = iota
	// LayerNormKind subtracts the mean, scales by 1/std, a gain and adds a bias (the seed).
	LayerNormKind
)

func (k NormKind) String() string {
	switch k {
	case RMSNormKind:
		return "rmsnorm"
	case LayerNormKind:
		return "layernorm"
	}
	return "NormKind(?)"
}

// RoPEMode says where the rotary position embedding enters the attention.
type RoPEMode int

const (
	// RoPEDecoupled is DeepSeek's: each query head has QKRopeHeadDim extra rotary
	// dimensions, and one rotary key, shared by all heads, is cached next to the
	// latent. Weight absorption works.
	RoPEDecoupled RoPEMode = iota
	// RoPENone has no positional rotation (the seed called without position
	// embeddings). Weight absorption works.
	RoPENone
	// RoPEAfterUp rotates the full decompressed per-head keys and the queries (the
	// seed with position embeddings). The rotation sits between the query and the
	// key up-projection, so absorption is impossible: Decode then decompresses the
	// whole cache every step, as the seed does.
	RoPEAfterUp
)

func (m RoPEMode) String() string {
	switch m {
	case RoPEDecoupled:
		return "decoupled"
	case RoPENone:
		return "none"
	case RoPEAfterUp:
		return "after_up"
	}
	return "RoPEMode(?)"
}

// RoPELayout says which dimensions form a rotated pair.
type RoPELayout int

const (
	// Interleaved rotates (x[2i], x[2i+1]): DeepSeek's checkpoints, vLLM, llama.cpp.
	Interleaved RoPELayout = iota
	// HalfSplit rotates (x[i], x[i+n/2]): the NeoX "rotate_half" layout.
	HalfSplit
)

func (l RoPELayout) String() string {
	if l == HalfSplit {
		return "half_split"
	}
	return "interleaved"
}

// YaRN holds the rope_scaling fields of a DeepSeek checkpoint (type "yarn").
type YaRN struct {
	Factor               float64 // context extension factor s (40 for DeepSeek)
	OriginalMaxPositions int     // L0, original_max_position_embeddings (4096)
	BetaFast, BetaSlow   float64 // correction range in rotations (32, 1)
	MScale               float64 // mscale: numerator of the cos/sin multiplier
	MScaleAllDim         float64 // mscale_all_dim: enters the softmax scale as m²
}

// Config describes one MLA attention layer, and optionally the decoder model around
// it. Dimensions use the Hugging Face DeepSeek names; the seed variant maps onto them
// (QKNopeHeadDim = VHeadDim = head_dim, QKRopeHeadDim = 0, KVLoRARank = d_latent).
type Config struct {
	Name string

	Hidden int // D, hidden_size
	Heads  int // H, num_attention_heads
	// ShardOf is, for the Config of a head shard (ShardHeads), the head count of the
	// whole layer, whose latent Validate checks; 0 for a whole layer.
	ShardOf       int
	QLoRARank     int // d_q, q_lora_rank; 0 means none (q_proj maps D straight to the heads)
	KVLoRARank    int // d_c, kv_lora_rank: the cached latent width
	QKNopeHeadDim int // d_n: per-head query/key width without rotation
	QKRopeHeadDim int // d_r: per-head rotary query width = width of the shared rope key
	VHeadDim      int // d_v: per-head value width

	LatentNorm NormKind // normalization of the KV latent; the query latent (q LoRA) always uses RMSNorm
	NormEps    float64  // eps of the latent norms (1e-6 DeepSeek, 1e-5 PyTorch LayerNorm)

	RoPE       RoPEMode
	RoPELayout RoPELayout
	RoPETheta  float64 // rope_theta, the frequency base
	YaRN       *YaRN   // nil: plain RoPE, softmax scale d_qk^-1/2

	MaxPositions int // max_position_embeddings (informational)

	// Names is the tensor naming scheme of checkpoints for this configuration.
	Names NameScheme

	// SharedKVDown makes every layer of a Model use one KV down-projection (the seed's
	// "shared compression across layers"); each layer still has its own cache.
	SharedKVDown bool

	// Decoder model fields, used by Model only.
	Layers       int     // num_hidden_layers
	Vocab        int     // vocab_size
	Intermediate int     // intermediate_size of the dense SwiGLU FFN
	RMSNormEps   float64 // rms_norm_eps of the block and final norms

	// MoE, when not nil, gives blocks a DeepSeek mixture-of-experts FFN (see
	// MoEConfig and IsMoELayer).
	MoE *MoEConfig
}

// QKHeadDim is d_qk = d_n + d_r, the per-head query/key width the softmax scale uses.
func (c Config) QKHeadDim() int { return c.QKNopeHeadDim + c.QKRopeHeadDim }

// CacheRowWidth is the number of values cached per token and layer: the latent plus
// the shared rope key (576 for DeepSeek).
func (c Config) CacheRowWidth() int { return c.KVLoRARank + c.QKRopeHeadDim }

// KVWidth is the per-token width of one of K or V once decompressed over all heads,
// the width a latent must be much smaller than to compress anything.
func (c Config) KVWidth() int { return c.Heads * max(c.QKNopeHeadDim, c.VHeadDim) }

// Absorbable reports whether weight absorption applies (Decode attends in the latent
// space). It does not when RoPE rotates the decompressed keys.
func (c Config) Absorbable() bool { return c.RoPE != RoPEAfterUp }

// ropeDim is the number of dimensions one rotation covers: the rope key width, or a
// whole key head when rotating after the up-projection.
func (c Config) ropeDim() int {
	switch c.RoPE {
	case RoPEDecoupled:
		return c.QKRopeHeadDim
	case RoPEAfterUp:
		return c.QKNopeHeadDim
	}
	return 0
}

func deepSeekYaRN(mscale float64) *YaRN {
	return &YaRN{Factor: 40, OriginalMaxPositions: 4096, BetaFast: 32, BetaSlow: 1, MScale: mscale, MScaleAllDim: mscale}
}

// DeepSeekV2Lite returns DeepSeek-V2-Lite's configuration (16B; no query LoRA).
func DeepSeekV2Lite() Config {
	return Config{
		Name: "DeepSeek-V2-Lite", Hidden: 2048, Heads: 16, QLoRARank: 0, KVLoRARank: 512,
		QKNopeHeadDim: 128, QKRopeHeadDim: 64, VHeadDim: 128,
		LatentNorm: RMSNormKind, NormEps: 1e-6, RoPE: RoPEDecoupled, RoPELayout: Interleaved,
		RoPETheta: 10000, YaRN: deepSeekYaRN(0.707), MaxPositions: 163840,
		Layers: 27, Vocab: 102400, Intermediate: 10944, RMSNormEps: 1e-6,
	}
}

// DeepSeekV2 returns DeepSeek-V2's configuration (236B).
func DeepSeekV2() Config {
	c := DeepSeekV2Lite()
	c.Name, c.Hidden, c.Heads, c.QLoRARank = "DeepSeek-V2", 5120, 128, 1536
	c.Layers, c.Intermediate = 60, 12288
	return c
}

// DeepSeekV3 returns DeepSeek-V3's configuration (671B; R1 has the same attention).
func DeepSeekV3() Config {
	c := DeepSeekV2()
	c.Name, c.Hidden, c.YaRN = "DeepSeek-V3", 7168, deepSeekYaRN(1.0)
	c.Layers, c.Vocab, c.Intermediate = 61, 129280, 18432
	return c
}

// Seed returns the seed variant (see the package documentation): head_dim =
// hidden/heads, one latent of width latent with LayerNorm (eps 1e-5), separate K and V
// up-projections, scale head_dim^-1/2, no RoPE. Set RoPE to RoPEAfterUp (and
// RoPETheta) for its position-embedding path, SharedKVDown for shared compression.
// The model fields describe a small decoder around it.
func Seed(hidden, heads, latent int) Config {
	hd := 0
	if heads > 0 {
		hd = hidden / heads
	}
	return Config{
		Name: "seed", Hidden: hidden, Heads: heads, KVLoRARank: latent,
		QKNopeHeadDim: hd, VHeadDim: hd,
		LatentNorm: LayerNormKind, NormEps: 1e-5, RoPE: RoPENone, RoPELayout: HalfSplit, Names: SeedNames,
		RoPETheta: 10000, MaxPositions: 4096,
		Layers: 2, Vocab: 256, Intermediate: 4 * hidden, RMSNormEps: 1e-6,
	}
}

// NameScheme selects the checkpoint tensor names of a layer.
type NameScheme int

const (
	// DeepSeekNames are Hugging Face DeepSeek-V2/V3 names: q_proj or q_a_proj,
	// q_a_layernorm and q_b_proj; kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj (per
	// head: d_n key rows then d_v value rows); o_proj.
	DeepSeekNames NameScheme = iota
	// SeedNames are the seed module's names: q_proj, kv_down_proj, latent_norm
	// (weight and bias), k_up_proj, v_up_proj (all heads' keys, then all values as a
	// separate tensor), o_proj; a shared down-projection is model.kv_down_proj.weight.
	SeedNames
)

// Level reports the mlasimd instruction-set Level the kernels currently run on.
func Level() dispatch.Level { return mlasimd.Active() }
