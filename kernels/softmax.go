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

// OnlineSoftmax folds one tile of scores into running softmax states: the update
// that flash attention makes per tile of keys. s holds rows = len(m) rows of n =
// len(s)/rows raw scores, one row per query. For row i, with the scaled scores
// t_j = float32(scale·s[i][j]) and m' = max(m[i], max_j t_j):
//
//	s[i][j] = e^(t_j - m'), carry[i] = e^(m[i] - m'), l[i] = l[i]·carry[i] + Σ_j s[i][j], m[i] = m'.
//
// The caller multiplies row i of its running output by carry[i] (it is exactly 1
// when the max did not rise) and adds s·V; at the end it divides by l. A state
// starts at m = -Inf, l = 0. A row for which m' is -Inf (only -Inf scores so far)
// becomes zeros with carry 1 and keeps its state. A NaN or +Inf score makes l[i]
// NaN (m[i] is then unspecified), and a NaN state stays NaN.
//
// The sum runs in index order in float32, as in SoftmaxStats.
func OnlineSoftmax(s []float32, scale float32, m, l, carry []float32) {
	CheckOnlineSoftmax(len(s), len(m), len(l), len(carry))
	for i := range m {
		OnlineSoftmaxRow(RowOf(s, len(m), i), scale, &m[i], &l[i], &carry[i])
	}
}

// RowOf returns row i of s split into rows equal rows.
func RowOf(s []float32, rows, i int) []float32 {
	n := len(s) / rows
	return s[i*n : (i+1)*n]
}

// OnlineSoftmaxRow is OnlineSoftmax for one row and its state.
func OnlineSoftmaxRow(x []float32, scale float32, m, l, carry *float32) {
	mt := float32(math.Inf(-1))
	for _, v := range x {
		mt = max(mt, float32(scale*v)) // max propagates NaN
	}
	mNew := max(*m, mt)
	if math.IsInf(float64(mNew), -1) {
		clear(x)
		*carry = 1
		return
	}
	c := float32(1)
	if mNew != *m {
		c = exp32(*m - mNew)
	}
	var sum float32
	for j, v := range x {
		e := exp32(float32(scale*v) - mNew)
		x[j] = e
		sum += e
	}
	*l = *l*c + sum
	*m, *carry = mNew, c
}
