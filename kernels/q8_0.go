package kernels

import (
	"errors"
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd/internal/checked"
)

// Q8_0 is GGUF's block_q8_0 (ggml's GGML_TYPE_Q8_0), byte for byte, so that weights
// from a GGUF file need no conversion. Values come in blocks of Q8_0Block: one block
// is Q8_0BlockBytes bytes, the scale d as IEEE half bits (little-endian uint16)
// followed by Q8_0Block int8 quants q, and stands for the values d·q[j]. A row of n
// values (n a multiple of Q8_0Block) is n/Q8_0Block consecutive blocks, and a matrix
// is its rows one after another, with no padding: a block, and so every row after
// the first, may start at any byte offset.
const (
	Q8_0Block      = 32
	Q8_0BlockBytes = 2 + Q8_0Block
)

// ErrQ8_0Value is wrapped by the error of a quantizer given a value that Q8_0
// cannot hold: a NaN, an infinity, or a block whose scale overflows a half.
var ErrQ8_0Value = errors.New("value not representable in Q8_0")

// Q8_0Bytes returns the size in bytes of n values in Q8_0, and false unless n is
// a non-negative multiple of Q8_0Block whose size fits an int.
func Q8_0Bytes(n int) (int, bool) {
	if n < 0 || n%Q8_0Block != 0 {
		return 0, false
	}
	return checked.Mul(n/Q8_0Block, Q8_0BlockBytes)
}

// CheckQ8_0 panics unless q (bytes) holds exactly the n values of f in Q8_0.
func CheckQ8_0(kernel string, q, n int) {
	if n%Q8_0Block != 0 {
		shapePanic(kernel, "%d values, not a multiple of %d", n, Q8_0Block)
	}
	if b, ok := Q8_0Bytes(n); !ok || q != b {
		shapePanic(kernel, "%d bytes for %d values, want %d/%d*%d=%d", q, n, n, Q8_0Block, Q8_0BlockBytes, b)
	}
}

// CheckGemvQ8_0 panics unless len(x) = cols is a multiple of Q8_0Block and W (w
// bytes) holds rows rows of cols values in Q8_0.
func CheckGemvQ8_0(kernel string, w, rows, cols int) { checkQ8Matrix(kernel, "x", w, rows, cols) }

// CheckGemvTQ8_0 is CheckGemvQ8_0 for the transposed GEMV, whose W has len(x) = rows
// rows and len(y) = cols columns: cols must be a multiple of Q8_0Block.
func CheckGemvTQ8_0(kernel string, w, rows, cols int) { checkQ8Matrix(kernel, "y", w, rows, cols) }

// checkQ8Matrix panics unless cols, the length of the vector named vec, is a
// multiple of Q8_0Block and W (w bytes) holds rows rows of cols values in Q8_0.
func checkQ8Matrix(kernel, vec string, w, rows, cols int) {
	if cols%Q8_0Block != 0 {
		shapePanic(kernel, "len(%s)=%d, not a multiple of %d", vec, cols, Q8_0Block)
	}
	rowBytes, ok := Q8_0Bytes(cols)
	p, ok2 := checked.Mul(rows, rowBytes)
	if !ok || !ok2 || w != p {
		want := "overflow"
		if ok && ok2 {
			want = fmt.Sprint(p)
		}
		shapePanic(kernel, "len(w)=%d, want %d*%d/%d*%d=%s", w, rows, cols, Q8_0Block, Q8_0BlockBytes, want)
	}
}

// QuantizeQ8_0 writes src in Q8_0 to dst; len(src) must be a multiple of Q8_0Block
// and len(dst) its Q8_0Bytes (else it panics, as every shape mismatch does). Each
// block of 32 values x with amax = max|x| gets
//
//	d = the half nearest (ties to even) to the float32 quotient amax/127, and
//	q[j] = x[j]/d rounded to the nearest integer (ties away from zero), clamped to ±127,
//
// with every q[j] = 0 when d is 0 (amax/127 at most 2^-25, including an all-zero
// block). Rounding with the stored d itself, rather than amax/127 as ggml does,
// bounds the error of the values d·q[j] that every reader sees, per element:
//
//	|x[j] - d·q[j]| <= d/2               when d is a normal half (every amax >= 127·2^-14),
//	|x[j] - d·q[j]| <= max(d/2, 2^-18)   otherwise,
//
// so at most amax·(1+2^-10)/254 for normal d. A normal d is within 2^-11 (plus the
// quotient's 2^-24) of amax/127, so |x[j]/d| <= 127.07 and no value is clamped; only a
// subnormal d (spacing 2^-24) can fall far enough below amax/127 for the largest
// values to clamp at ±127, and they then lose amax - 127·d <= 127·2^-25·(1+2^-13) <
// 2^-18, as a block whose d is 0 loses its values, all below that in magnitude. (x/d
// is formed in float64, close enough to the exact quotient that rounding it gives
// the integer nearest to the exact one.)
//
// A NaN or infinite value, or a block with amax/127 >= 65520 (its d would be
// infinite: amax from about 8.32e6 up), returns an error wrapping ErrQ8_0Value;
// the blocks before the offending one are then written and the rest of dst is left
// as it was.
func QuantizeQ8_0(dst []byte, src []float32) error {
	CheckQ8_0("QuantizeQ8_0", len(dst), len(src))
	for b := 0; b < len(src)/Q8_0Block; b++ {
		blk := (*[Q8_0Block]float32)(src[b*Q8_0Block:])
		out := (*[Q8_0BlockBytes]byte)(dst[b*Q8_0BlockBytes:])
		if err := quantizeBlock(out, blk, b); err != nil {
			return err
		}
	}
	return nil
}

// QuantizeQ8_0BF16 is QuantizeQ8_0 for bfloat16 src, each value widened exactly to
// float32 first.
func QuantizeQ8_0BF16(dst []byte, src []uint16) error {
	CheckQ8_0("QuantizeQ8_0BF16", len(dst), len(src))
	var wide [Q8_0Block]float32
	for b := 0; b < len(src)/Q8_0Block; b++ {
		BF16ToF32(wide[:], src[b*Q8_0Block:(b+1)*Q8_0Block])
		if err := quantizeBlock((*[Q8_0BlockBytes]byte)(dst[b*Q8_0BlockBytes:]), &wide, b); err != nil {
			return err
		}
	}
	return nil
}

func quantizeBlock(out *[Q8_0BlockBytes]byte, x *[Q8_0Block]float32, b int) error {
	var amax float32
	for j, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("mlasimd: Q8_0: value %d is %v: %w", b*Q8_0Block+j, v, ErrQ8_0Value)
		}
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	h := f32ToF16(amax / 127)
	if h == 0x7c00 {
		return fmt.Errorf("mlasimd: Q8_0: block %d: max |x| = %v, too large for a half scale: %w", b, amax, ErrQ8_0Value)
	}
	out[0], out[1] = byte(h), byte(h>>8)
	d := float64(math.Float32frombits(f16ToF32Bits(h)))
	for j, v := range x {
		var q float64
		if d != 0 {
			q = max(-127, min(127, math.Round(float64(v)/d)))
		}
		out[2+j] = byte(int8(q))
	}
	return nil
}

// DequantizeQ8_0 writes the values of the Q8_0 src to dst: d·q[j] in float32, which
// is exact for a finite d (an 11-bit scale times a 7-bit integer); len(src) must be
// len(dst)'s Q8_0Bytes.
func DequantizeQ8_0(dst []float32, src []byte) {
	CheckQ8_0("DequantizeQ8_0", len(src), len(dst))
	for b := 0; b < len(dst)/Q8_0Block; b++ {
		blk := src[b*Q8_0BlockBytes : (b+1)*Q8_0BlockBytes]
		d := q8Scale(blk)
		for j, q := range blk[2:] {
			dst[b*Q8_0Block+j] = float32(d * float32(int8(q)))
		}
	}
}

// q8Scale returns a block's scale, widened exactly from its half bits.
func q8Scale(blk []byte) float32 {
	return math.Float32frombits(f16ToF32Bits(uint16(blk[0]) | uint16(blk[1])<<8))
}

// GemvQ8_0 computes y = W x for a W of len(y) rows and len(x) columns in Q8_0
// (len(x) a multiple of Q8_0Block). Each y[i] sums W's blocks in row order: per
// block b, s_b = Σ_j q[j]·x[32b+j] in float32 in column order, then y[i] += d_b·s_b
// (the product rounded, then the sum). The assembly Levels sum in other orders (see
// mlasimd.GemvQ8_0 for the bound that covers them all).
func GemvQ8_0(y []float32, w []byte, x []float32) {
	CheckGemvQ8_0("GemvQ8_0", len(w), len(y), len(x))
	n := len(x)
	rowBytes := n / Q8_0Block * Q8_0BlockBytes
	for i := range y {
		row := w[i*rowBytes : (i+1)*rowBytes]
		var sum float32
		for b := 0; b < n/Q8_0Block; b++ {
			blk := row[b*Q8_0BlockBytes : (b+1)*Q8_0BlockBytes]
			xb := x[b*Q8_0Block : (b+1)*Q8_0Block]
			var s float32
			for j, q := range blk[2:] {
				s += float32(float32(int8(q)) * xb[j])
			}
			sum += float32(q8Scale(blk) * s)
		}
		y[i] = sum
	}
}

// GemvTQ8_0 computes y = Wᵀ x for a W of len(x) rows and len(y) columns in Q8_0
// (len(y) a multiple of Q8_0Block, each row len(y)/32 blocks), as GemvT sums: y
// starts at zero and each row i, in row order, is AxpyQ8_0(x[i], W[i,:], y).
func GemvTQ8_0(y []float32, w []byte, x []float32) {
	CheckGemvTQ8_0("GemvTQ8_0", len(w), len(x), len(y))
	clear(y)
	rowBytes := len(y) / Q8_0Block * Q8_0BlockBytes
	for i, xi := range x {
		axpyQ8_0(xi, w[i*rowBytes:(i+1)*rowBytes], y)
	}
}

// AxpyQ8_0 computes y += alpha*w for w in Q8_0 holding len(y) values (len(y) a
// multiple of Q8_0Block): per block b, s = alpha·d_b rounded to float32 once, then
// y[32b+j] += s·q[j] (the product rounded, then the sum). It is one row of GemvTQ8_0.
func AxpyQ8_0(alpha float32, w []byte, y []float32) {
	CheckQ8_0("AxpyQ8_0", len(w), len(y))
	axpyQ8_0(alpha, w, y)
}

func axpyQ8_0(alpha float32, w []byte, y []float32) {
	for b := 0; b < len(y)/Q8_0Block; b++ {
		blk := w[b*Q8_0BlockBytes : (b+1)*Q8_0BlockBytes]
		yb := y[b*Q8_0Block : (b+1)*Q8_0Block]
		s := float32(alpha * q8Scale(blk))
		for j, q := range blk[2:] {
			yb[j] += float32(s * float32(int8(q)))
		}
	}
}
