package mla

import (
	"fmt"
	"math"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestNarrowCacheMatchesRoundedReference: Decode over a BF16 or I8 cache against the
// float64 reference given the same rounded inputs (the cached rows and the query as
// the step rounded it), so that the bound holds only the probability rounding and
// float32 arithmetic; for S in {1, 7, 64, 513}, tiles and worker splits inside the
// context, on every Level.
func TestNarrowCacheMatchesRoundedReference(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		for _, c := range []Config{tinyConfig(), tinyLiteConfig()} {
			w := testWeights(t, c, 3)
			l := testLayer(t, c, w, true, WithWorkers(4), WithTileRows(24), WithChunkRows(48))
			for _, dt := range []DType{BF16, I8, FP8} {
				for _, s := range []int{1, 7, 64, 513} {
					t.Run(fmt.Sprintf("%s/%s/S=%d", c.Name, dt, s), func(t *testing.T) {
						x := randomInputs(s, c.Hidden, uint64(s)+9)
						abs, _, q, k := decodeBoth(t, l, x, s, dt, 3)
						qs := make([][]float32, s)
						qs[s-1] = q
						ref := newRefLayer(c, w, dt)
						ref.tile = 24
						ref.qaHat = roundedQueries(l, dt)
						want := ref.attend(implTokens(c, qs, k), k.Start(), s-1)
						require.NoError(t, within(abs, want), "absorbed over a %s cache", dt)
					})
				}
			}
		}
	})
}

// roundedQueries returns the absorbed queries of l's last Decode as its narrow path
// rounded them, per head, exactly in float64.
func roundedQueries(l *Layer, dt DType) [][]float64 {
	c := l.cfg
	H, dc, rw := c.Heads, c.KVLoRARank, c.CacheRowWidth()
	q := l.dec.qa
	out := make([][]float64, H)
	for h := range H {
		out[h] = make([]float64, rw)
		for i := range rw {
			switch dt {
			case BF16, FP8:
				out[h][i] = float64(math.Float32frombits(uint32(q.bf16[h*rw+i]) << 16))
			case I8:
				seg := 0
				if i >= dc {
					seg = 1
				}
				out[h][i] = float64(int8(q.i8[h*rw+i])) * float64(q.i8s[2*h+seg])
			}
		}
	}
	return out
}

// TestNarrowCacheLatentOutput checks the attention's latent output ol[h] = Σ_j p_j c_j
// (before the value up-projection, where a bound is not widened by two linear maps)
// over BF16 and I8 caches against the float64 attention of the same rounded query
// and cached rows, within the bound of the probabilities' rounding (addProbRounding)
// and the float32 arithmetic.
func TestNarrowCacheLatentOutput(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		c := tinyLiteConfig()
		w := testWeights(t, c, 5)
		const tile = 24
		l := testLayer(t, c, w, true, WithWorkers(3), WithTileRows(tile))
		for _, dt := range []DType{BF16, I8, FP8} {
			for _, s := range []int{1, 5, 40, 300} {
				t.Run(fmt.Sprintf("%s/S=%d", dt, s), func(t *testing.T) {
					x := randomInputs(s, c.Hidden, uint64(s)+21)
					_, _, _, k := decodeBoth(t, l, x, s, dt, 0)
					want, bound := latentReference(c, k, roundedQueries(l, dt), dt, tile)
					for i, g := range l.dec.ol {
						d := math.Abs(float64(g) - want[i])
						require.LessOrEqual(t, d, boundSafety*bound[i], "ol[%d] (head %d): got %v, want %v", i, i/c.KVLoRARank, g, want[i])
					}
				})
			}
		}
	})
}

// latentReference is the float64 attention of the rounded queries qa over k's rows:
// per head the latent output and its bound.
func latentReference(c Config, k *Cache, qa [][]float64, dt DType, tile int) (want, bound []float64) {
	H, dc, rw := c.Heads, c.KVLoRARank, c.CacheRowWidth()
	n := k.Len()
	rows := k.rows(0, n, make([]float32, n*rw))
	toks := make([]refToken, n)
	for j := range toks {
		toks[j].c = exactVec(rows[j*rw : j*rw+dc])
		toks[j].kr = exactVec(rows[j*rw+dc : (j+1)*rw])
	}
	r := &refLayer{c: c, tau: refScale(c), arith: dt, tile: tile}
	for h := range H {
		s, es := make([]float64, n), make([]float64, n)
		r.roundedScores(qa[h], toks, s, es)
		m := math.Inf(-1)
		for _, v := range s {
			m = math.Max(m, v)
		}
		var sum, ds float64
		p := make([]float64, n)
		for j := range n {
			p[j] = math.Exp(s[j] - m)
			sum += p[j]
			// The layer's τ is float32: its rounding moves a score by 2^-24 of itself.
			ds = math.Max(ds, es[j]+0x1p-23*math.Abs(s[j])+3*unitRoundoff*(math.Abs(s[j])+math.Abs(m)))
		}
		ol, mag := make([]float64, dc), make([]float64, dc)
		for j := range n {
			p[j] /= sum
			for i := range dc {
				ol[i] += p[j] * toks[j].c.v[i]
				mag[i] += p[j] * math.Abs(toks[j].c.v[i])
			}
		}
		e := r.probRounding(toks, p)
		eps := 2*expRelErr + 3*gamma(n+16) + gamma(n+dc+16)
		for i := range dc {
			want = append(want, ol[i])
			bound = append(bound, 2*ds*mag[i]+eps*mag[i]+e[i])
		}
	}
	return want, bound
}
