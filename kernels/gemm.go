package kernels

// GemmNT computes c = A Bᵀ: c[i*n+j] = sum over p<k of a[i*lda+p]*b[j*ldb+p].
// A is m x k with row stride lda, B is n x k with row stride ldb, c is m x n dense.
// Each element is summed in p order. In MLA decode A holds the heads' absorbed
// queries and B the latent cache rows, so each cache row is read once for all heads.
func GemmNT(c, a, b []float32, m, n, k, lda, ldb int) {
	CheckGemm("GemmNT", len(c), len(a), len(b), m, n, k, lda, ldb, n, k)
	if k == 0 {
		clear(c)
		return
	}
	for i := range m {
		ai := a[i*lda : i*lda+k]
		for j := range n {
			c[i*n+j] = Dot(ai, b[j*ldb:j*ldb+k])
		}
	}
}

// GemmNN computes c = A B: c[i*n+j] = sum over p<k of a[i*lda+p]*b[p*ldb+j].
// A is m x k with row stride lda, B is k x n with row stride ldb, c is m x n dense.
// Each element is summed in p order. In MLA decode A holds the heads' attention
// weights and B the latent part of the cache rows.
func GemmNN(c, a, b []float32, m, n, k, lda, ldb int) {
	CheckGemm("GemmNN", len(c), len(a), len(b), m, n, k, lda, ldb, k, n)
	clear(c)
	GemmNNAdd(c, a, b, m, n, k, lda, ldb)
}

// GemmNNAdd is GemmNN that adds to c: c[i*n+j] += sum over p<k of a[i*lda+p]*b[p*ldb+j],
// each element summed onto c's value in p order.
func GemmNNAdd(c, a, b []float32, m, n, k, lda, ldb int) {
	CheckGemm("GemmNNAdd", len(c), len(a), len(b), m, n, k, lda, ldb, k, n)
	if n == 0 || k == 0 {
		return
	}
	for i := range m {
		ci := c[i*n : i*n+n]
		for p := range k {
			Axpy(a[i*lda+p], b[p*ldb:p*ldb+n], ci)
		}
	}
}
