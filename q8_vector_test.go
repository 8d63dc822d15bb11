package mlasimd_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
	"github.com/stretchr/testify/require"
)

// q8Vector returns a Q8 vector of n values: quantized from normals scaled per block
// by 2^-140 to 2^100 (scales from subnormal up), or with raw, random quants in
// [-127, 127] and random scales, some of them 0, subnormal or near MaxFloat32/2^14.
func q8Vector(t *testing.T, rng *rand.Rand, n int, raw bool) (xq []byte, xd []float32) {
	xq, xd = make([]byte, n), make([]float32, n/kernels.Q8_0Block)
	if !raw {
		x := testutil.Normals(rng, n)
		for b := range xd {
			s := float32(math.Ldexp(1, rng.IntN(241)-140))
			for j := b * kernels.Q8_0Block; j < (b+1)*kernels.Q8_0Block; j++ {
				x[j] *= s
			}
		}
		require.NoError(t, kernels.QuantizeQ8Vector(xq, xd, x))
		return xq, xd
	}
	for j := range xq {
		xq[j] = byte(int8(rng.IntN(255) - 127))
	}
	specials := []float32{0, 0x1p-149, 0x1p-130, 1, 0x1p100}
	for b := range xd {
		xd[b] = specials[rng.IntN(len(specials))] * float32(1+rng.Float64())
	}
	return xq, xd
}

// TestGemvQ8_0Q8 runs GemvQ8_0Q8 over q8Shapes with y, w, xq and xd at every
// placement, and w also at an odd byte offset; every third shape has raw weight
// blocks with special scales, every other one a raw Q8 vector. Each y[i] must meet
// CheckGemvQ8_0Q8's bound. On an AVX-512 CPU with AVX512_VNNI the AVX-512 Level
// runs the VPDPBUSD body and the AVX2 Level its fallback.
func TestGemvQ8_0Q8(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rq, rd := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for si, s := range q8Shapes() {
			rows, cols := s[0], s[1]
			wv := q8Matrix(t, rng, rows, cols, si%3 == 0)
			xq, xd := q8Vector(t, rng, cols, si%2 == 1)
			rowBytes := cols / kernels.Q8_0Block * kernels.Q8_0BlockBytes
			places := testutil.PlacesFor(si)
			for i, p := range append(places, testutil.Head) {
				wp := p
				if i == len(places) {
					wp = testutil.Place{Offset: 1 + 2*(si%16)}
				}
				y := ry.F32(rows, p, nil)
				k.GemvQ8_0Q8(y, rw.Bytes(len(wv), wp, wv), rq.Bytes(len(xq), p, xq), rd.Copy(p, xd))
				for r := range y {
					if err := testutil.CheckGemvQ8_0Q8(y[r], wv[r*rowBytes:(r+1)*rowBytes], xq, xd); err != nil {
						require.Failf(t, "GemvQ8_0Q8", "%dx%d y[%d]: %v", rows, cols, r, err)
					}
				}
				require.True(t, ry.UntouchedF32(y), "GemvQ8_0Q8 wrote outside y (%dx%d)", rows, cols)
			}
		}
	})
}

// TestGemvQ8_0Q8Extremes: quants at ±127 against weights at -128 and ±127 in every
// lane, the largest integer sums either body can meet.
func TestGemvQ8_0Q8Extremes(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		const cols = 3 * kernels.Q8_0Block // a pair and a tail
		for _, wq := range []int8{-128, -127, 127} {
			for _, xsign := range []int8{-127, 127} {
				w := make([]byte, 5*cols/kernels.Q8_0Block*kernels.Q8_0BlockBytes)
				for b := 0; b < len(w); b += kernels.Q8_0BlockBytes {
					w[b], w[b+1] = 0x00, 0x3c // 1.0
					for j := 2; j < kernels.Q8_0BlockBytes; j++ {
						w[b+j] = byte(wq)
					}
				}
				xq, xd := make([]byte, cols), make([]float32, cols/kernels.Q8_0Block)
				for j := range xq {
					xq[j] = byte(xsign)
				}
				for b := range xd {
					xd[b] = 1
				}
				y := make([]float32, 5)
				k.GemvQ8_0Q8(y, w, xq, xd)
				want := float32(int(wq) * int(xsign) * cols)
				for r := range y {
					require.Equal(t, want, y[r], "w=%d x=%d row %d", wq, xsign, r)
				}
			}
		}
	})
}

// TestGemvQ8_0Q8Rejects: shape mismatches and a -128 quant panic on every Level.
func TestGemvQ8_0Q8Rejects(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		w := make([]byte, 2*kernels.Q8_0BlockBytes)
		xq, xd := make([]byte, 32), make([]float32, 1)
		y := make([]float32, 2)
		require.Panics(t, func() { k.GemvQ8_0Q8(y, w, xq[:31], xd) })
		require.Panics(t, func() { k.GemvQ8_0Q8(y, w, xq, xd[:0]) })
		require.Panics(t, func() { k.GemvQ8_0Q8(y[:1], w, xq, xd) })
		xq[7] = 0x80
		require.PanicsWithValue(t, "mlasimd: GemvQ8_0Q8: xq[7] = -128, outside a Q8 vector's [-127, 127]", func() { k.GemvQ8_0Q8(y, w, xq, xd) })
	})
}

// TestQuantizeQ8Vector checks QuantizeQ8Vector's stated bound per value, its
// scales, and its errors.
func TestQuantizeQ8Vector(t *testing.T) {
	rng := newRNG(t)
	const n = 64 * kernels.Q8_0Block
	x := testutil.Normals(rng, n)
	for b := 0; b < n; b += kernels.Q8_0Block {
		s := float32(math.Ldexp(1, rng.IntN(241)-140))
		for j := b; j < b+kernels.Q8_0Block; j++ {
			x[j] *= s
		}
	}
	clear(x[:kernels.Q8_0Block]) // an all-zero block
	xq, xd := make([]byte, n), make([]float32, n/kernels.Q8_0Block)
	require.NoError(t, mlasimd.QuantizeQ8Vector(xq, xd, x))
	for b, d := range xd {
		var amax float64
		for _, v := range x[b*kernels.Q8_0Block : (b+1)*kernels.Q8_0Block] {
			amax = max(amax, math.Abs(float64(v)))
		}
		require.Equal(t, float32(amax)/127, d, "block %d scale", b)
		bound := float64(d) / 2
		if amax < 127*0x1p-126 {
			bound = max(bound, 0x1p-142)
		}
		for j := b * kernels.Q8_0Block; j < (b+1)*kernels.Q8_0Block; j++ {
			q := int8(xq[j])
			require.NotEqual(t, int8(-128), q)
			e := math.Abs(float64(x[j]) - float64(d)*float64(q))
			require.LessOrEqual(t, e, bound, "x[%d]=%v d=%v q=%d", j, x[j], d, q)
		}
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		x[40] = bad
		err := mlasimd.QuantizeQ8Vector(xq, xd, x)
		require.True(t, errors.Is(err, mlasimd.ErrQ8_0Value), "%v", err)
	}
	require.Panics(t, func() { _ = mlasimd.QuantizeQ8Vector(xq[:n-1], xd, x[:n-1]) })
	require.Panics(t, func() { _ = mlasimd.QuantizeQ8Vector(xq, xd[:1], x) })
}

// TestExtensionDispatch: the AVX-512 Level runs the VNNI body of GemvQ8_0Q8 exactly
// when the CPU has AVX512_VNNI (and MLASIMD_NO_EXTENSIONS does not name it).
func TestExtensionDispatch(t *testing.T) {
	f := dispatch.HostFeatures()
	require.Equal(t, f.AVX512F && f.AVX512VNNI, f.Has("AVX512VNNI"))
	require.False(t, f.Has("NOSUCH"))
	t.Setenv(dispatch.EnvNoExtensions, "sse,avx512vnni")
	require.False(t, dispatch.HostFeatures().Has("AVX512VNNI"))
}

func Example_gemvQ8_0Q8() {
	// W is 1 x 32, the values 0, 1, ..., 31 scaled by 1/4; x has three non-zeros.
	wide := make([]float32, mlasimd.Q8_0Block)
	for j := range wide {
		wide[j] = float32(j) / 4
	}
	w := make([]byte, mlasimd.Q8_0BlockBytes)
	if err := mlasimd.QuantizeQ8_0(w, wide); err != nil {
		panic(err)
	}
	x := make([]float32, mlasimd.Q8_0Block)
	x[0], x[4], x[31] = 1, 2, -1
	xq, xd := make([]byte, len(x)), make([]float32, len(x)/mlasimd.Q8_0Block)
	if err := mlasimd.QuantizeQ8Vector(xq, xd, x); err != nil {
		panic(err)
	}
	y := make([]float32, 1)
	mlasimd.GemvQ8_0Q8(y, w, xq, xd)
	// x's scale is 2/127, so ±1 become ±64·2/127 = ±1.00787 (2 stays 2): unquantized,
	// y would be 2 - 7.75 = -5.75; with W in Q8_0 alone (Example_gemvQ8_0) -5.7983.
	fmt.Printf("%.4f\n", y[0])
	// Output: -5.8594
}
