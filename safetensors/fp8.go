package safetensors

import "github.com/mlasimd/mlasimd/kernels"

// decodeE4M3 widens FP8 E4M3 bytes to float32 (len(dst) >= len(src)), as
// kernels.E4M3Value defines each byte: sign, 4 exponent bits with bias 7, 3
// mantissa bits; exponent 0 is subnormal (m/8·2^-6); S.1111.111 is NaN.
func decodeE4M3(dst []float32, src []byte) { kernels.E4M3ToF32(dst[:len(src)], src) }
