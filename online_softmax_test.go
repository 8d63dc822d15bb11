package mlasimd_test

import (
	"math"
	"slices"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestOnlineSoftmax folds tiles of random scores (with masked -Inf entries, and
// spreads whose tails reach the exp cutoff) into states that start empty, lie above
// every score (the max does not rise: carry exactly 1) or below them (it rises), and
// checks every row against the float64 oracle.
func TestOnlineSoftmax(t *testing.T) {
	inf := float32(math.Inf(1))
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rs, rm, rl, rc := testutil.NewRegion(t, 4*17*100), testutil.NewRegion(t, 4*17), testutil.NewRegion(t, 4*17), testutil.NewRegion(t, 4*17)
		for _, rows := range []int{1, 3, 16, 17} {
			for ni, n := range []int{1, 7, 16, 64, 100} {
				sv := make([]float32, rows*n)
				spread := []float64{1, 20, 300}[(rows+ni)%3]
				for i := range sv {
					sv[i] = float32((rng.Float64() - 0.5) * spread)
					if i%13 == 4 {
						sv[i] = -inf // masked positions
					}
				}
				scale := []float32{1, 0.1147, -0.5, 3}[(rows+ni)%4]
				m0, l0 := make([]float32, rows), make([]float32, rows)
				for i := range m0 {
					switch i % 3 {
					case 0:
						m0[i], l0[i] = -inf, 0
					case 1:
						m0[i], l0[i] = float32(abs(scale))*float32(spread), float32(1+rng.Float64()*50)
					default:
						m0[i], l0[i] = -float32(abs(scale))*float32(spread), float32(1+rng.Float64()*50)
					}
				}
				for _, p := range testutil.PlacesFor(rows + ni) {
					s, m, l, carry := rs.Copy(p, sv), rm.Copy(p, m0), rl.Copy(p, l0), rc.F32(rows, p, nil)
					k.OnlineSoftmax(s, scale, m, l, carry)
					for i := range rows {
						if err := testutil.CheckOnlineSoftmax(s[i*n:(i+1)*n], m[i], l[i], carry[i], sv[i*n:(i+1)*n], scale, m0[i], l0[i]); err != nil {
							require.Fail(t, "OnlineSoftmax", "rows=%d row %d %+v: %v", rows, i, p, err)
						}
					}
					require.True(t, rs.UntouchedF32(s), "OnlineSoftmax wrote outside s")
					require.True(t, rm.UntouchedF32(m) && rl.UntouchedF32(l) && rc.UntouchedF32(carry), "OnlineSoftmax wrote outside its state")
				}
			}
		}
	})
}

// TestOnlineSoftmaxSpecialRows pins the documented special rows, against both fences.
func TestOnlineSoftmaxSpecialRows(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rs, rm, rl, rc := testutil.NewRegion(t, 4*33), testutil.NewRegion(t, 4), testutil.NewRegion(t, 4), testutil.NewRegion(t, 4)
		// fold folds the row x into the state (m0, l0) at each fence and checks what
		// it gives.
		fold := func(x []float32, m0, l0 float32, check func(s []float32, m, l, c float32)) {
			t.Helper()
			for _, p := range testutil.Fences {
				s, m, l, c := rs.Copy(p, x), rm.Copy(p, []float32{m0}), rl.Copy(p, []float32{l0}), rc.Copy(p, []float32{42})
				k.OnlineSoftmax(s, 0.5, m, l, c)
				check(s, m[0], l[0], c[0])
			}
		}
		for _, n := range []int{1, 9, 33} {
			masked := make([]float32, n)
			for i := range masked {
				masked[i] = -inf
			}
			// Nothing but -Inf so far: zeros, carry 1, the state untouched.
			fold(masked, -inf, 0, func(s []float32, m, l, c float32) {
				require.Equal(t, make([]float32, n), s)
				require.True(t, math.IsInf(float64(m), -1) && l == 0 && c == 1, "(%v, %v, %v)", m, l, c)
			})
			// A masked tile after real scores: zeros, carry 1, the state kept.
			fold(masked, 3, 7, func(s []float32, m, l, c float32) {
				require.Equal(t, make([]float32, n), s)
				require.Equal(t, [3]float32{3, 7, 1}, [3]float32{m, l, c})
			})
			for _, bad := range []float32{nan, inf} {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(i)
				}
				x[n/2] = bad
				for _, m0 := range []float32{-inf, 2, 100} {
					fold(x, m0, 1, func(_ []float32, _, l, _ float32) {
						require.True(t, math.IsNaN(float64(l)), "row with %v, m0 %v: l %v, want NaN", bad, m0, l)
					})
				}
			}
			// A NaN state stays NaN.
			fold(make([]float32, n), nan, nan, func(_ []float32, _, l, _ float32) {
				require.True(t, math.IsNaN(float64(l)), "NaN state: l %v", l)
			})
		}
		// No rows: nothing to do.
		k.OnlineSoftmax(nil, 1, nil, nil, nil)
		k.OnlineSoftmax(rs.F32(0, testutil.Tail, nil), 1, rm.F32(0, testutil.Tail, nil), rl.F32(0, testutil.Tail, nil), rc.F32(0, testutil.Tail, nil))
	})
}

// TestOnlineSoftmaxMatchesSoftmax folds a long row tile by tile, as attention does,
// and normalizes it at the end: it is the softmax of the whole row. Bound, per entry:
// the exponent's rounding (η_j, as in CheckSoftmax) and its exp (ExpRelErr); then up
// to T carries, each within ExpRelErr plus one rounding of the product, on the
// numerator and as many on the normalizer, whose sum takes γ(n+2T); and one division.
func TestOnlineSoftmaxMatchesSoftmax(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		const n, tile, scale = 1000, 64, 0.3
		const tiles = (n + tile - 1) / tile
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64()*10) + float32(i)/50 // the max keeps rising
		}
		y, eta, _ := testutil.SoftmaxOracle(x, scale)
		etaMax := slices.Max(eta)
		perCarry := testutil.ExpRelErr + testutil.U
		// Each tile and the state go to the kernel on fenced regions, at each fence.
		rs, rm, rl, rc := testutil.NewRegion(t, 4*tile), testutil.NewRegion(t, 4), testutil.NewRegion(t, 4), testutil.NewRegion(t, 4)
		for _, p := range testutil.Fences {
			got := append([]float32(nil), x...)
			m, l, carry := rm.Copy(p, []float32{float32(math.Inf(-1))}), rl.Copy(p, []float32{0}), rc.Copy(p, []float32{0})
			for j0 := 0; j0 < n; j0 += tile {
				s := rs.Copy(p, got[j0:min(j0+tile, n)])
				k.OnlineSoftmax(s, scale, m, l, carry)
				copy(got[j0:], s)
				for j := range j0 { // the earlier tiles are the running output here
					got[j] *= carry[0]
				}
			}
			for j := range got {
				got[j] /= l[0]
			}
			for j := range y {
				rel := eta[j] + etaMax + 2*testutil.ExpRelErr + 2*tiles*perCarry + testutil.Gamma(n+2*tiles) + 2*testutil.U
				require.InDelta(t, y[j], float64(got[j]), y[j]*rel*1.01+0x1p-126, "entry %d %+v", j, p)
			}
		}
	})
}

func abs(x float32) float32 { return float32(math.Abs(float64(x))) }
