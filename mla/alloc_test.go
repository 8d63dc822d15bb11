package mla

import (
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestDecodeAllocatesNothing: after warm-up a decode step allocates nothing, on the
// parallel path (pool, split attention) and with 16-bit caches, given capacity.
func TestDecodeAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's bookkeeping allocates")
	}
	testutil.UseEachLevel(t, func(t *testing.T) {
		for _, dt := range []DType{F32, BF16, F16} {
			c := tinyConfig()
			l := testLayer(t, c, testWeights(t, c, 1), true, WithWorkers(3), WithTileRows(8))
			k, err := NewCache(c, CacheOptions{DType: dt, Capacity: 400})
			require.NoError(t, err)
			x := randomInputs(1, c.Hidden, 1)
			out := make([]float32, c.Hidden)
			require.NoError(t, l.Decode(out, x, k))
			allocs := testing.AllocsPerRun(100, func() {
				if err := l.Decode(out, x, k); err != nil {
					panic(err)
				}
			})
			require.Zero(t, allocs, "cache %s", dt)
			require.Greater(t, k.Len(), 100)
		}
	})
}

// TestModelStepAllocatesNothing: the same for a whole decoder step.
func TestModelStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's bookkeeping allocates")
	}
	c := tinyConfig()
	m, _ := testModel(t, c, 2)
	mc, err := m.NewCache(CacheOptions{Capacity: 200})
	require.NoError(t, err)
	logits := make([]float32, c.Vocab)
	tok := []int{3}
	require.NoError(t, m.Forward(tok, mc, logits))
	allocs := testing.AllocsPerRun(50, func() {
		if err := m.Forward(tok, mc, logits); err != nil {
			panic(err)
		}
	})
	require.Zero(t, allocs)
}
