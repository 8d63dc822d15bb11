package mla

import "github.com/mlasimd/mlasimd/safetensors"

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
)

func isCacheType(d DType) bool { return d == F32 || d == BF16 || d == F16 }
