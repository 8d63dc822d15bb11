package testutil

import "math"

// Error bounds. u is the unit roundoff of float32; Gamma(k) = k·u/(1-k·u) bounds the
// relative error of k chained roundings (Higham, Accuracy and Stability of Numerical
// Algorithms, §3.1). A sum of n products in any order, with or without fused
// multiply-adds, is within Gamma(n+1)·Σ|aᵢbᵢ| of the exact value (Higham §3.1), whatever
// the number of accumulators: that is the bound of every reduction here. Tiny covers
// products that underflow: each loses at most half the smallest subnormal.
const (
	U    = 0x1p-24
	Tiny = 0x1p-149
)

// Gamma returns k·u/(1-k·u).
func Gamma(k int) float64 {
	ku := float64(k) * U
	return ku / (1 - ku)
}

// ExpRelErr is the stated maximum relative error of every Level's Exp for results in
// the normal range: 2 units of roundoff (2^-23, about one ulp). TestExp
// measures 1.39 u for AVX2 over 23 million inputs (the polynomial's own error plus the
// roundings of r = x - n·ln2 and of the final products); the reference is 1 u.
const ExpRelErr = 2 * U

// SumBound is the bound on a float32 sum of n terms whose magnitudes add up to mag.
func SumBound(n int, mag float64) float64 { return Gamma(n+1)*mag + float64(n)*Tiny }

// Close reports whether got is within bound of the exact value want, treating
// non-finite values by class: a NaN must meet a NaN, an infinity the same infinity.
func Close(got float32, want, bound float64) bool {
	g := float64(got)
	switch {
	case math.IsNaN(want):
		return math.IsNaN(g)
	case math.IsInf(want, 0):
		return g == want
	case math.IsNaN(g) || math.IsInf(g, 0):
		return false
	}
	return math.Abs(g-want) <= bound
}

// DotExact returns Σaᵢbᵢ in float64 (products of float32 are exact in float64; the sum's
// own error, n·2⁻⁵³ relative, is negligible against the float32 bound) and Σ|aᵢbᵢ|.
func DotExact(a, b []float32) (sum, mag float64) {
	for i := range a {
		p := float64(a[i]) * float64(b[i])
		sum += p
		mag += math.Abs(p)
	}
	return sum, mag
}
