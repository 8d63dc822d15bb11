//go:build gc && !purego

package mlasimd

import "github.com/mlasimd/mlasimd/dispatch"

// Registered in a variable initializer so it happens before impl.go's init selects.
// The NEON routines take no prefetch hints yet (amd64's gemvPrefetch and gemmNT's
// next): prefetch distances need tuning on arm64 hardware, which we have not had.
var _ = register(dispatch.NEON, primitives{
	dot: dotNEON, sum: sumNEON, sumSqDiff: sumSqDiffNEON,
	axpy: axpyNEON, scale: scaleNEON, scaleMul: scaleMulNEON, affine: affineNEON,
	gemv: gemvNEON, gemvPrefetch: func(y, w, x, _ []float32) { gemvNEON(y, w, x) }, gemvT: gemvTNEON, downUp: downUpNEON, downUpPrefetch: downUpNEON,
	gemmNT: func(c, a, b, _ []float32, m, n, k, lda, ldb, ldc int) {
		gemmNTNEON(c, a, b, m, n, k, lda, ldb, ldc)
	}, gemmNN: gemmNNNEON,
	exp: expNEON, maxScaled: maxScaledNEON, expSum: expSumNEON,
	rope: ropeNEON, ropeHalf: ropeHalfNEON,
	f16ToF32: f16ToF32NEON, bf16ToF32: bf16ToF32NEON,
}.compose())
