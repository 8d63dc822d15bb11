package mla

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// batchSeq is one sequence of a batch test: its tokens, its Sequence in the paged
// cache and a twin Cache holding the same rows, which Decode steps alone.
type batchSeq struct {
	start, next int       // next: the index of the token the next step feeds
	x           []float32 // all its tokens, D values each
	want        refRun    // the float64 reference over all its tokens
	s           *Sequence
	k           *Cache
}

// newBatchSeq prefills prompt tokens into a Cache and copies its rows into a new
// Sequence of pc, so that both hold the same rows.
func newBatchSeq(t *testing.T, l *Layer, ref *refLayer, pc *PagedCache, start, prompt, steps int, seed uint64) *batchSeq {
	t.Helper()
	c := l.Config()
	D := c.Hidden
	bq := &batchSeq{start: start, next: prompt, x: randomInputs(prompt+steps, D, seed)}
	bq.want = ref.run(refInputs(bq.x, D), start)
	bq.k = newTestCache(t, c, pc.DType(), start)
	if prompt > 0 {
		require.NoError(t, l.Prefill(make([]float32, prompt*D), bq.x[:prompt*D], bq.k))
	}
	var err error
	bq.s, err = pc.NewSequence(start)
	require.NoError(t, err)
	require.NoError(t, bq.s.Append(mustRows(t, bq.k, 0, prompt, nil)))
	return bq
}

// batchStep feeds each sequence's next token to one DecodeBatch and, one at a time,
// to Decode over the twins, and checks every output against the float64 reference:
// the whole chain (both paths lie within its bound, so they differ by at most twice
// it: the bound of their different summation orders), and the attention core alone
// on the batch's own queries and rows, whose bound is much tighter.
func batchStep(t *testing.T, l *Layer, ref *refLayer, seqs []*batchSeq) {
	t.Helper()
	c := l.Config()
	D, qw, rw := c.Hidden, c.Heads*c.QKHeadDim(), c.CacheRowWidth()
	B := len(seqs)
	x, out := make([]float32, B*D), make([]float32, B*D)
	ss := make([]*Sequence, B)
	for i, bq := range seqs {
		copy(x[i*D:], bq.x[bq.next*D:(bq.next+1)*D])
		ss[i] = bq.s
	}
	require.NoError(t, l.DecodeBatch(out, x, ss))
	q := append([]float32(nil), l.proj.q[:B*qw]...)
	single := make([]float32, D)
	for i, bq := range seqs {
		j := bq.next
		what := fmt.Sprintf("sequence %d (start %d) token %d", i, bq.start, j)
		require.Equal(t, j+1, bq.s.Len(), what)
		got := out[i*D : (i+1)*D]
		want := bq.want.out[j]
		requireWithin(t, got, want, what+": batch vs reference")
		require.NoError(t, l.Decode(single, x[i*D:(i+1)*D], bq.k))
		requireWithin(t, single, want, what+": Decode vs reference")
		require.NoError(t, pairWithin(got, single, want), what+": batch vs Decode")

		rows, err := bq.s.Rows(0, j+1, nil)
		require.NoError(t, err)
		requireWithin(t, rows[j*rw:j*rw+c.KVLoRARank], bq.want.tokens[j].c, what+": cached latent")
		requireWithin(t, rows[j*rw+c.KVLoRARank:(j+1)*rw], bq.want.tokens[j].kr, what+": cached rope key")
		exact := newTestCache(t, c, F32, bq.start)
		require.NoError(t, exact.Append(rows))
		qs := make([][]float32, j+1)
		qs[j] = q[i*qw : (i+1)*qw]
		requireWithin(t, got, ref.attend(implTokens(c, qs, exact), bq.start, j), what+": attention core")
		bq.next++
	}
}

// TestDecodeBatchMatchesDecode: a batch of sequences with ragged lengths (0, 1 and
// more, across pages of 4 rows scored in tiles of 3), at positions far apart, gives
// each the output Decode gives it alone, on every Level, cache dtype and query path;
// between the steps one sequence leaves, one joins and the order changes.
func TestDecodeBatchMatchesDecode(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		for _, c := range []Config{tinyConfig(), tinyLiteConfig()} {
			for _, dt := range []DType{F32, BF16, F16, I8, FP8} {
				t.Run(fmt.Sprintf("%s/%s", c.Name, dt), func(t *testing.T) {
					w := testWeights(t, c, 31)
					decodeBatchSteps(t, c, w, w, dt)
				})
			}
		}
	})
}

func decodeBatchSteps(t *testing.T, c Config, run, exact *LayerWeights, dt DType) {
	l := testLayer(t, c, run, true, WithWorkers(3), WithTileRows(3), WithChunkRows(8))
	ref := newRefLayer(c, exact, dt)
	ref.quantX = run.KVAProj.Format() == FormatQ8_0 // its GEMVs quantize their input
	ref.tile = 3
	pageRows := 4
	if dt == I8 {
		pageRows = 16 // whole tiles
	}
	pc, err := NewPagedCache(c, PagedCacheOptions{DType: dt, Pages: 64, PageRows: pageRows})
	require.NoError(t, err)
	starts, prompts := []int{0, 5000, 7, 150000, 2}, []int{0, 1, 5, 9, 17}
	var seqs []*batchSeq
	for i := range starts {
		seqs = append(seqs, newBatchSeq(t, l, ref, pc, starts[i], prompts[i], 3, uint64(40+i)))
	}
	batchStep(t, l, ref, seqs)
	joined := newBatchSeq(t, l, ref, pc, 11, 3, 2, 60)
	batchStep(t, l, ref, []*batchSeq{seqs[4], joined, seqs[2], seqs[1]})
	require.NoError(t, seqs[0].s.Free())
	batchStep(t, l, ref, []*batchSeq{joined, seqs[3]})
	batchStep(t, l, ref, []*batchSeq{seqs[3]}) // a batch of one
}

// TestDecodeBatchWeightFormats: the batched projections (tiles of rows widened once
// for all tokens) and head blocks in every weight format agree with the reference of
// the values the format holds, as Decode does.
func TestDecodeBatchWeightFormats(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		c := q32Config()
		for _, f := range heldFormats {
			t.Run("weights="+f.String(), func(t *testing.T) {
				narrow, wide := convertedWeights(t, testWeights(t, c, 12), f)
				decodeBatchSteps(t, c, narrow, wide, BF16)
			})
		}
	})
}

// TestDecodeBatchWorkers splits long sequences' rows over 1 to 5 workers (every
// task forced to split, so parts cross from one sequence into the next); run it
// with -race: the workers share the batch scratch by disjoint slices.
func TestDecodeBatchWorkers(t *testing.T) {
	c := tinyConfig()
	w := testWeights(t, c, 50)
	ref := newRefLayer(c, w, F32)
	for _, workers := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			l := testLayer(t, c, w, true, WithWorkers(workers), WithTileRows(8), WithChunkRows(32))
			pc, err := NewPagedCache(c, PagedCacheOptions{Pages: 64, PageRows: 16})
			require.NoError(t, err)
			var seqs []*batchSeq
			for i, prompt := range []int{140, 0, 3, 90} {
				seqs = append(seqs, newBatchSeq(t, l, ref, pc, 0, prompt, 2, uint64(70+i)))
			}
			batchStep(t, l, ref, seqs)
			batchStep(t, l, ref, seqs[1:])
		})
	}
}

// TestDecodeBatchFork: a forked sequence decodes its own tokens while the parent
// decodes others in the same batch; the parent's rows and outputs are those of a
// sequence never forked, the child's those of a copy of the parent.
func TestDecodeBatchFork(t *testing.T) {
	c := tinyConfig()
	w := testWeights(t, c, 60)
	ref := newRefLayer(c, w, F32)
	l := testLayer(t, c, w, true, WithWorkers(2), WithTileRows(4))
	pc, err := NewPagedCache(c, PagedCacheOptions{Pages: 16, PageRows: 4})
	require.NoError(t, err)
	parent := newBatchSeq(t, l, ref, pc, 3, 6, 3, 80) // 6 rows: the second page is half full
	before, err := parent.s.Rows(0, 6, nil)
	require.NoError(t, err)
	free := pc.FreePages()

	// The child continues with its own tokens after the shared prompt.
	child := &batchSeq{start: 3, next: 6, x: append(append([]float32(nil), parent.x[:6*c.Hidden]...), randomInputs(3, c.Hidden, 81)...)}
	child.want = ref.run(refInputs(child.x, c.Hidden), 3)
	child.s, err = parent.s.Fork()
	require.NoError(t, err)
	require.Equal(t, free, pc.FreePages(), "a fork takes no page")
	child.k = newTestCache(t, c, F32, 3)
	require.NoError(t, child.k.Append(before))

	batchStep(t, l, ref, []*batchSeq{parent, child})
	require.Equal(t, free-1, pc.FreePages(), "the shared half-full page is copied once, for the first writer")
	after, err := parent.s.Rows(0, 6, nil)
	require.NoError(t, err)
	require.Equal(t, before, after, "the parent's rows are unchanged")
	batchStep(t, l, ref, []*batchSeq{child, parent})
	batchStep(t, l, ref, []*batchSeq{child})
}

// TestDecodeBatchAllocatesNothing: after warm-up a batched step allocates nothing,
// with sequences joining and leaving between steps, in every weight format and cache
// dtype, on the parallel path.
func TestDecodeBatchAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's bookkeeping allocates")
	}
	for i, dt := range []DType{F32, BF16, F16, I8, FP8, F32, BF16, I8, FP8} {
		c := q32Config()
		w, err := testWeights(t, c, 1).Convert([]WeightFormat{FormatF32, FormatBF16, FormatF16, FormatQ8_0, FormatFP8}[i%5])
		require.NoError(t, err)
		l := testLayer(t, c, w, true, WithWorkers(3), WithTileRows(8))
		pc, err := NewPagedCache(c, PagedCacheOptions{DType: dt, Pages: 200, PageRows: 16})
		require.NoError(t, err)
		seqs := make([]*Sequence, 5)
		for j := range seqs {
			seqs[j], err = pc.NewSequence(j)
			require.NoError(t, err)
			require.NoError(t, seqs[j].Reserve(400))
		}
		batches := [][]*Sequence{seqs[:4], seqs[1:], {seqs[4], seqs[0]}}
		x := randomInputs(5, c.Hidden, 2)
		out := make([]float32, len(x))
		step := 0
		run := func() {
			b := batches[step%len(batches)]
			step++
			if err := l.DecodeBatch(out[:len(b)*c.Hidden], x[:len(b)*c.Hidden], b); err != nil {
				panic(err)
			}
		}
		for range len(batches) {
			run()
		}
		allocs := testing.AllocsPerRun(60, run)
		require.Zero(t, allocs, "cache %s, weights %v", dt, w.OProj.Format())
		require.Greater(t, seqs[1].Len(), 40)
	}
}

// TestDecodeBatchErrors: bad batches are errors that leave every sequence and the
// pool as they were.
func TestDecodeBatchErrors(t *testing.T) {
	c := tinyConfig()
	w := testWeights(t, c, 3)
	l := testLayer(t, c, w, false)
	D := c.Hidden
	pc, err := NewPagedCache(c, PagedCacheOptions{Pages: 3, PageRows: 2})
	require.NoError(t, err)
	a, err := pc.NewSequence(0)
	require.NoError(t, err)
	require.NoError(t, a.Append(randomInputs(3, c.CacheRowWidth(), 1)))
	b, err := pc.NewSequence(9)
	require.NoError(t, err)
	gone, err := pc.NewSequence(0)
	require.NoError(t, err)
	require.NoError(t, gone.Free())
	other, err := NewPagedCache(c, PagedCacheOptions{Pages: 3, PageRows: 2})
	require.NoError(t, err)
	stranger, err := other.NewSequence(0)
	require.NoError(t, err)
	wide := c
	wide.KVLoRARank, wide.QKRopeHeadDim = 36, 4 // the same row width, another split
	misfit, err := NewPagedCache(wide, PagedCacheOptions{Pages: 3, PageRows: 2})
	require.NoError(t, err)
	misfitSeq, err := misfit.NewSequence(0)
	require.NoError(t, err)

	x2, out2 := randomInputs(2, D, 5), make([]float32, 2*D)
	nan := randomInputs(2, D, 5)
	nan[D+3] = float32(math.NaN())
	rowsBefore, err := a.Rows(0, 3, nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		out, x   []float32
		seqs     []*Sequence
		contains string
		kind     error
	}{
		{"no sequences", nil, nil, nil, "at least one sequence", ErrShape},
		{"short x", out2, x2[:D], []*Sequence{a, b}, "len(x)", ErrShape},
		{"short out", out2[:D], x2, []*Sequence{a, b}, "len(out)", ErrShape},
		{"nil sequence", out2, x2, []*Sequence{a, nil}, "sequence 1 is nil", ErrShape},
		{"zero sequence", out2, x2, []*Sequence{{}, a}, "not made by NewPagedCache", nil},
		{"duplicate", out2, x2, []*Sequence{a, a}, "appears twice", ErrShape},
		{"freed", out2, x2, []*Sequence{a, gone}, "after Free", errSeqFreed},
		{"two pools", out2, x2, []*Sequence{a, stranger}, "another PagedCache", ErrShape},
		{"geometry", out2[:D], x2[:D], []*Sequence{misfitSeq}, "d_c 36 + d_r 4", ErrShape},
		{"not finite", out2, nan, []*Sequence{a, b}, "sequence 1 (position 9) is not finite", ErrNonFinite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := l.DecodeBatch(tc.out, tc.x, tc.seqs)
			require.ErrorContains(t, err, tc.contains)
			if tc.kind != nil {
				require.ErrorIs(t, err, tc.kind)
			}
			require.Equal(t, 3, a.Len())
			require.Equal(t, 0, b.Len())
			rows, err := a.Rows(0, 3, nil)
			require.NoError(t, err)
			require.Equal(t, rowsBefore, rows)
		})
	}

	// Exhaustion: a holds 2 pages (one half full), b none, one page is free. One
	// step fits (a's half page, b's first page); the next needs two pages.
	require.Equal(t, 1, pc.FreePages())
	require.NoError(t, l.DecodeBatch(out2, x2, []*Sequence{a, b}))
	require.Equal(t, 0, pc.FreePages())
	err = l.DecodeBatch(out2, x2, []*Sequence{a, b})
	require.ErrorIs(t, err, ErrCacheFull)
	require.Equal(t, 4, a.Len())
	require.Equal(t, 1, b.Len())
	require.NoError(t, l.DecodeBatch(out2[:D], x2[:D], []*Sequence{b}), "b's page has room")
	require.NoError(t, a.Truncate(1))
	require.Equal(t, 1, pc.FreePages(), "truncating returns a's second page")
	require.NoError(t, l.DecodeBatch(out2, x2, []*Sequence{a, b}))

	// A layer whose RoPE follows the up-projection has no absorbed path.
	after := c
	after.RoPE, after.QKRopeHeadDim = RoPEAfterUp, 0
	la := testLayer(t, after, testWeights(t, after, 3), false)
	require.ErrorContains(t, la.DecodeBatch(out2[:D], x2[:D], []*Sequence{b}), "after the up-projection")
	var zero Layer
	require.Error(t, zero.DecodeBatch(out2[:D], x2[:D], []*Sequence{b}))
	require.NoError(t, l.Close())
	require.True(t, errors.Is(l.DecodeBatch(out2[:D], x2[:D], []*Sequence{b}), ErrClosed))
}
