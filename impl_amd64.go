//go:build gc && !purego

package mlasimd

import "github.com/mlasimd/mlasimd/dispatch"

// Registered in a variable initializer so it happens before impl.go's init selects.
var _ = register(dispatch.AVX2, primitives{
	dot: dotAVX2, sum: sumAVX2, sumSqDiff: sumSqDiffAVX2,
	axpy: axpyAVX2, scale: scaleAVX2, scaleMul: scaleMulAVX2, affine: affineAVX2,
	gemv: gemvAVX2, gemvT: gemvTAVX2, downUp: downUpAVX2,
	gemmNT: gemmNTAVX2, gemmNN: gemmNNAVX2,
	exp: expAVX2, maxScaled: maxScaledAVX2, expSum: expSumAVX2,
	rope: ropeAVX2, ropeHalf: ropeHalfAVX2,
	f16ToF32: f16ToF32AVX2, bf16ToF32: bf16ToF32AVX2,
}.compose())
