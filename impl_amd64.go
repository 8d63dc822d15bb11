//go:build gc && !purego

package mlasimd

import "github.com/mlasimd/mlasimd/dispatch"

// Registered in variable initializers so it happens before impl.go's init selects.
var (
	_ = register(dispatch.AVX2, primitives{
		dot: dotAVX2, sum: sumAVX2, sumSqDiff: sumSqDiffAVX2,
		axpy: axpyAVX2, scale: scaleAVX2, scaleMul: scaleMulAVX2, affine: affineAVX2,
		gemv: gemvAVX2, gemvPrefetch: gemvPrefetchAVX2, gemvT: gemvTAVX2, gemvTStream: gemvTStreamAVX2, downUp: downUpAVX2, downUpPrefetch: downUpPrefetchAVX2,
		gemmNT: gemmNTAVX2, gemmNN: gemmNNAVX2,
		exp: expAVX2, maxScaled: maxScaledAVX2, expSum: expSumAVX2,
		rope: ropeAVX2, ropeHalf: ropeHalfAVX2,
		f16ToF32: f16ToF32AVX2, bf16ToF32: bf16ToF32AVX2,
	}.compose())

	_ = register(dispatch.AVX512, primitives{
		dot: dotAVX512, sum: sumAVX512, sumSqDiff: sumSqDiffAVX512,
		axpy: axpyAVX512, scale: scaleAVX512, scaleMul: scaleMulAVX512, affine: affineAVX512,
		gemv: gemvAVX512, gemvPrefetch: gemvPrefetchAVX512, gemvT: gemvTAVX512, gemvTStream: gemvTStreamAVX512, downUp: downUpAVX512, downUpPrefetch: downUpPrefetchAVX512,
		gemmNT: gemmNTAVX512, gemmNTAdd: gemmNTAddAVX512, gemmNN: gemmNNAVX512,
		exp: expAVX512, maxScaled: maxScaledAVX512, expSum: expSumAVX512,
		rope: ropeAVX512, ropeHalf: ropeHalfAVX512,
		f16ToF32: f16ToF32AVX512, bf16ToF32: bf16ToF32AVX512,
	}.compose())
)
