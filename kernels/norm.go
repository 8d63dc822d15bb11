package kernels

import "math"

// RMSNorm computes dst[i] = x[i] * r * weight[i] with r = 1/sqrt(sum(x²)/n + eps).
// The sum of squares runs in index order in float32; r is computed in float64 from it
// and rounded. RMSNorm of a zero vector is zero for eps > 0. dst may alias x.
func RMSNorm(dst, x, weight []float32, eps float32) {
	CheckNorm("RMSNorm", len(dst), len(x), len(weight), 0, false)
	if len(x) == 0 {
		return
	}
	var ss float32
	for _, v := range x {
		ss += float32(v * v)
	}
	r := RMSScale(ss, len(x), eps)
	ScaleMul(dst, x, weight, r)
}

// RMSScale returns 1/sqrt(sumSquares/n + eps), the factor shared by every Level.
func RMSScale(sumSquares float32, n int, eps float32) float32 {
	return float32(1 / math.Sqrt(float64(sumSquares)/float64(n)+float64(eps)))
}

// ScaleMul computes dst[i] = float32(x[i]*r) * weight[i], the second pass of RMSNorm.
func ScaleMul(dst, x, weight []float32, r float32) {
	CheckNorm("ScaleMul", len(dst), len(x), len(weight), 0, false)
	weight = weight[:len(x)]
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = float32(float32(v*r) * weight[i])
	}
}

// LayerNorm computes dst[i] = (x[i]-mean) * r * weight[i] + bias[i] with
// r = 1/sqrt(var + eps). mean = sum(x)/n and var = sum((x-mean)²)/n are each summed in
// index order in float32 (two passes, so a large mean does not cancel the variance).
// bias may be nil (no bias). dst may alias x.
func LayerNorm(dst, x, weight, bias []float32, eps float32) {
	CheckNorm("LayerNorm", len(dst), len(x), len(weight), len(bias), bias != nil)
	if len(x) == 0 {
		return
	}
	var sum float32
	for _, v := range x {
		sum += v
	}
	mean := sum / float32(len(x))
	var ss float32
	for _, v := range x {
		d := v - mean
		ss += float32(d * d)
	}
	r := RMSScale(ss, len(x), eps)
	Affine(dst, x, weight, bias, mean, r)
}

// Affine computes dst[i] = float32(float32(x[i]-mean)*r)*weight[i] + bias[i], the
// second pass of LayerNorm; bias may be nil.
func Affine(dst, x, weight, bias []float32, mean, r float32) {
	CheckNorm("Affine", len(dst), len(x), len(weight), len(bias), bias != nil)
	weight = weight[:len(x)]
	dst = dst[:len(x)]
	for i, v := range x {
		y := float32(float32(float32(v-mean)*r) * weight[i])
		if bias != nil {
			y += bias[i]
		}
		dst[i] = y
	}
}
