package kernels

import "math"

// Softmax replaces x by softmax(scale*x), in place:
//
//	s[i] = float32(scale*x[i]); m = max s[i]; e[i] = Exp(s[i]-m); x[i] = e[i] * (1/sum e)
//
// The sum runs in index order in float32. Special rows:
//   - a NaN anywhere (or +Inf, which makes s[i]-m NaN) makes the whole row NaN;
//   - -Inf entries give exactly 0;
//   - a row whose entries are all -Inf (a query that may attend to nothing) becomes all
//     zeros, not NaN, so that a fully masked row contributes nothing downstream.
func Softmax(x []float32, scale float32) { SoftmaxStats(x, scale) }

// SoftmaxStats is Softmax that also returns the row's statistics: max = m, the
// largest float32(scale*x[i]), and sum = Σ e[i], the normalizer that divided the row.
// Tiles of one row softmaxed apart merge with them, as an online (flash) attention
// does: entry i of tile t has the weight x[i] · sum_t · e^(m_t - M) / L, where M is
// the largest m_t and L = Σ_t sum_t · e^(m_t - M).
// An empty or all -Inf row returns (-Inf, 0); a row made NaN returns sum NaN (max is
// then unspecified).
func SoftmaxStats(x []float32, scale float32) (max, sum float32) {
	if len(x) == 0 {
		return float32(math.Inf(-1)), 0
	}
	m := float32(math.Inf(-1))
	nan := false
	for _, v := range x {
		s := float32(scale * v)
		if s != s {
			nan = true
		}
		if s > m {
			m = s
		}
	}
	if nan {
		for i := range x {
			x[i] = float32(math.NaN())
		}
		return m, float32(math.NaN())
	}
	if math.IsInf(float64(m), -1) {
		clear(x)
		return m, 0
	}
	for i, v := range x {
		e := exp32(float32(scale*v) - m)
		x[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range x {
		x[i] = float32(x[i] * inv)
	}
	return m, sum
}
