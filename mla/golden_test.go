package mla

import (
	"fmt"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// The golden tests compare against the float64 reference of reference_test.go.

// TestGoldenDecode prefills part of a sequence and decodes the rest one token at a
// time, on every Level, for both query paths, every cache dtype and start positions
// below and far beyond the original 4096 context (where YaRN's interpolated
// frequencies dominate). It checks, against the float64 reference:
//   - every stage of the chain: the queries, the cached rows, the outputs;
//   - the attention core alone, fed with the implementation's own queries and cache
//     rows (as exact inputs), whose bound is much tighter than the whole chain's and
//     makes the 16-bit cache paths (tile widening) meaningful.
func TestGoldenDecode(t *testing.T) {
	const n, prompt = 12, 5
	testutil.UseEachLevel(t, func(t *testing.T) {
		for _, c := range []Config{tinyConfig(), tinyLiteConfig()} {
			for _, dt := range []DType{F32, BF16, F16, I8, FP8} {
				for _, start := range []int{0, 5000, 150000} {
					t.Run(fmt.Sprintf("%s/%s/start=%d", c.Name, dt, start), func(t *testing.T) {
						goldenDecode(t, c, dt, start, n, prompt)
					})
				}
			}
		}
	})
}

func goldenDecode(t *testing.T, c Config, dt DType, start, n, prompt int) {
	w := testWeights(t, c, 11)
	goldenDecodeWith(t, c, w, w, dt, start, n, prompt)
}

// goldenDecodeWith runs a layer on weights run (in any format) against the float64
// reference of exact, F32 weights holding the same values.
func goldenDecodeWith(t *testing.T, c Config, run, exact *LayerWeights, dt DType, start, n, prompt int) {
	l := testLayer(t, c, run, true, WithWorkers(3), WithTileRows(4), WithChunkRows(8))
	D, qw := c.Hidden, c.Heads*c.QKHeadDim()
	x := randomInputs(n, D, 3)
	ref := newRefLayer(c, exact, dt)
	ref.quantX = run.KVAProj.Format() == FormatQ8_0
	want := ref.run(refInputs(x, D), start)
	k := newTestCache(t, c, dt, start)
	out := make([]float32, n*D)
	qs := make([][]float32, n)
	require.NoError(t, l.Prefill(out[:prompt*D], x[:prompt*D], k))
	for i := range prompt {
		qs[i] = append([]float32(nil), l.proj.q[i*qw:(i+1)*qw]...)
	}
	for i := prompt; i < n; i++ {
		require.NoError(t, l.Decode(out[i*D:(i+1)*D], x[i*D:(i+1)*D], k))
		qs[i] = append([]float32(nil), l.proj.q[:qw]...)
	}
	rw := c.CacheRowWidth()
	rows := k.rows(0, n, make([]float32, n*rw))
	toks := implTokens(c, qs, k)
	for i, tk := range want.tokens {
		for h := range c.Heads {
			requireWithin(t, qs[i][h*c.QKHeadDim():h*c.QKHeadDim()+c.QKNopeHeadDim], tk.qn[h], fmt.Sprintf("token %d head %d q_nope", i, h))
			if c.QKRopeHeadDim > 0 {
				requireWithin(t, qs[i][h*c.QKHeadDim()+c.QKNopeHeadDim:(h+1)*c.QKHeadDim()], tk.qr[h], fmt.Sprintf("token %d head %d q_rope", i, h))
			}
		}
		requireWithin(t, rows[i*rw:i*rw+c.KVLoRARank], tk.c, fmt.Sprintf("cached latent %d", i))
		requireWithin(t, rows[i*rw+c.KVLoRARank:(i+1)*rw], tk.kr, fmt.Sprintf("cached rope key %d", i))
		requireWithin(t, out[i*D:(i+1)*D], want.out[i], fmt.Sprintf("token %d output", i))
		requireWithin(t, out[i*D:(i+1)*D], ref.attend(toks, start, i), fmt.Sprintf("token %d attention core", i))
	}
}

// TestGoldenPrefill checks a one-shot prefill over more tokens than a chunk, with a
// query block boundary inside, on every Level.
func TestGoldenPrefill(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		c := tinyConfig()
		w := testWeights(t, c, 5)
		l := testLayer(t, c, w, true, WithWorkers(2), WithChunkRows(16))
		l.qBlock = 8
		const n = 40
		x := randomInputs(n, c.Hidden, 9)
		ref := newRefLayer(c, w, F32).run(refInputs(x, c.Hidden), 7)
		k := newTestCache(t, c, F32, 7)
		out := make([]float32, len(x))
		require.NoError(t, l.Prefill(out, x, k))
		for i := range n {
			requireWithin(t, out[i*c.Hidden:(i+1)*c.Hidden], ref.out[i], fmt.Sprintf("token %d", i))
		}
		// The cache holds the reference's [c | kr] rows.
		row := make([]float32, c.CacheRowWidth())
		for i, tk := range ref.tokens {
			copy(row, k.rows(i, i+1, row))
			requireWithin(t, row[:c.KVLoRARank], tk.c, fmt.Sprintf("cached latent %d", i))
			requireWithin(t, row[c.KVLoRARank:], tk.kr, fmt.Sprintf("cached rope key %d", i))
		}
	})
}

// TestScaleNeedsTwoTokens: at position 0 the softmax over one key is 1 whatever the
// scale, so a wrong τ (192^-1/2 without m², pitfall 1) is invisible there; from the
// second token on the bound catches it. This proves the golden tests check τ.
func TestScaleNeedsTwoTokens(t *testing.T) {
	c := tinyConfig()
	w := testWeights(t, c, 21)
	l := testLayer(t, c, w, false)
	x := randomInputs(3, c.Hidden, 4)
	k := newTestCache(t, c, F32, 0)
	out := make([]float32, len(x))
	for i := range 3 {
		require.NoError(t, l.Decode(out[i*c.Hidden:(i+1)*c.Hidden], x[i*c.Hidden:(i+1)*c.Hidden], k))
	}
	require.InDelta(t, 0.1147213867929261, refScale(DeepSeekV2Lite()), 1e-15)

	wrong := newRefLayer(c, w, F32)
	wrong.tau = 1 / 4.898979485566356 // (d_n+d_r)^-1/2 = 24^-1/2: the scale without m²
	bad := wrong.run(refInputs(x, c.Hidden), 0)
	require.NoError(t, within(out[:c.Hidden], bad.out[0]), "position 0 must not see the scale")
	require.Error(t, within(out[c.Hidden:2*c.Hidden], bad.out[1]), "position 1 must see a wrong scale")
	require.Error(t, within(out[2*c.Hidden:], bad.out[2]))

	good := newRefLayer(c, w, F32).run(refInputs(x, c.Hidden), 0)
	for i := range 3 {
		requireWithin(t, out[i*c.Hidden:(i+1)*c.Hidden], good.out[i], fmt.Sprintf("token %d", i))
	}
}

// TestZeroInputs: a zero query token attends uniformly; all-zero tokens give
// exactly zero (RMSNorm(0) = 0, not NaN).
func TestZeroInputs(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		c := tinyConfig()
		w := testWeights(t, c, 8)
		l := testLayer(t, c, w, false)
		D := c.Hidden
		k := newTestCache(t, c, F32, 0)
		out := make([]float32, D)
		zero := make([]float32, D)
		for range 3 {
			require.NoError(t, l.Decode(out, zero, k))
			require.Equal(t, make([]float32, D), out)
		}

		x := randomInputs(4, D, 12)
		copy(x[3*D:], zero)
		ref := newRefLayer(c, w, F32).run(refInputs(x, D), 0)
		k2 := newTestCache(t, c, F32, 0)
		all := make([]float32, 4*D)
		require.NoError(t, l.Prefill(all[:3*D], x[:3*D], k2))
		require.NoError(t, l.Decode(all[3*D:], x[3*D:], k2))
		requireWithin(t, all[3*D:], ref.out[3], "zero query token")
	})
}
