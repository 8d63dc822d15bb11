package mlasimd_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// checkQ8Block checks one quantized block against QuantizeQ8_0's definition, from
// first principles: d is a half nearest to the float32 amax/127 (no neighbour is
// nearer; the ties-to-even choice is F32ToF16's, tested elsewhere), each q is the
// integer nearest to x/d unless clamped at ±127 (then |x| > 127.5·d), and the error
// meets the stated bound.
func checkQ8Block(t *testing.T, x []float32, blk []byte) {
	t.Helper()
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	h := uint16(blk[0]) | uint16(blk[1])<<8
	d, target := testutil.Half(h), float64(amax/127)
	require.Zero(t, h&0x8000, "negative scale %#04x", h)
	for _, nb := range []uint16{h - 1, h + 1} {
		if h == 0 && nb == h-1 || nb >= 0x7c00 {
			continue
		}
		require.LessOrEqual(t, math.Abs(d-target), math.Abs(testutil.Half(nb)-target),
			"amax %v: scale %#04x is not a nearest half to %v", amax, h, target)
	}
	normal := h >= 0x0400
	if float64(amax) >= 127*0x1p-14 {
		require.True(t, normal, "amax %v, scale %#04x", amax, h)
	}
	for j, v := range x {
		q := float64(int8(blk[2+j]))
		require.LessOrEqual(t, math.Abs(q), 127.0, "q[%d] = -128", j)
		err := math.Abs(float64(v) - d*q)
		if d == 0 {
			require.Zero(t, q, "q[%d] with a zero scale", j)
			require.Less(t, err, 0x1p-18, "x[%d] = %v lost under a zero scale", j, v)
			continue
		}
		clamped := math.Abs(q) == 127 && math.Abs(float64(v)) > 127.5*d
		if !clamped { // the nearest integer: no neighbour of q is nearer
			require.LessOrEqual(t, err, d/2, "x[%d] = %v, d = %v, q = %v", j, v, d, q)
		} else {
			require.False(t, normal, "x[%d] = %v clamped under a normal scale", j, v)
			require.Equal(t, math.Signbit(q), math.Signbit(float64(v)))
		}
		bound := d / 2
		if !normal {
			bound = max(bound, 0x1p-18)
		} else {
			require.LessOrEqual(t, err, float64(amax)*(1+0x1p-10)/254)
		}
		require.LessOrEqual(t, err, bound, "x[%d] = %v, d = %v, q = %v", j, v, d, q)
	}
}

func TestQuantizeQ8_0(t *testing.T) {
	testutil.NativeOnly(t)
	rng := newRNG(t)
	const bs, bb = mlasimd.Q8_0Block, mlasimd.Q8_0BlockBytes
	// Blocks of normals scaled from 2^-40 (d 0) through the subnormal scales up to
	// 2^19 (amax up to about half the largest), some shifted to be all one sign.
	const blocks = 4000
	x := testutil.Normals(rng, blocks*bs)
	for b := range blocks {
		s := math.Ldexp(1, rng.IntN(60)-40)
		shift := []float64{0, 0, 3, -3}[b%4]
		for j := b * bs; j < (b+1)*bs; j++ {
			x[j] = float32((float64(x[j]) + shift) * s)
		}
	}
	x[5*bs] = -x[5*bs] - 1e3 // a negative-dominant block with one large value
	q := make([]byte, blocks*bb)
	require.NoError(t, mlasimd.QuantizeQ8_0(q, x))
	for b := range blocks {
		checkQ8Block(t, x[b*bs:(b+1)*bs], q[b*bb:(b+1)*bb])
	}
	require.Equal(t, int8(-127), int8(q[5*bb+2]), "the negative-dominant value")

	// Round trip: the values read back meet the bound (checkQ8Block), and blocks
	// with a normal scale quantize back to themselves.
	back := make([]float32, len(x))
	mlasimd.DequantizeQ8_0(back, q)
	again := make([]byte, len(q))
	require.NoError(t, mlasimd.QuantizeQ8_0(again, back))
	for b := range blocks {
		d := testutil.Half(uint16(q[b*bb]) | uint16(q[b*bb+1])<<8)
		for j := range bs {
			require.Equal(t, float32(d*float64(int8(q[b*bb+2+j]))), back[b*bs+j])
		}
		if d >= 0x1p-14 {
			require.Equal(t, q[b*bb:(b+1)*bb], again[b*bb:(b+1)*bb], "block %d", b)
		}
	}

	// bfloat16 input quantizes as its exact widening does.
	h := make([]uint16, len(x))
	mlasimd.F32ToBF16(h, x)
	wide := make([]float32, len(x))
	mlasimd.BF16ToF32(wide, h)
	fromBF16, fromWide := make([]byte, len(q)), make([]byte, len(q))
	require.NoError(t, mlasimd.QuantizeQ8_0BF16(fromBF16, h))
	require.NoError(t, mlasimd.QuantizeQ8_0(fromWide, wide))
	require.Equal(t, fromWide, fromBF16)
}

func TestQuantizeQ8_0Edges(t *testing.T) {
	const bs, bb = mlasimd.Q8_0Block, mlasimd.Q8_0BlockBytes
	one := func(fill func(x []float32)) ([]byte, error) {
		x := make([]float32, bs)
		fill(x)
		q := make([]byte, bb)
		for i := range q {
			q[i] = 0xa5
		}
		err := mlasimd.QuantizeQ8_0(q, x)
		if err == nil {
			checkQ8Block(t, x, q)
		}
		return q, err
	}
	// An all-zero block (-0 too) is all zero bytes.
	q, err := one(func(x []float32) { x[3] = float32(math.Copysign(0, -1)) })
	require.NoError(t, err)
	require.Equal(t, make([]byte, bb), q)
	// The largest scale: amax/127 just below 65520 rounds to 65504 (0x7bff) ...
	q, err = one(func(x []float32) { x[0], x[1] = -65519*127, 1 })
	require.NoError(t, err)
	require.Equal(t, []byte{0xff, 0x7b}, q[:2])
	require.Equal(t, int8(-127), int8(q[2]))
	// ... and from 65520 it would be infinite.
	_, err = one(func(x []float32) { x[7] = 65520 * 127 })
	require.ErrorIs(t, err, mlasimd.ErrQ8_0Value)
	// A tiny block clamps under its subnormal scale, or is all zeros.
	// amax/127 = 1.4·2^-24 gets d = 2^-24, and amax clamps to 127·d.
	q, err = one(func(x []float32) { x[0], x[1] = 127*1.4*0x1p-24, -1e-6 })
	require.NoError(t, err)
	require.Equal(t, []byte{0x01, 0x00, 127}, q[:3])
	q, err = one(func(x []float32) { x[0] = 3e-9 })
	require.NoError(t, err)
	require.Equal(t, make([]byte, bb), q)

	// Non-finite values: an error, the blocks before written, the rest untouched.
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		x := make([]float32, 3*bs)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		x[bs+5] = bad
		q := make([]byte, 3*bb)
		for i := range q {
			q[i] = 0xa5
		}
		err := mlasimd.QuantizeQ8_0(q, x)
		require.ErrorIs(t, err, mlasimd.ErrQ8_0Value, "%v", bad)
		require.Contains(t, err.Error(), "value 37")
		checkQ8Block(t, x[:bs], q[:bb])
		for _, c := range q[bb:] {
			require.Equal(t, byte(0xa5), c)
		}
	}

	// Shapes: a partial block or a wrong byte count panics before writing.
	for _, c := range []struct {
		msg  string
		call func()
	}{
		{"QuantizeQ8_0: 33 values, not a multiple of 32", func() { _ = mlasimd.QuantizeQ8_0(make([]byte, 34), make([]float32, 33)) }},
		{"QuantizeQ8_0: 35 bytes for 32 values, want 32/32*34=34", func() { _ = mlasimd.QuantizeQ8_0(make([]byte, 35), make([]float32, 32)) }},
		{"QuantizeQ8_0BF16: 0 bytes for 64 values, want 64/32*34=68", func() { _ = mlasimd.QuantizeQ8_0BF16(nil, make([]uint16, 64)) }},
		{"DequantizeQ8_0: 67 bytes for 64 values, want 64/32*34=68", func() { mlasimd.DequantizeQ8_0(make([]float32, 64), make([]byte, 67)) }},
		{"DequantizeQ8_0: 31 values, not a multiple of 32", func() { mlasimd.DequantizeQ8_0(make([]float32, 31), make([]byte, 34)) }},
	} {
		require.PanicsWithValue(t, "mlasimd: "+c.msg, c.call, c.msg)
	}
}
