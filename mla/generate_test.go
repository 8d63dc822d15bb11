package mla

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// stopAfter is a context whose Err is nil for its first n calls and Canceled after.
type stopAfter struct {
	context.Context
	n     int
	calls int
}

func (s *stopAfter) Err() error {
	s.calls++
	if s.calls > s.n {
		return context.Canceled
	}
	return nil
}

// TestForwardAll: the logits of every position against the float64 model.
func TestForwardAll(t *testing.T) {
	c := tinyConfig()
	m, w := testModel(t, c, 2)
	tokens := []int{5, 17, 3, 96, 0, 42, 42, 7}
	want := refModelLogits(c, w, tokens)
	mc, err := m.NewCache(CacheOptions{})
	require.NoError(t, err)
	logits := make([]float32, len(tokens)*c.Vocab)
	require.NoError(t, m.ForwardAll(tokens[:5], mc, logits[:5*c.Vocab]))
	require.NoError(t, m.ForwardAll(tokens[5:], mc, logits[5*c.Vocab:]))
	for i := range tokens {
		requireWithin(t, logits[i*c.Vocab:(i+1)*c.Vocab], want[i], fmt.Sprintf("position %d logits", i))
	}
	require.ErrorContains(t, m.ForwardAll(tokens, mc, logits[:c.Vocab]), "want 8 tokens x vocab size 97")
	require.Equal(t, len(tokens), mc.Len(), "a refused call appends nothing")
}

// TestPrefillContextCancel: a prefill whose context is cancelled after k chunks
// stops there and leaves the cache as it was; the cache then works as if the call
// had not happened.
func TestPrefillContextCancel(t *testing.T) {
	c := tinyConfig()
	m, w := testModel(t, c, 2)
	prompt := make([]int, 100)
	for i := range prompt {
		prompt[i] = (7 * i) % c.Vocab
	}
	logits := make([]float32, c.Vocab)
	mc, err := m.NewCache(CacheOptions{})
	require.NoError(t, err)
	require.NoError(t, m.Forward(prompt[:3], mc, logits))
	ctx := &stopAfter{Context: context.Background(), n: 4}
	err = m.PrefillContext(ctx, prompt[3:], mc, logits, 16)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "stopped after 64 of 97 tokens")
	require.Equal(t, 5, ctx.calls, "checked before each chunk, stopped at the fifth")
	require.Equal(t, 3, mc.Len(), "the cancelled chunks are rolled back")

	// The cache goes on as if the call had not happened.
	require.NoError(t, m.PrefillContext(context.Background(), prompt[3:], mc, logits, 16))
	requireWithin(t, logits, refModelLogits(c, w, prompt)[len(prompt)-1], "logits after the cancelled prefill")
	fresh, err := m.NewCache(CacheOptions{})
	require.NoError(t, err)
	require.NoError(t, m.Forward(prompt, fresh, logits))

	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = m.GenerateContext(done, prompt, fresh, GenerateOptions{MaxNew: 3})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, len(prompt), fresh.Len())
}

// TestGenerateContextStops: cancelling during decode returns the tokens so far with
// the cache holding what was fed back; stop tokens end generation.
func TestGenerateContextStops(t *testing.T) {
	c := tinyConfig()
	m, _ := testModel(t, c, 1)
	prompt := []int{1, 2, 3, 4}
	mc, err := m.NewCache(CacheOptions{})
	require.NoError(t, err)
	all, err := m.GenerateContext(context.Background(), prompt, mc, GenerateOptions{MaxNew: 8})
	require.NoError(t, err)
	require.NoError(t, mc.Truncate(0))

	ctx, cancel := context.WithCancel(context.Background())
	got, err := m.GenerateContext(ctx, prompt, mc, GenerateOptions{MaxNew: 8, Progress: func(i, _ int) {
		if i == 2 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, all[:3], got)
	require.Equal(t, len(prompt)+2, mc.Len(), "tokens 0 and 1 were fed back")
	require.NoError(t, mc.Truncate(0))

	stop := all[3]
	first := 0
	for all[first] != stop {
		first++
	}
	got, err = m.GenerateContext(context.Background(), prompt, mc, GenerateOptions{MaxNew: 8, Stop: []int{stop}})
	require.NoError(t, err)
	require.Equal(t, all[:first+1], got, "ends with the stop token")

	_, err = m.GenerateContext(context.Background(), prompt, mc, GenerateOptions{MaxNew: 2, Stop: []int{c.Vocab}})
	require.ErrorContains(t, err, "stop token 97 at index 0 outside [0, 97)")
	_, err = m.GenerateContext(context.Background(), prompt, mc, GenerateOptions{MaxNew: 2, PrefillChunk: -1})
	require.ErrorContains(t, err, "PrefillChunk = -1")
}

// TestSamplers: greedy and the random sampler's distribution, truncations, seeding,
// bad options and no allocations after the first call.
func TestSamplers(t *testing.T) {
	// Probabilities 1/6, 2/6, 3/6 at temperature 1; token 3 is NaN, 4 is -Inf.
	logits := []float32{0, float32(math.Log(2)), float32(math.Log(3)), float32(math.NaN()), float32(math.Inf(-1))}
	tok, err := Greedy{}.Sample(logits)
	require.NoError(t, err)
	require.Equal(t, 2, tok)
	_, err = Greedy{}.Sample([]float32{float32(math.NaN())})
	require.ErrorIs(t, err, ErrNoToken)

	for _, tc := range []struct {
		o    SamplerOptions
		want []float64
	}{
		{SamplerOptions{Temperature: 1, Seed: 1}, []float64{1. / 6, 2. / 6, 3. / 6}},
		{SamplerOptions{Temperature: 1, TopK: 2, Seed: 2}, []float64{0, 2. / 5, 3. / 5}},
		{SamplerOptions{Temperature: 1, TopP: 0.8, Seed: 3}, []float64{0, 2. / 5, 3. / 5}},
		{SamplerOptions{Temperature: 1, TopP: 0.5, Seed: 4}, []float64{0, 0, 1}},
		{SamplerOptions{Temperature: 0}, []float64{0, 0, 1}},
		{SamplerOptions{Temperature: 0.5, Seed: 5}, []float64{1. / 14, 4. / 14, 9. / 14}},
	} {
		s, err := NewSampler(tc.o)
		require.NoError(t, err)
		const n = 60000
		var count [5]int
		scratch := make([]float32, len(logits))
		for range n {
			copy(scratch, logits)
			tok, err := s.Sample(scratch)
			require.NoError(t, err)
			count[tok]++
		}
		for i, p := range tc.want {
			// Five standard deviations of a binomial count.
			require.InDelta(t, p*n, float64(count[i]), 5*math.Sqrt(n*p*(1-p))+0.5, "%+v token %d", tc.o, i)
		}
		require.Zero(t, count[3]+count[4], "NaN and -Inf are never drawn")
		require.Zero(t, testing.AllocsPerRun(10, func() { _, _ = s.Sample(scratch) }))
	}

	a, _ := NewSampler(SamplerOptions{Temperature: 1, Seed: 9})
	b, _ := NewSampler(SamplerOptions{Temperature: 1, Seed: 9})
	for range 100 {
		x, _ := a.Sample(logits)
		y, _ := b.Sample(logits)
		require.Equal(t, x, y, "one seed, one sequence")
	}
	for _, o := range []SamplerOptions{{Temperature: -1}, {Temperature: math.NaN()}, {Temperature: math.Inf(1)}, {TopK: -1}, {TopP: 1.5}, {TopP: math.NaN()}} {
		_, err := NewSampler(o)
		require.Error(t, err, "%+v", o)
	}
	s, _ := NewSampler(SamplerOptions{Temperature: 1})
	_, err = s.Sample([]float32{float32(math.Inf(-1))})
	require.True(t, errors.Is(err, ErrNoToken))
}

// TestGenerateWithSampler: a seeded sampler makes Generate repeat, and a sampler's
// error or an out-of-range token ends it with an error.
func TestGenerateWithSampler(t *testing.T) {
	c := tinyConfig()
	m, _ := testModel(t, c, 1)
	run := func() []int {
		mc, err := m.NewCache(CacheOptions{})
		require.NoError(t, err)
		s, err := NewSampler(SamplerOptions{Temperature: 1.5, TopK: 20, TopP: 0.95, Seed: 42})
		require.NoError(t, err)
		out, err := m.GenerateContext(context.Background(), []int{3, 1, 4}, mc, GenerateOptions{MaxNew: 10, Sampler: s})
		require.NoError(t, err)
		return out
	}
	require.Equal(t, run(), run())
	mc, _ := m.NewCache(CacheOptions{})
	_, err := m.GenerateContext(context.Background(), []int{3}, mc, GenerateOptions{MaxNew: 2, Sampler: badSampler{}})
	require.ErrorContains(t, err, "the sampler picked token 97, outside [0, 97)")
}

type badSampler struct{}

func (badSampler) Sample([]float32) (int, error) { return 97, nil }
