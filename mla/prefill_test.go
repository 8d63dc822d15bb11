package mla

import (
	"fmt"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestDecodeMatchesPrefillRows: Prefill T tokens at once; separately decode
// them one at a time; decode step t must equal prefill row t. The two runs compute
// their own projections (GemmNT for T tokens, Gemv for one), so the bound is the
// full chain's from the float64 reference, applied to both, plus the tight core
// check of each run on its own queries and rows.
func TestDecodeMatchesPrefillRows(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		for _, c := range []Config{tinyConfig(), tinyLiteConfig()} {
			t.Run(c.Name, func(t *testing.T) {
				const n = 23
				w := testWeights(t, c, 4)
				l := testLayer(t, c, w, true, WithWorkers(2), WithTileRows(8), WithChunkRows(16))
				D, qw := c.Hidden, c.Heads*c.QKHeadDim()
				x := randomInputs(n, D, 5)
				ref := newRefLayer(c, w, F32)
				want := ref.run(refInputs(x, D), 4096)

				kp := newTestCache(t, c, F32, 4096)
				pre := make([]float32, n*D)
				require.NoError(t, l.Prefill(pre, x, kp))
				qp := splitRows(l.proj.q[:n*qw], qw)

				kd := newTestCache(t, c, F32, 4096)
				dec := make([]float32, n*D)
				qd := make([][]float32, n)
				for i := range n {
					require.NoError(t, l.Decode(dec[i*D:(i+1)*D], x[i*D:(i+1)*D], kd))
					qd[i] = append([]float32(nil), l.proj.q[:qw]...)
				}
				tp, td := implTokens(c, qp, kp), implTokens(c, qd, kd)
				for i := range n {
					require.NoError(t, pairWithin(dec[i*D:(i+1)*D], pre[i*D:(i+1)*D], want.out[i]), "token %d", i)
					requireWithin(t, pre[i*D:(i+1)*D], ref.attend(tp, 4096, i), fmt.Sprintf("prefill core %d", i))
					requireWithin(t, dec[i*D:(i+1)*D], ref.attend(td, 4096, i), fmt.Sprintf("decode core %d", i))
				}
			})
		}
	})
}

func splitRows(v []float32, w int) [][]float32 {
	var out [][]float32
	for i := 0; i < len(v); i += w {
		out = append(out, append([]float32(nil), v[i:i+w]...))
	}
	return out
}

// TestChunkedPrefillMatchesOneShot: Prefill in uneven chunks (some smaller
// than a query block, some spanning key chunks) equals one prefill of everything,
// and the cache contents do not depend on the chunking.
func TestChunkedPrefillMatchesOneShot(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		c := tinyConfig()
		const n = 50
		w := testWeights(t, c, 14)
		l := testLayer(t, c, w, true, WithWorkers(3), WithChunkRows(16))
		l.qBlock = 8
		D := c.Hidden
		x := randomInputs(n, D, 15)
		want := newRefLayer(c, w, F32).run(refInputs(x, D), 0)

		k1 := newTestCache(t, c, F32, 0)
		one := make([]float32, n*D)
		require.NoError(t, l.Prefill(one, x, k1))

		k2 := newTestCache(t, c, F32, 0)
		chunked := make([]float32, n*D)
		at := 0
		for _, size := range []int{5, 1, 17, 9, 18} {
			require.NoError(t, l.Prefill(chunked[at*D:(at+size)*D], x[at*D:(at+size)*D], k2))
			at += size
		}
		require.Equal(t, n, at)
		for i := range n {
			require.NoError(t, pairWithin(one[i*D:(i+1)*D], chunked[i*D:(i+1)*D], want.out[i]), "token %d", i)
		}
		rw := c.CacheRowWidth()
		r1, r2 := mustRows(t, k1, 0, n, make([]float32, n*rw)), mustRows(t, k2, 0, n, make([]float32, n*rw))
		for i, tk := range want.tokens {
			require.NoError(t, pairWithin(r1[i*rw:i*rw+c.KVLoRARank], r2[i*rw:i*rw+c.KVLoRARank], tk.c), "row %d", i)
			require.NoError(t, pairWithin(r1[i*rw+c.KVLoRARank:(i+1)*rw], r2[i*rw+c.KVLoRARank:(i+1)*rw], tk.kr), "row %d", i)
		}
	})
}

// TestPrefillInputErrors checks the messages for bad shapes.
func TestPrefillInputErrors(t *testing.T) {
	c := tinyConfig()
	l := testLayer(t, c, testWeights(t, c, 1), false)
	k := newTestCache(t, c, F32, 0)
	require.ErrorContains(t, l.Prefill(make([]float32, 10), make([]float32, 10), k), "multiple of hidden size 64")
	require.ErrorContains(t, l.Prefill(make([]float32, 64), make([]float32, 128), k), "len(out) = 64")
	require.ErrorContains(t, l.Decode(make([]float32, 64), make([]float32, 63), k), "want hidden size 64")
	require.ErrorContains(t, l.Decode(make([]float32, 64), make([]float32, 64), nil), "nil cache")
	other := tinyConfig()
	other.QKRopeHeadDim = 16
	k2 := newTestCache(t, other, F32, 0)
	require.ErrorContains(t, l.Decode(make([]float32, 64), make([]float32, 64), k2), "cache rows have 48 values (d_c 32 + d_r 16), this layer caches 40 (d_c 32 + d_r 8)")
	require.Equal(t, 0, k.Len(), "a failed call leaves the cache alone")
}
