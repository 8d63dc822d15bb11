package mlasimd_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// softmaxCheck compares a softmax row against the float64 oracle with this bound
// (u = 2^-24, E = ExpRelErr, η_i = u·(|s·x_i| + |d_i|) with d_i = s·x_i - max):
//
//	|got_i - y_i| <= y_i·(η_i + E + Σ_j y_j·(η_j + E) + γ(n) + 3u)·1.01 + n·2^-126
//
// η_i is the absolute error of the exponent argument (rounding of s·x_i and of the
// subtraction; a rounding of the max shifts every argument alike and cancels), which
// becomes a relative error of e_i; the sum adds the weighted errors of its terms and
// γ(n) of its own; the reciprocal and the product add 3u; 1.01 covers second-order
// terms; the last term covers arguments near the cutoff that one side flushes to 0.
func softmaxCheck(t *testing.T, got, x []float32, s float32) {
	t.Helper()
	n := len(x)
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, float64(s)*float64(v))
	}
	y, eta := make([]float64, n), make([]float64, n)
	var sum float64
	for i, v := range x {
		d := float64(s)*float64(v) - m
		y[i] = expWant(float32(d))
		if y[i] > 0 { // a zero term (-Inf, or under the cutoff) carries no error
			eta[i] = testutil.U * (math.Abs(float64(s)*float64(v)) + math.Abs(d))
		}
		sum += y[i]
	}
	spread := 0.0
	for i := range y {
		y[i] /= sum
		spread += y[i] * (eta[i] + testutil.ExpRelErr)
	}
	for i := range y {
		bound := y[i]*(eta[i]+testutil.ExpRelErr+spread+testutil.Gamma(n)+3*testutil.U)*1.01 + float64(n)*0x1p-126
		if !testutil.Close(got[i], y[i], bound) {
			require.Failf(t, "Softmax", "n=%d scale=%v i=%d x=%v: got %v, want %v ± %g", n, s, i, x[i], got[i], y[i], bound)
		}
	}
}

func TestSoftmax(t *testing.T) {
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		r := testutil.NewRegion(t, 4*maxLen)
		for _, n := range lengths() {
			for pi, p := range placesFor(n) {
				xv := make([]float32, n)
				spread := []float64{1, 20, 300}[(n+pi)%3] // up to spreads whose tails reach the cutoff
				for i := range xv {
					xv[i] = float32((rng.Float64() - 0.5) * spread)
					if i%17 == 5 {
						xv[i] = float32(math.Inf(-1)) // masked positions
					}
				}
				scale := []float32{1, 0.1147, -0.5, 3}[(n+pi)%4]
				x := r.F32(n, p, xv)
				k.Softmax(x, scale)
				softmaxCheck(t, x, xv, scale)
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
// is 1, and the sum of a normal row is 1 within the bound.
func TestSoftmaxSpecialRows(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		for _, n := range []int{1, 3, 8, 9, 16, 33, 100} {
			row := func(f func(i int) float32) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = f(i)
				}
				return x
			}
			allNegInf := row(func(int) float32 { return -inf })
			k.Softmax(allNegInf, 1)
			require.Equal(t, make([]float32, n), allNegInf, "all -Inf row")

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
					k.Softmax(x, 1)
					for i := range x {
						require.True(t, math.IsNaN(float64(x[i])), "row with %v at %d: x[%d]=%v, want NaN", bad, pos, i, x[i])
					}
				}
			}
			nanBehindNegInf := row(func(i int) float32 { return -inf })
			nanBehindNegInf[n-1] = nan
			k.Softmax(nanBehindNegInf, 1)
			require.True(t, math.IsNaN(float64(nanBehindNegInf[0])), "NaN among -Inf must give NaN")
		}
		one := []float32{42}
		k.Softmax(one, 0.3)
		require.Equal(t, []float32{1}, one)
		k.Softmax(nil, 1)
	})
}
