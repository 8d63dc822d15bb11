package mla

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestKVBProjSlicing: W_UK(h) is kv_b_proj rows [h(d_n+d_v), h(d_n+d_v)+d_n),
// W_UV(h) the next d_v rows: the per-head slices reproduce one big GEMV kv_b_proj·c
// exactly (same dot products, same order), and the GGUF split is their transpose
// (attn_k_b[h] = W_UK(h)ᵀ) and themselves (attn_v_b[h] = W_UV(h)).
func TestKVBProjSlicing(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		c := DeepSeekV2Lite()
		w := &LayerWeights{KVBProj: NewMatrix(c.Heads*256, 512, randomInputs(1, c.Heads*256*512, 3))}
		lat := randomInputs(1, 512, 4)
		full := make([]float32, c.Heads*256)
		mlasimd.Gemv(full, w.KVBProj.f32, lat)
		for _, h := range []int{0, 1, 7, 15} {
			uk, uv := keyUpF32(w, c, h), valueUpF32(w, c, h)
			require.Len(t, uk, 128*512)
			require.Len(t, uv, 128*512)
			require.Equal(t, &w.KVBProj.f32[256*h*512], &uk[0], "W_UK(%d) starts at row 256h", h)
			require.Equal(t, &w.KVBProj.f32[(256*h+128)*512], &uv[0], "W_UV(%d) starts at row 256h+128", h)
			kn, v := make([]float32, 128), make([]float32, 128)
			mlasimd.Gemv(kn, uk, lat)
			mlasimd.Gemv(v, uv, lat)
			require.Equal(t, full[256*h:256*h+128], kn)
			require.Equal(t, full[256*h+128:256*h+256], v)
			// attn_k_b[h][i][j] = W_UK(h)[j][i] ([512][128]).
			kb := make([]float32, 512*128)
			for i := range 128 {
				for j := range 512 {
					kb[j*128+i] = uk[i*512+j]
				}
			}
			a, b := make([]float32, 128), make([]float32, 128)
			mlasimd.Gemv(a, uk, lat)
			mlasimd.GemvT(b, kb, lat)
			for i := range 128 { // two sums of the same 512 products: 2·γ(512)·Σ|terms|
				var mag float64
				for j := range 512 {
					mag += math.Abs(float64(uk[i*512+j]) * float64(lat[j]))
				}
				require.InDelta(t, a[i], b[i], 2*gamma(512)*mag)
			}
		}
	})
}

// TestSeedKVSplit: the seed's separate k_up_proj / v_up_proj interleave into
// kv_b_proj's per-head layout and split back unchanged.
func TestSeedKVSplit(t *testing.T) {
	c := Seed(64, 4, 8)
	H, dn, dv, dc := c.Heads, c.QKNopeHeadDim, c.VHeadDim, c.KVLoRARank
	k := randomInputs(1, H*dn*dc, 1)
	v := randomInputs(1, H*dv*dc, 2)
	for _, f := range []WeightFormat{FormatF32, FormatBF16, FormatF16} {
		km, err := NewMatrix(H*dn, dc, k).Convert(f)
		require.NoError(t, err)
		vm, err := NewMatrix(H*dv, dc, v).Convert(f)
		require.NoError(t, err)
		kvb, err := interleaveKV(c, km, vm)
		require.NoError(t, err)
		require.Equal(t, f, kvb.Format())
		for part, want := range map[kvPart]Matrix{keyRows: km, valueRows: vm} {
			back, err := splitKV(c, kvb, part)
			require.NoError(t, err)
			require.Equal(t, want, back, "%v part %d", f, part)
		}
		wide := kvb.Widen()
		w := &LayerWeights{KVBProj: NewMatrix(kvb.Rows(), dc, wide)}
		require.Equal(t, km.Widen()[2*dn*dc:3*dn*dc], keyUpF32(w, c, 2))
		require.Equal(t, vm.Widen()[3*dv*dc:4*dv*dc], valueUpF32(w, c, 3))
	}
}
