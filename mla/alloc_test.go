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
		for i, dt := range []DType{F32, BF16, F16, I8, FP8, F32, BF16, I8, FP8} {
			c := q32Config()
			w := testWeights(t, c, 1)
			// Weights in each narrow format too, with the cache types in turn.
			w, err := w.Convert([]WeightFormat{FormatF32, FormatBF16, FormatF16, FormatQ8_0, FormatFP8}[i%5])
			require.NoError(t, err)
			l := testLayer(t, c, w, true, WithWorkers(3), WithTileRows(8))
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
			require.Zero(t, allocs, "cache %s, weights %v", dt, w.OProj.Format())
			require.Greater(t, k.Len(), 100)
		}
	})
}

// TestModelStepAllocatesNothing: the same for a whole decoder step.
func TestModelStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's bookkeeping allocates")
	}
	c := tinyLiteConfig()
	_, w := testModel(t, c, 2)
	for _, f := range []WeightFormat{FormatF32, FormatBF16, FormatQ8_0, FormatFP8} {
		wf, err := w.Convert(f)
		require.NoError(t, err)
		m, err := NewModel(c, wf, WithWorkers(2))
		require.NoError(t, err)
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
		require.Zero(t, allocs, "weights %v", f)
		require.NoError(t, m.Close())
	}
}
