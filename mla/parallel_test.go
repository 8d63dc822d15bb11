package mla

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParallelDecode runs the same sequence with 1 to 5 workers (every task forced to
// split) and checks each run against the reference core on its own queries and rows.
// Run it with -race: the workers share the layer's scratch by disjoint slices.
func TestParallelDecode(t *testing.T) {
	c := tinyConfig()
	w := testWeights(t, c, 40)
	const n, prompt = 150, 20
	D, qw := c.Hidden, c.Heads*c.QKHeadDim()
	x := randomInputs(n, D, 41)
	ref := newRefLayer(c, w, F32)
	for _, workers := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			l := testLayer(t, c, w, true, WithWorkers(workers), WithTileRows(8), WithChunkRows(24))
			k := newTestCache(t, c, BF16, 0)
			out := make([]float32, n*D)
			require.NoError(t, l.Prefill(out[:prompt*D], x[:prompt*D], k))
			qs := make([][]float32, n)
			for i := prompt; i < n; i++ {
				require.NoError(t, l.Decode(out[i*D:(i+1)*D], x[i*D:(i+1)*D], k))
				qs[i] = append([]float32(nil), l.proj.q[:qw]...)
			}
			toks := implTokens(c, qs, k)
			for _, i := range []int{prompt, prompt + 1, 64, 65, n - 1} {
				requireWithin(t, out[i*D:(i+1)*D], ref.attend(toks, 0, i), fmt.Sprintf("token %d", i))
			}
		})
	}
}

// TestParallelLayersIndependent: separate layers (each with its own pool) decoding
// on separate goroutines share no state.
func TestParallelLayersIndependent(t *testing.T) {
	c := tinyLiteConfig()
	w := testWeights(t, c, 9)
	x := randomInputs(30, c.Hidden, 2)
	D := c.Hidden
	run := func() []float32 {
		l := testLayer(t, c, w, true, WithWorkers(2), WithTileRows(4))
		k := newTestCache(t, c, F32, 0)
		out := make([]float32, 30*D)
		for i := range 30 {
			if err := l.Decode(out[i*D:(i+1)*D], x[i*D:(i+1)*D], k); err != nil {
				panic(err)
			}
		}
		return out
	}
	want := run()
	var wg sync.WaitGroup
	results := make([][]float32, 3)
	for g := range results {
		wg.Go(func() { results[g] = run() })
	}
	wg.Wait()
	for _, r := range results {
		require.Equal(t, want, r, "same layer setup, same bits")
	}
}

// TestParallelPoolPanics: a panic in a worker reaches the caller.
func TestParallelPoolPanics(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	require.PanicsWithValue(t, "mla: worker panic: boom", func() { p.run(panicTask{}, 3) })
	p.run(&noopTask{}, 3) // the pool still works
}

type panicTask struct{}

func (panicTask) run(part, parts int) {
	if part == 2 {
		panic("boom")
	}
}

type noopTask struct{}

func (*noopTask) run(part, parts int) {}

// TestSpan: the parts cover [0, n) exactly, in aligned blocks.
func TestSpan(t *testing.T) {
	for _, n := range []int{0, 1, 7, 64, 513} {
		for parts := 1; parts <= 5; parts++ {
			for _, align := range []int{1, 16} {
				next := 0
				for p := range parts {
					lo, hi := span(n, p, parts, align)
					require.Equal(t, next, lo)
					require.True(t, hi >= lo && (hi == n || hi%align == 0))
					next = hi
				}
				require.Equal(t, n, next)
			}
		}
	}
}
