package mla

import (
	"errors"
	"fmt"
	"math"
)

// Validate checks that the attention part of c describes a layer this package can
// run, and returns every problem found, each saying how to fix it.
func (c Config) Validate() error {
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
	if w := c.KVWidth(); c.KVLoRARank > 0 && w > 0 && c.KVLoRARank >= w {
		bad("KVLoRARank %d is not smaller than the per-token K/V width %d (%d heads x %d): the latent compresses nothing; use about width/32 = %d",
			c.KVLoRARank, w, c.Heads, max(c.QKNopeHeadDim, c.VHeadDim), max(1, w/32))
	}
	if c.LatentNorm != RMSNormKind && c.LatentNorm != LayerNormKind {
		bad("LatentNorm = %d, want RMSNormKind or LayerNormKind", int(c.LatentNorm))
	}
	if !(c.NormEps > 0) {
		bad("NormEps = %g, want > 0 (1e-6 for DeepSeek, 1e-5 for PyTorch's LayerNorm) so a zero latent normalizes to 0, not NaN", c.NormEps)
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
		if !(c.RoPETheta > 1) {
			bad("RoPETheta (rope_theta) = %g, want > 1 (10000 for DeepSeek)", c.RoPETheta)
		}
	}
	if y := c.YaRN; y != nil {
		if c.RoPE == RoPENone {
			bad("YaRN is set but RoPE is none; drop rope_scaling or enable RoPE")
		}
		if !(y.Factor >= 1) {
			bad("YaRN.Factor = %g, want >= 1 (the context extension factor, 40 for DeepSeek)", y.Factor)
		}
		if y.OriginalMaxPositions <= 0 {
			bad("YaRN.OriginalMaxPositions = %d, want the pre-extension context (original_max_position_embeddings, 4096 for DeepSeek)", y.OriginalMaxPositions)
		}
		if !(y.BetaFast > y.BetaSlow && y.BetaSlow > 0) {
			bad("YaRN beta_fast = %g, beta_slow = %g, want beta_fast > beta_slow > 0 (DeepSeek: 32 and 1)", y.BetaFast, y.BetaSlow)
		}
		if y.MScale < 0 || y.MScaleAllDim < 0 || math.IsNaN(y.MScale) || math.IsNaN(y.MScaleAllDim) {
			bad("YaRN mscale = %g, mscale_all_dim = %g, want >= 0", y.MScale, y.MScaleAllDim)
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
	if !(c.RMSNormEps > 0) {
		errs = append(errs, fmt.Errorf("mla: config %q: RMSNormEps (rms_norm_eps) = %g, want > 0, e.g. 1e-6", c.Name, c.RMSNormEps))
	}
	return errors.Join(errs...)
}
