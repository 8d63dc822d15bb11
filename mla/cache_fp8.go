package mla

import (
	"math"

	"github.com/mlasimd/mlasimd/kernels"
)

// An FP8 cache row is width E4M3 bytes and one float32 scale d, the row's largest
// |value| over 448 (E4M3's largest), standing for d·e4m3(byte): each value rounded to
// 3 significant bits (|x - d·e| <= 2^-4·|x| where normal, <= 2^-10·d among E4M3's
// subnormals, below 2^-6·d). SGLang's and FlashMLA's FP8 MLA caches use this layout.

// putFP8Rows writes whole rows of x (width values each) as E4M3 bytes and scales.
func putFP8Rows(dst []byte, scales []float32, x []float32, width int) {
	for r := range len(x) / width {
		row := x[r*width : (r+1)*width]
		var amax float32
		for _, v := range row {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 448
		scales[r] = d
		out := dst[r*width : (r+1)*width]
		if d == 0 || math.IsInf(float64(448/d), 0) {
			clear(out) // an all-zero row, or one too small for its scale's reciprocal
			scales[r] = 0
			continue
		}
		inv := 1 / float64(d)
		for i, v := range row {
			out[i] = nearestE4M3(float32(float64(v) * inv))
		}
	}
}

// getFP8Rows widens whole rows of E4M3 bytes times their scales into dst.
func getFP8Rows(dst []float32, src []byte, scales []float32, width int) {
	for r, d := range scales {
		for i, b := range src[r*width : (r+1)*width] {
			dst[r*width+i] = kernels.E4M3Value(b) * d
		}
	}
}
