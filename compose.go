package mlasimd

import (
	"math"
	"sync"

	"github.com/mlasimd/mlasimd/internal/tuning"
	"github.com/mlasimd/mlasimd/kernels"
)

// compose builds a Level's kernels from its primitives. Every size-dependent choice
// lives here: the streaming routines for matrices from DRAM, the chunking of long
// calls, the cache blocking of the GEMMs and the split of deep products. The Kernels
// methods only check shapes and call what compose returns.
func (p primitives) compose() routines {
	l := p.withFallbacks()
	return routines{
		dot: l.dot, axpy: l.axpy,
		gemv: l.runGemv, gemvT: l.runGemvT, downUp: l.runDownUp,
		gemvBF16: rowChunks(l.gemvBF16, sameLen, 2), gemvF16: rowChunks(l.gemvF16, sameLen, 2),
		gemvQ8_0: rowChunks(l.gemvQ8_0, q8RowBytes, 1), gemvE4M3: rowChunks(l.gemvE4M3, sameLen, 1),
		gemvQ8_0Q8: q8VectorChunks(l.gemvQ8_0Q8), gemvE4M3Finite: rowChunks(l.gemvE4M3Finite, sameLen, 1),
		gemvTBF16: rowTChunks(l.gemvTBF16, sameLen, 2), gemvTF16: rowTChunks(l.gemvTF16, sameLen, 2),
		gemvTQ8_0: rowTChunks(l.gemvTQ8_0, q8RowBytes, 1), gemvTE4M3: rowTChunks(e4m3HugeX(l.gemvTE4M3), sameLen, 1),
		gemmNT: l.runGemmNT, gemmNTPrefetch: l.runGemmNTPrefetch, gemmNN: l.runGemmNN, gemmNNAdd: l.runGemmNNAdd,
		exp: l.exp, softmax: l.softmax, onlineSoftmax: l.onlineSoftmax,
		rope: l.rope, ropeHalf: l.ropeHalf,
		rmsNorm: l.rmsNorm, layerNorm: l.layerNorm,
		f16ToF32: l.f16ToF32, bf16ToF32: l.bf16ToF32,
		f32ToF16: kernels.F32ToF16, f32ToBF16: kernels.F32ToBF16,
		gemmNTBF16: l.runGemmNTBF16, gemmNNAddBF16: l.runGemmNNAddBF16, f32ToBF16DAZ: l.f32ToBF16DAZ,
		gemmNTBF16E4M3: l.runGemmNTBF16E4M3, gemmNNAddBF16E4M3: l.runGemmNNAddBF16E4M3,
		attnScoresI8: l.attnScoresI8, quantizeProbsI8: l.quantizeProbsI8, attnValuesI8: l.attnValuesI8,
	}
}

// level is a Level's primitives with what it lacks filled in by withFallbacks.
type level struct {
	primitives
	// splitDeepK: GemmNT splits deep products over k, adding the slices with
	// gemmNTAdd. A Level without gemmNTAdd runs them unsplit: only AVX-512's loads
	// gain from the split (asm/gen/gemm.go).
	splitDeepK bool
}

// withFallbacks is the one place that handles the routines a Level lacks (nil in
// its primitives): each streaming routine falls back to its in-cache form (or, for
// gemvTStream, to the row-order sum of kernels.GemvT with the Level's axpy),
// gemmNTAdd to no split at all, gemmNTFew to gemmNT, and the reduced-precision GEMVs to the reference
// (the transposed ones to its rows, axpyRowsOf kernels.AxpyBF16, AxpyF16, AxpyQ8_0 and
// AxpyE4M3), as do the int8 attention kernels (kernels.AttnScoresI8, QuantizeProbsI8,
// AttnValuesI8, whose bodies take the same arguments: they need no chunking).
func (p primitives) withFallbacks() level {
	l := level{primitives: p, splitDeepK: p.gemmNTAdd != nil}
	if p.gemvBF16 == nil {
		l.gemvBF16 = kernels.GemvBF16
	}
	if p.gemvF16 == nil {
		l.gemvF16 = kernels.GemvF16
	}
	if p.gemvQ8_0 == nil {
		l.gemvQ8_0 = kernels.GemvQ8_0
	}
	if p.gemvE4M3Finite == nil {
		l.gemvE4M3Finite = l.gemvE4M3 // the same results for a W without NaN bytes
	}
	if p.gemvQ8_0Q8 == nil {
		l.gemvQ8_0Q8 = kernels.GemvQ8_0Q8
	}
	if p.attnScoresI8 == nil {
		l.attnScoresI8 = kernels.AttnScoresI8
	}
	if p.quantizeProbsI8 == nil {
		l.quantizeProbsI8 = kernels.QuantizeProbsI8
	}
	if p.attnValuesI8 == nil {
		l.attnValuesI8 = kernels.AttnValuesI8
	}
	if p.gemvTBF16 == nil {
		l.gemvTBF16 = axpyRowsOf(kernels.AxpyBF16, sameLen)
	}
	if p.gemvTF16 == nil {
		l.gemvTF16 = axpyRowsOf(kernels.AxpyF16, sameLen)
	}
	if p.gemvTQ8_0 == nil {
		l.gemvTQ8_0 = axpyRowsOf(kernels.AxpyQ8_0, q8RowBytes)
	}
	if p.gemvE4M3 == nil {
		l.gemvE4M3 = kernels.GemvE4M3
	}
	if p.gemvTE4M3 == nil {
		l.gemvTE4M3 = axpyRowsOf(kernels.AxpyE4M3, sameLen)
	}
	if p.gemvStream == nil {
		l.gemvStream = func(y, w, x, _ []float32) { p.gemv(y, w, x) }
	}
	if p.gemvTStream == nil {
		l.gemvTStream = p.axpyRows
	}
	if p.downUpStream == nil {
		l.downUpStream = p.downUp
	}
	if p.gemmNTFew == nil {
		l.gemmNTFew = p.gemmNT
	}
	if p.gemmNTBF16 == nil {
		l.gemmNTBF16 = func(c []float32, a, b []uint16, m, n, k, lda, ldb, _ int) {
			kernels.GemmNTBF16(c, a, b, m, n, k, lda, ldb) // ldc is n
		}
	}
	if p.gemmNNAddBF16 == nil {
		l.gemmNNAddBF16 = func(c []float32, a, b []uint16, m, n, k, lda, ldb, _ int) {
			kernels.GemmNNAddBF16(c, a, b, m, n, k, lda, ldb) // ldc is n
		}
	}
	if p.gemmNTBF16E4M3 == nil {
		l.gemmNTBF16E4M3 = func(c []float32, a []uint16, b []byte, _ []uint16, m, n, k, lda, ldb, _ int) {
			kernels.GemmNTBF16E4M3(c, a, b, m, n, k, lda, ldb) // ldc is n
		}
	}
	if p.gemmNNAddBF16E4M3 == nil {
		l.gemmNNAddBF16E4M3 = func(c []float32, a []uint16, b []byte, _ []uint16, m, n, k, lda, ldb, _ int) {
			kernels.GemmNNAddBF16E4M3(c, a, b, m, n, k, lda, ldb) // ldc is n
		}
	}
	if p.f32ToBF16DAZ == nil {
		l.f32ToBF16DAZ = kernels.F32ToBF16DAZ
	}
	return l
}

// runGemmNTBF16 runs gemmNTBF16 on the whole product: its tiles keep a few rows of
// B in L1 while every row of A meets them, and MLA's tiles of cache rows are small.
func (l level) runGemmNTBF16(c []float32, a, b []uint16, m, n, k, lda, ldb int) {
	if m == 0 || n == 0 {
		return
	}
	l.gemmNTBF16(c, a, b, m, n, k, lda, ldb, n)
}

// runGemmNNAddBF16 runs gemmNNAddBF16 on the whole product (nothing to add for k = 0).
func (l level) runGemmNNAddBF16(c []float32, a, b []uint16, m, n, k, lda, ldb int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	l.gemmNNAddBF16(c, a, b, m, n, k, lda, ldb, n)
}

// e4m3Scratch holds the scratch in which the AVX-512 bodies of gemmNTBF16E4M3 and
// gemmNNAddBF16E4M3 widen blocks of B to bfloat16 once for every band of rows of A.
var e4m3Scratch = sync.Pool{New: func() any { return new([e4m3ScratchWords]uint16) }}

// e4m3ScratchWords is its size: gemmNTBF16E4M3's 256·⌈k/64⌉ words for k up to 2048,
// gemmNNAddBF16E4M3's 32·(k+k%2) for the e4m3NNRows rows of B it is given at a time.
const e4m3ScratchWords, e4m3NNRows = 8192, 256

// runGemmNTBF16E4M3 runs gemmNTBF16E4M3 on the whole product, as runGemmNTBF16, with
// a pooled scratch (one of its own for a k past 4096).
func (l level) runGemmNTBF16E4M3(c []float32, a []uint16, b []byte, m, n, k, lda, ldb int) {
	if m == 0 || n == 0 {
		return
	}
	if need := 256 * ((k + 63) / 64); need > e4m3ScratchWords {
		l.gemmNTBF16E4M3(c, a, b, make([]uint16, need), m, n, k, lda, ldb, n)
		return
	}
	w := e4m3Scratch.Get().(*[e4m3ScratchWords]uint16)
	l.gemmNTBF16E4M3(c, a, b, w[:], m, n, k, lda, ldb, n)
	e4m3Scratch.Put(w)
}

// runGemmNNAddBF16E4M3 runs gemmNNAddBF16E4M3 on e4m3NNRows rows of B at a time (c
// accumulates the slices' sums), with a pooled scratch.
func (l level) runGemmNNAddBF16E4M3(c []float32, a []uint16, b []byte, m, n, k, lda, ldb int) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	w := e4m3Scratch.Get().(*[e4m3ScratchWords]uint16)
	for p := 0; p < k; p += e4m3NNRows {
		kk := min(e4m3NNRows, k-p)
		l.gemmNNAddBF16E4M3(c, a[p:], b[p*ldb:], w[:], m, n, kk, lda, ldb, n)
	}
	e4m3Scratch.Put(w)
}

// axpyRows accumulates y += Wᵀ x row by row, as gemvTStream does.
func (p primitives) axpyRows(y, w, x, _ []float32) {
	n := len(y)
	for i, xi := range x {
		p.axpy(xi, w[i*n:(i+1)*n], y)
	}
}

// axpyRowsOf accumulates y += Wᵀ x row by row with axpy (a row of the reference,
// kernels.AxpyBF16, AxpyF16, AxpyQ8_0 or AxpyE4M3) for a W whose rows are
// rowLen(len(y)) elements long, as the transposed reduced-precision GEMVs do.
func axpyRowsOf[E uint16 | byte](axpy func(alpha float32, w []E, y []float32), rowLen func(int) int) func(y []float32, w []E, x []float32) {
	return func(y []float32, w []E, x []float32) {
		n := rowLen(len(y))
		for i, xi := range x {
			axpy(xi, w[i*n:(i+1)*n], y)
		}
	}
}

// Assembly is never preempted: a goroutine inside one call holds up the garbage
// collector's stop-the-world until it returns. Every long-running kernel is
// therefore split into calls of bounded work, each a whole number of the row blocks
// its routine works in, so that the split changes no result:
//   - the matrix-vector kernels (Gemv, GemvT, DownUp) read at most chunkFloats of a
//     matrix per call (256 KiB, some 10-20 µs from DRAM);
//   - the GEMMs do at most chunkMACs multiply-adds per call (a few hundred µs),
//     cut by rows of c in multiples of gemmRowBlock. MLA decode's tiles (up to 128
//     heads by 64 cache rows of 576) stay one call each.
const (
	chunkFloats  = 1 << 16
	chunkMACs    = 1 << 23
	gemvRowBlock = 4  // gemv's and gemvTStream's row blocks
	gemmRowBlock = 12 // a multiple of every GEMM's bands: 6 and 4 (AVX2), 4 (AVX-512, NEON)
)

// chunkRows is how many rows of rowWork units each make one call's share of budget:
// a multiple of block, at least one block.
func chunkRows(budget, rowWork, block int) int {
	return max(block, budget/max(rowWork, 1)/block*block)
}

// isStream reports whether a matrix of floats floats is taken to come from DRAM,
// and so runs the streaming routines.
func isStream(floats int) bool { return floats >= tuning.StreamFloats() }

// runGemv runs y = W x in chunks of rows, each chunk's last block prefetching the
// rows of the next one when W is streamed.
func (l level) runGemv(y, w, x []float32) { l.gemvChunks(y, w, x, isStream(len(w)), nil) }

// gemvChunks runs y = W x in chunks of rows (gemvStream when stream), the last
// chunk's last block prefetching then when it holds four rows of W, else what
// follows W.
func (l level) gemvChunks(y, w, x []float32, stream bool, then []float32) {
	n := len(x)
	rows := chunkRows(chunkFloats, n, gemvRowBlock)
	for r0 := 0; r0 < len(y); r0 += rows {
		r1 := min(r0+rows, len(y))
		part := w[r0*n : r1*n]
		switch {
		case !stream:
			l.gemv(y[r0:r1], part, x)
		case r1 == len(y) && len(then) >= 4*n:
			l.gemvStream(y[r0:r1], part, x, then[:4*n])
		default:
			l.gemvStream(y[r0:r1], part, x, fourRowsAfter(part, n))
		}
	}
}

// rowChunks runs y = W x for a W of reduced-precision rows with f in chunks of
// rows, each reading at most the bytes of W that a chunk of runGemv reads (256 KiB);
// rowLen(len(x)) is the elements of one row (size bytes each). They have no separate
// streaming routine: gemvBF16, gemvF16 and gemvE4M3 prefetch within their chunk,
// gemvQ8_0 leaves it to the hardware prefetchers.
func rowChunks[E uint16 | byte](f func(y []float32, w []E, x []float32), rowLen func(int) int, size int) func(y []float32, w []E, x []float32) {
	return func(y []float32, w []E, x []float32) {
		n := rowLen(len(x))
		rows := chunkRows(4*chunkFloats/size, n, gemvRowBlock)
		for r0 := 0; r0 < len(y); r0 += rows {
			r1 := min(r0+rows, len(y))
			f(y[r0:r1], w[r0*n:r1*n], x)
		}
	}
}

// q8VectorChunks is rowChunks for the GEMV of Q8_0 weights and a Q8 vector.
func q8VectorChunks(f func(y []float32, w []byte, xq []byte, xd []float32)) func(y []float32, w []byte, xq []byte, xd []float32) {
	return func(y []float32, w []byte, xq []byte, xd []float32) {
		n := q8RowBytes(len(xq))
		rows := chunkRows(4*chunkFloats, n, gemvRowBlock)
		for r0 := 0; r0 < len(y); r0 += rows {
			r1 := min(r0+rows, len(y))
			f(y[r0:r1], w[r0*n:r1*n], xq, xd)
		}
	}
}

// rowTChunks runs y = Wᵀ x for a W of reduced-precision rows (rowLen(len(y))
// elements of size bytes each): it clears y, then adds the rows of W with the
// accumulating f in chunks of rows, each reading at most 256 KiB of W. Every y[j] is
// summed over the rows in order whatever the chunks, so the split changes no result.
func rowTChunks[E uint16 | byte](f func(y []float32, w []E, x []float32), rowLen func(int) int, size int) func(y []float32, w []E, x []float32) {
	return func(y []float32, w []E, x []float32) {
		clear(y)
		n := rowLen(len(y))
		if n == 0 {
			return
		}
		rows := chunkRows(4*chunkFloats/size, n, gemvRowBlock)
		for r0 := 0; r0 < len(x); r0 += rows {
			r1 := min(r0+rows, len(x))
			f(y, w[r0*n:r1*n], x[r0:r1])
		}
	}
}

// sameLen is the row length of 16-bit and FP8 weights: one element per column.
func sameLen(cols int) int { return cols }

// q8RowBytes is the row length of Q8_0 weights in bytes.
func q8RowBytes(cols int) int { return cols / kernels.Q8_0Block * kernels.Q8_0BlockBytes }

// maxE4M3X is the largest |x[i]| that gemvTE4M3 takes: it multiplies x[i] by 256
// (its weights are widened to 2^-8 times their value), which is exact up to here and
// overflows beyond.
const maxE4M3X = math.MaxFloat32 / 256

// e4m3HugeX wraps the accumulating gemvTE4M3: a row whose x[i] is finite but larger
// than maxE4M3X in magnitude, where the assembly's x[i]·256 would overflow, is added
// by the reference's kernels.AxpyE4M3 between calls of f on the other rows. Every
// y[j] is still summed over the rows in order, so the split changes no result beyond
// the bound GemvTE4M3 states.
func e4m3HugeX(f func(y []float32, w []byte, x []float32)) func(y []float32, w []byte, x []float32) {
	return func(y []float32, w []byte, x []float32) {
		n := len(y)
		for r0 := 0; r0 < len(x); {
			r1 := r0
			for r1 < len(x) && !hugeE4M3X(x[r1]) {
				r1++
			}
			if r1 == r0 {
				kernels.AxpyE4M3(x[r0], w[r0*n:(r0+1)*n], y)
				r0++
				continue
			}
			f(y, w[r0*n:r1*n], x[r0:r1])
			r0 = r1
		}
	}
}

func hugeE4M3X(v float32) bool {
	a := math.Abs(float64(v))
	return a > maxE4M3X && !math.IsInf(a, 0)
}

// runGemvT runs y = Wᵀ x. A W in cache takes gemvT, which walks it in column strips
// in one call: gemvT has no accumulating form to split into, and below the streaming
// threshold (1 MiB by default) a call reads at most that much from cache, tens of
// µs. A streamed W is summed in row order (as kernels.GemvT does) by gemvTStream over
// chunks of rows, each chunk's last pass prefetching the rows after it.
func (l level) runGemvT(y, w, x []float32) {
	n := len(y)
	if n == 0 || !isStream(len(w)) {
		l.gemvT(y, w, x)
		return
	}
	clear(y)
	rows := chunkRows(chunkFloats, n, gemvRowBlock)
	for r0 := 0; r0 < len(x); r0 += rows {
		r1 := min(r0+rows, len(x))
		part := w[r0*n : r1*n]
		l.gemvTStream(y, part, x[r0:r1], fourRowsAfter(part, n))
	}
}

// runDownUp runs latent = Down x, y = Up latent: as one call of downUp (or
// downUpStream) when both matrices make one chunk, else as two chunked gemv passes,
// the same arithmetic, Down's last block prefetching Up's first rows.
func (l level) runDownUp(y, latent, down, up, x []float32) {
	total := len(down) + len(up)
	stream := isStream(total)
	switch {
	case total > chunkFloats:
		l.gemvChunks(latent, down, x, stream, up)
		l.gemvChunks(y, up, latent, stream, nil)
	case stream:
		l.downUpStream(y, latent, down, up, x)
	default:
		l.downUp(y, latent, down, up, x)
	}
}

// fourRowsAfter returns what the last block of rows of w (n columns) prefetches: the
// four rows that follow w within cap(w) (the next chunk of a chunked call), or w's
// own last four rows.
func fourRowsAfter(w []float32, n int) []float32 {
	if len(w)+4*n <= cap(w) {
		return w[len(w) : len(w)+4*n]
	}
	return w[max(0, len(w)-4*n):]
}

// Cache blocking of the GEMMs: gemmNT takes B (the cache rows) in blocks of about
// ntBlockBytes (ntBlockRows(k) rows) so that the block stays in L2 while every row of
// A meets it and the next block streams in; gemmNNAdd takes nnBlockDepth rows of B at
// a time, accumulating into c, for the same reason.
const (
	ntBlockBytes   = 160 << 10
	ntSliceK       = 512
	ntMaxBlockRows = 64
	nnBlockDepth   = 64
)

// ntBlockRows is how many rows of width k make one gemmNT block: an even number from
// 2 to ntMaxBlockRows. MLA decode's rows (k = 576) come 64 at a time (147 KB), which
// read from DRAM faster than blocks of 32.
func ntBlockRows(k int) int {
	return min(ntMaxBlockRows, max(2, ntBlockBytes/(4*max(k, 1))&^1))
}

// fewRows is the most rows of B that go to gemmNTFew. Beyond 8 its tiles (3 rows of
// A by 8 of B, twice) read more rows of B at once than L1 holds, and gemmNT's (4 by
// 2) are faster: for 12 and 16 tokens against V2-Lite's f32 projections on Zen 4,
// 10-20%.
const fewRows = 8

func (l level) runGemmNT(c, a, b []float32, m, n, k, lda, ldb int) {
	l.runGemmNTPrefetch(c, a, b, nil, m, n, k, lda, ldb)
}

// runGemmNTPrefetch runs the blocks of B, each prefetching the next; the last one
// prefetches next, or when next is empty what lies beyond len(b) within cap(b). A B of
// at most fewRows rows (a batched decode step's tokens against weight rows) is one
// block for gemmNTFew.
func (l level) runGemmNTPrefetch(c, a, b, next []float32, m, n, k, lda, ldb int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		clear(c)
		return
	}
	if k > tuning.DeepK() && l.splitDeepK {
		l.deepGemmNT(c, a, b, m, n, k, lda, ldb)
		return
	}
	f, rows := l.gemmNT, ntBlockRows(k)
	if n <= fewRows {
		f, rows = l.gemmNTFew, n
	}
	for j := 0; j < n; j += rows {
		nb := min(rows, n-j)
		ahead := prefetchAfter(b, j+nb, rows, ldb)
		if j+nb == n && len(next) > 0 {
			ahead = next
		}
		l.gemmNTRows(f, c[j:], a, b[j*ldb:], ahead, m, nb, k, lda, ldb, n)
	}
}

// gemmNTRows runs one block of B against the rows of A in chunks of rows, the
// chunks sharing out the prefetch of ahead in order.
func (l level) gemmNTRows(f func(c, a, b, next []float32, m, n, k, lda, ldb, ldc int),
	c, a, b, ahead []float32, m, nb, k, lda, ldb, ldc int) {
	rows := chunkRows(chunkMACs, nb*k, gemmRowBlock)
	if m <= rows {
		f(c, a, b, ahead, m, nb, k, lda, ldb, ldc)
		return
	}
	chunks := (m + rows - 1) / rows
	for q, i := 0, 0; i < m; q, i = q+1, i+rows {
		part := ahead[min(len(ahead)-1, len(ahead)*q/chunks):]
		f(c[i*ldc:], a[i*lda:], b, part, min(rows, m-i), nb, k, lda, ldb, ldc)
	}
}

// deepGemmNT splits a deep product (k > tuning.DeepK) into slices of ntSliceK columns
// (or DeepK, if lower), so that a band of A rows (4 or 6 rows of 2 KiB) stays in L1
// while a block of B rows streams past it from L2; unsplit, a band of 2048-wide rows
// fills L1 and every step loads both operands from L2. The first slice writes c, the
// others add to it. Nothing is prefetched: a slice of a block is strided, and the
// hardware prefetchers follow its rows (a stream over the next block is slower).
func (l level) deepGemmNT(c, a, b []float32, m, n, k, lda, ldb int) {
	slice := min(ntSliceK, tuning.DeepK()) // smaller only when tests lower DeepK
	rows := ntBlockRows(slice)
	for j := 0; j < n; j += rows {
		nb := min(rows, n-j)
		for q := 0; q < k; q += slice {
			kb := min(slice, k-q)
			bq := b[j*ldb+q:]
			f := l.gemmNTAdd
			if q == 0 {
				f = l.gemmNT
			}
			l.gemmNTRows(f, c[j:], a[q:], bq, bq[:1], m, nb, kb, lda, ldb, n)
		}
	}
}

// prefetchAfter returns the block of rows rows that follows row j of b, for the
// kernel to prefetch while it works on the rows before: the next block, or after the
// last block whatever lies beyond len(b) within cap(b) (in MLA decode, the next tile
// of the cache). It is never empty: with nothing beyond, it is b's first element,
// which is already cached.
func prefetchAfter(b []float32, j, rows, ldb int) []float32 {
	lo := j * ldb
	hi := min(lo+rows*ldb, cap(b))
	if lo >= hi {
		return b[:1]
	}
	return b[lo:hi]
}

func (l level) runGemmNN(c, a, b []float32, m, n, k, lda, ldb int) {
	clear(c)
	l.runGemmNNAdd(c, a, b, m, n, k, lda, ldb)
}

// runGemmNNAdd adds nnBlockDepth rows of B at a time, in chunks of rows of c.
func (l level) runGemmNNAdd(c, a, b []float32, m, n, k, lda, ldb int) {
	if m == 0 || n == 0 {
		return
	}
	for q := 0; q < k; q += nnBlockDepth {
		kb := min(nnBlockDepth, k-q)
		rows := chunkRows(chunkMACs, n*kb, gemmRowBlock)
		for i := 0; i < m; i += rows {
			l.gemmNNAdd(c[i*n:], a[i*lda+q:], b[q*ldb:], min(rows, m-i), n, kb, lda, ldb, n)
		}
	}
}

// softmax runs the three passes (max, exp and sum, normalize) and returns the max and
// the sum. A maximum of -Inf means every entry is -Inf or a NaN hid behind them
// (VMAXPS does not propagate NaN from its first operand); the reference settles those
// rare rows exactly.
func (p primitives) softmax(x []float32, scale float32) (max, sum float32) {
	if len(x) == 0 {
		return float32(math.Inf(-1)), 0
	}
	m := p.maxScaled(x, scale)
	if math.IsInf(float64(m), -1) {
		return kernels.SoftmaxStats(x, scale)
	}
	sum = p.expSum(x, scale, m)
	p.scale(x, 1/sum)
	return m, sum
}

// onlineSoftmax runs the two passes (max, then exp and sum against the new max) per
// row; with no normalizing pass, a tile costs one pass less than SoftmaxStats.
func (p primitives) onlineSoftmax(s []float32, scale float32, m, l, carry []float32) {
	for i := range m {
		x := kernels.RowOf(s, len(m), i)
		mNew := max(m[i], p.maxScaled(x, scale))
		if math.IsInf(float64(mNew), -1) {
			// Nothing but -Inf so far, or a NaN that VMAXPS hid behind -Inf: the
			// reference settles these rare rows exactly.
			kernels.OnlineSoftmaxRow(x, scale, &m[i], &l[i], &carry[i])
			continue
		}
		c := float32(1)
		if mNew != m[i] {
			c = kernels.Exp32(m[i] - mNew)
		}
		l[i] = l[i]*c + p.expSum(x, scale, mNew)
		m[i], carry[i] = mNew, c
	}
}

func (p primitives) rmsNorm(dst, x, weight []float32, eps float32) {
	if len(x) == 0 {
		return
	}
	r := kernels.RMSScale(p.dot(x, x), len(x), eps)
	p.scaleMul(dst, x, weight, r)
}

func (p primitives) layerNorm(dst, x, weight, bias []float32, eps float32) {
	if len(x) == 0 {
		return
	}
	mean := p.sum(x) / float32(len(x))
	r := kernels.RMSScale(p.sumSqDiff(x, mean), len(x), eps)
	p.affine(dst, x, weight, bias, mean, r)
}
