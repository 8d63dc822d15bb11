package mla

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestZeroValuesDoNotPanic calls every exported method of the package's stateful
// types on the zero value and on a nil pointer: each works or returns an error.
func TestZeroValuesDoNotPanic(t *testing.T) {
	c := tinyConfig()
	D := c.Hidden
	x, out := make([]float32, D), make([]float32, D)
	good := newTestCache(t, c, F32, 0)
	wantErr := func(err error) { t.Helper(); require.Error(t, err) }

	for name, l := range map[string]*Layer{"zero": {}, "nil": nil} {
		t.Run("Layer/"+name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.ErrorIs(t, l.Decode(out, x, good), errLayerZero)
				require.ErrorIs(t, l.DecodeNaive(out, x, good), errLayerZero)
				require.ErrorIs(t, l.Prefill(out, x, good), errLayerZero)
				_, err := l.NewCache(CacheOptions{})
				wantErr(err)
				require.Equal(t, Config{}, l.Config())
				require.Nil(t, l.Weights())
				require.Equal(t, 1, l.Workers())
				require.NoError(t, l.Close())
			})
		})
	}
	for name, m := range map[string]*Model{"zero": {}, "nil": nil} {
		t.Run("Model/"+name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.ErrorIs(t, m.Forward([]int{1}, &ModelCache{}, make([]float32, c.Vocab)), errModelZero)
				_, err := m.Generate([]int{1}, 2, &ModelCache{}, nil)
				require.ErrorIs(t, err, errModelZero)
				_, err = m.NewCache(CacheOptions{})
				wantErr(err)
				require.Equal(t, Config{}, m.Config())
				require.Empty(t, m.Layers())
				require.NoError(t, m.Close())
			})
		})
	}
	for name, mc := range map[string]*ModelCache{"zero": {}, "nil": nil, "nil layer": {Layers: []*Cache{nil}}} {
		t.Run("ModelCache/"+name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.Zero(t, mc.Len())
				require.Zero(t, mc.Bytes())
				wantErr(mc.Truncate(1))
			})
		})
	}
	for name, k := range map[string]*Cache{"zero": {}, "nil": nil} {
		t.Run("Cache/"+name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.Zero(t, k.Len())
				require.Zero(t, k.Start())
				require.Zero(t, k.Next())
				require.Zero(t, k.Width())
				require.Equal(t, F32, k.DType())
				require.Zero(t, k.Capacity())
				require.Zero(t, k.Bytes())
				require.Zero(t, k.MHABytes())
				require.Zero(t, k.GQABytes(8))
				wantErr(k.Reserve(4))
				wantErr(k.Append(make([]float32, 40)))
				wantErr(k.Append(nil))
				wantErr(k.Truncate(0))
				wantErr(k.Reset())
				wantErr(k.SetStart(3))
				_, err := k.Rows(0, 0, nil)
				wantErr(err)
			})
			// A layer refuses it rather than attending over nothing.
			l := testLayer(t, c, testWeights(t, c, 1), false, WithWorkers(1))
			require.Error(t, l.Decode(out, x, k))
		})
	}
	for name, p := range map[string]*Pool{"zero": {}, "nil": nil} {
		t.Run("Pool/"+name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.Equal(t, 1, p.Workers())
				var ran countTask
				require.NoError(t, p.run(&ran, 4))
				require.Equal(t, 1, ran.n, "the zero Pool runs a task inline, in one part")
				require.NoError(t, p.Close())
			})
		})
	}
	t.Run("Layer on the zero Pool", func(t *testing.T) {
		l := testLayer(t, c, testWeights(t, c, 1), true, WithPool(&Pool{}))
		require.NoError(t, l.Decode(out, randomInputs(1, D, 1), good))
	})
	for name, w := range map[string]*LayerWeights{"zero": {}, "nil": nil} {
		t.Run("LayerWeights/"+name, func(t *testing.T) {
			require.NotPanics(t, func() {
				wantErr(w.Check(c))
				wantErr(w.Check(Config{}))
				_, err := w.Tensors(c, 0, F32)
				wantErr(err)
				_, err = NewLayer(c, w)
				wantErr(err)
			})
		})
	}
	for name, w := range map[string]*ModelWeights{"zero": {}, "nil": nil} {
		t.Run("ModelWeights/"+name, func(t *testing.T) {
			require.NotPanics(t, func() {
				wantErr(w.Check(c))
				_, err := w.Tensors(c, F32)
				wantErr(err)
				_, err = NewModel(c, w)
				wantErr(err)
			})
		})
	}
	t.Run("zero Config", func(t *testing.T) {
		require.NotPanics(t, func() {
			_, err := NewCache(Config{}, CacheOptions{})
			wantErr(err)
			_, err = RandomLayerWeights(Config{}, 1)
			wantErr(err)
			_, err = RandomModelWeights(Config{}, 1)
			wantErr(err)
			wantErr((&LayerWeights{}).Check(Config{}))
		})
	})
}

type countTask struct{ n int }

func (c *countTask) run(part, parts int) { c.n++ }

// TestUseAfterClose: every step of a closed Layer or Model returns ErrClosed; Close
// twice is harmless; a Model's Close closes its layers too.
func TestUseAfterClose(t *testing.T) {
	c := tinyConfig()
	D := c.Hidden
	x, out := randomInputs(1, D, 2), make([]float32, D)
	l, err := NewLayer(c, testWeights(t, c, 1), WithWorkers(3))
	require.NoError(t, err)
	k := newTestCache(t, c, F32, 0)
	require.NoError(t, l.Decode(out, x, k))
	require.NoError(t, l.Close())
	require.NoError(t, l.Close())
	require.ErrorIs(t, l.Decode(out, x, k), ErrClosed)
	require.ErrorIs(t, l.DecodeNaive(out, x, k), ErrClosed)
	require.ErrorIs(t, l.Prefill(out, x, k), ErrClosed)
	require.EqualError(t, l.Decode(out, x, k), "mla: Layer used after Close")
	require.Equal(t, 1, k.Len())

	m, _ := testModel(t, c, 3)
	mc, err := m.NewCache(CacheOptions{})
	require.NoError(t, err)
	logits := make([]float32, c.Vocab)
	require.NoError(t, m.Forward([]int{1, 2}, mc, logits))
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	require.ErrorIs(t, m.Forward([]int{3}, mc, logits), ErrClosed)
	_, err = m.Generate([]int{3}, 2, mc, nil)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, m.Layers()[1].Decode(out, x, mc.Layers[1]), ErrClosed)
	require.Equal(t, 2, mc.Len())
}

// TestPoolClosedUnderLayer: a Layer whose shared Pool was closed returns ErrClosed
// instead of sending on a closed channel, and appends nothing.
func TestPoolClosedUnderLayer(t *testing.T) {
	c := tinyConfig()
	D := c.Hidden
	p := NewPool(3)
	l := testLayer(t, c, testWeights(t, c, 1), true, WithPool(p))
	k := newTestCache(t, c, F32, 0)
	x, out := randomInputs(4, D, 3), make([]float32, 4*D)
	require.NoError(t, l.Prefill(out[:2*D], x[:2*D], k))
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	require.NotPanics(t, func() {
		require.ErrorIs(t, l.Decode(out[:D], x[:D], k), ErrClosed)
		require.ErrorIs(t, l.Prefill(out[:2*D], x[2*D:], k), ErrClosed)
	})
	require.Equal(t, 2, k.Len())
}

// TestCacheGeometryRefused: a cache is checked against the layer's d_c and d_r, not
// only their sum, and a ModelCache must hold caches of one DType and length.
func TestCacheGeometryRefused(t *testing.T) {
	c := tinyConfig() // d_c 32 + d_r 8
	other := tinyConfig()
	other.KVLoRARank, other.QKRopeHeadDim = 24, 16 // the same 40 values per row
	require.Equal(t, c.CacheRowWidth(), other.CacheRowWidth())
	l := testLayer(t, c, testWeights(t, c, 1), false)
	k := newTestCache(t, other, F32, 0)
	D := c.Hidden
	x, out := randomInputs(2, D, 1), make([]float32, 2*D)
	const msg = "cache rows have 40 values (d_c 24 + d_r 16), this layer caches 40 (d_c 32 + d_r 8)"
	require.ErrorContains(t, l.Decode(out[:D], x[:D], k), msg)
	require.ErrorContains(t, l.DecodeNaive(out[:D], x[:D], k), msg)
	require.ErrorContains(t, l.Prefill(out, x, k), msg)
	require.Zero(t, k.Len())

	m, _ := testModel(t, c, 2)
	logits := make([]float32, c.Vocab)
	fresh := func() *ModelCache {
		mc, err := m.NewCache(CacheOptions{})
		require.NoError(t, err)
		return mc
	}
	mc := fresh()
	mc.Layers[1] = k
	require.ErrorContains(t, m.Forward([]int{1}, mc, logits), "layer 1: mla: "+msg)

	mc = fresh()
	mc.Layers[1] = newTestCache(t, c, BF16, 0)
	require.ErrorContains(t, m.Forward([]int{1}, mc, logits), "layer 1 cache is BF16 with 0 rows from position 0, layer 0's F32")
	require.Zero(t, mc.Layers[0].Len())

	mc = fresh()
	require.NoError(t, mc.Layers[1].Append(make([]float32, c.CacheRowWidth())))
	require.ErrorContains(t, m.Forward([]int{1}, mc, logits), "layer 1 cache is F32 with 1 rows")
	require.Zero(t, mc.Layers[0].Len())

	mc = fresh()
	mc.Layers[1] = mc.Layers[0]
	require.ErrorContains(t, m.Forward([]int{1}, mc, logits), "layers 0 and 1 share one Cache")
	require.Zero(t, mc.Layers[0].Len())
	require.NoError(t, mc.Layers[0].Append(make([]float32, c.CacheRowWidth())), "the failed call released the cache")

	_, err := m.Generate([]int{1}, 1, &ModelCache{}, nil)
	require.ErrorContains(t, err, "one Cache per layer (2)")
}

// TestCacheRowsRange: Rows refuses ranges outside [0, Len] instead of returning
// storage past the cached rows.
func TestCacheRowsRange(t *testing.T) {
	c := tinyConfig()
	rw := c.CacheRowWidth()
	for _, dt := range []DType{F32, BF16} {
		k, err := NewCache(c, CacheOptions{DType: dt, Capacity: 10})
		require.NoError(t, err)
		require.NoError(t, k.Append(randomInputs(3, rw, 1)))
		for _, r := range [][2]int{{-1, 1}, {2, 1}, {0, 4}, {3, 4}, {0, 10}} {
			_, err := k.Rows(r[0], r[1], make([]float32, 10*rw))
			require.ErrorContains(t, err, "outside [0, 3]", "%s rows %v", dt, r)
		}
		got, err := k.Rows(3, 3, nil)
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = k.Rows(1, 3, nil)
		require.NoError(t, err)
		require.Len(t, got, 2*rw)
	}
}

// TestCacheSizeLimits: capacities and positions are bounded with checked arithmetic,
// so an absurd request is an error, never an attempt to allocate it.
func TestCacheSizeLimits(t *testing.T) {
	c := tinyConfig()
	rw := c.CacheRowWidth()
	for _, o := range []CacheOptions{
		{Capacity: 1 << 50}, {Capacity: math.MaxInt}, {Start: math.MaxInt, Capacity: 1},
		{Start: MaxCachePositions, Capacity: 1}, {Start: MaxCachePositions + 1},
	} {
		_, err := NewCache(c, o)
		require.ErrorContains(t, err, "MaxCachePositions", "%+v", o)
	}
	k, err := NewCache(c, CacheOptions{DType: BF16, Start: MaxCachePositions - 2})
	require.NoError(t, err)
	require.ErrorContains(t, k.Reserve(3), "exceeds MaxCachePositions")
	require.ErrorContains(t, k.Reserve(math.MaxInt), "exceeds MaxCachePositions")
	require.NoError(t, k.Reserve(2))
	require.NoError(t, k.Append(make([]float32, 2*rw)))
	require.ErrorContains(t, k.Append(make([]float32, rw)), "MaxCachePositions")
	require.Equal(t, 2, k.Len())
	require.NoError(t, k.Reset())
	require.Error(t, k.SetStart(MaxCachePositions+1))
	require.Error(t, k.SetStart(-1))

	// A Layer and a Model check the room before any work.
	l := testLayer(t, c, testWeights(t, c, 1), false)
	k = newTestCache(t, c, F32, MaxCachePositions-1)
	D := c.Hidden
	require.ErrorContains(t, l.Prefill(make([]float32, 2*D), randomInputs(2, D, 1), k), "MaxCachePositions")
	require.NoError(t, l.Decode(make([]float32, D), randomInputs(1, D, 1), k))
	require.ErrorContains(t, l.Decode(make([]float32, D), randomInputs(1, D, 1), k), "MaxCachePositions")
	require.Equal(t, 1, k.Len())

	m, _ := testModel(t, c, 2)
	mc, err := m.NewCache(CacheOptions{Start: MaxCachePositions - 2})
	require.NoError(t, err)
	require.ErrorContains(t, m.Forward([]int{1, 2, 3}, mc, make([]float32, c.Vocab)), "MaxCachePositions")
	require.Zero(t, mc.Len())
}

// TestGenerateChecksArgumentsFirst: Generate refuses bad arguments before it runs
// or allocates anything for them, and leaves the caches alone.
func TestGenerateChecksArgumentsFirst(t *testing.T) {
	c := tinyConfig()
	m, _ := testModel(t, c, 2)
	mc, err := m.NewCache(CacheOptions{})
	require.NoError(t, err)
	calls := 0
	progress := func(int, int) { calls++ }
	for _, tc := range []struct {
		prompt []int
		maxNew int
		want   string
	}{
		{nil, 3, "Generate: no tokens"},
		{[]int{1, -1}, 3, "token -1 at index 1 outside [0, 97)"},
		{[]int{1, 97}, 3, "token 97 at index 1 outside [0, 97)"},
		{[]int{1}, -1, "MaxNew = -1, want >= 0"},
		{[]int{1}, math.MaxInt, "MaxCachePositions"},
		{[]int{1}, MaxCachePositions + 1, "MaxCachePositions"},
	} {
		got, err := m.Generate(tc.prompt, tc.maxNew, mc, progress)
		require.ErrorContains(t, err, tc.want)
		require.Nil(t, got)
	}
	_, err = m.Generate([]int{1}, 2, nil, progress)
	require.ErrorContains(t, err, "one Cache per layer")
	require.Zero(t, calls)
	require.Zero(t, mc.Len())

	got, err := m.Generate([]int{1, 2}, 0, mc, progress)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Equal(t, 2, mc.Len(), "maxNew 0 prefills the prompt only")
}

// TestNonFiniteInputAppendsNothing: a step whose input holds a NaN or an infinity
// fails with the position and leaves the cache as it was, so the next finite step
// gives the same output as if the bad one never happened.
func TestNonFiniteInputAppendsNothing(t *testing.T) {
	for _, c := range []Config{tinyConfig(), ropeAfterUpConfig()} {
		t.Run(c.Name, func(t *testing.T) {
			w := testWeights(t, c, 3)
			D := c.Hidden
			x := randomInputs(4, D, 4)
			l := testLayer(t, c, w, true, WithWorkers(2))
			want := make([]float32, 4*D)
			ref := newTestCache(t, c, BF16, 10)
			require.NoError(t, l.Prefill(want[:3*D], x[:3*D], ref))
			require.NoError(t, l.Decode(want[3*D:], x[3*D:], ref))

			k := newTestCache(t, c, BF16, 10)
			got := make([]float32, 4*D)
			for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
				xb := append([]float32(nil), x...)
				xb[2*D+5] = bad
				require.ErrorContains(t, l.Prefill(got[:3*D], xb[:3*D], k), "input of token 2 (position 12) is not finite")
				require.Zero(t, k.Len())
			}
			require.NoError(t, l.Prefill(got[:3*D], x[:3*D], k))
			xb := append([]float32(nil), x[3*D:]...)
			xb[0] = float32(math.NaN())
			require.ErrorContains(t, l.Decode(got[3*D:], xb, k), "input of token 0 (position 13) is not finite")
			require.ErrorContains(t, l.DecodeNaive(got[3*D:], xb, k), "position 13")
			require.Equal(t, 3, k.Len())
			require.NoError(t, l.Decode(got[3*D:], x[3*D:], k))
			require.Equal(t, want, got)
			require.Equal(t, mustRows(t, ref, 0, 4, nil), mustRows(t, k, 0, 4, nil))

			bad := make([]float32, c.CacheRowWidth())
			bad[1] = float32(math.Inf(1))
			require.ErrorContains(t, k.Append(bad), "row 0 (position 14) is not finite")
			require.Equal(t, 4, k.Len())
		})
	}
}

// ropeAfterUpConfig is a tiny config whose Decode runs the decompressed path.
func ropeAfterUpConfig() Config {
	c := tinyLiteConfig()
	c.Name, c.RoPE, c.QKRopeHeadDim, c.YaRN = "tiny-after-up", RoPEAfterUp, 0, nil
	return c
}

// TestNonFiniteRowRollsBack: weights that turn a finite input into a cache row that
// is not finite fail the step without appending it; in a Model, every layer's cache
// is rolled back, whichever layer or stage fails.
func TestNonFiniteRowRollsBack(t *testing.T) {
	c := tinyConfig()
	D := c.Hidden
	w := testWeights(t, c, 5)
	w.KVAProj.f32[3*D+1] = float32(math.NaN()) // latent 3 of every token
	l := testLayer(t, c, w, false)
	k := newTestCache(t, c, F32, 0)
	x := randomInputs(2, D, 6)
	require.ErrorContains(t, l.Prefill(make([]float32, 2*D), x, k), "cache row of token 0 (position 0) is not finite")
	require.ErrorContains(t, l.Decode(make([]float32, D), x[:D], k), "cache row of token 0 (position 0)")
	require.Zero(t, k.Len())

	for _, tc := range []struct {
		name  string
		spoil func(w *ModelWeights)
		want  string
	}{
		{"second layer's cache row", func(w *ModelWeights) { w.Blocks[1].Attn.KVAProj.f32[0] = float32(math.Inf(1)) }, "layer 1: mla: cache row of token"},
		{"first layer's FFN", func(w *ModelWeights) { w.Blocks[0].Down.f32[0] = float32(math.NaN()) }, "layer 1: mla: input of token"},
		{"last layer's FFN", func(w *ModelWeights) { w.Blocks[1].Down.f32[0] = float32(math.NaN()) }, "hidden state of the last token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, mw := testModel(t, c, 2)
			mc, err := m.NewCache(CacheOptions{})
			require.NoError(t, err)
			logits := make([]float32, c.Vocab)
			require.NoError(t, m.Forward([]int{1, 2, 3}, mc, logits))
			tc.spoil(mw)
			for _, tokens := range [][]int{{4}, {4, 5}} {
				require.ErrorContains(t, m.Forward(tokens, mc, logits), tc.want)
				for i, k := range mc.Layers {
					require.Equal(t, 3, k.Len(), "layer %d", i)
				}
			}
		})
	}
}

// TestWeightSizesChecked: dimensions whose products overflow an int, or are too
// large to allocate, are errors from the weight constructors and checks, not panics
// or wrapped sizes that pass a length check.
func TestWeightSizesChecked(t *testing.T) {
	huge := tinyConfig()
	huge.Hidden, huge.Heads = 1<<40, 1<<30 // q_a_proj alone: 24·2^40 values
	big := tinyConfig()
	big.Hidden = 1 << 38 // fits an int, but not memory: 24·2^38 values in q_a_proj
	lite := tinyLiteConfig()
	lite.Heads, lite.Hidden = 1<<31, 1<<33 // q_proj: 2^31·24·2^33 overflows
	layers := tinyConfig()
	layers.Layers = 1 << 40
	for _, c := range []Config{huge, big, lite} {
		// Config.Validate may refuse such dimensions first; either way, an error.
		require.ErrorContains(t, checkWeightSizes(c), "too large")
		require.NotPanics(t, func() {
			_, err := RandomLayerWeights(c, 1)
			require.Error(t, err)
			require.Error(t, (&LayerWeights{}).Check(c))
			_, err = NewCache(c, CacheOptions{})
			require.Error(t, err)
			_, err = RandomModelWeights(c, 1)
			require.Error(t, err)
			require.Error(t, (&ModelWeights{Blocks: make([]BlockWeights, c.Layers)}).Check(c))
		})
	}
	require.ErrorContains(t, checkModelSizes(layers), "FFNs of 1099511627776 x 3 x 96 x 64 values is too large")
	require.NotPanics(t, func() {
		_, err := RandomModelWeights(layers, 1)
		require.Error(t, err)
	})
	require.NoError(t, checkModelSizes(DeepSeekV2Lite()))
}

// TestLayerOptionLimits: scratch sizes set by options are bounded before they are
// allocated.
func TestLayerOptionLimits(t *testing.T) {
	c := tinyConfig()
	w := testWeights(t, c, 1)
	for _, o := range []Option{WithTileRows(1 << 40), WithChunkRows(maxOptionRows + 1), WithWorkers(1 << 30), WithTileRows(-1)} {
		_, err := NewLayer(c, w, o)
		require.ErrorContains(t, err, "options: workers")
	}
	mw, err := RandomModelWeights(c, 1)
	require.NoError(t, err)
	_, err = NewModel(c, mw, WithWorkers(-2))
	require.ErrorContains(t, err, "options: workers -2")
	l, err := NewLayer(c, w, WithTileRows(maxOptionRows), WithChunkRows(maxOptionRows), WithWorkers(2))
	require.NoError(t, err)
	require.NoError(t, l.Close())
	p := NewPool(maxWorkers + 1)
	require.Equal(t, maxWorkers, p.Workers())
	require.NoError(t, p.Close())
}

// TestModelCacheTruncateAllOrNothing: Truncate past the shortest layer changes no
// layer.
func TestModelCacheTruncateAllOrNothing(t *testing.T) {
	c := tinyConfig()
	m, _ := testModel(t, c, 1)
	mc, err := m.NewCache(CacheOptions{})
	require.NoError(t, err)
	require.NoError(t, m.Forward([]int{1, 2, 3}, mc, make([]float32, c.Vocab)))
	require.NoError(t, mc.Layers[1].Truncate(1))
	require.ErrorContains(t, mc.Truncate(2), "layer 1 has 1 rows")
	require.Equal(t, 3, mc.Layers[0].Len())
	require.Error(t, mc.Truncate(-1))
	require.NoError(t, mc.Truncate(1))
	require.Equal(t, 1, mc.Len())
}
