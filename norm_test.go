package mlasimd_test

import (
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestRMSNorm checks every length against testutil.CheckRMSNorm's bound.
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
				require.NoError(t, testutil.CheckRMSNorm(d, xv, wv, eps), "RMSNorm")
				require.True(t, rd.UntouchedF32(d), "RMSNorm wrote outside dst")
			}
		}
		zero := make([]float32, 9)
		k.RMSNorm(zero, zero, testutil.Normals(rng, 9), 1e-6)
		require.Equal(t, make([]float32, 9), zero, "RMSNorm(0) = 0 for eps > 0, in place")
	})
}

// TestLayerNorm checks every length, with and without bias, against
// testutil.CheckLayerNorm's bound.
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
				require.NoError(t, testutil.CheckLayerNorm(d, xv, wv, bv, 1e-5), "LayerNorm")
				require.True(t, rd.UntouchedF32(d), "LayerNorm wrote outside dst")
			}
		}
	})
}
