//go:build gc && !purego

package mlasimd

import "github.com/mlasimd/mlasimd/dispatch"

// Registered in a variable initializer so it happens before impl.go's init selects.
var _ = register(dispatch.NEON, primitives{
	dot: dotNEON, sum: sumNEON, sumSqDiff: sumSqDiffNEON,
	axpy: axpyNEON, scale: scaleNEON, scaleMul: scaleMulNEON, affine: affineNEON,
	gemv: gemvNEON, gemvT: gemvTNEON, downUp: downUpNEON,
	gemmNT: gemmNTNEON, gemmNN: gemmNNNEON,
	exp: expNEON, maxScaled: maxScaledNEON, expSum: expSumNEON,
	rope: ropeNEON, ropeHalf: ropeHalfNEON,
	f16ToF32: f16ToF32NEON, bf16ToF32: bf16ToF32NEON,
}.compose())
