package kernels

import "math"

// GemvBF16 computes y = W x for a row-major W of len(y) rows and len(x) columns
// stored as bfloat16 bits. Each weight widens exactly to float32, and each y[i] is
// summed in column order as Dot sums the widened row with x.
func GemvBF16(y []float32, w []uint16, x []float32) {
	CheckGemv("GemvBF16", len(w), len(y), len(x))
	gemvHalf(y, w, x, func(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) })
}

// GemvF16 is GemvBF16 for a W stored as IEEE half-precision bits (widened as
// F16ToF32 does).
func GemvF16(y []float32, w []uint16, x []float32) {
	CheckGemv("GemvF16", len(w), len(y), len(x))
	gemvHalf(y, w, x, func(h uint16) float32 { return math.Float32frombits(f16ToF32Bits(h)) })
}

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
