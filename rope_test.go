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
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rx, rc, rs := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 2*maxLen), testutil.NewRegion(t, 2*maxLen)
		for _, n := range lengths() {
			h := n / 2
			for _, p := range placesFor(n) {
				cv, sv := angles(rng, h)
				xv := testutil.Normals(rng, 2*h)
				x, c, s := rx.F32(2*h, p, xv), rc.F32(h, p, cv), rs.F32(h, p, sv)
				k.RoPE(x, c, s)
				for i := range h {
					a, b := xv[2*i], xv[2*i+1]
					require.NoError(t, testutil.CheckRotation(x[2*i], a, b, cv[i], sv[i], -1), "RoPE even")
					require.NoError(t, testutil.CheckRotation(x[2*i+1], a, b, sv[i], cv[i], +1), "RoPE odd")
				}
				require.True(t, rx.UntouchedF32(x), "RoPE wrote outside x (h=%d)", h)
			}
		}
	})
}

func TestRoPEHalf(t *testing.T) {
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rx, rc, rs := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 2*maxLen), testutil.NewRegion(t, 2*maxLen)
		for _, n := range lengths() {
			h := n / 2
			for _, p := range placesFor(n) {
				cv, sv := angles(rng, h)
				xv := testutil.Normals(rng, 2*h)
				x, c, s := rx.F32(2*h, p, xv), rc.F32(h, p, cv), rs.F32(h, p, sv)
				k.RoPEHalf(x, c, s)
				for i := range h {
					a, b := xv[i], xv[i+h]
					require.NoError(t, testutil.CheckRotation(x[i], a, b, cv[i], sv[i], -1), "RoPEHalf lo")
					require.NoError(t, testutil.CheckRotation(x[i+h], a, b, sv[i], cv[i], +1), "RoPEHalf hi")
				}
				require.True(t, rx.UntouchedF32(x), "RoPEHalf wrote outside x (h=%d)", h)
			}
		}
	})
}

// TestRoPELayoutsAgree checks the identity DeepSeek's two code paths rely on: rotating
// interleaved pairs equals de-interleaving, rotating half-split pairs, and
// re-interleaving.
func TestRoPELayoutsAgree(t *testing.T) {
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		cv, sv := angles(rng, 32)
		x := testutil.Normals(rng, 64)
		split := make([]float32, 64)
		for i := range 32 {
			split[i], split[i+32] = x[2*i], x[2*i+1]
		}
		k.RoPE(x, cv, sv)
		k.RoPEHalf(split, cv, sv)
		for i := range 32 {
			require.Equal(t, x[2*i], split[i])
			require.Equal(t, x[2*i+1], split[i+32])
		}
	})
}
