package mla

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireShardSum checks Σ_s parts[s] against the float64 reference of the whole
// layer: each shard's output is a subset of the layer's sums, so their errors add up
// to at most the layer's first-order bound (doubled, as requireWithin allows), and
// adding S shards rounds S-1 more times.
func requireShardSum(t *testing.T, parts [][]float32, want vec, what string) {
	t.Helper()
	for i := range want.v {
		var sum, mag float64
		for _, p := range parts {
			sum += float64(p[i])
			mag += math.Abs(float64(p[i]))
		}
		bound := boundSafety*want.e[i] + float64(len(parts)-1)*unitRoundoff*mag
		require.LessOrEqual(t, math.Abs(sum-want.v[i]), bound, "%s: element %d: sum %v, want %v", what, i, sum, want.v[i])
	}
}

// TestShardHeads: 2 and 4 head shards, each a Layer with its own cache (prefill,
// then decode steps), sum to the whole layer's outputs within its bound, for
// float32, BF16 and Q8_0 weights.
func TestShardHeads(t *testing.T) {
	c := q32Config()
	for _, f := range []WeightFormat{FormatF32, FormatBF16, FormatQ8_0} {
		narrow, wide := convertedWeights(t, testWeights(t, c, 4), f)
		const n, prompt = 7, 4
		x := randomInputs(n, c.Hidden, 8)
		ref := newRefLayer(c, wide, F32)
		ref.quantX = f == FormatQ8_0
		want := ref.run(refInputs(x, c.Hidden), 0)
		for _, shards := range []int{2, 4} {
			t.Run(fmt.Sprintf("weights=%v/shards=%d", f, shards), func(t *testing.T) {
				outs := make([][]float32, shards)
				per := c.Heads / shards
				if f == FormatQ8_0 && per*c.VHeadDim%32 != 0 {
					_, _, err := ShardHeads(c, narrow, 0, per)
					require.ErrorIs(t, err, ErrShape, "o_proj's columns cut Q8_0 blocks")
					return
				}
				for s := range shards {
					sc, sw, err := ShardHeads(c, narrow, s*per, (s+1)*per)
					require.NoError(t, err)
					require.Equal(t, per, sc.Heads)
					l := testLayer(t, sc, sw, true, WithWorkers(2))
					k, err := l.NewCache(CacheOptions{})
					require.NoError(t, err)
					out := make([]float32, n*c.Hidden)
					require.NoError(t, l.Prefill(out[:prompt*c.Hidden], x[:prompt*c.Hidden], k))
					for i := prompt; i < n; i++ {
						require.NoError(t, l.Decode(out[i*c.Hidden:(i+1)*c.Hidden], x[i*c.Hidden:(i+1)*c.Hidden], k))
					}
					outs[s] = out
				}
				for i := range n {
					parts := make([][]float32, shards)
					for s := range shards {
						parts[s] = outs[s][i*c.Hidden : (i+1)*c.Hidden]
					}
					requireShardSum(t, parts, want.out[i], fmt.Sprintf("token %d", i))
				}
			})
		}
	}
	w := testWeights(t, c, 4)
	for _, r := range [][2]int{{-1, 2}, {2, 2}, {3, 5}} {
		_, _, err := ShardHeads(c, w, r[0], r[1])
		require.ErrorIs(t, err, ErrShape, "%v", r)
	}
}

// TestColumnRange: columns of every format are the widened matrix's columns; ranges
// that cut a Q8_0 or FP8 block are refused.
func TestColumnRange(t *testing.T) {
	m := NewMatrix(48, 64, randomInputs(48, 64, 2))
	for _, f := range heldFormats {
		held := heldIn(t, &LayerWeights{OProj: m}, f).OProj
		wide := held.Widen()
		for _, cr := range [][2]int{{0, 32}, {32, 64}, {0, 64}} {
			v, err := columnRange(held, cr[0], cr[1])
			require.NoError(t, err, "%v %v", f, cr)
			require.Equal(t, f, v.Format())
			got := v.Widen()
			n := cr[1] - cr[0]
			for r := range 48 {
				require.Equal(t, wide[r*64+cr[0]:r*64+cr[1]], got[r*n:(r+1)*n], "%v %v row %d", f, cr, r)
			}
		}
	}
	q8, err := m.Convert(FormatQ8_0)
	require.NoError(t, err)
	_, err = columnRange(q8, 16, 48)
	require.ErrorIs(t, err, ErrShape)
	fp8 := quantizeFP8(t, m, 16, 16)
	_, err = columnRange(fp8, 8, 24)
	require.ErrorIs(t, err, ErrShape)
}

// TestContextParallelDecode: a sequence's cache split into three parts (caches of
// consecutive position ranges), each attended by AttendPart, merged and finished,
// gives Decode's output within the reference bound; the tail part appends the
// token's row and the others do not change.
func TestContextParallelDecode(t *testing.T) {
	for _, c := range []Config{tinyConfig(), q32Config()} {
		w := testWeights(t, c, 9)
		const n = 20
		x := randomInputs(n, c.Hidden, 4)
		want := newRefLayer(c, w, F32).run(refInputs(x, c.Hidden), 0)
		l := testLayer(t, c, w, true, WithWorkers(2), WithTileRows(4))
		full, err := l.NewCache(CacheOptions{})
		require.NoError(t, err)
		D, rw := c.Hidden, c.CacheRowWidth()
		out := make([]float32, (n-1)*D)
		require.NoError(t, l.Prefill(out, x[:(n-1)*D], full))
		rows, err := full.Rows(0, n-1, nil)
		require.NoError(t, err)
		bounds := []int{0, 6, 13, n - 1}
		parts := make([]*Cache, 3)
		states := make([]*AttnState, 3)
		for i := range parts {
			k, err := l.NewCache(CacheOptions{Start: bounds[i]})
			require.NoError(t, err)
			require.NoError(t, k.Append(rows[bounds[i]*rw:bounds[i+1]*rw]))
			parts[i], states[i] = k, l.NewAttnState()
		}
		xn := x[(n-1)*D:]
		for i, k := range parts {
			require.NoError(t, l.AttendPart(states[i], xn, n-1, k))
		}
		require.Equal(t, []int{6, 7, 7}, []int{parts[0].Len(), parts[1].Len(), parts[2].Len()}, "only the tail appends")
		merged := l.NewAttnState()
		require.NoError(t, MergeAttnStates(merged, states[2], states[0], states[1]))
		got := make([]float32, D)
		require.NoError(t, l.FinishAttention(got, merged))
		requireWithin(t, got, want.out[n-1], c.Name+": context-parallel output")

		// Merging in place, in another order, and with an empty part changes nothing
		// beyond rounding.
		empty, err := l.NewCache(CacheOptions{Start: n})
		require.NoError(t, err)
		none := l.NewAttnState()
		require.NoError(t, l.AttendPart(none, xn, n+5, empty))
		require.Zero(t, empty.Len())
		require.NoError(t, MergeAttnStates(states[0], states[0], none, states[1], states[2]))
		require.NoError(t, l.FinishAttention(got, states[0]))
		requireWithin(t, got, want.out[n-1], c.Name+": merged in place")

		require.ErrorIs(t, l.AttendPart(none, xn, 3, parts[2]), ErrShape, "a position before the part's end")
		require.ErrorIs(t, l.FinishAttention(got, l.NewAttnState()), ErrShape, "no rows")
		require.ErrorIs(t, MergeAttnStates(merged, &AttnState{}), ErrShape)
		require.ErrorIs(t, MergeAttnStates(merged, states[1], states[1]), ErrShape, "a part twice")
		require.Zero(t, testing.AllocsPerRun(10, func() { _ = MergeAttnStates(merged, states[1], states[2]) }))
	}
}
