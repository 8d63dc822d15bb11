package kernels

// Dot returns sum(a[i]*b[i]), accumulated in float32 in index order.
func Dot(a, b []float32) float32 {
	CheckSameLen("Dot", len(a), len(b))
	b = b[:len(a)]
	var s float32
	for i, v := range a {
		s += float32(v * b[i])
	}
	return s
}

// Axpy computes y[i] += alpha*x[i]; the product is rounded before the add.
func Axpy(alpha float32, x, y []float32) {
	CheckSameLen("Axpy", len(x), len(y))
	y = y[:len(x)]
	for i, v := range x {
		y[i] += float32(alpha * v)
	}
}
