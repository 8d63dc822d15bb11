package mla

import (
	"errors"
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd/internal/checked"
)

// Dimension caps of a Config. Each is many times the largest published value (given
// in parentheses for DeepSeek-V3), and together they keep every size this package
// computes from a Config far inside an int64, so that a hostile config.json is
// refused with a message instead of wrapping a product.
const (
	maxHidden       = 1 << 17 // hidden_size (7168)
	maxHeads        = 1 << 12 // num_attention_heads (128)
	maxHeadDim      = 1 << 12 // qk_nope_head_dim, qk_rope_head_dim, v_head_dim (128, 64, 128)
	maxLoRARank     = 1 << 16 // q_lora_rank, kv_lora_rank (1536, 512)
	maxLayers       = 1 << 12 // num_hidden_layers (61)
	maxVocab        = 1 << 23 // vocab_size (129280)
	maxIntermediate = 1 << 20 // intermediate_size (18432)
	maxPositions    = 1 << 30 // max_position_embeddings, original_max_position_embeddings (163840, 4096); also the YaRN factor (40)

	// maxMScale caps YaRN's mscale and mscale_all_dim (1): they scale the softmax by
	// (0.1·m·ln(factor)+1)², so much larger values only push scores past float32.
	maxMScale = 1000
)

// Validate checks that the attention part of c describes a layer this package can
// run, and returns every problem found, each saying how to fix it.
func (c Config) Validate() (err error) {
	defer func() { err = configErr(err) }()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("mla: config %q: "+format, append([]any{c.Name}, args...)...))
	}
	positive := func(name string, v int, hint string) {
		if v <= 0 {
			bad("%s = %d, want > 0 (%s)", name, v, hint)
		}
	}
	positive("Hidden (hidden_size)", c.Hidden, "the model width")
	positive("Heads (num_attention_heads)", c.Heads, "at least one query head")
	positive("KVLoRARank (kv_lora_rank)", c.KVLoRARank, "the cached latent width, e.g. 512")
	positive("QKNopeHeadDim (qk_nope_head_dim)", c.QKNopeHeadDim, "the per-head key width, e.g. 128")
	positive("VHeadDim (v_head_dim)", c.VHeadDim, "the per-head value width, e.g. 128")
	if c.QLoRARank < 0 {
		bad("QLoRARank (q_lora_rank) = %d, want 0 (no query LoRA) or a positive rank", c.QLoRARank)
	}
	if c.QKRopeHeadDim < 0 {
		bad("QKRopeHeadDim (qk_rope_head_dim) = %d, want >= 0", c.QKRopeHeadDim)
	}
	for _, f := range []struct {
		name   string
		v, max int
	}{
		{"Hidden (hidden_size)", c.Hidden, maxHidden},
		{"Heads (num_attention_heads)", c.Heads, maxHeads},
		{"QLoRARank (q_lora_rank)", c.QLoRARank, maxLoRARank},
		{"KVLoRARank (kv_lora_rank)", c.KVLoRARank, maxLoRARank},
		{"QKNopeHeadDim (qk_nope_head_dim)", c.QKNopeHeadDim, maxHeadDim},
		{"QKRopeHeadDim (qk_rope_head_dim)", c.QKRopeHeadDim, maxHeadDim},
		{"VHeadDim (v_head_dim)", c.VHeadDim, maxHeadDim},
		{"MaxPositions (max_position_embeddings)", c.MaxPositions, maxPositions},
		{"Layers (num_hidden_layers)", c.Layers, maxLayers},
		{"Vocab (vocab_size)", c.Vocab, maxVocab},
		{"Intermediate (intermediate_size)", c.Intermediate, maxIntermediate},
	} {
		if f.v > f.max {
			bad("%s = %d is over this package's limit of %d (many times any published model's)", f.name, f.v, f.max)
		}
	}
	if len(errs) == 0 {
		// Within the caps no size can wrap; the checked products stay so that a cap
		// raised later cannot let one wrap silently.
		if w, ok := checked.Mul(max(c.Heads, c.ShardOf), max(c.QKNopeHeadDim, c.VHeadDim)); !ok {
			bad("the per-token K/V width Heads x max(QKNopeHeadDim, VHeadDim) overflows an int")
		} else if c.KVLoRARank >= w {
			bad("KVLoRARank %d is not smaller than the per-token K/V width %d (%d heads x %d): the latent compresses nothing; use about width/32 = %d",
				c.KVLoRARank, w, max(c.Heads, c.ShardOf), max(c.QKNopeHeadDim, c.VHeadDim), max(1, w/32))
		}
		if _, err := c.Footprint(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.LatentNorm != RMSNormKind && c.LatentNorm != LayerNormKind {
		bad("LatentNorm = %d, want RMSNormKind or LayerNormKind", int(c.LatentNorm))
	}
	if !(c.NormEps > 0) || math.IsInf(c.NormEps, 0) || float32(c.NormEps) == 0 {
		bad("NormEps = %g, want a finite eps > 0 that float32 can hold (1e-6 for DeepSeek, 1e-5 for PyTorch's LayerNorm) so a zero latent normalizes to 0, not NaN", c.NormEps)
	}
	switch c.RoPE {
	case RoPEDecoupled:
		if c.QKRopeHeadDim <= 0 || c.QKRopeHeadDim%2 != 0 {
			bad("QKRopeHeadDim = %d with decoupled RoPE, want a positive even number (pairs are rotated; DeepSeek uses 64), or set RoPE to RoPENone", c.QKRopeHeadDim)
		}
	case RoPENone, RoPEAfterUp:
		if c.QKRopeHeadDim != 0 {
			bad("QKRopeHeadDim = %d with RoPE %s, want 0: only decoupled RoPE has separate rotary dimensions", c.QKRopeHeadDim, c.RoPE)
		}
		if c.RoPE == RoPEAfterUp && c.QKNopeHeadDim%2 != 0 {
			bad("QKNopeHeadDim = %d is odd, but RoPE after the up-projection rotates pairs of a whole key head; use an even head dim", c.QKNopeHeadDim)
		}
	default:
		bad("RoPE = %d, want RoPEDecoupled, RoPENone or RoPEAfterUp", int(c.RoPE))
	}
	if c.RoPE != RoPENone {
		if c.RoPELayout != Interleaved && c.RoPELayout != HalfSplit {
			bad("RoPELayout = %d, want Interleaved or HalfSplit", int(c.RoPELayout))
		}
		if !(c.RoPETheta > 1) || math.IsInf(c.RoPETheta, 0) {
			bad("RoPETheta (rope_theta) = %g, want a finite base > 1 (10000 for DeepSeek)", c.RoPETheta)
		}
	}
	if y := c.YaRN; y != nil {
		if c.RoPE == RoPENone {
			bad("YaRN is set but RoPE is none; drop rope_scaling or enable RoPE")
		}
		if !(y.Factor >= 1 && y.Factor <= maxPositions) {
			bad("YaRN.Factor = %g, want a factor in [1, %d] (the context extension factor, 40 for DeepSeek)", y.Factor, maxPositions)
		}
		if y.OriginalMaxPositions <= 0 || y.OriginalMaxPositions > maxPositions {
			bad("YaRN.OriginalMaxPositions = %d, want the pre-extension context in [1, %d] (original_max_position_embeddings, 4096 for DeepSeek)", y.OriginalMaxPositions, maxPositions)
		}
		if !(y.BetaFast > y.BetaSlow && y.BetaSlow > 0) || math.IsInf(y.BetaFast, 0) {
			bad("YaRN beta_fast = %g, beta_slow = %g, want finite beta_fast > beta_slow > 0 (DeepSeek: 32 and 1)", y.BetaFast, y.BetaSlow)
		}
		if !(y.MScale >= 0 && y.MScale <= maxMScale) || !(y.MScaleAllDim >= 0 && y.MScaleAllDim <= maxMScale) {
			bad("YaRN mscale = %g, mscale_all_dim = %g, want values in [0, %d] (DeepSeek: 0.707 or 1)", y.MScale, y.MScaleAllDim, maxMScale)
		}
	}
	if len(errs) == 0 {
		// The derived factors must survive the float32 the kernels use: finite
		// inputs can still give an infinite m² or a scale that rounds to 0.
		if tau := c.SoftmaxScale(); !(tau > 0) || math.IsInf(tau, 0) || float32(tau) == 0 || math.IsInf(float64(float32(tau)), 0) {
			bad("the softmax scale d_qk^-1/2 x m^2 = %g (m from the YaRN factor and mscale_all_dim) is not a positive float32; use a smaller factor or mscale_all_dim", tau)
		}
		if f := c.RoPEAttentionFactor(); !(f > 0) || math.IsInf(f, 0) || float32(f) == 0 || math.IsInf(float64(float32(f)), 0) {
			bad("the RoPE cos/sin multiplier g(factor, mscale)/g(factor, mscale_all_dim) = %g is not a positive float32; use smaller YaRN mscales", f)
		}
	}
	return errors.Join(errs...)
}

// validateModel checks the decoder fields on top of the attention ones.
func (c Config) validateModel() error {
	var errs []error
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	for _, f := range []struct {
		name string
		v    int
		hint string
	}{
		{"Layers (num_hidden_layers)", c.Layers, "at least one block"},
		{"Vocab (vocab_size)", c.Vocab, "the number of token ids"},
		{"Intermediate (intermediate_size)", c.Intermediate, "the SwiGLU hidden width, e.g. 4*Hidden"},
	} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("mla: config %q: %s = %d, want > 0 for a Model (%s)", c.Name, f.name, f.v, f.hint))
		}
	}
	if c.MoE != nil {
		if err := c.MoE.validate(c.Name, c.Hidden); err != nil {
			errs = append(errs, err)
		}
	}
	if !(c.RMSNormEps > 0) || math.IsInf(c.RMSNormEps, 0) || float32(c.RMSNormEps) == 0 {
		errs = append(errs, fmt.Errorf("mla: config %q: RMSNormEps (rms_norm_eps) = %g, want a finite eps > 0 that float32 can hold, e.g. 1e-6", c.Name, c.RMSNormEps))
	}
	return errors.Join(errs...)
}
