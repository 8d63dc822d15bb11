package mlasimd_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
	"github.com/stretchr/testify/require"
)

// widening is one widening conversion: a Level's and the reference's.
type widening struct {
	name      string
	got, want func(dst []float32, src []uint16)
}

func TestF16ToF32(t *testing.T) {
	testWiden(t, func(k *mlasimd.Kernels) widening { return widening{"F16ToF32", k.F16ToF32, kernels.F16ToF32} })
}

func TestBF16ToF32(t *testing.T) {
	testWiden(t, func(k *mlasimd.Kernels) widening { return widening{"BF16ToF32", k.BF16ToF32, kernels.BF16ToF32} })
}

// testWiden widens all 65536 bit patterns against both fences, then random words at
// every length on guard pages: every Level must give the reference's bits exactly
// (widening is exact; NaNs come out quiet).
func testWiden(t *testing.T, conv func(k *mlasimd.Kernels) widening) {
	all := make([]uint16, 1<<16)
	for i := range all {
		all[i] = uint16(i)
	}
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		c := conv(k)
		want := make([]float32, len(all))
		c.want(want, all)
		rs, rd := testutil.NewRegion(t, 2*len(all)), testutil.NewRegion(t, 4*len(all))
		for _, p := range testutil.Fences {
			got := rd.F32(len(all), p, nil)
			c.got(got, rs.U16(len(all), p, all))
			requireSameBits(t, c.name, got, want)
		}
		rng := newRNG(t)
		for _, n := range lengths() {
			for _, p := range testutil.PlacesFor(n) {
				sv := make([]uint16, n)
				for i := range sv {
					sv[i] = uint16(rng.Uint32())
				}
				src, dst := rs.U16(n, p, sv), rd.F32(n, p, nil)
				c.got(dst, src)
				c.want(want[:n], sv)
				requireSameBits(t, c.name, dst, want[:n])
				require.True(t, rd.UntouchedF32(dst), "%s wrote outside dst (n=%d)", c.name, n)
			}
		}
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

// TestHalfNarrowRounding checks rounding to nearest even against a float64 model, including
// ties, overflow to Inf, subnormal halves and NaN, and that widening inverts it.
// Every call runs against both fences.
func TestHalfNarrowRounding(t *testing.T) {
	cases := []struct {
		in  float32
		f16 uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff},
		{65519.996, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{0x1p-24, 0x0001}, {0x1p-25, 0}, {0x1.8p-25, 0x0001}, {0x1p-14, 0x0400}, {0x1.ffcp-15, 0x0400},
		{1 + 0x1p-11, 0x3c00}, {1 + 0x3p-11, 0x3c02}, // ties to even
	}
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rh, rf := testutil.NewRegion(t, 2), testutil.NewRegion(t, 4)
		// one narrows f with conv at both fences; they must agree.
		one := func(conv func([]uint16, []float32), f float32) uint16 {
			var got [2]uint16
			for i, p := range testutil.Fences {
				h := rh.U16(1, p, nil)
				conv(h, rf.F32(1, p, []float32{f}))
				got[i] = h[0]
			}
			require.Equal(t, got[0], got[1], "%v narrowed against the lower fence", f)
			return got[0]
		}
		for _, c := range cases {
			require.Equal(t, c.f16, one(k.F32ToF16, c.in), "F32ToF16(%v)", c.in)
		}
		h := one(k.F32ToF16, float32(math.NaN()))
		require.Equal(t, uint16(0x7c00), h&0x7c00)
		require.NotZero(t, h&0x3ff, "NaN must stay NaN")

		require.Equal(t, uint16(0x3f80), one(k.F32ToBF16, 1+0x1p-8), "tie rounds to even")
		require.Equal(t, uint16(0x3f82), one(k.F32ToBF16, 1+0x3p-8), "tie rounds to even")
		require.Equal(t, uint16(0x7f80), one(k.F32ToBF16, math.MaxFloat32), "rounds up to Inf")
		h = one(k.F32ToBF16, float32(math.NaN()))
		require.True(t, h&0x7f80 == 0x7f80 && h&0x7f != 0, "NaN stays NaN")

		rng := newRNG(t)
		for range 10000 {
			f := math.Float32frombits(rng.Uint32())
			if f != f {
				continue
			}
			h := rh.U16(1, testutil.Tail, []uint16{one(k.F32ToBF16, f)})
			back := rf.F32(1, testutil.Tail, nil)
			k.BF16ToF32(back, h)
			// Rounding to 8 significant bits: within half an ulp, at most 2^-8 relative,
			// or half of bfloat16's smallest subnormal step (2^-133) for tiny values.
			if !math.IsInf(float64(back[0]), 0) && math.Abs(float64(back[0])-float64(f)) > math.Abs(float64(f))*0x1p-8+0x1p-134 {
				require.Failf(t, "bf16 round trip", "%v -> %v", f, back[0])
			}
		}
	})
}

// narrowing is one narrowing conversion: a Level's, the reference's, and the
// exponent field of the format's NaN.
type narrowing struct {
	name      string
	got, want func(dst []uint16, src []float32)
	nan       uint16
}

func TestF32ToF16(t *testing.T) {
	testNarrow(t, func(k *mlasimd.Kernels) narrowing { return narrowing{"F32ToF16", k.F32ToF16, kernels.F32ToF16, 0x7c00} })
}

func TestF32ToBF16(t *testing.T) {
	testNarrow(t, func(k *mlasimd.Kernels) narrowing {
		return narrowing{"F32ToBF16", k.F32ToBF16, kernels.F32ToBF16, 0x7f80}
	})
}

// testNarrow narrows every length on guard pages: rounding to nearest even leaves one
// right answer, the reference's bits, except for a NaN's payload.
func testNarrow(t *testing.T, conv func(k *mlasimd.Kernels) narrowing) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		c := conv(k)
		rng := newRNG(t)
		rd, rs := testutil.NewRegion(t, 2*maxLen), testutil.NewRegion(t, 4*maxLen)
		want := make([]uint16, maxLen)
		for _, n := range lengths() {
			for _, p := range testutil.PlacesFor(n) {
				sv := testutil.Mixed(rng, n, 0.1, testutil.AllClasses()...)
				for i := range sv {
					if i%5 == 0 { // anywhere in float32's range: f16 overflows and underflows
						sv[i] = math.Float32frombits(rng.Uint32())
					}
				}
				dst := rd.U16(n, p, nil)
				c.got(dst, rs.F32(n, p, sv))
				c.want(want[:n], sv)
				for i, h := range dst {
					if sv[i] != sv[i] {
						if h&c.nan != c.nan || h&^(0x8000|c.nan) == 0 {
							require.Failf(t, c.name, "NaN gave %#04x", h)
						}
					} else if h != want[i] {
						require.Failf(t, c.name, "%v (bits %#x): got %#04x, want %#04x", sv[i], math.Float32bits(sv[i]), h, want[i])
					}
				}
				require.True(t, rd.UntouchedU16(dst), "%s wrote outside dst (n=%d)", c.name, n)
			}
		}
	})
}

// TestF32ToBF16DAZ narrows the float32s around every bfloat16 boundary that matters
// (ties, the subnormal range and its edge, overflow, infinities, NaNs of both signs)
// and random bit patterns at every length on guard pages: every Level must give the
// reference's bits exactly.
func TestF32ToBF16DAZ(t *testing.T) {
	var special []float32
	for _, b := range []uint32{0, 0x8000_0000, 0x0000_0001, 0x007f_ffff, 0x0080_0000, 0x007f_8000, 0x007f_7fff,
		0x3f80_8000, 0x3f81_8000, 0x3f80_7fff, 0x3f80_8001, 0x7f7f_ffff, 0x7f7f_8000, 0x7f80_0000, 0xff80_0000,
		0x7f80_0001, 0xffc0_0000, 0x7fff_ffff, 0x8080_0000, 0x807f_ffff} {
		special = append(special, math.Float32frombits(b))
	}
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rs, rd := testutil.NewRegion(t, 4*4096), testutil.NewRegion(t, 2*4096)
		for _, n := range append(lengths(), len(special)) {
			for _, p := range testutil.PlacesFor(n) {
				sv := make([]float32, n)
				for i := range sv {
					sv[i] = math.Float32frombits(rng.Uint32())
					if n == len(special) {
						sv[i] = special[i]
					}
				}
				want := make([]uint16, n)
				kernels.F32ToBF16DAZ(want, sv)
				src, dst := rs.F32(n, p, sv), rd.U16(n, p, nil)
				k.F32ToBF16DAZ(dst, src)
				require.Equal(t, want, []uint16(dst), "n=%d", n)
				require.True(t, rd.UntouchedU16(dst), "F32ToBF16DAZ wrote outside dst (n=%d)", n)
			}
		}
	})
}
