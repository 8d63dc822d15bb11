package mla

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPrefillSequenceMatchesCache: a prompt prefilled into a sequence of a paged
// cache (chunks of keys crossing pages), then continued in a fork, gives bit for bit
// the outputs and rows of the same prefills into a Cache, for both RoPE placements
// and every cache dtype; the parent keeps its rows.
func TestPrefillSequenceMatchesCache(t *testing.T) {
	after := tinyLiteConfig()
	after.Name, after.RoPE, after.QKRopeHeadDim = "rope-after-up", RoPEAfterUp, 0
	for _, c := range []Config{tinyConfig(), after} {
		for _, dt := range []DType{F32, BF16, I8, FP8} {
			if checkCacheType(c, dt) != nil {
				continue // I8 needs a rope part
			}
			t.Run(fmt.Sprintf("%s/%s", c.Name, dt), func(t *testing.T) {
				D := c.Hidden
				l := testLayer(t, c, testWeights(t, c, 7), true, WithWorkers(2), WithChunkRows(5))
				pageRows := 3
				if dt == I8 {
					pageRows = 16
				}
				pc := newTestPaged(t, c, dt, 20, pageRows)
				x := randomInputs(17, D, 8)
				k := newTestCache(t, c, dt, 4)
				want := make([]float32, len(x))
				require.NoError(t, l.Prefill(want[:10*D], x[:10*D], k))

				s, err := pc.NewSequence(4)
				require.NoError(t, err)
				got := make([]float32, len(x))
				require.NoError(t, l.PrefillSequence(got[:10*D], x[:10*D], s))
				require.Equal(t, want[:10*D], got[:10*D])
				prompt := mustSeqRows(t, s)
				require.Equal(t, mustRows(t, k, 0, 10, nil), prompt)

				fork, err := s.Fork()
				require.NoError(t, err)
				require.NoError(t, l.Prefill(want[10*D:], x[10*D:], k))
				require.NoError(t, l.PrefillSequence(got[10*D:], x[10*D:], fork))
				require.Equal(t, want[10*D:], got[10*D:])
				require.Equal(t, mustRows(t, k, 0, 17, nil), mustSeqRows(t, fork))
				require.Equal(t, prompt, mustSeqRows(t, s), "the parent is unchanged")
			})
		}
	}
}

// TestPrefillBatch: several prompts prefilled in one call into sequences (one a
// fork) match their prefills into Caches, then decode together in a batch; a batch
// whose prompts need more pages than are free changes nothing.
func TestPrefillBatch(t *testing.T) {
	c := tinyConfig()
	D := c.Hidden
	w := testWeights(t, c, 9)
	l := testLayer(t, c, w, true, WithWorkers(3), WithChunkRows(4), WithTileRows(2))
	ref := newRefLayer(c, w, F32)
	pc := newTestPaged(t, c, F32, 12, 4)
	base, err := pc.NewSequence(0)
	require.NoError(t, err)
	shared := randomInputs(6, D, 1)
	require.NoError(t, l.PrefillSequence(make([]float32, len(shared)), shared, base))
	fork, err := base.Fork()
	require.NoError(t, err)
	fresh, err := pc.NewSequence(9)
	require.NoError(t, err)

	xs := [][]float32{randomInputs(3, D, 2), randomInputs(7, D, 3)}
	outs := [][]float32{make([]float32, 3*D), make([]float32, 7*D)}
	free := pc.FreePages()
	tooMany := [][]float32{xs[0], randomInputs(40, D, 4)}
	err = l.PrefillBatch([][]float32{outs[0], make([]float32, 40*D)}, tooMany, []*Sequence{fork, fresh})
	require.ErrorIs(t, err, ErrCacheFull)
	require.Equal(t, 6, fork.Len())
	require.Equal(t, 0, fresh.Len())
	require.Equal(t, free, pc.FreePages())
	require.ErrorContains(t, l.PrefillBatch(outs, xs, []*Sequence{fork, fork}), "appears twice")
	require.ErrorContains(t, l.PrefillBatch(outs[:1], xs, []*Sequence{fork, fresh}), "1 outputs and 2 inputs")
	require.ErrorContains(t, l.PrefillBatch([][]float32{outs[0], outs[0]}, xs, []*Sequence{fork, fresh}), "prompt 1")

	require.NoError(t, l.PrefillBatch(outs, xs, []*Sequence{fork, fresh}))
	forkX := append(append([]float32(nil), shared...), xs[0]...)
	for i, tc := range []struct {
		x     []float32
		start int
		s     *Sequence
	}{{forkX, 0, fork}, {xs[1], 9, fresh}} {
		k := newTestCache(t, c, F32, tc.start)
		want := make([]float32, len(tc.x))
		require.NoError(t, l.Prefill(want, tc.x, k))
		require.Equal(t, want[len(want)-len(outs[i]):], outs[i], "prompt %d", i)
		require.Equal(t, mustRows(t, k, 0, k.Len(), nil), mustSeqRows(t, tc.s))
	}

	// The prefilled sequences decode in one batch as Decode decodes their twins.
	steps := func(x []float32, start int, s *Sequence) *batchSeq {
		n := len(x) / D
		bq := &batchSeq{start: start, next: n, x: append(append([]float32(nil), x...), randomInputs(2, D, uint64(n))...), s: s}
		bq.want = ref.run(refInputs(bq.x, D), start)
		bq.k = newTestCache(t, c, F32, start)
		require.NoError(t, l.Prefill(make([]float32, len(x)), x, bq.k))
		return bq
	}
	seqs := []*batchSeq{steps(forkX, 0, fork), steps(xs[1], 9, fresh), steps(shared, 0, base)}
	batchStep(t, l, ref, seqs)
	batchStep(t, l, ref, seqs)
}
