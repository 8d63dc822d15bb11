package mla

import (
	"fmt"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/safetensors"
)

// DType is the element type of a Cache and of checkpoint tensors: safetensors.DType,
// so that a cache type and a tensor's dtype compare. A Cache holds F32, BF16 or F16;
// checkpoints may also hold safetensors.F8E4M3 (DeepSeek-V3), which the loader
// dequantizes.
type DType = safetensors.DType

// The storage types of a Cache (re-exported from package safetensors).
const (
	F32  = safetensors.F32
	BF16 = safetensors.BF16
	F16  = safetensors.F16
	I8   = safetensors.I8 // a Cache only: int8 rows with a scale per row for c and for kr
	// FP8 is E4M3 (safetensors.F8E4M3): a Cache's rows as E4M3 bytes with a scale
	// per row; checkpoints' FP8 weights (DeepSeek-V3) come with block scales.
	FP8 = safetensors.F8E4M3
)

// checkCacheType returns an error unless a cache of layers of Config c can hold its
// rows in d: F32, BF16, F16, or I8 where d_c is a multiple of 16, d_r one of 4 and
// the row at most mlasimd.I8MaxWidth values (the int8 attention's layout).
func checkCacheType(c Config, d DType) error {
	switch d {
	case F32, BF16, F16, FP8:
		return nil
	case I8:
		dc, dr := c.KVLoRARank, c.QKRopeHeadDim
		if dc%16 != 0 || dr%4 != 0 || dr == 0 || dc+dr > mlasimd.I8MaxWidth {
			return fmt.Errorf("mla: an I8 cache needs kv_lora_rank a multiple of 16 (have %d), qk_rope_head_dim a positive multiple of 4 (have %d) and rows of at most %d values: %w", dc, dr, mlasimd.I8MaxWidth, ErrShape)
		}
		return nil
	}
	return fmt.Errorf("mla: cache dtype %s is not supported; use F32, BF16, F16, I8 or FP8 (E4M3): %w", d, ErrShape)
}
