package mlasimd_test

import (
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestRMSNorm checks every length against testutil.CheckRMSNorm's bound.
func TestRMSNorm(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rd, rx, rw := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 4*maxLen)
		for _, n := range lengths() {
			for _, p := range testutil.PlacesFor(n) {
				xv, wv := testutil.Normals(rng, n), testutil.Normals(rng, n)
				eps := float32(1e-6)
				d, x, w := rd.F32(n, p, nil), rx.F32(n, p, xv), rw.F32(n, p, wv)
				k.RMSNorm(d, x, w, eps)
				require.NoError(t, testutil.CheckRMSNorm(d, xv, wv, eps), "RMSNorm")
				require.True(t, rd.UntouchedF32(d), "RMSNorm wrote outside dst")
			}
		}
		for _, p := range testutil.Fences {
			zero := rx.F32(9, p, make([]float32, 9))
			k.RMSNorm(zero, zero, rw.Copy(p, testutil.Normals(rng, 9)), 1e-6)
			require.Equal(t, make([]float32, 9), zero, "RMSNorm(0) = 0 for eps > 0, in place")
			require.True(t, rx.UntouchedF32(zero), "RMSNorm wrote outside x")
		}
	})
}

// TestLayerNorm checks every length, with and without bias, against
// testutil.CheckLayerNorm's bound.
func TestLayerNorm(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rd, rx := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 4*maxLen)
		rw, rb := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 4*maxLen)
		for _, n := range lengths() {
			for _, p := range testutil.PlacesFor(n) {
				xv, wv, bv := testutil.Normals(rng, n), testutil.Normals(rng, n), testutil.Normals(rng, n)
				for i := range xv {
					xv[i] += 10 // an offset mean: the two-pass variance must not cancel
				}
				for _, bias := range [][]float32{bv, nil} {
					d := rd.F32(n, p, nil)
					k.LayerNorm(d, rx.Copy(p, xv), rw.Copy(p, wv), rb.Copy(p, bias), 1e-5)
					require.NoError(t, testutil.CheckLayerNorm(d, xv, wv, bias, 1e-5), "LayerNorm")
					require.True(t, rd.UntouchedF32(d), "LayerNorm wrote outside dst")
				}
			}
		}
	})
}
