package kernels

import (
	"math"

	"github.com/mlasimd/mlasimd/internal/spec"
)

// ExpCutoff is the input below which Exp returns exactly 0. exp(ExpCutoff) is just
// above the smallest normal float32 (2^-126): cutting off there means no kernel ever
// produces a subnormal, which some CPUs handle with slow microcode assists. Every
// Level's exponential takes it from internal/spec.
const ExpCutoff float32 = spec.ExpCutoff

// Exp computes dst[i] = e^x[i] with these rules, shared by every Level:
//   - x < ExpCutoff (including -Inf) gives exactly 0;
//   - large x overflows to +Inf (+Inf stays +Inf); NaN gives NaN.
//
// The reference rounds the float64 exponential, so it is correctly rounded or within
// half an ulp of it; the assembly versions use a polynomial whose error the tests bound.
func Exp(dst, x []float32) {
	CheckSameLen("Exp", len(dst), len(x))
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = exp32(v)
	}
}

// Exp32 is one element of Exp.
func Exp32(v float32) float32 { return exp32(v) }

func exp32(v float32) float32 {
	if v < ExpCutoff {
		return 0
	}
	return float32(math.Exp(float64(v)))
}
