package mla

import (
	"fmt"
	"math"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// decodeBoth fills a cache with s-1 prefilled tokens, clones it, and runs the last
// token through Decode on one copy and DecodeNaive on the other. It returns both
// outputs, the token's projected queries (identical for both paths) and the cache.
func decodeBoth(t *testing.T, l *Layer, x []float32, s int, dt DType, start int) (abs, naive []float32, q []float32, k *Cache) {
	t.Helper()
	c := l.cfg
	D := c.Hidden
	k = newTestCache(t, c, dt, start)
	if s > 1 {
		require.NoError(t, l.Prefill(make([]float32, (s-1)*D), x[:(s-1)*D], k))
	}
	k2 := cloneCache(t, k)
	abs, naive = make([]float32, D), make([]float32, D)
	require.NoError(t, l.Decode(abs, x[(s-1)*D:s*D], k))
	q = append([]float32(nil), l.proj.q[:c.Heads*c.QKHeadDim()]...)
	require.NoError(t, l.DecodeNaive(naive, x[(s-1)*D:s*D], k2))
	require.Equal(t, q, l.proj.q[:c.Heads*c.QKHeadDim()], "both paths share the projections")
	require.Equal(t, mustRows(t, k, 0, s, make([]float32, s*c.CacheRowWidth())), mustRows(t, k2, 0, s, make([]float32, s*c.CacheRowWidth())))
	return abs, naive, q, k
}

func cloneCache(t *testing.T, k *Cache) *Cache {
	k2 := &Cache{width: k.width, dc: k.dc, dr: k.dr, mhaPerToken: k.mhaPerToken, kvPerGroup: k.kvPerGroup, rowStore: newRowStore(k.dtype, k.width, k.split), start: k.start}
	k2.f32 = append([]float32(nil), k.f32...)
	k2.u16 = append([]uint16(nil), k.u16...)
	k2.i8 = append([]byte(nil), k.i8...)
	k2.i8s = append([]float32(nil), k.i8s...)
	k2.f8 = append([]byte(nil), k.f8...)
	k2.f8s = append([]float32(nil), k.f8s...)
	k2.n = k.n
	return k2
}

// TestAbsorbedMatchesNaive: for S in {1, 2, 7, 64, 513}, on every Level, with
// tiles and worker splits that put boundaries inside the context. Both paths see
// the same queries and cache rows, so the bound covers the attention core only.
func TestAbsorbedMatchesNaive(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		for _, c := range []Config{tinyConfig(), tinyLiteConfig()} {
			w := testWeights(t, c, 2)
			l := testLayer(t, c, w, true, WithWorkers(4), WithTileRows(16), WithChunkRows(48))
			for _, s := range []int{1, 2, 7, 64, 513} {
				t.Run(fmt.Sprintf("%s/S=%d", c.Name, s), func(t *testing.T) {
					x := randomInputs(s, c.Hidden, uint64(s))
					abs, naive, q, k := decodeBoth(t, l, x, s, F32, 3)
					qs := make([][]float32, s)
					qs[s-1] = q
					ref := newRefLayer(c, w, F32).attend(implTokens(c, qs, k), k.Start(), s-1)
					require.NoError(t, within(abs, ref), "absorbed")
					require.NoError(t, within(naive, ref), "naive")
					require.NoError(t, pairWithin(abs, naive, ref))
				})
			}
		}
	})
}

// TestAbsorbedScores compares the two forms of every score (an intermediate result):
// τ·(Qa[h]·[c_j|kr_j]) with Qa[h] = [W_UK(h)ᵀ qn[h] | qr[h]], as Decode forms it, and
// τ·(qn[h]·(W_UK(h) c_j) + qr[h]·kr_j), the decompressed form.
func TestAbsorbedScores(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		c := tinyConfig()
		w := testWeights(t, c, 6)
		l := testLayer(t, c, w, false)
		const s = 37
		x := randomInputs(s, c.Hidden, 1)
		_, _, q, k := decodeBoth(t, l, x, s, F32, 0)
		H, dn, dr, dc, dqk, rw := c.Heads, c.QKNopeHeadDim, c.QKRopeHeadDim, c.KVLoRARank, c.QKHeadDim(), c.CacheRowWidth()
		rows := mustRows(t, k, 0, s, make([]float32, s*rw))
		tau := l.scale
		absorbed := make([]float32, H*s)
		qa := l.dec.qa.f32 // the last Decode left the absorbed queries here
		for h := range H {
			for j := range s {
				absorbed[h*s+j] = tau * dot32(qa[h*rw:(h+1)*rw], rows[j*rw:(j+1)*rw])
			}
		}
		kn := make([]float32, dn)
		for h := range H {
			for j := range s {
				for i := range dn {
					kn[i] = dot32(keyUpF32(w, c, h)[i*dc:(i+1)*dc], rows[j*rw:j*rw+dc])
				}
				naive := tau * (dot32(q[h*dqk:h*dqk+dn], kn) + dot32(q[h*dqk+dn:(h+1)*dqk], rows[j*rw+dc:(j+1)*rw]))
				// Both are within τ·γ(d_n+d_c+d_r)·Σ|terms| of the exact score (reference_test.go).
				var mag float64
				for i := range dn {
					for p := range dc {
						mag += math.Abs(float64(q[h*dqk+i]) * float64(keyUpF32(w, c, h)[i*dc+p]) * float64(rows[j*rw+p]))
					}
				}
				for i := range dr {
					mag += math.Abs(float64(q[h*dqk+dn+i]) * float64(rows[j*rw+dc+i]))
				}
				bound := 2 * (float64(tau)*gamma(dn+dc+dr)*mag + 2*unitRoundoff*math.Abs(float64(naive)))
				require.InDelta(t, naive, absorbed[h*s+j], bound, "head %d row %d", h, j)
			}
		}
	})
}

func dot32(a, b []float32) float32 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return float32(s)
}

// positiveValueLayer makes W_UV and W_O non-negative, so that outputs of uniform
// attention over positive latents involve no cancellation and the reference bound
// is relative to the output itself (~γ(S+d_c+H·d_v)): a row dropped or counted twice
// anywhere changes the output by ~1/S, far outside it.
func positiveValueLayer(t *testing.T, c Config, opts ...Option) (*Layer, *LayerWeights) {
	w := testWeights(t, c, 31)
	for h := range c.Heads {
		for i, v := range valueUpF32(w, c, h) {
			valueUpF32(w, c, h)[i] = float32(math.Abs(float64(v)))
		}
	}
	for i, v := range w.OProj.f32 {
		w.OProj.f32[i] = float32(math.Abs(float64(v)))
	}
	return testLayer(t, c, w, true, opts...), w
}

// positiveRows returns n cache rows with positive latents (small integers) and
// arbitrary rope keys.
func positiveRows(c Config, n int) []float32 {
	rw := c.CacheRowWidth()
	rows := randomInputs(n, rw, 77)
	for j := range n {
		for i := range c.KVLoRARank {
			rows[j*rw+i] = float32(1 + (j*7+i*3)%11)
		}
	}
	return rows
}

// TestUniformAttentionCountsEveryRow: a zero input gives a zero query, so every score
// is exactly 0 and attention is uniform over all S rows. With positive
// latents and values the output pins down that every row, across tile, worker and
// chunk boundaries, is counted exactly once, in Decode, DecodeNaive and Prefill.
func TestUniformAttentionCountsEveryRow(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		c := tinyConfig()
		for _, s := range []int{1, 2, 7, 64, 513} {
			for _, opt := range [][]Option{{WithWorkers(1)}, {WithWorkers(3), WithTileRows(16), WithChunkRows(40)}} {
				l, w := positiveValueLayer(t, c, opt...)
				t.Run(fmt.Sprintf("S=%d/workers=%d", s, l.Workers()), func(t *testing.T) {
					D := c.Hidden
					zero := make([]float32, D)
					k := newTestCache(t, c, F32, 100)
					require.NoError(t, k.Append(positiveRows(c, s-1)))
					k2 := cloneCache(t, k)
					abs, naive := make([]float32, D), make([]float32, D)
					require.NoError(t, l.Decode(abs, zero, k))
					require.NoError(t, l.DecodeNaive(naive, zero, k2))
					qs := make([][]float32, s)
					qs[s-1] = make([]float32, c.Heads*c.QKHeadDim())
					ref := newRefLayer(c, w, F32).attend(implTokens(c, qs, k), k.Start(), s-1)
					require.NoError(t, within(abs, ref), "absorbed")
					require.NoError(t, within(naive, ref), "naive")

					// Prefill of zero tokens on top of the rows: token i sees s-1+i+1 rows.
					const extra = 3
					k3 := newTestCache(t, c, F32, 100)
					require.NoError(t, k3.Append(positiveRows(c, s-1)))
					out := make([]float32, extra*D)
					require.NoError(t, l.Prefill(out, make([]float32, extra*D), k3))
					qs = make([][]float32, s-1+extra)
					for i := range extra {
						qs[s-1+i] = make([]float32, c.Heads*c.QKHeadDim())
					}
					toks := implTokens(c, qs, k3)
					for i := range extra {
						ref := newRefLayer(c, w, F32).attend(toks, k3.Start(), s-1+i)
						require.NoError(t, within(out[i*D:(i+1)*D], ref), "prefill token %d", i)
					}
				})
			}
		}
	})
}
