package mlasimd_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// RMSNorm bound: the sum of squares has relative error γ(n); the inverse square root
// halves it and adds one rounding; x·r·w adds two. So each output is within
// |x·r·w|·(γ(n)/2 + 4u)·1.01.
func TestRMSNorm(t *testing.T) {
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rd, rx, rw := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 4*maxLen)
		for _, n := range lengths() {
			for _, p := range placesFor(n) {
				xv, wv := testutil.Normals(rng, n), testutil.Normals(rng, n)
				eps := float32(1e-6)
				d, x, w := rd.F32(n, p, nil), rx.F32(n, p, xv), rw.F32(n, p, wv)
				k.RMSNorm(d, x, w, eps)
				var ss float64
				for _, v := range xv {
					ss += float64(v) * float64(v)
				}
				r := 1 / math.Sqrt(ss/float64(n)+float64(eps))
				for i := range d {
					want := float64(xv[i]) * r * float64(wv[i])
					bound := math.Abs(want)*(testutil.Gamma(n)/2+4*testutil.U)*1.01 + testutil.Tiny
					if !testutil.Close(d[i], want, bound) {
						require.Failf(t, "RMSNorm", "n=%d i=%d: got %v, want %v", n, i, d[i], want)
					}
				}
				require.True(t, rd.UntouchedF32(d), "RMSNorm wrote outside dst")
			}
		}
		zero := make([]float32, 9)
		k.RMSNorm(zero, zero, testutil.Normals(rng, 9), 1e-6)
		require.Equal(t, make([]float32, 9), zero, "RMSNorm(0) = 0 for eps > 0, in place")
	})
}

// LayerNorm bound: the mean has absolute error δ = γ(n)·Σ|x|/n + u·|mean|; a wrong mean
// shifts every centered value by δ, and the variance by n·δ² (the cross term vanishes),
// so each output is within |r·w|·(δ + |x-mean|·(γ(n)/2 + 5u))·1.01 + u·|b| + |b|'s own add.
func TestLayerNorm(t *testing.T) {
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rd, rx := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 4*maxLen)
		for _, n := range lengths() {
			for pi, p := range placesFor(n) {
				xv, wv, bv := testutil.Normals(rng, n), testutil.Normals(rng, n), testutil.Normals(rng, n)
				for i := range xv {
					xv[i] += 10 // an offset mean: the two-pass variance must not cancel
				}
				if pi == 1 {
					bv = nil
				}
				d, x := rd.F32(n, p, nil), rx.F32(n, p, xv)
				k.LayerNorm(d, x, wv, bv, 1e-5)
				var sum, abs float64
				for _, v := range xv {
					sum += float64(v)
					abs += math.Abs(float64(v))
				}
				mean := sum / float64(max(n, 1))
				var ss float64
				for _, v := range xv {
					ss += (float64(v) - mean) * (float64(v) - mean)
				}
				r := 1 / math.Sqrt(ss/float64(max(n, 1))+1e-5)
				delta := testutil.Gamma(n)*abs/float64(max(n, 1)) + testutil.U*math.Abs(mean)
				for i := range d {
					c := float64(xv[i]) - mean
					want := c * r * float64(wv[i])
					b := 0.0
					if bv != nil {
						b = float64(bv[i])
					}
					bound := math.Abs(r*float64(wv[i]))*(delta+math.Abs(c)*(testutil.Gamma(n)/2+5*testutil.U))*1.01 +
						testutil.U*(math.Abs(want)+math.Abs(b)) + testutil.Tiny
					if !testutil.Close(d[i], want+b, bound) {
						require.Failf(t, "LayerNorm", "n=%d i=%d bias=%v: got %v, want %v ± %g", n, i, bv != nil, d[i], want+b, bound)
					}
				}
				require.True(t, rd.UntouchedF32(d), "LayerNorm wrote outside dst")
			}
		}
	})
}
