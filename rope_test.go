package mlasimd_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

func angles(rng interface{ Float64() float64 }, h int) (cos, sin []float32) {
	cos, sin = make([]float32, h), make([]float32, h)
	for i := range cos {
		th := rng.Float64() * 2 * math.Pi
		cos[i], sin[i] = float32(math.Cos(th)), float32(math.Sin(th))
	}
	return cos, sin
}

func TestRoPE(t *testing.T) {
	testRotation(t, "RoPE", (*mlasimd.Kernels).RoPE, func(i, h int) (int, int) { return 2 * i, 2*i + 1 })
}

func TestRoPEHalf(t *testing.T) {
	testRotation(t, "RoPEHalf", (*mlasimd.Kernels).RoPEHalf, func(i, h int) (int, int) { return i, i + h })
}

// testRotation runs one layout at every length on guard pages; pair(i, h) gives the
// indices of the pair that angle i rotates.
func testRotation(t *testing.T, name string, run func(k *mlasimd.Kernels, x, c, s []float32), pair func(i, h int) (int, int)) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rx, rc, rs := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 2*maxLen), testutil.NewRegion(t, 2*maxLen)
		for _, n := range lengths() {
			h := n / 2
			for _, p := range testutil.PlacesFor(n) {
				cv, sv := angles(rng, h)
				xv := testutil.Normals(rng, 2*h)
				x, c, s := rx.F32(2*h, p, xv), rc.F32(h, p, cv), rs.F32(h, p, sv)
				run(k, x, c, s)
				for i := range h {
					lo, hi := pair(i, h)
					if err := testutil.CheckRotation(x[lo], xv[lo], xv[hi], cv[i], sv[i], -1); err != nil {
						require.Fail(t, name, err.Error())
					}
					if err := testutil.CheckRotation(x[hi], xv[lo], xv[hi], sv[i], cv[i], +1); err != nil {
						require.Fail(t, name, err.Error())
					}
				}
				require.True(t, rx.UntouchedF32(x), "%s wrote outside x (h=%d)", name, h)
			}
		}
	})
}

// TestRoPELayoutsAgree checks the identity DeepSeek's two code paths rely on: rotating
// interleaved pairs equals de-interleaving, rotating half-split pairs, and
// re-interleaving.
func TestRoPELayoutsAgree(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		cv, sv := angles(rng, 32)
		xv := testutil.Normals(rng, 64)
		split := make([]float32, 64)
		for i := range 32 {
			split[i], split[i+32] = xv[2*i], xv[2*i+1]
		}
		rx, rh, rc, rs := testutil.NewRegion(t, 256), testutil.NewRegion(t, 256), testutil.NewRegion(t, 128), testutil.NewRegion(t, 128)
		for _, p := range testutil.Fences {
			x, half := rx.Copy(p, xv), rh.Copy(p, split)
			k.RoPE(x, rc.Copy(p, cv), rs.Copy(p, sv))
			k.RoPEHalf(half, rc.Copy(p, cv), rs.Copy(p, sv))
			for i := range 32 {
				require.Equal(t, x[2*i], half[i])
				require.Equal(t, x[2*i+1], half[i+32])
			}
		}
	})
}
