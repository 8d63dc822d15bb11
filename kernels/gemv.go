package kernels

// Gemv computes y = W x for a row-major W of len(y) rows and len(x) columns.
// Each y[i] is Dot(W[i,:], x): summed in column order.
func Gemv(y, w, x []float32) {
	CheckGemv("Gemv", len(w), len(y), len(x))
	n := len(x)
	for i := range y {
		y[i] = Dot(w[i*n:(i+1)*n], x)
	}
}

// GemvT computes y = Wᵀ x for a row-major W of len(x) rows and len(y) columns.
// Each y[j] is summed over the rows of W in row order.
func GemvT(y, w, x []float32) {
	CheckGemv("GemvT", len(w), len(x), len(y))
	clear(y)
	n := len(y)
	for i, xi := range x {
		Axpy(xi, w[i*n:(i+1)*n], y)
	}
}

// DownUp is the fused low-rank projection: latent = Down x, then y = Up latent.
// Down is len(latent) x len(x) and Up is len(y) x len(latent), both row-major.
// The latent is returned in its slice so that a caller can cache it.
func DownUp(y, latent, down, up, x []float32) {
	CheckDownUp(len(y), len(latent), len(down), len(up), len(x))
	Gemv(latent, down, x)
	Gemv(y, up, latent)
}
