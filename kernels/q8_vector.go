package kernels

import (
	"bytes"
	"fmt"
	"math"
)

// A Q8 vector is a float32 vector quantized for GemvQ8_0Q8, the GEMV that multiplies
// Q8_0 weights by int8 activations: n values (n a multiple of Q8_0Block) become n
// int8 quants q, stored as bytes, each in [-127, 127], and one float32 scale d_b per
// block b of Q8_0Block values, standing for d_b·q[j]. The scale stays float32 (the
// weights' is a half) because a vector is quantized once per product and never
// stored.

// CheckQ8Vector panics unless q and d (lengths) hold a Q8 vector of q values.
func CheckQ8Vector(kernel string, q, d int) {
	if q%Q8_0Block != 0 || d != q/Q8_0Block {
		shapePanic(kernel, "a Q8 vector of %d quants and %d scales, want a multiple of %d quants and one scale per %d", q, d, Q8_0Block, Q8_0Block)
	}
}

// CheckQ8Quants panics if a quant of a Q8 vector is -128, which the quantizer never
// writes and whose products the AVX2 body's 16-bit pair sums could saturate.
func CheckQ8Quants(kernel string, xq []byte) {
	if i := bytes.IndexByte(xq, 0x80); i >= 0 {
		shapePanic(kernel, "xq[%d] = -128, outside a Q8 vector's [-127, 127]", i)
	}
}

// QuantizeQ8Vector writes x as a Q8 vector: its quants to q and its scales to d
// (len(q) = len(x), a multiple of Q8_0Block, and len(d) = len(x)/Q8_0Block; else it
// panics). Each block of 32 values with amax = max|x| gets
//
//	d_b = amax/127 rounded to float32, and
//	q[j] = x[j]/d_b rounded to the nearest integer (ties away from zero), clamped to ±127,
//
// with every q[j] = 0 when d_b is 0. The quotient is formed in float64, so that
// rounding it gives the integer nearest to the exact one, and then
//
//	|x[j] - d_b·q[j]| <= d_b/2 <= amax·(1+2^-23)/254   when d_b is normal (amax >= 127·2^-126),
//	|x[j] - d_b·q[j]| <= max(d_b/2, 2^-142)           otherwise,
//
// since a normal d_b is within 2^-24 of amax/127, so |x[j]/d_b| < 127.5 and nothing
// is clamped, while a subnormal d_b (spacing 2^-149) may fall short of amax/127 by
// 2^-150 and lose at most 127·2^-150 to clamping. A NaN or an infinity in x returns an error wrapping ErrQ8_0Value; the
// blocks before it are then written and the rest of q and d are left as they were.
func QuantizeQ8Vector(q []byte, d []float32, x []float32) error {
	if len(q) != len(x) {
		shapePanic("QuantizeQ8Vector", "len(q)=%d, len(x)=%d", len(q), len(x))
	}
	CheckQ8Vector("QuantizeQ8Vector", len(q), len(d))
	for b := range d {
		blk := x[b*Q8_0Block : (b+1)*Q8_0Block]
		var amax float32
		for j, v := range blk {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("mlasimd: Q8 vector: value %d is %v: %w", b*Q8_0Block+j, v, ErrQ8_0Value)
			}
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		s := amax / 127
		d[b] = s
		for j, v := range blk {
			var r float64
			if s != 0 {
				r = max(-127, min(127, math.Round(float64(v)/float64(s))))
			}
			q[b*Q8_0Block+j] = byte(int8(r))
		}
	}
	return nil
}

// CheckGemvQ8_0Q8 panics unless the Q8 vector (xq, xd) has cols = len(xq) values and
// W (w bytes) holds rows rows of cols values in Q8_0.
func CheckGemvQ8_0Q8(kernel string, w, rows, xq, xd int) {
	CheckQ8Vector(kernel, xq, xd)
	checkQ8Matrix(kernel, "xq", w, rows, xq)
}

// GemvQ8_0Q8 computes y = W x for a W of len(y) rows in Q8_0 and x the Q8 vector
// (xq, xd) of len(xq) values, every quant of xq in [-127, 127] (the assembly Levels
// assume it). Each y[i] sums W's blocks in row order: per block b, the integer
// I_b = Σ_j q_w[j]·q_x[j], exact (|I_b| <= 32·128·127 < 2^24, so it is exact in
// float32 too), then y[i] += (d_w,b·d_x,b)·I_b, the scale product rounded to float32,
// then the product with I_b, then the sum. The assembly Levels add the products of
// partial integer sums in other orders (see mlasimd.GemvQ8_0Q8 for the bound).
func GemvQ8_0Q8(y []float32, w []byte, xq []byte, xd []float32) {
	CheckGemvQ8_0Q8("GemvQ8_0Q8", len(w), len(y), len(xq), len(xd))
	CheckQ8Quants("GemvQ8_0Q8", xq)
	rowBytes := len(xd) * Q8_0BlockBytes
	for i := range y {
		row := w[i*rowBytes : (i+1)*rowBytes]
		var sum float32
		for b, dx := range xd {
			blk := row[b*Q8_0BlockBytes : (b+1)*Q8_0BlockBytes]
			var isum int32
			for j, q := range blk[2:] {
				isum += int32(int8(q)) * int32(int8(xq[b*Q8_0Block+j]))
			}
			s := float32(q8Scale(blk) * dx)
			sum += float32(s * float32(isum))
		}
		y[i] = sum
	}
}
