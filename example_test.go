package mlasimd_test

import (
	"errors"
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd"
)

func ExampleDot() {
	fmt.Println(mlasimd.Dot([]float32{1, 2, 3}, []float32{4, 5, 6}))
	// Output: 32
}

func ExampleAxpy() {
	y := []float32{1, 1, 1}
	mlasimd.Axpy(2, []float32{1, 2, 3}, y)
	fmt.Println(y)
	// Output: [3 5 7]
}

func ExampleGemv() {
	w := []float32{ // 2 x 3, row-major
		1, 0, 2,
		0, 1, 0,
	}
	y := make([]float32, 2)
	mlasimd.Gemv(y, w, []float32{1, 2, 3})
	fmt.Println(y)
	// Output: [7 2]
}

func ExampleGemvBF16() {
	// W in bfloat16 bits: the top halves of float32 1, 0, 2 and 0, 0.5, -1.
	w := []uint16{ // 2 x 3, row-major
		0x3f80, 0x0000, 0x4000,
		0x0000, 0x3f00, 0xbf80,
	}
	y := make([]float32, 2)
	mlasimd.GemvBF16(y, w, []float32{1, 2, 3})
	fmt.Println(y)
	// Output: [7 -2]
}

func ExampleGemvF16() {
	// W in IEEE half bits: 1, 0, 2 and 0, 0.5, -1.
	w := []uint16{ // 2 x 3, row-major
		0x3c00, 0x0000, 0x4000,
		0x0000, 0x3800, 0xbc00,
	}
	y := make([]float32, 2)
	mlasimd.GemvF16(y, w, []float32{1, 2, 3})
	fmt.Println(y)
	// Output: [7 -2]
}

func ExampleGemvE4M3() {
	// W in FP8 E4M3 bytes: 1, 0, 2 and 0.5, -1, 448 (the largest E4M3 value).
	w := []byte{ // 2 x 3, row-major
		0x38, 0x00, 0x40,
		0x30, 0xb8, 0x7e,
	}
	y := make([]float32, 2)
	mlasimd.GemvE4M3(y, w, []float32{1, 2, 3})
	fmt.Println(y)
	// Output: [7 1342.5]
}

func ExampleGemvE4M3Finite() {
	// The W of ExampleGemvE4M3, checked once for NaN bytes (E4M3's 0x7f and 0xff).
	w := []byte{0x38, 0x00, 0x40, 0x30, 0xb8, 0x7e}
	for _, b := range w {
		if b&0x7f == 0x7f {
			panic("NaN weight")
		}
	}
	y := make([]float32, 2)
	mlasimd.GemvE4M3Finite(y, w, []float32{1, 2, 3})
	fmt.Println(y)
	// Output: [7 1342.5]
}

// Example_gemvQ8_0 is GemvQ8_0's example: vet reads the name ExampleGemvQ8_0 as an
// example of GemvQ8 (see TestFamilies).
func Example_gemvQ8_0() {
	// W is 2 x 32: row 0 all ones, row 1 the values 0, 1, ..., 31 scaled by 1/4.
	wide := make([]float32, 2*mlasimd.Q8_0Block)
	for j := range mlasimd.Q8_0Block {
		wide[j], wide[mlasimd.Q8_0Block+j] = 1, float32(j)/4
	}
	w := make([]byte, 2*mlasimd.Q8_0BlockBytes) // one block per row
	if err := mlasimd.QuantizeQ8_0(w, wide); err != nil {
		panic(err)
	}
	x := make([]float32, mlasimd.Q8_0Block)
	x[0], x[4], x[31] = 1, 2, -1
	y := make([]float32, 2)
	mlasimd.GemvQ8_0(y, w, x)
	// Row 0's weights are 127·d, d the half nearest 1/127: 0.99994, not 1. Row
	// 1's are within d/2 = 0.031 of j/4 (here 2·0.97656 - 7.75146); unquantized,
	// y would be [2 -5.75].
	fmt.Printf("%.4f\n", y)
	// Output: [1.9999 -5.7983]
}

func Example_quantizeQ8_0() {
	x := make([]float32, mlasimd.Q8_0Block)
	x[0], x[1], x[2] = 2.54, -1, 0.01
	q := make([]byte, mlasimd.Q8_0BlockBytes)
	if err := mlasimd.QuantizeQ8_0(q, x); err != nil {
		panic(err)
	}
	// The scale 2.54/127 = 0.02 as half bits (little-endian), then the int8 quants.
	fmt.Printf("d=%#04x q=%d %d %d\n", uint16(q[0])|uint16(q[1])<<8, int8(q[2]), int8(q[3]), int8(q[4]))
	back := make([]float32, mlasimd.Q8_0Block)
	mlasimd.DequantizeQ8_0(back, q)
	fmt.Printf("%.5f\n", back[:3])
	x[3] = float32(math.NaN())
	fmt.Println(errors.Is(mlasimd.QuantizeQ8_0(q, x), mlasimd.ErrQ8_0Value))
	// Output:
	// d=0x251f q=127 -50 0
	// [2.54054 -1.00021 0.00000]
	// true
}

func ExampleGemvT() {
	w := []float32{ // 2 x 3, row-major: y = Wᵀ x has 3 entries
		1, 0, 2,
		0, 1, 0,
	}
	y := make([]float32, 3)
	mlasimd.GemvT(y, w, []float32{10, 1})
	fmt.Println(y)
	// Output: [10 1 20]
}

func ExampleGemvTBF16() {
	// W in bfloat16 bits: the top halves of float32 1, 0, 2 and 0, 0.5, -1.
	w := []uint16{ // 2 x 3, row-major: y = Wᵀ x has 3 entries
		0x3f80, 0x0000, 0x4000,
		0x0000, 0x3f00, 0xbf80,
	}
	y := make([]float32, 3)
	mlasimd.GemvTBF16(y, w, []float32{10, 1})
	fmt.Println(y)
	// Output: [10 0.5 19]
}

func ExampleGemvTF16() {
	// W in IEEE half bits: 1, 0, 2 and 0, 0.5, -1.
	w := []uint16{ // 2 x 3, row-major: y = Wᵀ x has 3 entries
		0x3c00, 0x0000, 0x4000,
		0x0000, 0x3800, 0xbc00,
	}
	y := make([]float32, 3)
	mlasimd.GemvTF16(y, w, []float32{10, 1})
	fmt.Println(y)
	// Output: [10 0.5 19]
}

func ExampleGemvTE4M3() {
	// W in FP8 E4M3 bytes: 1, 0, 2 and 0.5, -1, 448.
	w := []byte{ // 2 x 3, row-major: y = Wᵀ x has 3 entries
		0x38, 0x00, 0x40,
		0x30, 0xb8, 0x7e,
	}
	y := make([]float32, 3)
	mlasimd.GemvTE4M3(y, w, []float32{10, 1})
	fmt.Println(y)
	// Output: [10.5 -1 468]
}

// Example_gemvTQ8_0 is GemvTQ8_0's example (named as Example_gemvQ8_0 is).
func Example_gemvTQ8_0() {
	// W is 2 x 32: row 0 all ones, row 1 the values 0, 1, ..., 31 scaled by 1/4;
	// y = Wᵀ x has 32 entries, x[0]·row 0 + x[1]·row 1.
	wide := make([]float32, 2*mlasimd.Q8_0Block)
	for j := range mlasimd.Q8_0Block {
		wide[j], wide[mlasimd.Q8_0Block+j] = 1, float32(j)/4
	}
	w := make([]byte, 2*mlasimd.Q8_0BlockBytes) // one block per row
	if err := mlasimd.QuantizeQ8_0(w, wide); err != nil {
		panic(err)
	}
	y := make([]float32, mlasimd.Q8_0Block)
	mlasimd.GemvTQ8_0(y, w, []float32{1, -2})
	// Row 0's weights are 127·d, d the half nearest 1/127: 0.99994, not 1. Row 1's
	// are within d/2 = 0.031 of j/4; unquantized, y would be 1 - j/2: [1 -1 -14.5].
	fmt.Printf("%.4f\n", []float32{y[0], y[4], y[31]})
	// Output: [0.9999 -0.9532 -14.5030]
}

func ExampleDownUp() {
	down := []float32{1, 1, 1, 1} // 1 x 4: the latent is the sum of x
	up := []float32{1, -1}        // 2 x 1
	latent, y := make([]float32, 1), make([]float32, 2)
	mlasimd.DownUp(y, latent, down, up, []float32{1, 2, 3, 4})
	fmt.Println(latent, y)
	// Output: [10] [10 -10]
}

func ExampleGemmNT() {
	queries := []float32{1, 0, 0, 1}     // 2 heads x 2
	cache := []float32{3, 4, 5, 6, 7, 8} // 3 rows x 2
	scores := make([]float32, 2*3)
	mlasimd.GemmNT(scores, queries, cache, 2, 3, 2, 2, 2)
	fmt.Println(scores)
	// Output: [3 5 7 4 6 8]
}

// Scoring one tile of a cache while the next tile's storage (here a different
// buffer, as the raw rows of a 16-bit cache are) streams in.
func ExampleGemmNTPrefetch() {
	queries := []float32{1, 0, 0, 1} // 2 heads x 2
	tile := []float32{3, 4, 5, 6}    // this tile: 2 rows x 2
	nextTile := make([]float32, 1024)
	scores := make([]float32, 2*2)
	mlasimd.GemmNTPrefetch(scores, queries, tile, nextTile, 2, 2, 2, 2, 2)
	fmt.Println(scores)
	// Output: [3 5 4 6]
}

func ExampleGemmNN() {
	weights := []float32{0.5, 0.5, 0} // 1 head over 3 cache rows
	cache := []float32{               // 3 rows of width 3; the first 2 columns are the values
		2, 4, 99,
		6, 8, 99,
		1, 1, 99,
	}
	out := make([]float32, 2)
	mlasimd.GemmNN(out, weights, cache, 1, 2, 3, 3, 3)
	fmt.Println(out)
	// Output: [4 6]
}

// One tile of an online-softmax attention added to the running output.
func ExampleGemmNNAdd() {
	out := []float32{10, 20}        // the running output of 1 head over 2 values
	weights := []float32{0.5, 0.25} // this tile's weights for its 2 rows
	tile := []float32{2, 4, 8, 16}  // 2 rows x 2 values
	mlasimd.GemmNNAdd(out, weights, tile, 1, 2, 2, 2, 2)
	fmt.Println(out)
	// Output: [13 26]
}

// Attention of one query over two tiles of keys, flash style: the softmax state (m,
// l) and the output run over the tiles; nothing is normalized until the end.
func ExampleOnlineSoftmax() {
	m, l, carry := []float32{float32(math.Inf(-1))}, []float32{0}, []float32{0}
	out := []float32{0}
	tiles := [][2][]float32{ // scores of one tile, and its values
		{{0, 0}, {2, 4}},
		{{math.Ln2, float32(math.Inf(-1))}, {9, 100}}, // the second key is masked
	}
	for _, tile := range tiles {
		scores := append([]float32(nil), tile[0]...)
		mlasimd.OnlineSoftmax(scores, 1, m, l, carry)
		out[0] *= carry[0]
		mlasimd.GemmNNAdd(out, scores, tile[1], 1, 1, 2, 2, 1)
	}
	// Weights e^0, e^0, e^ln2 = 1, 1, 2 over 4: (2 + 4 + 2·9) / 4.
	fmt.Printf("%.4f\n", out[0]/l[0])
	// Output: 6.0000
}

func ExampleExp() {
	x := []float32{0, 1, float32(math.Inf(-1)), -100}
	mlasimd.Exp(x, x)
	fmt.Printf("%.5f\n", x)
	// Output: [1.00000 2.71828 0.00000 0.00000]
}

func ExampleSoftmax() {
	scores := []float32{1, 2, 3, float32(math.Inf(-1))} // the last one is masked
	mlasimd.Softmax(scores, 1)
	fmt.Printf("%.4f\n", scores)
	// Output: [0.0900 0.2447 0.6652 0.0000]
}

// Two tiles of one row, softmaxed apart and merged with their statistics, give the
// softmax of the whole row: what an online (flash) attention does over a long context.
func ExampleSoftmaxStats() {
	a, b := []float32{1, 2}, []float32{3, 4} // the row [1 2 3 4] in two tiles
	ma, sa := mlasimd.SoftmaxStats(a, 1)
	mb, sb := mlasimd.SoftmaxStats(b, 1)
	m := max(ma, mb)
	wa, wb := sa*float32(math.Exp(float64(ma-m))), sb*float32(math.Exp(float64(mb-m)))
	for i := range a {
		a[i] *= wa / (wa + wb)
		b[i] *= wb / (wa + wb)
	}
	fmt.Printf("%.4f %.4f\n", a, b)
	// Output: [0.0321 0.0871] [0.2369 0.6439]
}

func ExampleRoPE() {
	x := []float32{1, 0, 0, 1} // two pairs
	cos := []float32{0, -1}    // rotate the first by 90°, the second by 180°
	sin := []float32{1, 0}
	mlasimd.RoPE(x, cos, sin)
	fmt.Println(x) // 0·(-1) - 1·0 is -0 in IEEE arithmetic
	// Output: [0 1 -0 -1]
}

func ExampleRoPEHalf() {
	x := []float32{1, 0, 0, 1} // pairs (x[0], x[2]) and (x[1], x[3])
	mlasimd.RoPEHalf(x, []float32{0, -1}, []float32{1, 0})
	fmt.Println(x)
	// Output: [0 -0 1 -1]
}

func ExampleRMSNorm() {
	x := []float32{3, 4}
	mlasimd.RMSNorm(x, x, []float32{1, 2}, 0) // rms = sqrt((9+16)/2)
	fmt.Printf("%.4f\n", x)
	// Output: [0.8485 2.2627]
}

func ExampleLayerNorm() {
	x := []float32{1, 2, 3}
	y := make([]float32, 3)
	mlasimd.LayerNorm(y, x, []float32{1, 1, 1}, []float32{0, 0, 10}, 0)
	fmt.Printf("%.4f\n", y)
	// Output: [-1.2247 0.0000 11.2247]
}

func ExampleF16ToF32() {
	halves := []uint16{0x3c00, 0xc000, 0x7bff, 0x0001} // 1, -2, 65504, 2^-24
	f := make([]float32, 4)
	mlasimd.F16ToF32(f, halves)
	fmt.Println(f)
	// Output: [1 -2 65504 5.9604645e-08]
}

func ExampleBF16ToF32() {
	f := make([]float32, 2)
	mlasimd.BF16ToF32(f, []uint16{0x3f80, 0x4049}) // 1, 3.140625
	fmt.Println(f)
	// Output: [1 3.140625]
}

func ExampleF32ToBF16DAZ() {
	h := make([]uint16, 3)
	mlasimd.F32ToBF16DAZ(h, []float32{1, 1 + 1.0/256, 1e-39}) // a tie rounds to even; a subnormal becomes 0
	fmt.Printf("%#04x\n", h)
	// Output: [0x3f80 0x3f80 0x0000]
}

func ExampleF32ToF16() {
	h := make([]uint16, 3)
	mlasimd.F32ToF16(h, []float32{1, 65520, 1 + 1.0/2048}) // a tie rounds to even
	fmt.Printf("%#04x\n", h)
	// Output: [0x3c00 0x7c00 0x3c00]
}

func ExampleF32ToBF16() {
	h := make([]uint16, 2)
	mlasimd.F32ToBF16(h, []float32{1, 3.14159})
	fmt.Printf("%#04x\n", h)
	// Output: [0x3f80 0x4049]
}

func ExampleActive() {
	// The Level depends on the CPU (and on MLASIMD_ISA), so this example has no
	// fixed output: on an AVX2 machine it prints "avx2 [avx2 generic]".
	fmt.Println(mlasimd.Active(), mlasimd.Available())
	if err := mlasimd.SelectionError(); err != nil {
		fmt.Println("MLASIMD_ISA was not usable:", err)
	}
}
