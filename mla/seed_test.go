package mla

import (
	"fmt"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

func seedConfigs() []Config {
	plain := Seed(64, 4, 8) // head_dim 16, LayerNorm latent, no RoPE: absorbable
	plain.Name = "seed"
	rot := plain
	rot.Name, rot.RoPE = "seed-rope-after-up", RoPEAfterUp // half-split RoPE on decompressed keys
	inter := rot
	inter.Name, inter.RoPELayout = "seed-rope-interleaved", Interleaved
	return []Config{plain, rot, inter}
}

// TestSeedVariants runs the seed's layer (one LayerNorm latent, separate K/V
// up-projections, scale head_dim^-1/2, RoPE none or after decompression) through the
// same golden checks as DeepSeek's, on every Level.
func TestSeedVariants(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		for _, c := range seedConfigs() {
			for _, dt := range []DType{F32, BF16, I8, FP8} {
				if checkCacheType(c, dt) != nil {
					continue // I8 needs d_c a multiple of 16 and a rope part
				}
				t.Run(fmt.Sprintf("%s/%s", c.Name, dt), func(t *testing.T) {
					goldenDecode(t, c, dt, 3000, 10, 4)
				})
			}
		}
	})
}

// TestSeedAbsorbability: without RoPE the seed absorbs like DeepSeek (absorbed ==
// naive); with RoPE after the up-projection the rotation sits between q and W_UK, so
// Decode must (and does) take the decompressing path.
func TestSeedAbsorbability(t *testing.T) {
	cs := seedConfigs()
	require.True(t, cs[0].Absorbable())
	require.False(t, cs[1].Absorbable())
	require.InDelta(t, 0.25, cs[0].SoftmaxScale(), 0, "head_dim^-1/2 with head_dim 16")
	testutil.UseEachLevel(t, func(t *testing.T) {
		for _, c := range cs[:2] {
			w := testWeights(t, c, 3)
			l := testLayer(t, c, w, true, WithWorkers(2), WithTileRows(8), WithChunkRows(8))
			x := randomInputs(40, c.Hidden, 8)
			abs, naive, q, k := decodeBoth(t, l, x, 40, F32, 0)
			qs := make([][]float32, 40)
			qs[39] = q
			ref := newRefLayer(c, w, F32).attend(implTokens(c, qs, k), 0, 39)
			require.NoError(t, within(abs, ref), c.Name)
			require.NoError(t, within(naive, ref), c.Name)
			if !c.Absorbable() {
				require.Equal(t, naive, abs, "Decode is DecodeNaive when not absorbable")
			}
		}
	})
}

// TestSeedSharedCompression: with SharedKVDown every block uses one down-projection,
// which a checkpoint stores once and loading shares again.
func TestSeedSharedCompression(t *testing.T) {
	c := Seed(64, 4, 8)
	c.SharedKVDown, c.Layers, c.Vocab, c.Intermediate = true, 3, 50, 96
	w, err := RandomModelWeights(c, 1)
	require.NoError(t, err)
	for i := 1; i < c.Layers; i++ {
		require.Same(t, &w.Blocks[0].Attn.KVAProj.f32[0], &w.Blocks[i].Attn.KVAProj.f32[0])
		require.NotEqual(t, w.Blocks[0].Attn.QProj, w.Blocks[i].Attn.QProj)
	}
	dir := t.TempDir()
	require.NoError(t, WriteCheckpoint(dir, c, w, F32, 1))
	ck, err := OpenCheckpoint(dir)
	require.NoError(t, err)
	defer ck.Close()
	require.True(t, ck.Has("model.kv_down_proj.weight"))
	require.False(t, ck.Has("model.layers.1.self_attn.kv_down_proj.weight"))
	require.True(t, ck.Has("model.layers.1.self_attn.k_up_proj.weight"))
	back, err := ck.LoadModel()
	require.NoError(t, err)
	require.Same(t, &back.Blocks[0].Attn.KVAProj.f32[0], &back.Blocks[2].Attn.KVAProj.f32[0])
	require.Equal(t, w, back)

	// Each layer still has its own cache: same down-projection, different inputs.
	m, err := NewModel(c, back, WithWorkers(2))
	require.NoError(t, err)
	defer m.Close()
	mc, err := m.NewCache(CacheOptions{})
	require.NoError(t, err)
	logits := make([]float32, c.Vocab)
	require.NoError(t, m.Forward([]int{1, 2, 3}, mc, logits))
	require.NotEqual(t, mc.Layers[0].rows(0, 3, nil), mc.Layers[1].rows(0, 3, nil))
}
