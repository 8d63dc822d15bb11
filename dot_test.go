package mlasimd_test

import (
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

func TestDot(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ra, rb := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 4*maxLen)
		for _, n := range lengths() {
			for _, p := range testutil.PlacesFor(n) {
				av, bv := testutil.Normals(rng, n), testutil.Normals(rng, n)
				a, b := ra.F32(n, p, av), rb.F32(n, p, bv)
				require.NoError(t, testutil.CheckDot(k.Dot(a, b), av, bv), "Dot %+v", p)
				require.True(t, equalBits(a, av) && equalBits(b, bv), "Dot modified its inputs")
			}
		}
	})
}

// TestDotSpecialValues mixes ±0, subnormals, huge values, ±Inf and NaN into the
// inputs: the result must have the oracle's class (NaN, ±Inf) or be within the bound.
func TestDotSpecialValues(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ra, rb := testutil.NewRegion(t, 4*80), testutil.NewRegion(t, 4*80)
		for _, classes := range [][]testutil.Class{
			{testutil.Zero, testutil.Subnormal}, {testutil.Huge}, {testutil.Inf}, {testutil.NaN}, testutil.AllClasses(),
		} {
			for n := 1; n <= 80; n++ {
				av, bv := testutil.Mixed(rng, n, 0.1, classes...), testutil.Mixed(rng, n, 0.1, classes...)
				for _, p := range testutil.Fences {
					got := k.Dot(ra.F32(n, p, av), rb.F32(n, p, bv))
					require.NoError(t, testutil.CheckDot(got, av, bv), "Dot, classes %v", classes)
				}
			}
		}
	})
}

func TestAxpy(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rx, ry := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 4*maxLen)
		for _, n := range lengths() {
			for _, p := range testutil.PlacesFor(n) {
				alpha := testutil.Value(rng, testutil.Normal)
				xv, yv := testutil.Mixed(rng, n, 0.02, testutil.AllClasses()...), testutil.Normals(rng, n)
				x, y := rx.F32(n, p, xv), ry.F32(n, p, yv)
				k.Axpy(alpha, x, y)
				require.NoError(t, testutil.CheckAxpy(y, alpha, xv, yv), "Axpy n=%d", n)
				require.True(t, ry.UntouchedF32(y), "Axpy wrote outside y (n=%d %+v)", n, p)
				require.True(t, equalBits(x, xv), "Axpy modified x")
			}
		}
	})
}
