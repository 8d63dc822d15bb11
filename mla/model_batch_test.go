package mla

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestModelForwardBatch: prompts prefilled into sequences of a ModelPagedCache (one a
// fork, one empty) decode together in ForwardBatch steps, each sequence's logits
// within the float64 model's bound and within twice it of Model.Forward on a twin
// ModelCache.
func TestModelForwardBatch(t *testing.T) {
	for _, c := range []Config{tinyConfig(), tinyLiteConfig()} {
		t.Run(c.Name, func(t *testing.T) {
			m, w := testModel(t, c, 2)
			for _, l := range m.Layers() {
				l.minWork = 1 // split every task over the workers
			}
			mp, err := m.NewPagedCache(PagedCacheOptions{Pages: 40, PageRows: 4})
			require.NoError(t, err)
			V := c.Vocab
			type seq struct {
				tokens []int
				s      *ModelSequence
				twin   *ModelCache
			}
			prompts := [][]int{{5, 17, 3, 96, 0, 42}, {8}, {}}
			var seqs []*seq
			logits := make([]float32, V)
			for _, p := range prompts {
				sq := &seq{tokens: append([]int(nil), p...)}
				sq.s, err = mp.NewSequence(0)
				require.NoError(t, err)
				sq.twin, err = m.NewCache(CacheOptions{})
				require.NoError(t, err)
				if len(p) > 0 {
					require.NoError(t, m.ForwardSequence(p, sq.s, logits))
					requireWithin(t, logits, refModelLogits(c, w, p)[len(p)-1], "prompt logits")
					require.NoError(t, m.Forward(p, sq.twin, logits))
				}
				seqs = append(seqs, sq)
			}
			fork, err := seqs[0].s.Fork()
			require.NoError(t, err)
			twin, err := m.NewCache(CacheOptions{})
			require.NoError(t, err)
			require.NoError(t, m.Forward(prompts[0], twin, logits))
			seqs = append(seqs, &seq{tokens: append([]int(nil), prompts[0]...), s: fork, twin: twin})

			for step := range 3 {
				tokens := make([]int, len(seqs))
				ms := make([]*ModelSequence, len(seqs))
				for i, sq := range seqs {
					tokens[i] = (7*step + 13*i + 1) % V
					ms[i] = sq.s
				}
				all := make([]float32, len(seqs)*V)
				require.NoError(t, m.ForwardBatch(tokens, ms, all))
				for i, sq := range seqs {
					sq.tokens = append(sq.tokens, tokens[i])
					want := refModelLogits(c, w, sq.tokens)
					got := all[i*V : (i+1)*V]
					what := fmt.Sprintf("step %d sequence %d", step, i)
					requireWithin(t, got, want[len(want)-1], what)
					require.NoError(t, m.Forward(tokens[i:i+1], sq.twin, logits))
					require.NoError(t, pairWithin(got, logits, want[len(want)-1]), what+": batch vs Forward")
					require.Equal(t, len(sq.tokens), sq.s.Len())
				}
			}
		})
	}
}

// TestModelForwardBatchErrors: bad batches are errors; a step that fails in a later
// layer (its pool is full) leaves every layer of every sequence as it was.
func TestModelForwardBatchErrors(t *testing.T) {
	c := tinyConfig()
	m, _ := testModel(t, c, 1)
	V := c.Vocab
	mp, err := m.NewPagedCache(PagedCacheOptions{Pages: 3, PageRows: 2})
	require.NoError(t, err)
	a, err := mp.NewSequence(0)
	require.NoError(t, err)
	b, err := mp.NewSequence(0)
	require.NoError(t, err)
	logits := make([]float32, 2*V)
	require.NoError(t, m.ForwardSequence([]int{1, 2, 3}, a, logits[:V]))

	require.ErrorContains(t, m.ForwardBatch([]int{1}, []*ModelSequence{a, b}, logits), "2 sequences")
	require.ErrorContains(t, m.ForwardBatch([]int{1, V}, []*ModelSequence{a, b}, logits), "outside [0, 97)")
	require.ErrorContains(t, m.ForwardBatch([]int{1, 2}, []*ModelSequence{a, nil}, logits), "one Sequence per layer")
	require.ErrorContains(t, m.ForwardBatch([]int{1, 2}, []*ModelSequence{a, {Layers: a.Layers[:1]}}, logits), "one Sequence per layer")
	require.ErrorContains(t, m.ForwardBatch([]int{1, 2}, []*ModelSequence{a, a}, logits), "appears twice")
	require.ErrorContains(t, m.ForwardSequence([]int{1}, a, logits), "want vocab size")

	// Layer 1's pool is full: the step appends in layer 0, then fails and rolls back.
	filler, err := mp.Layers[1].NewSequence(0)
	require.NoError(t, err)
	require.NoError(t, filler.Append(make([]float32, 2*c.CacheRowWidth())))
	require.Zero(t, mp.Layers[1].FreePages())
	err = m.ForwardBatch([]int{4, 5}, []*ModelSequence{a, b}, logits)
	require.ErrorIs(t, err, ErrCacheFull)
	require.ErrorContains(t, err, "layer 1")
	for _, ms := range []*ModelSequence{a, b} {
		for _, s := range ms.Layers {
			require.Equal(t, ms.Len(), s.Len())
		}
	}
	require.Equal(t, 3, a.Len())
	require.Equal(t, 0, b.Len())
	require.NoError(t, filler.Free())
	require.NoError(t, m.ForwardBatch([]int{4, 5}, []*ModelSequence{a, b}, logits))

	require.NoError(t, a.Free())
	require.ErrorContains(t, m.ForwardBatch([]int{1}, []*ModelSequence{a}, logits[:V]), "freed")
}

// TestModelForwardBatchAllocatesNothing: a batched model step allocates nothing after
// warm-up, in each weight format.
func TestModelForwardBatchAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's bookkeeping allocates")
	}
	c := tinyLiteConfig()
	_, w := testModel(t, c, 2)
	for _, f := range []WeightFormat{FormatF32, FormatBF16, FormatQ8_0} {
		wf, err := w.Convert(f)
		require.NoError(t, err)
		m, err := NewModel(c, wf, WithWorkers(2))
		require.NoError(t, err)
		mp, err := m.NewPagedCache(PagedCacheOptions{Pages: 200, PageRows: 8})
		require.NoError(t, err)
		seqs := make([]*ModelSequence, 3)
		for i := range seqs {
			seqs[i], err = mp.NewSequence(0)
			require.NoError(t, err)
			for _, s := range seqs[i].Layers {
				require.NoError(t, s.Reserve(300))
			}
		}
		tokens := []int{3, 9, 27}
		logits := make([]float32, len(seqs)*c.Vocab)
		require.NoError(t, m.ForwardBatch(tokens, seqs, logits))
		allocs := testing.AllocsPerRun(50, func() {
			if err := m.ForwardBatch(tokens, seqs, logits); err != nil {
				panic(err)
			}
		})
		require.Zero(t, allocs, "weights %v", f)
		require.NoError(t, m.Close())
	}
}

// TestGenerateBatch: greedy generation of several prompts in one batch gives each
// the tokens Generate gives it alone; prompts of a batch that cannot be prefilled
// leave every sequence empty.
func TestGenerateBatch(t *testing.T) {
	c := tinyConfig()
	m, _ := testModel(t, c, 2)
	mp, err := m.NewPagedCache(PagedCacheOptions{Pages: 16, PageRows: 4})
	require.NoError(t, err)
	prompts := [][]int{{1, 2, 3, 4}, {50}, {9, 9, 9, 9, 9, 9, 9}}
	seqs := make([]*ModelSequence, len(prompts))
	for i := range seqs {
		seqs[i], err = mp.NewSequence(0)
		require.NoError(t, err)
	}
	got, err := m.GenerateBatch(prompts, 6, seqs)
	require.NoError(t, err)
	for i, p := range prompts {
		mc, err := m.NewCache(CacheOptions{})
		require.NoError(t, err)
		want, err := m.Generate(p, 6, mc, nil)
		require.NoError(t, err)
		require.Equal(t, want, got[i], "prompt %d", i)
		require.Equal(t, len(p)+5, seqs[i].Len())
	}

	_, err = m.GenerateBatch(prompts[:2], 3, []*ModelSequence{seqs[0], seqs[0]})
	require.ErrorContains(t, err, "are the same")
	_, err = m.GenerateBatch(prompts, -1, seqs)
	require.ErrorContains(t, err, "maxNew = -1")

	small, err := m.NewPagedCache(PagedCacheOptions{Pages: 2, PageRows: 4})
	require.NoError(t, err)
	a, err := small.NewSequence(0)
	require.NoError(t, err)
	b, err := small.NewSequence(0)
	require.NoError(t, err)
	_, err = m.GenerateBatch([][]int{{1, 2, 3}, {4, 5, 6, 7, 8, 9}}, 2, []*ModelSequence{a, b})
	require.ErrorIs(t, err, ErrCacheFull)
	require.Zero(t, a.Len())
	require.Zero(t, b.Len())
}

// TestGenerateBatchContext: per-sequence random samplers and stop tokens give each
// sequence the tokens GenerateContext gives it alone with the same sampler and stop
// tokens (a sequence that stops leaves the batch, the others go on); a context
// cancelled during a step stops the batch there; bad options are refused before
// any work.
func TestGenerateBatchContext(t *testing.T) {
	c := tinyConfig()
	m, _ := testModel(t, c, 2)
	mp, err := m.NewPagedCache(PagedCacheOptions{Pages: 32, PageRows: 4})
	require.NoError(t, err)
	prompts := [][]int{{1, 2, 3, 4}, {50}, {9, 9, 9, 9, 9, 9, 9}, {3}}
	sampler := func(i int) Sampler {
		s, err := NewSampler(SamplerOptions{Temperature: 1.5, TopK: 20, Seed: uint64(7 + i)})
		require.NoError(t, err)
		return s
	}
	// Stop at the third token sequence 0 would sample alone: it leaves the batch early.
	alone := func(i int, stop []int) []int {
		mc, err := m.NewCache(CacheOptions{})
		require.NoError(t, err)
		got, err := m.GenerateContext(context.Background(), prompts[i], mc, GenerateOptions{MaxNew: 8, Sampler: sampler(i), Stop: stop})
		require.NoError(t, err)
		return got
	}
	stop := []int{alone(0, nil)[2]}
	seqs := make([]*ModelSequence, len(prompts))
	samplers := make([]Sampler, len(prompts))
	for i := range seqs {
		seqs[i], err = mp.NewSequence(0)
		require.NoError(t, err)
		samplers[i] = sampler(i)
	}
	var calls int
	got, err := m.GenerateBatchContext(context.Background(), prompts, seqs, BatchGenerateOptions{MaxNew: 8, Samplers: samplers, Stop: stop,
		Progress: func(seq, i, tok int) { calls++ }})
	require.NoError(t, err)
	total := 0
	for i := range prompts {
		want := alone(i, stop)
		require.Equal(t, want, got[i], "sequence %d", i)
		require.Equal(t, len(prompts[i])+len(want)-1, seqs[i].Len(), "the last token is not fed back")
		total += len(want)
	}
	require.Less(t, len(got[0]), 8, "sequence 0 stopped early")
	require.Equal(t, total, calls)

	// Cancelled during the third step: the tokens of three steps come back.
	for _, s := range seqs {
		require.NoError(t, s.Truncate(0))
	}
	ctx, cancel := context.WithCancel(context.Background())
	got, err = m.GenerateBatchContext(ctx, prompts, seqs, BatchGenerateOptions{MaxNew: 8,
		Progress: func(seq, i, tok int) {
			if i == 2 {
				cancel()
			}
		}})
	require.ErrorIs(t, err, context.Canceled)
	for i := range got {
		require.Len(t, got[i], 3)
	}

	_, err = m.GenerateBatchContext(context.Background(), prompts, seqs, BatchGenerateOptions{MaxNew: 2, Samplers: samplers[:2]})
	require.ErrorIs(t, err, ErrShape)
	require.ErrorContains(t, err, "2 samplers for 4 sequences")
	_, err = m.GenerateBatchContext(context.Background(), prompts, seqs, BatchGenerateOptions{MaxNew: 2, Stop: []int{c.Vocab}})
	require.ErrorContains(t, err, "stop token 97")
}
