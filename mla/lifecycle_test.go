package mla

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// hammerAttempts bounds each goroutine's calls in the concurrency tests, which stop
// as soon as they have seen a collision and enough successful steps.
const hammerAttempts = 1 << 20

// hammer runs step(g) on two goroutines, each until a collision (ErrBusy) has
// occurred and it has had 5 successful steps; a goroutine that is refused yields, and
// one that is done stops contending, so neither starves. step returns its error;
// errors other than ErrBusy fail the test. It returns each goroutine's successes.
func hammer(t *testing.T, step func(g int) error) [2]int {
	t.Helper()
	var busy atomic.Int64
	var ok [2]int
	var errs [2]error
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for range hammerAttempts {
				err := step(g)
				switch {
				case err == nil:
					ok[g]++
				case errors.Is(err, ErrBusy):
					busy.Add(1)
					runtime.Gosched()
				default:
					errs[g] = err
					return
				}
				if busy.Load() > 0 && ok[g] >= 5 {
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs[:]...))
	require.Positive(t, busy.Load(), "the goroutines never overlapped in %d calls", hammerAttempts)
	require.GreaterOrEqual(t, min(ok[0], ok[1]), 5)
	return ok
}

// TestLayerConcurrentUse: two goroutines decoding through one Layer (each on its own
// cache) get ErrBusy instead of sharing its scratch, and every step that succeeds
// gives exactly the output of the same step run alone. Run it with -race.
func TestLayerConcurrentUse(t *testing.T) {
	c := tinyConfig()
	D := c.Hidden
	l := testLayer(t, c, testWeights(t, c, 8), true, WithWorkers(2), WithTileRows(4))
	const prompt = 6
	var caches [2]*Cache
	var xs, want [2][]float32
	for g := range 2 {
		caches[g] = newTestCache(t, c, BF16, 0)
		x := randomInputs(prompt+1, D, uint64(20+g))
		require.NoError(t, l.Prefill(make([]float32, prompt*D), x[:prompt*D], caches[g]))
		xs[g], want[g] = x[prompt*D:], make([]float32, D)
		require.NoError(t, l.Decode(want[g], xs[g], caches[g]))
		require.NoError(t, caches[g].Truncate(prompt))
	}
	var wrong [2]int
	hammer(t, func(g int) error {
		out := make([]float32, D)
		if err := l.Decode(out, xs[g], caches[g]); err != nil {
			if n := caches[g].Len(); n != prompt {
				return fmt.Errorf("a refused step left %d rows, want %d (%v)", n, prompt, err)
			}
			return err
		}
		if !slices.Equal(out, want[g]) {
			wrong[g]++
		}
		return caches[g].Truncate(prompt)
	})
	require.Zero(t, wrong, "outputs that differ from the step run alone")

	// Deterministically: a Layer or Cache held elsewhere refuses the call.
	require.True(t, l.use.enter())
	out := make([]float32, D)
	require.EqualError(t, l.Decode(out, xs[0], caches[0]), "mla: Layer used by two goroutines at once")
	require.ErrorIs(t, l.Prefill(out, xs[0], caches[0]), ErrBusy)
	require.ErrorIs(t, l.DecodeNaive(out, xs[0], caches[0]), ErrBusy)
	require.ErrorIs(t, l.Close(), ErrBusy)
	l.use.leave()
	require.True(t, caches[0].use.enter())
	require.EqualError(t, l.Decode(out, xs[0], caches[0]), "mla: Cache used by two goroutines at once")
	for _, err := range []error{caches[0].Append(make([]float32, c.CacheRowWidth())), caches[0].Truncate(0),
		caches[0].Reserve(100), caches[0].Reset(), caches[0].SetStart(0)} {
		require.ErrorIs(t, err, ErrBusy)
	}
	_, err := caches[0].Rows(0, 1, nil)
	require.ErrorIs(t, err, ErrBusy)
	caches[0].use.leave()
	require.Equal(t, prompt, caches[0].Len())
	require.NoError(t, l.Decode(out, xs[0], caches[0]))
	require.Equal(t, want[0], out)
}

// TestModelConcurrentUse: the same for a Model shared by two goroutines with their
// own caches.
func TestModelConcurrentUse(t *testing.T) {
	c := tinyConfig()
	m, _ := testModel(t, c, 2)
	const prompt = 4
	var caches [2]*ModelCache
	var want [2][]float32
	for g := range 2 {
		mc, err := m.NewCache(CacheOptions{})
		require.NoError(t, err)
		require.NoError(t, m.Forward([]int{1 + g, 2, 3, 4}, mc, make([]float32, c.Vocab)))
		want[g] = make([]float32, c.Vocab)
		require.NoError(t, m.Forward([]int{5 + g}, mc, want[g]))
		require.NoError(t, mc.Truncate(prompt))
		caches[g] = mc
	}
	var wrong [2]int
	hammer(t, func(g int) error {
		logits := make([]float32, c.Vocab)
		if err := m.Forward([]int{5 + g}, caches[g], logits); err != nil {
			if n := caches[g].Len(); n != prompt {
				return fmt.Errorf("a refused step left %d rows, want %d (%v)", n, prompt, err)
			}
			return err
		}
		if !slices.Equal(logits, want[g]) {
			wrong[g]++
		}
		return caches[g].Truncate(prompt)
	})
	require.Zero(t, wrong, "logits that differ from the step run alone")

	require.True(t, m.use.enter())
	require.EqualError(t, m.Forward([]int{1}, caches[0], make([]float32, c.Vocab)), "mla: Model used by two goroutines at once")
	_, err := m.Generate([]int{1}, 1, caches[0], nil)
	require.ErrorIs(t, err, ErrBusy)
	require.ErrorIs(t, m.Close(), ErrBusy)
	m.use.leave()

	// A layer the Model exposes, busy elsewhere, fails the Model's step and rolls back
	// the layers before it.
	l := m.Layers()[1]
	require.True(t, l.use.enter())
	require.ErrorIs(t, m.Forward([]int{1}, caches[0], make([]float32, c.Vocab)), ErrBusy)
	l.use.leave()
	require.Equal(t, prompt, caches[0].Len())
	require.Equal(t, prompt, caches[0].Layers[0].Len())
}

// TestCacheConcurrentUse: one Cache fed by a Layer on one goroutine and by Append
// on another: collisions are errors, and every row that was accepted is there.
func TestCacheConcurrentUse(t *testing.T) {
	c := tinyConfig()
	D, rw := c.Hidden, c.CacheRowWidth()
	l := testLayer(t, c, testWeights(t, c, 9), true, WithWorkers(2), WithTileRows(4))
	k := newTestCache(t, c, F32, 0)
	x := randomInputs(1, D, 3)
	row := randomInputs(1, rw, 4)
	ok := hammer(t, func(g int) error {
		if g == 0 {
			return l.Decode(make([]float32, D), x, k)
		}
		return k.Append(row)
	})
	require.Equal(t, ok[0]+ok[1], k.Len())
	appended := 0
	for j := range k.Len() {
		if slices.Equal(mustRows(t, k, j, j+1, nil), row) {
			appended++
		}
	}
	require.Equal(t, ok[1], appended)
}

// TestPoolClosedWhileDecoding: closing a Layer's shared Pool while another goroutine
// decodes ends that goroutine's steps with ErrClosed, never a panic; the cache holds
// exactly the steps that succeeded.
func TestPoolClosedWhileDecoding(t *testing.T) {
	c := tinyConfig()
	D := c.Hidden
	p := NewPool(3)
	l := testLayer(t, c, testWeights(t, c, 1), true, WithPool(p), WithTileRows(4))
	k := newTestCache(t, c, F32, 0)
	x := randomInputs(1, D, 5)
	started := make(chan struct{})
	var steps int
	var last error
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range hammerAttempts {
			if i == 3 {
				close(started)
			}
			if last = l.Decode(make([]float32, D), x, k); last != nil {
				return
			}
			steps++
		}
	})
	<-started
	require.NoError(t, p.Close())
	wg.Wait()
	require.ErrorIs(t, last, ErrClosed)
	require.Equal(t, steps, k.Len())
}
