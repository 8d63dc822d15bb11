package kernels

// GemmNTBF16E4M3 is GemmNTBF16 for a B of FP8 E4M3 bytes (n x k, row stride ldb):
// c[i*n+j] = Σ_p a[i][p]·e4m3(b[j][p]). Every E4M3 value is exactly a bfloat16, and
// a product of a bfloat16 and an E4M3 value is exact in float32 (8+4 significant
// bits), so the bound is GemmNTBF16's (subnormal bfloat16 factors of A may count as
// zero; E4M3's subnormals are normal bfloat16s and count). A NaN byte (0x7f, 0xff)
// is a NaN. This reference sums in index order.
func GemmNTBF16E4M3(c []float32, a []uint16, b []byte, m, n, k, lda, ldb int) {
	CheckGemm("GemmNTBF16E4M3", len(c), len(a), len(b), m, n, k, lda, ldb, n, k)
	for i := range m {
		ai := a[i*lda : i*lda+k]
		for j := range n {
			bj := b[j*ldb : j*ldb+k]
			var s float32
			for p, v := range ai {
				s += bf16(v) * E4M3Value(bj[p]) // exact product
			}
			c[i*n+j] = s
		}
	}
}

// GemmNNAddBF16E4M3 is GemmNNAddBF16 for a B of FP8 E4M3 bytes (k x n, row stride
// ldb): c[i*n+q] += Σ_p a[i][p]·e4m3(b[p][q]), with GemmNTBF16E4M3's bound. This
// reference adds the terms to c in p order.
func GemmNNAddBF16E4M3(c []float32, a []uint16, b []byte, m, n, k, lda, ldb int) {
	CheckGemm("GemmNNAddBF16E4M3", len(c), len(a), len(b), m, n, k, lda, ldb, k, n)
	for i := range m {
		ci := c[i*n : i*n+n]
		for p := range k {
			av := bf16(a[i*lda+p])
			bp := b[p*ldb : p*ldb+n]
			for q := range ci {
				ci[q] += av * E4M3Value(bp[q]) // exact product
			}
		}
	}
}
