package mlasimd

import (
	"math"

	"github.com/mlasimd/mlasimd/internal/tuning"
	"github.com/mlasimd/mlasimd/kernels"
)

// primitives are the routines an assembly Level provides. compose builds the full
// kernel set from them: the multi-pass kernels (softmax, the norms) and the
// cache-blocking of the GEMMs are the same Go code on every architecture.
type primitives struct {
	dot       func(a, b []float32) float32
	sum       func(x []float32) float32
	sumSqDiff func(x []float32, mean float32) float32
	axpy      func(alpha float32, x, y []float32)
	scale     func(x []float32, s float32)
	scaleMul  func(dst, x, w []float32, r float32)
	affine    func(dst, x, w, b []float32, mean, r float32)
	gemv      func(y, w, x []float32)
	// gemvPrefetch is gemv that prefetches the rows ahead, the last block prefetching
	// next (at least four rows of W long).
	gemvPrefetch func(y, w, x, next []float32)
	gemvT        func(y, w, x []float32)
	// gemvTStream accumulates y += Wᵀ x row by row, prefetching like gemvPrefetch;
	// nil where a Level has none (GemvT of a large W then runs gemvT).
	gemvTStream func(y, w, x, next []float32)
	downUp      func(y, latent, down, up, x []float32)
	// downUpPrefetch is downUp prefetching rows ahead like gemvPrefetch.
	downUpPrefetch func(y, latent, down, up, x []float32)
	gemmNT         func(c, a, b, next []float32, m, n, k, lda, ldb, ldc int) // c = A Bᵀ, prefetching next
	// gemmNTAdd is gemmNT adding to c, for deep products split over k; nil where a
	// Level has none (its GemmNT then runs unsplit).
	gemmNTAdd func(c, a, b, next []float32, m, n, k, lda, ldb, ldc int)
	gemmNN    func(c, a, b []float32, m, n, k, lda, ldb, ldc int) // c += A B
	exp       func(dst, x []float32)
	maxScaled func(x []float32, s float32) float32
	expSum    func(x []float32, s, m float32) float32
	rope      func(x, cos, sin []float32)
	ropeHalf  func(x, cos, sin []float32)
	f16ToF32  func(dst []float32, src []uint16)
	bf16ToF32 func(dst []float32, src []uint16)
}

// Cache blocking of the GEMMs: gemmNT takes B (the cache rows) in blocks of about
// ntBlockBytes (ntBlockRows(k) rows) so that the block stays in L2 while every row of
// A meets it and the next block streams in; gemmNN takes nnBlockDepth rows of B at a
// time, accumulating into c, for the same reason.
const (
	ntBlockBytes   = 160 << 10
	ntSliceK       = 512
	ntMaxBlockRows = 64
	nnBlockDepth   = 64
)

// ntBlockRows is how many rows of width k make one gemmNT block: an even number from
// 2 to ntMaxBlockRows. MLA decode's rows (k = 576) come 64 at a time: 147 KB, read
// from DRAM at 4-8% more GFLOP/s than blocks of 32 (Zen 4).
func ntBlockRows(k int) int {
	return min(ntMaxBlockRows, max(2, ntBlockBytes/(4*max(k, 1))&^1))
}

func (p primitives) compose() routines {
	return routines{
		dot: p.dot, axpy: p.axpy, gemv: p.gemv, gemvCold: p.coldGemv, gemvT: p.gemvT, gemvTCold: p.coldGemvT(), downUp: p.downUp, downUpCold: p.downUpPrefetch,
		gemmNT: p.blockedGemmNT, gemmNTPrefetch: p.blockedGemmNTPrefetch, gemmNN: p.blockedGemmNN, gemmNNAdd: p.blockedGemmNNAdd,
		exp: p.exp, softmax: p.softmax, onlineSoftmax: p.onlineSoftmax,
		rope: p.rope, ropeHalf: p.ropeHalf,
		rmsNorm: p.rmsNorm, layerNorm: p.layerNorm,
		f16ToF32: p.f16ToF32, bf16ToF32: p.bf16ToF32,
		f32ToF16: kernels.F32ToF16, f32ToBF16: kernels.F32ToBF16,
	}
}

func (p primitives) blockedGemmNT(c, a, b []float32, m, n, k, lda, ldb int) {
	p.blockedGemmNTPrefetch(c, a, b, nil, m, n, k, lda, ldb)
}

// blockedGemmNTPrefetch runs the blocks, each prefetching the next; the last one
// prefetches next, or when next is empty what lies beyond len(b) within cap(b).
func (p primitives) blockedGemmNTPrefetch(c, a, b, next []float32, m, n, k, lda, ldb int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		clear(c)
		return
	}
	if k > tuning.DeepK() && p.gemmNTAdd != nil {
		p.deepGemmNT(c, a, b, m, n, k, lda, ldb)
		return
	}
	rows := ntBlockRows(k)
	for j := 0; j < n; j += rows {
		nb := min(rows, n-j)
		ahead := prefetchAfter(b, j+nb, rows, ldb)
		if j+nb == n && len(next) > 0 {
			ahead = next
		}
		p.gemmNT(c[j:], a, b[j*ldb:], ahead, m, nb, k, lda, ldb, n)
	}
}

// deepGemmNT splits a deep product (k > tuning.DeepK) into slices of ntSliceK columns
// (or DeepK, if lower), so that a band of A rows (4 or 6 rows of 2 KiB) stays in L1
// while a block of B rows streams past it from L2. Unsplit, a band of 2048-wide rows
// fills L1 and every step loads both operands from L2: prefill's 1024 x 3072 x 2048
// projection ran at 67-68 GFLOP/s with AVX-512 and runs at 88 split (Zen 4), a
// 1024-token V2-Lite prefill 15% faster. Only AVX-512 provides gemmNTAdd (asm/gen).
// The first slice writes c, the others add to it. Nothing is prefetched: a slice of
// a block is strided, and the hardware prefetchers follow its rows (a stream over the
// next block measured 1-2% slower).
func (p primitives) deepGemmNT(c, a, b []float32, m, n, k, lda, ldb int) {
	slice := min(ntSliceK, tuning.DeepK()) // smaller only when tests lower DeepK
	rows := ntBlockRows(slice)
	for j := 0; j < n; j += rows {
		nb := min(rows, n-j)
		for q := 0; q < k; q += slice {
			kb := min(slice, k-q)
			bq := b[j*ldb+q:]
			if q == 0 {
				p.gemmNT(c[j:], a, bq, bq[:1], m, nb, kb, lda, ldb, n)
			} else {
				p.gemmNTAdd(c[j:], a[q:], bq, bq[:1], m, nb, kb, lda, ldb, n)
			}
		}
	}
}

// coldGemv runs gemvPrefetch, its last block prefetching the rows after w.
func (p primitives) coldGemv(y, w, x []float32) {
	p.gemvPrefetch(y, w, x, fourRowsAfter(w, len(x)))
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

// coldGemvT returns GemvT for a W streamed from memory: gemvTStream over chunks of
// rows (assembly is never preempted), each chunk's last pass prefetching the rows
// after it.
func (p primitives) coldGemvT() func(y, w, x []float32) {
	if p.gemvTStream == nil {
		return p.gemvT
	}
	return func(y, w, x []float32) {
		clear(y)
		n := len(y)
		if n == 0 {
			return
		}
		rows := chunkRows(n)
		for r0 := 0; r0 < len(x); r0 += rows {
			r1 := min(r0+rows, len(x))
			part := w[r0*n : r1*n]
			p.gemvTStream(y, part, x[r0:r1], fourRowsAfter(part, n))
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

func (p primitives) blockedGemmNN(c, a, b []float32, m, n, k, lda, ldb int) {
	clear(c)
	p.blockedGemmNNAdd(c, a, b, m, n, k, lda, ldb)
}

func (p primitives) blockedGemmNNAdd(c, a, b []float32, m, n, k, lda, ldb int) {
	if m == 0 || n == 0 {
		return
	}
	for q := 0; q < k; q += nnBlockDepth {
		kb := min(nnBlockDepth, k-q)
		p.gemmNN(c, a[q:], b[q*ldb:], m, n, kb, lda, ldb, n)
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
