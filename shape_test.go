package mlasimd_test

import (
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestShapeMismatchPanics: every kernel given mismatched lengths panics with a message
// that names it and the sizes, before touching memory (the output keeps its values).
func TestShapeMismatchPanics(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		f := func(n int) []float32 {
			s := make([]float32, n)
			for i := range s {
				s[i] = 7
			}
			return s
		}
		h := func(n int) []uint16 { return make([]uint16, n) }
		untouched := f(6)
		cases := []struct {
			name, msg string
			call      func()
		}{
			{"Dot", "Dot: length mismatch: 3 != 4", func() { k.Dot(f(3), f(4)) }},
			{"Axpy", "Axpy: length mismatch: 3 != 6", func() { k.Axpy(1, f(3), untouched) }},
			{"Gemv", "Gemv: len(w)=11, want 6*2=12", func() { k.Gemv(untouched, f(11), f(2)) }},
			{"GemvT", "GemvT: len(w)=13, want 2*6=12", func() { k.GemvT(untouched, f(13), f(2)) }},
			{"GemvBF16", "GemvBF16: len(w)=11, want 6*2=12", func() { k.GemvBF16(untouched, h(11), f(2)) }},
			{"GemvF16", "GemvF16: len(w)=13, want 6*2=12", func() { k.GemvF16(untouched, h(13), f(2)) }},
			{"GemvQ8_0", "GemvQ8_0: len(w)=407, want 6*64/32*34=408", func() { k.GemvQ8_0(untouched, make([]byte, 407), f(64)) }},
			{"GemvQ8_0 cols", "GemvQ8_0: len(x)=33, not a multiple of 32", func() { k.GemvQ8_0(untouched, make([]byte, 204), f(33)) }},
			{"GemvTBF16", "GemvTBF16: len(w)=11, want 2*6=12", func() { k.GemvTBF16(untouched, h(11), f(2)) }},
			{"GemvTF16", "GemvTF16: len(w)=13, want 2*6=12", func() { k.GemvTF16(untouched, h(13), f(2)) }},
			{"GemvTQ8_0", "GemvTQ8_0: len(w)=135, want 2*64/32*34=136", func() { k.GemvTQ8_0(f(64), make([]byte, 135), f(2)) }},
			{"GemvTQ8_0 cols", "GemvTQ8_0: len(y)=6, not a multiple of 32", func() { k.GemvTQ8_0(untouched, make([]byte, 204), f(1)) }},
			{"GemvE4M3", "GemvE4M3: len(w)=11, want 6*2=12", func() { k.GemvE4M3(untouched, make([]byte, 11), f(2)) }},
			{"GemvTE4M3", "GemvTE4M3: len(w)=13, want 2*6=12", func() { k.GemvTE4M3(untouched, make([]byte, 13), f(2)) }},
			{"DownUp", "DownUp: len(up)=5, want len(y)*len(latent)=6*1=6", func() { k.DownUp(untouched, f(1), f(2), f(5), f(2)) }},
			{"GemmNT", "GemmNT: len(a)=5 lda=3 too small for 2x3", func() { k.GemmNT(untouched, f(5), f(9), 2, 3, 3, 3, 3) }},
			{"GemmNTPrefetch", "GemmNTPrefetch: len(a)=5 lda=3 too small for 2x3", func() { k.GemmNTPrefetch(untouched, f(5), f(9), f(9), 2, 3, 3, 3, 3) }},
			{"GemmNN", "GemmNN: len(b)=8 ldb=3 too small for 3x3", func() { k.GemmNN(f(6), f(6), f(8), 2, 3, 3, 3, 3) }},
			{"GemmNN ldb", "GemmNN: len(b)=90 ldb=2 too small for 3x3", func() { k.GemmNN(f(6), f(6), f(90), 2, 3, 3, 3, 2) }},
			{"GemmNNAdd", "GemmNNAdd: len(c)=5, want m*n=2*3=6", func() { k.GemmNNAdd(f(5), f(6), f(9), 2, 3, 3, 3, 3) }},
			{"OnlineSoftmax", "OnlineSoftmax: len(s)=7 len(m)=2 len(l)=2 len(carry)=2", func() { k.OnlineSoftmax(f(7), 1, f(2), f(2), f(2)) }},
			{"OnlineSoftmax state", "OnlineSoftmax: len(s)=6 len(m)=2 len(l)=2 len(carry)=1", func() { k.OnlineSoftmax(untouched, 1, f(2), f(2), f(1)) }},
			{"Exp", "Exp: length mismatch: 6 != 5", func() { k.Exp(untouched, f(5)) }},
			{"RoPE", "RoPE: len(x)=6, len(cos)=2, len(sin)=2", func() { k.RoPE(untouched, f(2), f(2)) }},
			{"RoPEHalf", "RoPEHalf: len(x)=6, len(cos)=3, len(sin)=2", func() { k.RoPEHalf(untouched, f(3), f(2)) }},
			{"RMSNorm", "RMSNorm: len(dst)=6 len(x)=6 len(weight)=5", func() { k.RMSNorm(untouched, f(6), f(5), 1e-6) }},
			{"LayerNorm", "LayerNorm: len(dst)=6 len(x)=6 len(weight)=6 len(bias)=4", func() { k.LayerNorm(untouched, f(6), f(6), f(4), 1e-6) }},
			{"F16ToF32", "F16ToF32: length mismatch: 6 != 7", func() { k.F16ToF32(untouched, h(7)) }},
			{"BF16ToF32", "BF16ToF32: length mismatch: 6 != 2", func() { k.BF16ToF32(untouched, h(2)) }},
			{"F32ToF16", "F32ToF16: length mismatch: 1 != 6", func() { k.F32ToF16(h(1), untouched) }},
			{"F32ToBF16", "F32ToBF16: length mismatch: 1 != 6", func() { k.F32ToBF16(h(1), untouched) }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				defer func() {
					r := recover()
					require.NotNil(t, r, "no panic")
					require.Contains(t, r, "mlasimd: "+c.msg)
				}()
				c.call()
			})
		}
		require.Equal(t, f(6), untouched, "a rejected call wrote its output")
	})
}

// TestPackageLevelAPI runs each package-level function once, so the dispatched entry
// points are covered as users call them.
func TestPackageLevelAPI(t *testing.T) {
	x := []float32{1, 2, 3, 4}
	require.Equal(t, float32(30), mlasimd.Dot(x, x))
	y := make([]float32, 4)
	mlasimd.Axpy(2, x, y)
	require.Equal(t, []float32{2, 4, 6, 8}, y)
	out := make([]float32, 2)
	mlasimd.Gemv(out, []float32{1, 0, 0, 0, 0, 1, 0, 0}, x)
	require.Equal(t, []float32{1, 2}, out)
	mlasimd.GemvT(y, []float32{1, 0, 0, 0, 0, 1, 0, 0}, out)
	require.Equal(t, []float32{1, 2, 0, 0}, y)
	lat := make([]float32, 1)
	mlasimd.DownUp(out, lat, []float32{1, 1, 1, 1}, []float32{1, 2}, x)
	require.Equal(t, []float32{10}, lat)
	require.Equal(t, []float32{10, 20}, out)
	c := make([]float32, 1)
	mlasimd.GemmNT(c, x, x, 1, 1, 4, 4, 4)
	require.Equal(t, []float32{30}, c)
	mlasimd.GemmNTPrefetch(c, x, x, nil, 1, 1, 4, 4, 4)
	require.Equal(t, []float32{30}, c)
	m, sum := mlasimd.SoftmaxStats([]float32{0, 0}, 1)
	require.Equal(t, [2]float32{0, 2}, [2]float32{m, sum})
	mlasimd.GemmNN(c, x, x, 1, 1, 4, 4, 1)
	require.Equal(t, []float32{30}, c)
	e := make([]float32, 1)
	mlasimd.Exp(e, []float32{0})
	require.Equal(t, []float32{1}, e)
	s := []float32{0, 0}
	mlasimd.Softmax(s, 1)
	require.Equal(t, []float32{0.5, 0.5}, s)
	r := []float32{1, 0}
	mlasimd.RoPE(r, []float32{0}, []float32{1})
	require.Equal(t, []float32{0, 1}, r)
	mlasimd.RoPEHalf(r, []float32{0}, []float32{1})
	require.Equal(t, []float32{-1, 0}, r)
	n := []float32{3, 4}
	mlasimd.RMSNorm(n, n, []float32{1, 1}, 0)
	require.InDeltaSlice(t, []float32{3 / 3.5355339, 4 / 3.5355339}, n, 1e-6)
	mlasimd.LayerNorm(n, []float32{1, 3}, []float32{1, 1}, []float32{5, 5}, 0)
	require.Equal(t, []float32{4, 6}, n)
	hb := make([]uint16, 1)
	mlasimd.F32ToF16(hb, []float32{1})
	mlasimd.F16ToF32(e, hb)
	require.Equal(t, []float32{1}, e)
	mlasimd.F32ToBF16(hb, []float32{2})
	mlasimd.BF16ToF32(e, hb)
	require.Equal(t, []float32{2}, e)
	v32 := make([]float32, mlasimd.Q8_0Block)
	v32[0], v32[1] = 127, -2
	q8 := make([]byte, mlasimd.Q8_0BlockBytes)
	require.NoError(t, mlasimd.QuantizeQ8_0(q8, v32))
	require.NoError(t, mlasimd.QuantizeQ8_0BF16(q8, make([]uint16, mlasimd.Q8_0Block)))
	require.Equal(t, make([]byte, mlasimd.Q8_0BlockBytes), q8)
	require.NoError(t, mlasimd.QuantizeQ8_0(q8, v32))
	back := make([]float32, mlasimd.Q8_0Block)
	mlasimd.DequantizeQ8_0(back, q8)
	require.Equal(t, v32, back) // d = 1 and integers: exact
	mlasimd.GemvQ8_0(e, q8, v32)
	require.Equal(t, []float32{127*127 + 4}, e)
	// The transposed GEMVs: W = [[1 0 0 0] [0 1 0 0]] in 16 bits, and the Q8_0 row
	// above (d = 1) as a 1 x 32 W.
	hw := make([]uint16, 8)
	mlasimd.F32ToBF16(hw, []float32{1, 0, 0, 0, 0, 1, 0, 0})
	mlasimd.GemvTBF16(y, hw, []float32{3, 5})
	require.Equal(t, []float32{3, 5, 0, 0}, y)
	mlasimd.F32ToF16(hw, []float32{1, 0, 0, 0, 0, 1, 0, 0})
	mlasimd.GemvTF16(y, hw, []float32{-2, 7})
	require.Equal(t, []float32{-2, 7, 0, 0}, y)
	yt := make([]float32, mlasimd.Q8_0Block)
	mlasimd.GemvTQ8_0(yt, q8, []float32{2})
	require.Equal(t, []float32{254, -4, 0}, yt[:3])
	// FP8 E4M3: 1, 2, -0.5 and 0 are the bytes 0x38, 0x40, 0xb0 and 0x00.
	mlasimd.GemvE4M3(e, []byte{0x38, 0x40, 0xb0, 0x00}, []float32{1, 2, 3, 4})
	require.Equal(t, []float32{3.5}, e)
	mlasimd.GemvTE4M3(y, []byte{0x38, 0, 0, 0, 0, 0x40, 0xb0, 0}, []float32{3, 5})
	require.Equal(t, []float32{3, 10, -2.5, 0}, y)
}
