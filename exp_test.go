package mlasimd_test

import (
	"math"
	"slices"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
	"github.com/stretchr/testify/require"
)

// TestExp sweeps every 97th float32 from the cutoff to past the overflow
// threshold (about 10 million inputs, every binade and every mantissa pattern class)
// and checks the stated relative error bound; it also reports the worst error seen.
func TestExp(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		step := uint32(97)
		if testing.Short() {
			step = 9973
		}
		var xs []float32
		for b := uint32(0); b < 0x7f800000; b += step {
			f := math.Float32frombits(b)
			if f <= 89.5 {
				xs = append(xs, f)
			}
			if -f >= -88 {
				xs = append(xs, -f)
			}
		}
		// The sweep runs against the lower fences, then against the upper ones; the two
		// must agree bit for bit.
		rx, rd := testutil.NewRegion(t, 4*len(xs)), testutil.NewRegion(t, 4*len(xs))
		d := rd.F32(len(xs), testutil.Head, nil)
		k.Exp(d, rx.F32(len(xs), testutil.Head, xs))
		atHead := slices.Clone(d)
		got := rd.F32(len(xs), testutil.Tail, nil)
		k.Exp(got, rx.F32(len(xs), testutil.Tail, xs))
		worst := 0.0
		for i, x := range xs {
			if !testutil.ExpOK(got[i], x) {
				require.Failf(t, "Exp", "x=%v (bits %#x): got %v, want %v", x, math.Float32bits(x), got[i], testutil.ExpWant(x))
			}
			if w := testutil.ExpWant(x); w > 0 && w < math.MaxFloat32/2 {
				worst = max(worst, math.Abs(float64(got[i])-w)/w)
			}
		}
		require.True(t, equalBits(got, atHead), "Exp gave other results against the lower fences")
		require.True(t, rd.UntouchedF32(got), "Exp wrote outside dst")
		t.Logf("%d inputs, worst relative error %.3g (%.2f u), stated bound %.1f u", len(xs), worst, worst/testutil.U, testutil.ExpRelErr/testutil.U)
	})
}

// TestExpSpecial pins the rules at the edges: -Inf and everything below the cutoff
// give exactly 0 (never a subnormal), +Inf and overflow give +Inf, NaN stays NaN,
// ±0 give 1. Every length runs, on guard pages.
func TestExpSpecial(t *testing.T) {
	edges := []float32{
		float32(math.Inf(-1)), -1e30, -104, -87.34, kernels.ExpCutoff, -87.3, -87, float32(math.Copysign(0, -1)), 0, 1e-40, -1e-40,
		88, 88.72, 88.7228, 88.723, 89, 100, float32(math.Inf(1)), float32(math.NaN()), math.MaxFloat32,
	}
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rx, rd := testutil.NewRegion(t, 4*maxLen), testutil.NewRegion(t, 4*maxLen)
		for _, n := range lengths() {
			for _, p := range testutil.PlacesFor(n) {
				xv := make([]float32, n)
				for i := range xv {
					if i%3 == 0 {
						xv[i] = edges[rng.IntN(len(edges))]
					} else {
						xv[i] = float32(rng.Float64()*180 - 90)
					}
				}
				x, d := rx.F32(n, p, xv), rd.F32(n, p, nil)
				k.Exp(d, x)
				for i := range d {
					if !testutil.ExpOK(d[i], xv[i]) {
						require.Failf(t, "Exp", "n=%d x=%v: got %v, want %v", n, xv[i], d[i], testutil.ExpWant(xv[i]))
					}
					if d[i] != 0 && math.Abs(float64(d[i])) < 0x1p-126 {
						require.Failf(t, "Exp", "x=%v gave the subnormal %v", xv[i], d[i])
					}
				}
				require.True(t, rd.UntouchedF32(d), "Exp wrote outside dst")
			}
		}
	})
}
