package mlasimd_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
	"github.com/stretchr/testify/require"
)

// TestHalfWidenAllValues widens all 65536 bit patterns: every Level must give the
// reference's bits exactly (widening is exact; NaNs come out quiet).
func TestHalfWidenAllValues(t *testing.T) {
	all := make([]uint16, 1<<16)
	for i := range all {
		all[i] = uint16(i)
	}
	wantF16, wantBF16 := make([]float32, len(all)), make([]float32, len(all))
	kernels.F16ToF32(wantF16, all)
	kernels.BF16ToF32(wantBF16, all)
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		got := make([]float32, len(all))
		k.F16ToF32(got, all)
		requireSameBits(t, "F16ToF32", got, wantF16)
		k.BF16ToF32(got, all)
		requireSameBits(t, "BF16ToF32", got, wantBF16)
	})
}

func requireSameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			require.Failf(t, name, "element %d: got %#x, want %#x", i, math.Float32bits(got[i]), math.Float32bits(want[i]))
		}
	}
}

// TestHalfWidenBounds runs every length on guard pages.
func TestHalfWidenBounds(t *testing.T) {
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rs, rd := testutil.NewRegion(t, 2*maxLen), testutil.NewRegion(t, 4*maxLen)
		for _, n := range lengths() {
			for _, p := range placesFor(n) {
				sv := make([]uint16, n)
				for i := range sv {
					sv[i] = uint16(rng.Uint32())
				}
				want := make([]float32, n)
				for _, conv := range []struct {
					name      string
					got, want func(dst []float32, src []uint16)
				}{{"F16ToF32", k.F16ToF32, kernels.F16ToF32}, {"BF16ToF32", k.BF16ToF32, kernels.BF16ToF32}} {
					src, dst := rs.U16(n, p, sv), rd.F32(n, p, nil)
					conv.got(dst, src)
					conv.want(want, sv)
					requireSameBits(t, conv.name, dst, want)
					require.True(t, rd.UntouchedF32(dst), "%s wrote outside dst (n=%d)", conv.name, n)
				}
			}
		}
	})
}

// TestHalfNarrow checks rounding to nearest even against a float64 model, including
// ties, overflow to Inf, subnormal halves and NaN, and that widening inverts it.
func TestHalfNarrow(t *testing.T) {
	cases := []struct {
		in  float32
		f16 uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff},
		{65519.996, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{0x1p-24, 0x0001}, {0x1p-25, 0}, {0x1.8p-25, 0x0001}, {0x1p-14, 0x0400}, {0x1.ffcp-15, 0x0400},
		{1 + 0x1p-11, 0x3c00}, {1 + 0x3p-11, 0x3c02}, // ties to even
	}
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		for _, c := range cases {
			got := []uint16{0}
			k.F32ToF16(got, []float32{c.in})
			require.Equal(t, c.f16, got[0], "F32ToF16(%v)", c.in)
		}
		got := []uint16{0}
		k.F32ToF16(got, []float32{float32(math.NaN())})
		require.Equal(t, uint16(0x7c00), got[0]&0x7c00)
		require.NotZero(t, got[0]&0x3ff, "NaN must stay NaN")

		k.F32ToBF16(got, []float32{1 + 0x1p-8})
		require.Equal(t, uint16(0x3f80), got[0], "tie rounds to even")
		k.F32ToBF16(got, []float32{1 + 0x3p-8})
		require.Equal(t, uint16(0x3f82), got[0], "tie rounds to even")
		k.F32ToBF16(got, []float32{math.MaxFloat32})
		require.Equal(t, uint16(0x7f80), got[0], "rounds up to Inf")
		k.F32ToBF16(got, []float32{float32(math.NaN())})
		require.True(t, got[0]&0x7f80 == 0x7f80 && got[0]&0x7f != 0, "NaN stays NaN")

		rng := newRNG(t)
		for range 10000 {
			f := math.Float32frombits(rng.Uint32())
			if f != f {
				continue
			}
			h := []uint16{0}
			back := []float32{0}
			k.F32ToBF16(h, []float32{f})
			k.BF16ToF32(back, h)
			// Rounding to 8 significant bits: within half an ulp, at most 2^-8 relative,
			// or half of bfloat16's smallest subnormal step (2^-133) for tiny values.
			if !math.IsInf(float64(back[0]), 0) && math.Abs(float64(back[0])-float64(f)) > math.Abs(float64(f))*0x1p-8+0x1p-134 {
				require.Failf(t, "bf16 round trip", "%v -> %v", f, back[0])
			}
		}
	})
}
