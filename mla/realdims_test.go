package mla

import (
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestRealShapeV2Lite runs DeepSeek-V2-Lite's real dimensions (16 heads, d_c 512,
// d_r 64, D 2048, no query LoRA): absorbed == naive and both against the reference
// core, at S = 7, with an f32 and a bf16 cache, on every Level.
func TestRealShapeV2Lite(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 55 MB of weights")
	}
	c := DeepSeekV2Lite()
	w := testWeights(t, c, 1)
	testutil.UseEachLevel(t, func(t *testing.T) {
		l := testLayer(t, c, w, false)
		for _, dt := range []DType{F32, BF16, I8, FP8} {
			const s = 7
			x := randomInputs(s, c.Hidden, 2)
			abs, naive, q, k := decodeBoth(t, l, x, s, dt, 4090)
			qs := make([][]float32, s)
			qs[s-1] = q
			ref := newRefLayer(c, w, dt).attend(implTokens(c, qs, k), k.Start(), s-1)
			require.NoError(t, within(abs, ref), "absorbed, %s cache", dt)
			require.NoError(t, within(naive, ref), "naive, %s cache", dt)
		}
	})
}
