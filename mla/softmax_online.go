package mla

import (
	"math"

	"github.com/mlasimd/mlasimd"
)

// foldTile adds one tile of raw scores of one query (one head) to that query's running
// softmax state (max m, normalizer l), flash-attention style, so that a context of
// any length is processed in bounded memory.
//
// On return s holds the tile's own softmax(scale·s), and the caller must:
//   - multiply its running output by carry (when carry != 1: the running max rose);
//   - add alpha · (s · V_tile) to it (Decode scales s by alpha, then GemmNNAdd).
//
// The weights relative to the running max are e^{τs_j - m} = p_j · Σ_t · e^{m_t - m},
// where m_t and Σ_t are the tile's max and normalizer, which SoftmaxStats returns.
//
// A tile of only -Inf (masked) gives alpha 0 and leaves the state alone. NaN scores
// make the whole output NaN, as a NaN input should.
func foldTile(s []float32, scale float32, m, l *float32) (alpha, carry float32) {
	mt, sumT := mlasimd.SoftmaxStats(s, scale)
	switch {
	case sumT != sumT:
		return float32(math.NaN()), 1
	case sumT == 0: // every score -Inf
		return 0, 1
	}
	carry = 1
	if mt > *m {
		if !math.IsInf(float64(*m), -1) {
			carry = float32(math.Exp(float64(*m - mt)))
			*l *= carry
		}
		*m = mt
	}
	alpha = sumT * float32(math.Exp(float64(mt-*m)))
	*l += alpha
	return alpha, carry
}

// scaleVec multiplies x by f: a tile's weights (tile rows per head), or an output
// (d_c values per head) when a running max rises; never a cached row.
func scaleVec(x []float32, f float32) {
	for i := range x {
		x[i] *= f
	}
}
