package kernels

import "math"

// GemvBF16 computes y = W x for a row-major W of len(y) rows and len(x) columns
// stored as bfloat16 bits. Each weight widens exactly to float32, and each y[i] is
// summed in column order as Dot sums the widened row with x.
func GemvBF16(y []float32, w []uint16, x []float32) {
	CheckGemv("GemvBF16", len(w), len(y), len(x))
	gemvHalf(y, w, x, bf16Value)
}

// GemvF16 is GemvBF16 for a W stored as IEEE half-precision bits (widened as
// F16ToF32 does).
func GemvF16(y []float32, w []uint16, x []float32) {
	CheckGemv("GemvF16", len(w), len(y), len(x))
	gemvHalf(y, w, x, f16Value)
}

func bf16Value(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
func f16Value(h uint16) float32  { return math.Float32frombits(f16ToF32Bits(h)) }

func gemvHalf(y []float32, w []uint16, x []float32, widen func(uint16) float32) {
	n := len(x)
	for i := range y {
		row := w[i*n : (i+1)*n]
		var s float32
		for j, h := range row {
			s += float32(widen(h) * x[j])
		}
		y[i] = s
	}
}

// GemvTBF16 computes y = Wᵀ x for a row-major W of len(x) rows and len(y) columns
// stored as bfloat16 bits, as GemvT sums: y starts at zero and each row i of W, in
// row order, adds x[i]·W[i,j] to y[j] (the product of x[i] and the exactly widened
// weight rounded, then the sum), which is AxpyBF16(x[i], W[i,:], y).
func GemvTBF16(y []float32, w []uint16, x []float32) {
	CheckGemv("GemvTBF16", len(w), len(x), len(y))
	gemvTHalf(y, w, x, bf16Value)
}

// GemvTF16 is GemvTBF16 for a W stored as IEEE half-precision bits (widened as
// F16ToF32 does); each row is AxpyF16(x[i], W[i,:], y).
func GemvTF16(y []float32, w []uint16, x []float32) {
	CheckGemv("GemvTF16", len(w), len(x), len(y))
	gemvTHalf(y, w, x, f16Value)
}

// AxpyBF16 computes y[j] += alpha*w[j] for w in bfloat16 bits, each widened exactly;
// the product is rounded before the add. It is one row of GemvTBF16.
func AxpyBF16(alpha float32, w []uint16, y []float32) {
	CheckSameLen("AxpyBF16", len(w), len(y))
	axpyHalf(alpha, w, y, bf16Value)
}

// AxpyF16 is AxpyBF16 for w in IEEE half-precision bits, one row of GemvTF16.
func AxpyF16(alpha float32, w []uint16, y []float32) {
	CheckSameLen("AxpyF16", len(w), len(y))
	axpyHalf(alpha, w, y, f16Value)
}

func gemvTHalf(y []float32, w []uint16, x []float32, widen func(uint16) float32) {
	clear(y)
	n := len(y)
	for i, xi := range x {
		axpyHalf(xi, w[i*n:(i+1)*n], y, widen)
	}
}

func axpyHalf(alpha float32, w []uint16, y []float32, widen func(uint16) float32) {
	y = y[:len(w)]
	for j, h := range w {
		y[j] += float32(alpha * widen(h))
	}
}
