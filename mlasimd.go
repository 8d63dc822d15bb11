// Package mlasimd is a library of float32 SIMD kernels for inference in Go: GEMV and
// its transpose, a fused low-rank (down-up) projection, small GEMMs for attention,
// softmax, exp, RoPE, RMSNorm/LayerNorm and half-precision conversion.
//
// Each kernel has a portable Go version (package kernels, the reference). On amd64
// (AVX2+FMA, AVX-512) and arm64 (NEON) most kernels are one assembly routine per call;
// GemmNN, the softmaxes, RMSNorm and LayerNorm are Go over assembly passes, and
// F32ToF16, F32ToBF16 and the Q8_0 quantizers are Go at every Level. The best Level the
// CPU runs is chosen once at start-up (package dispatch); MLASIMD_ISA caps it and the
// purego build tag removes all assembly. Impl and Use give tests and benchmarks every
// available Level in one process.
//
// All matrices are row-major float32. Destination arguments come first (Gemv(y, w,
// x)), unlike gonum's BLAS, where y comes last; Axpy(alpha, x, y) keeps BLAS's order.
// A length mismatch panics, naming the kernel and the sizes, before any memory
// is touched; no kernel reads or writes outside the slices it is given, and no kernel
// allocates. Results may differ from package kernels in the last bits (another
// summation order, fused multiply-adds); the tests bound that difference.
//
// Package mla builds DeepSeek-style Multi-Head Latent Attention decoding on these
// kernels.
package mlasimd

import "github.com/mlasimd/mlasimd/kernels"

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

// GemvQ8_0 computes y = W x for a W of len(y) rows and len(x) columns in Q8_0,
// GGUF's block_q8_0 (see QuantizeQ8_0): len(x) is a multiple of Q8_0Block, and each
// row of W is len(x)/32 blocks of 34 bytes, a half scale d_b (little-endian) then 32
// int8 quants q_b, standing for the weights d_b·q_b[j]; blocks and rows are packed
// with no padding, at any byte offset. The weights widen exactly in registers (a
// quarter of Gemv's bytes of W, plus the scales). Every Level computes
//
//	y[i] = Σ_b d_b·s_b,   s_b = Σ_j q_b[j]·x[32b+j],
//
// each s_b and the outer sum in an order of its own (the reference sums both in
// index order), with one FMA or rounded product per d_b·s_b or per lane of it, so
// that, with n = len(x) and y[i] the exact value,
//
//	|ŷ[i] - y[i]| <= γ(n/32 + 33)·Σ_b |d_b|·Σ_j |q_b[j]·x[32b+j]| + (n + n/32)·2^-149,
//
// γ(k) = k·2^-24/(1 - k·2^-24): no product passes through more than 33 roundings
// in its block (its own, the block sum's, the scaling's; the reference's
// column-order sum is the deepest) and n/32 in the outer sum and the final
// reduction; the last term covers products that underflow. The block sums are
// formed unscaled, so a block whose Σ_j|q_b[j]·x[32b+j]| overflows float32 may give
// an infinity or NaN even where d_b·s_b would not. A NaN or infinite x propagates
// as in an exact sum, as in Gemv; a non-finite scale, which QuantizeQ8_0 never
// writes, makes its row's y NaN or infinite.
func GemvQ8_0(y []float32, w []byte, x []float32) { table().GemvQ8_0(y, w, x) }

// GemvE4M3Finite is GemvE4M3 for a W that holds no NaN byte (0x7f or 0xff), with the
// same results and bound; it skips the search for them (three of every eight
// instructions of the AVX2 and AVX-512 bodies). For a NaN byte the result is
// unspecified, though nothing is read or written out of bounds: the AVX2 and AVX-512
// bodies widen it to ±480, the other Levels run GemvE4M3 (NaN). Check W once (mla's
// FP8 matrices refuse NaN bytes when they are made) and call this for every product.
func GemvE4M3Finite(y []float32, w []byte, x []float32) { table().GemvE4M3Finite(y, w, x) }

// GemvQ8_0Q8 computes y = W x for W in Q8_0 (len(y) rows of len(xq)/32 blocks, as
// for GemvQ8_0) and x a Q8 vector: int8 quants xq, each in [-127, 127] (a -128
// panics), and one float32 scale per 32 in xd, as QuantizeQ8Vector writes them. Each
// block's products q_w·q_x are summed exactly in integers (I_b), so the only
// roundings are the scale products s_b = d_w,b·d_x,b and the float32 sum of s_b
// times the integer sums (the reference sums whole blocks in order; the assembly
// Levels sum partial ones, eight, four or two products each, lane-wise): with
// n = len(xq), A_b = Σ_j |q_w[j]·q_x[j]| and y[i] the exact Σ_b d_w,b·d_x,b·I_b,
//
//	|ŷ[i] - y[i]| <= γ(n/32 + 6)·Σ_b |d_w,b·d_x,b|·A_b + 2^-149·Σ_b A_b,
//
// γ(k) = k·2^-24/(1 - k·2^-24), the last term for scale products that underflow. A
// non-finite weight scale makes its row NaN or infinite. On AVX-512 it needs
// AVX512_VNNI (VPDPBUSD); without it the AVX2 body runs. On arm64 the NEON body needs
// only baseline Advanced SIMD (widening multiplies, not the SDOT extension).
//
// Against W x for the unquantized x, the quantization adds at most
// Σ_b |d_w,b|·Σ_j |q_w[j]|·e_b, e_b = d_x,b/2 (QuantizeQ8Vector's bound).
func GemvQ8_0Q8(y []float32, w []byte, xq []byte, xd []float32) { table().GemvQ8_0Q8(y, w, xq, xd) }

// QuantizeQ8Vector quantizes x for GemvQ8_0Q8: quants to xq (len(x) of them,
// len(x) a multiple of 32) and one float32 scale per 32 values to xd. Per block,
// d = amax/127 rounded to float32 and q[j] = round(x[j]/d) (ties away from zero), so
// that |x[j] - d·q[j]| <= d/2 for every block with amax >= 127·2^-126 (and
// <= max(d/2, 2^-142) below). A NaN or an infinity returns an error wrapping ErrQ8_0Value. See
// kernels.QuantizeQ8Vector.
func QuantizeQ8Vector(xq []byte, xd []float32, x []float32) error {
	return kernels.QuantizeQ8Vector(xq, xd, x)
}

// GemvT computes y = Wᵀ x, where W is row-major with len(x) rows and len(y) columns.
// The assembly Levels read a W larger than 256 KiB row by row, as the reference sums,
// and from 1 MiB stream it, prefetching ahead as Gemv does.
func GemvT(y, w, x []float32) { table().GemvT(y, w, x) }

// GemvTBF16 computes y = Wᵀ x like GemvT for a W stored as bfloat16 bits: W is
// row-major with len(x) rows and len(y) columns, each weight widened exactly (the
// transposed product of MLA decode's absorbed query, W_UK(h)ᵀ·q per head, at half
// of GemvT's bytes of W). Every Level reads W front to back and sums each y[j] over
// the rows in row order, as kernels.GemvTBF16 does: y = 0, then y[j] += x[i]·w[i][j]
// for i = 0, 1, ..., the assembly Levels fusing each product with its add. With
// m = len(x) and y[j] the exact value,
//
//	|ŷ[j] - y[j]| <= γ(m)·Σ_i |x[i]·w[i][j]| + m·2^-149,
//
// γ(k) = k·2^-24/(1 - k·2^-24): a product passes through at most m roundings (its
// own and the sums', or its FMAs'); the last term covers products that underflow.
// NaN and infinite values propagate as in an exact sum, as in GemvT. A W larger than
// 256 KiB is read in calls of whole rows, which changes no result.
func GemvTBF16(y []float32, w []uint16, x []float32) { table().GemvTBF16(y, w, x) }

// GemvTF16 is GemvTBF16 for a W stored as IEEE half-precision bits (subnormal halves,
// Inf and NaN widen exactly, as F16ToF32 does).
func GemvTF16(y []float32, w []uint16, x []float32) { table().GemvTF16(y, w, x) }

// GemvTQ8_0 computes y = Wᵀ x for a W of len(x) rows and len(y) columns in Q8_0 (see
// GemvQ8_0 for the layout): len(y) is a multiple of Q8_0Block and each row of W is
// len(y)/32 blocks, so row i holds the weights d_ib·q_ib[j] of its blocks b. Every
// Level sums in the order of kernels.GemvTQ8_0: y = 0, then for each row i in order
// and each of its blocks b, s = x[i]·d_ib rounded to float32 once and y[32b+j] +=
// s·q_ib[j], the assembly Levels fusing each product with its add. With m = len(x)
// and y[j] the exact value,
//
//	|ŷ[j] - y[j]| <= γ(m+1)·Σ_i |x[i]·d_ib·q_ib[j]| + m·2^-142,
//
// γ as for GemvTBF16: s adds one rounding to the m of the row-order sum, and the last
// term covers an s or a product that underflows (2^-150 at most, times |q| <= 128
// for s). An s that overflows (|x[i]·d_ib| from MaxFloat32 up) gives an infinity, or
// a NaN where it meets a zero quant; a NaN or infinite x or scale propagates as in an
// exact sum. A W larger than 256 KiB is read in calls of whole rows, which changes no
// result.
func GemvTQ8_0(y []float32, w []byte, x []float32) { table().GemvTQ8_0(y, w, x) }

// GemvE4M3 computes y = W x like Gemv for a W stored as FP8 E4M3 bytes, DeepSeek-V3's
// weight format ("e4m3fn": a sign, 4 exponent bits with bias 7 and 3 mantissa bits;
// exponent 0 is subnormal, m/8·2^-6; S.1111.111 is NaN; no infinities; the largest
// value is 448; safetensors.E4M3ToF32 defines each byte's value), a quarter of Gemv's
// bytes of W. Each weight is exact in float32. The reference, kernels.GemvE4M3, sums
// each row in column order, each product rounded. The assembly Levels (AVX2, AVX-512,
// NEON) widen each byte b in registers to the half ((b&0x7f)<<7)|((b&0x80)<<8), which
// is exactly e4m3(b)·2^-8 (subnormals too), sum its products with x in an order of
// their own (FMAs, several accumulators) and multiply each row's sum by 256, which is
// exact. With n = len(x) and y[i] the exact value,
//
//	|ŷ[i] - y[i]| <= γ(n+1)·Σ_j |w[i][j]·x[j]| + n·2^-141,
//
// γ(k) = k·2^-24/(1 - k·2^-24): a product passes through at most n+1 roundings (its
// own and the sums', or its FMAs'); the last term covers products that underflow,
// which lose up to 2^-149 each in the reference and up to 2^-149·256 in the
// assembly's sum of products scaled by 2^-8. The scaling changes nothing else unless
// Σ_j|w[i][j]·x[j]| reaches MaxFloat32: then a product, a partial sum or the final
// ·256 may overflow, giving an infinity or a NaN as in Gemv, and the assembly, whose
// scaled products and sums overflow later, may give a finite y[i] where the
// reference's overflow. A NaN byte, or a NaN or infinite x, propagates as in an exact
// sum. A W larger than 256 KiB is read in calls of whole rows, which changes no
// result; each block of rows prefetches the next.
func GemvE4M3(y []float32, w []byte, x []float32) { table().GemvE4M3(y, w, x) }

// GemvTE4M3 computes y = Wᵀ x like GemvTBF16 for a W of FP8 E4M3 bytes (see
// GemvE4M3): W is row-major with len(x) rows and len(y) columns. Every Level sums
// each y[j] over the rows in row order, as kernels.GemvTE4M3 does: y = 0, then
// y[j] += x[i]·w[i][j] for i = 0, 1, ..., the assembly Levels fusing each product
// with its add. They widen each weight to e4m3·2^-8 as GemvE4M3 does and multiply
// x[i] by 256 instead, which is exact for |x[i]| <= MaxFloat32/256 (about 1.3e36):
// a row whose finite x[i] is larger is added as the reference adds it, so each
// product is exactly the reference's at every Level. With m = len(x) and y[j] the
// exact value,
//
//	|ŷ[j] - y[j]| <= γ(m)·Σ_i |x[i]·w[i][j]| + m·2^-149,
//
// γ as for GemvE4M3: a product passes through at most m roundings; the last term
// covers products that underflow. A NaN byte, or a NaN or infinite x, propagates as
// in an exact sum, as in GemvT. A W larger than 256 KiB is read in calls of whole
// rows, which changes no result.
func GemvTE4M3(y []float32, w []byte, x []float32) { table().GemvTE4M3(y, w, x) }

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

// Q8_0Block is the number of values in a Q8_0 block, and Q8_0BlockBytes its size in
// bytes: a half scale, then Q8_0Block int8 quants (see GemvQ8_0).
const (
	Q8_0Block      = kernels.Q8_0Block
	Q8_0BlockBytes = kernels.Q8_0BlockBytes
)

// Q8_0Bytes returns the size in bytes of n values in Q8_0, and false unless n is a
// non-negative multiple of Q8_0Block whose size fits an int.
func Q8_0Bytes(n int) (int, bool) { return kernels.Q8_0Bytes(n) }

// ErrQ8_0Value is wrapped by the error of QuantizeQ8_0 for a NaN, an infinity or a
// block too large for a half scale.
var ErrQ8_0Value = kernels.ErrQ8_0Value

// QuantizeQ8_0 writes src in Q8_0 (GGUF's block_q8_0) to dst, which must be
// len(src)/32*34 bytes, len(src) a multiple of 32. Per block of 32 values with
// amax = max|x|, the scale d is the half nearest amax/127 and q[j] = round(x[j]/d),
// clamped to ±127, so that |x[j] - d·q[j]| <= d/2 <= amax·(1+2^-10)/254 whenever d
// is a normal half (as for every amax >= 127·2^-14), and <= max(d/2, 2^-18)
// otherwise. A NaN, an infinity or a block with amax from about 8.32e6 up (its d
// would overflow) returns an error wrapping ErrQ8_0Value. See kernels.QuantizeQ8_0
// for the details.
func QuantizeQ8_0(dst []byte, src []float32) error { return kernels.QuantizeQ8_0(dst, src) }

// QuantizeQ8_0BF16 is QuantizeQ8_0 for bfloat16 values (raw bits), widened exactly.
func QuantizeQ8_0BF16(dst []byte, src []uint16) error { return kernels.QuantizeQ8_0BF16(dst, src) }

// DequantizeQ8_0 writes the values d·q[j] of the Q8_0 src to dst (exact in float32
// for finite scales); src must be len(dst)/32*34 bytes.
func DequantizeQ8_0(dst []float32, src []byte) { kernels.DequantizeQ8_0(dst, src) }
