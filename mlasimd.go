// Package mlasimd is a library of float32 SIMD kernels for inference in Go: GEMV and
// its transpose, a fused low-rank (down-up) projection, small GEMMs for attention,
// softmax, exp, RoPE, RMSNorm/LayerNorm and half-precision conversion.
//
// Each kernel has a portable Go version (package kernels, the reference) and assembly
// versions for AVX2+FMA and AVX-512 on amd64 and for NEON on arm64. The best Level the
// CPU runs is chosen once at start-up (package dispatch); MLASIMD_ISA caps it and the
// purego build tag removes all assembly. Impl and Use give tests and benchmarks every
// available Level in one process.
//
// All matrices are row-major float32. Destination arguments come first, as in gonum's
// BLAS. A length mismatch panics, naming the kernel and the sizes, before any memory
// is touched; no kernel reads or writes outside the slices it is given, and no kernel
// allocates. Results may differ from package kernels in the last bits (another
// summation order, fused multiply-adds); the tests bound that difference.
//
// Package mla builds DeepSeek-style Multi-Head Latent Attention decoding on these
// kernels.
package mlasimd

func table() *Kernels { return active.Load() }

// Dot returns the dot product of a and b.
func Dot(a, b []float32) float32 { return table().Dot(a, b) }

// Axpy computes y += alpha*x.
func Axpy(alpha float32, x, y []float32) { table().Axpy(alpha, x, y) }

// Gemv computes y = W x, where W is row-major with len(y) rows and len(x) columns.
// From 1 MiB, W is taken to stream from DRAM: the assembly Levels then run their
// streaming routines, which prefetch its rows ahead of the arithmetic (and may
// prefetch up to four rows past len(w) that lie within cap(w); a prefetch is a hint,
// never a read the program can observe).
func Gemv(y, w, x []float32) { table().Gemv(y, w, x) }

// GemvBF16 computes y = W x like Gemv for a W stored as bfloat16 bits (2 bytes a
// weight, half of Gemv's memory traffic). Each weight widens exactly to float32, so
// y[i] has the error of a float32 dot product of the widened row with x.
func GemvBF16(y []float32, w []uint16, x []float32) { table().GemvBF16(y, w, x) }

// GemvF16 is GemvBF16 for a W stored as IEEE half-precision bits (subnormal halves,
// Inf and NaN widen exactly, as F16ToF32 does).
func GemvF16(y []float32, w []uint16, x []float32) { table().GemvF16(y, w, x) }

// GemvT computes y = Wᵀ x, where W is row-major with len(x) rows and len(y) columns.
// The assembly Levels read a W larger than 256 KiB row by row, as the reference sums,
// and from 1 MiB stream it, prefetching ahead as Gemv does.
func GemvT(y, w, x []float32) { table().GemvT(y, w, x) }

// DownUp computes the low-rank projection latent = Down x, y = Up latent in one call.
// Down is len(latent) x len(x) and Up is len(y) x len(latent). The latent is left in
// its slice for the caller to cache. From 1 MiB (both matrices together) the assembly
// Levels stream them, prefetching rows ahead as Gemv does.
func DownUp(y, latent, down, up, x []float32) { table().DownUp(y, latent, down, up, x) }

// GemmNT computes c = A Bᵀ (c is m x n): c[i*n+j] = Σ_p a[i*lda+p]·b[j*ldb+p], with A
// m x k and B n x k, rows lda and ldb apart. In MLA decode it scores every head's
// query against each cache row, reading the row once. The assembly Levels prefetch
// the rows of B a block ahead, and past the last row whatever of b lies within
// cap(b): give b the capacity of the rows you will pass next to have them streamed
// in while these are computed.
func GemmNT(c, a, b []float32, m, n, k, lda, ldb int) { table().GemmNT(c, a, b, m, n, k, lda, ldb) }

// GemmNTPrefetch is GemmNT that, instead of the memory beyond len(b), streams next
// into the cache while it computes its last rows: the memory the caller reads next
// when that is not b's continuation (MLA decode prefetches the next tile of its cache,
// whose 16-bit rows it scores from a widened copy). next is only
// prefetched, never read; any slice will do, and an empty one means GemmNT's own.
func GemmNTPrefetch(c, a, b, next []float32, m, n, k, lda, ldb int) {
	table().GemmNTPrefetch(c, a, b, next, m, n, k, lda, ldb)
}

// GemmNN computes c = A B (c is m x n): c[i*n+j] = Σ_p a[i*lda+p]·b[p*ldb+j], with A
// m x k and B k x n, rows lda and ldb apart.
func GemmNN(c, a, b []float32, m, n, k, lda, ldb int) { table().GemmNN(c, a, b, m, n, k, lda, ldb) }

// GemmNNAdd is GemmNN that adds A B to c instead of overwriting it: c[i*n+j] +=
// Σ_p a[i*lda+p]·b[p*ldb+j]. An online-softmax attention accumulates each tile of
// weighted values into its running output with it, without a temporary.
func GemmNNAdd(c, a, b []float32, m, n, k, lda, ldb int) {
	table().GemmNNAdd(c, a, b, m, n, k, lda, ldb)
}

// Exp computes dst = e^x elementwise: below kernels.ExpCutoff it gives exactly 0 (no
// subnormal results), large inputs overflow to +Inf, NaN stays NaN.
func Exp(dst, x []float32) { table().Exp(dst, x) }

// Softmax replaces x by softmax(scale*x), max-subtracted, in float32. -Inf entries
// give 0; a row of only -Inf becomes all zeros; a NaN or +Inf makes the row NaN.
func Softmax(x []float32, scale float32) { table().Softmax(x, scale) }

// SoftmaxStats is Softmax that also returns the largest float32(scale*x[i]) and the
// sum of the exponentials that normalized the row, so that tiles of one long row,
// softmaxed apart, can be merged (online softmax, as flash attention does): see
// kernels.SoftmaxStats. An empty or all -Inf row returns (-Inf, 0); a row made NaN
// returns sum NaN.
func SoftmaxStats(x []float32, scale float32) (max, sum float32) {
	return table().SoftmaxStats(x, scale)
}

// OnlineSoftmax folds one tile of scores into running softmax states, as flash
// attention does per tile of keys: s holds len(m) rows (one per query) of
// len(s)/len(m) raw scores. Row i becomes e^(float32(scale·s) - m'), where m' is the
// larger of m[i] and the row's largest scaled score; carry[i] = e^(m[i] - m') (1 when
// the max did not rise) and l[i] = l[i]·carry[i] + the row's sum; m[i] = m'. Scale
// the running output by carry, add s·V (GemmNNAdd), and divide by l at the end.
// Start states at m = -Inf, l = 0. See kernels.OnlineSoftmax for the special rows.
func OnlineSoftmax(s []float32, scale float32, m, l, carry []float32) {
	table().OnlineSoftmax(s, scale, m, l, carry)
}

// RoPE rotates the interleaved pairs (x[2i], x[2i+1]) by the angle with cosine cos[i]
// and sine sin[i], in place. len(x) must be 2*len(cos).
func RoPE(x, cos, sin []float32) { table().RoPE(x, cos, sin) }

// RoPEHalf rotates the half-split pairs (x[i], x[i+len(x)/2]) by the angle with
// cosine cos[i] and sine sin[i], in place (NeoX layout).
func RoPEHalf(x, cos, sin []float32) { table().RoPEHalf(x, cos, sin) }

// RMSNorm computes dst = x / sqrt(mean(x²) + eps) * weight. dst may alias x.
func RMSNorm(dst, x, weight []float32, eps float32) { table().RMSNorm(dst, x, weight, eps) }

// LayerNorm computes dst = (x - mean) / sqrt(var + eps) * weight + bias; bias may be
// nil. dst may alias x.
func LayerNorm(dst, x, weight, bias []float32, eps float32) {
	table().LayerNorm(dst, x, weight, bias, eps)
}

// F16ToF32 widens IEEE half-precision values (raw bits) to float32, exactly.
func F16ToF32(dst []float32, src []uint16) { table().F16ToF32(dst, src) }

// BF16ToF32 widens bfloat16 values (raw bits) to float32, exactly.
func BF16ToF32(dst []float32, src []uint16) { table().BF16ToF32(dst, src) }

// F32ToF16 narrows float32 to IEEE half precision, rounding to nearest even.
func F32ToF16(dst []uint16, src []float32) { table().F32ToF16(dst, src) }

// F32ToBF16 narrows float32 to bfloat16, rounding to nearest even.
func F32ToBF16(dst []uint16, src []float32) { table().F32ToBF16(dst, src) }
