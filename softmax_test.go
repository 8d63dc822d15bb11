package mlasimd_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

func TestSoftmax(t *testing.T)      { testSoftmax(t, false) }
func TestSoftmaxStats(t *testing.T) { testSoftmax(t, true) }

// testSoftmax runs Softmax, or SoftmaxStats when stats is set, at every length on
// guard pages, over spreads whose tails reach the cutoff and rows with masked (-Inf)
// positions.
func testSoftmax(t *testing.T, stats bool) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		r := testutil.NewRegion(t, 4*maxLen)
		for _, n := range lengths() {
			for pi, p := range testutil.PlacesFor(n) {
				xv := make([]float32, n)
				spread := []float64{1, 20, 300}[(n+pi)%3]
				for i := range xv {
					xv[i] = float32((rng.Float64() - 0.5) * spread)
					if i%17 == 5 {
						xv[i] = float32(math.Inf(-1)) // masked positions
					}
				}
				scale := []float32{1, 0.1147, -0.5, 3}[(n+pi)%4]
				x := r.F32(n, p, xv)
				if !stats {
					k.Softmax(x, scale)
				} else {
					m, sum := k.SoftmaxStats(x, scale)
					if err := testutil.CheckSoftmaxStats(m, sum, xv, scale); err != nil {
						require.Fail(t, "SoftmaxStats", err.Error())
					}
				}
				if err := testutil.CheckSoftmax(x, xv, scale); err != nil {
					require.Fail(t, "Softmax", err.Error())
				}
				for i, v := range xv {
					if math.IsInf(float64(v), -1) && scale > 0 {
						require.Zero(t, x[i], "-Inf must give exactly 0")
					}
				}
				require.True(t, r.UntouchedF32(x), "Softmax wrote outside x (n=%d)", n)
			}
		}
	})
}

// TestSoftmaxSpecialRows pins the documented rows: all -Inf gives zeros, a NaN or
// +Inf anywhere gives NaN everywhere, an empty row is left alone, a one-element row
// is 1, and the sum of a normal row is 1 within the bound. Every row runs against
// both fences.
func TestSoftmaxSpecialRows(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		r := testutil.NewRegion(t, 4*100)
		softmax := func(row []float32, scale float32, check func(x []float32)) {
			t.Helper()
			for _, p := range testutil.Fences {
				x := r.Copy(p, row)
				k.Softmax(x, scale)
				check(x)
				require.True(t, r.UntouchedF32(x), "Softmax wrote outside x")
			}
		}
		for _, n := range []int{1, 3, 8, 9, 16, 33, 100} {
			row := func(f func(i int) float32) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = f(i)
				}
				return x
			}
			softmax(row(func(int) float32 { return -inf }), 1, func(x []float32) {
				require.Equal(t, make([]float32, n), x, "all -Inf row")
			})
			for _, bad := range []float32{nan, inf} {
				for _, pos := range []int{0, n / 2, n - 1} {
					x := row(func(i int) float32 {
						if i == pos {
							return bad
						}
						if i%2 == 0 {
							return -inf
						}
						return float32(i)
					})
					softmax(x, 1, func(x []float32) {
						for i := range x {
							require.True(t, math.IsNaN(float64(x[i])), "row with %v at %d: x[%d]=%v, want NaN", bad, pos, i, x[i])
						}
					})
				}
			}
			nanBehindNegInf := row(func(i int) float32 { return -inf })
			nanBehindNegInf[n-1] = nan
			softmax(nanBehindNegInf, 1, func(x []float32) {
				require.True(t, math.IsNaN(float64(x[0])), "NaN among -Inf must give NaN")
			})
		}
		softmax([]float32{42}, 0.3, func(x []float32) { require.Equal(t, []float32{1}, x) })
		softmax([]float32{}, 1, func([]float32) {})
		k.Softmax(nil, 1)
	})
}

// TestSoftmaxStatsSpecialRows pins SoftmaxStats' returns on the special rows: (-Inf, 0)
// for an empty or all -Inf row, sum NaN for a row made NaN, (scaled x, 1) for one
// element. Every row runs against both fences.
func TestSoftmaxStatsSpecialRows(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		r := testutil.NewRegion(t, 4*33)
		stats := func(row []float32, scale float32) (m, sum [2]float32) {
			for i, p := range testutil.Fences {
				m[i], sum[i] = k.SoftmaxStats(r.Copy(p, row), scale)
			}
			return m, sum
		}
		m, sum := stats([]float32{}, 1)
		require.True(t, math.IsInf(float64(m[0]), -1) && sum[0] == 0 && m[1] == m[0] && sum[1] == 0, "empty row: (%v, %v)", m, sum)
		mn, sn := k.SoftmaxStats(nil, 1)
		require.True(t, math.IsInf(float64(mn), -1) && sn == 0, "nil row: (%v, %v)", mn, sn)
		for _, n := range []int{1, 9, 33} {
			x := make([]float32, n)
			for i := range x {
				x[i] = -inf
			}
			m, sum = stats(x, 2)
			require.True(t, math.IsInf(float64(m[0]), -1) && sum[0] == 0 && m[1] == m[0] && sum[1] == 0, "all -Inf row: (%v, %v)", m, sum)
			for _, bad := range []float32{nan, inf} {
				for i := range x {
					x[i] = float32(i)
				}
				x[n/2] = bad
				_, sum = stats(x, 1)
				require.True(t, math.IsNaN(float64(sum[0])) && math.IsNaN(float64(sum[1])), "row with %v: sum %v, want NaN", bad, sum)
			}
		}
		m, sum = stats([]float32{42}, 0.5)
		require.Equal(t, [2][2]float32{{21, 21}, {1, 1}}, [2][2]float32{m, sum})
	})
}
