package kernels

import "math"

// FP8 E4M3 ("e4m3fn", DeepSeek-V3's weight format): a sign bit, 4 exponent bits with
// bias 7 and 3 mantissa bits. Exponent 0 is subnormal (m/8·2^-6), S.1111.111 is NaN,
// there are no infinities, and the largest finite value is 448. The table is the
// definition of safetensors.E4M3ToF32, written out again here (kernels imports
// nothing of mlasimd's); a test checks that the two agree on all 256 bytes.
var e4m3Table = func() (t [256]float32) {
	for b := range 256 {
		sign := float32(1)
		if b&0x80 != 0 {
			sign = -1
		}
		e, m := (b>>3)&0xf, b&7
		switch {
		case e == 0xf && m == 7:
			t[b] = float32(math.NaN())
		case e == 0:
			t[b] = sign * float32(m) / 8 * 0x1p-6
		default:
			t[b] = sign * (1 + float32(m)/8) * float32(math.Ldexp(1, e-7))
		}
	}
	return t
}()

// E4M3Value returns the float32 value of an FP8 E4M3 byte, exactly (NaN for
// S.1111.111).
func E4M3Value(b byte) float32 { return e4m3Table[b] }

// E4M3ToF32 widens FP8 E4M3 bytes to float32, exactly.
func E4M3ToF32(dst []float32, src []byte) {
	CheckSameLen("E4M3ToF32", len(dst), len(src))
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = e4m3Table[b]
	}
}

// GemvE4M3 computes y = W x for a row-major W of len(y) rows and len(x) columns
// stored as FP8 E4M3 bytes. Each weight widens exactly to float32 (E4M3Value), and
// each y[i] is summed in column order as GemvBF16 sums: the product rounded, then
// the sum.
func GemvE4M3(y []float32, w []byte, x []float32) {
	CheckGemv("GemvE4M3", len(w), len(y), len(x))
	n := len(x)
	for i := range y {
		row := w[i*n : (i+1)*n]
		var s float32
		for j, b := range row {
			s += float32(e4m3Table[b] * x[j])
		}
		y[i] = s
	}
}

// GemvTE4M3 computes y = Wᵀ x for a row-major W of len(x) rows and len(y) columns
// stored as FP8 E4M3 bytes, as GemvTBF16 sums: y starts at zero and each row i, in
// row order, is AxpyE4M3(x[i], W[i,:], y).
func GemvTE4M3(y []float32, w []byte, x []float32) {
	CheckGemv("GemvTE4M3", len(w), len(x), len(y))
	clear(y)
	n := len(y)
	for i, xi := range x {
		axpyE4M3(xi, w[i*n:(i+1)*n], y)
	}
}

// AxpyE4M3 computes y[j] += alpha*w[j] for w in FP8 E4M3 bytes, each widened
// exactly; the product is rounded before the add. It is one row of GemvTE4M3.
func AxpyE4M3(alpha float32, w []byte, y []float32) {
	CheckSameLen("AxpyE4M3", len(w), len(y))
	axpyE4M3(alpha, w, y)
}

func axpyE4M3(alpha float32, w []byte, y []float32) {
	y = y[:len(w)]
	for j, b := range w {
		y[j] += float32(alpha * e4m3Table[b])
	}
}
