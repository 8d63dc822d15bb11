package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gemvTStream accumulates y += Wᵀ x (W is len(x) rows by len(y) columns) row by row:
// each pass adds x[i]·W[i] + ... + x[i+3]·W[i+3] into y, which stays in L1/L2, so W
// is read front to back while its next four rows stream into L2, as in gemvStream.
// gemvT walks W in column strips, which halves the DRAM bandwidth on a W that is not
// cached; this order gets what Gemv gets. The last pass prefetches next (at least
// four rows long).
func (t target) gemvTStream() {
	t.begin("gemvTStream")
	y, n := slice("y")
	w := ptr("w")
	x, m := slice("x")
	rowPasses(m, w, n, 4, "gemvT", func(rows [gemvRows]Register, rowBytes, left, row Register) {
		var xs [gemvRows]VecVirtual
		for r := range xs {
			xs[r] = t.vec()
			VBROADCASTSS(Mem{Base: x, Index: row, Scale: 4, Disp: 4 * r}, xs[r])
		}
		pf := blockPrefetch(rows, rowBytes, left, ptr("next"))
		t.loop(n, 2, func(c chunk) {
			if c.m == nil {
				t.prefetchChunk(pf, 4)
			}
			acc := t.load(c, y)
			for r := range rows {
				VFMADD231PS(t.operand(c, rows[r]), xs[r], acc)
			}
			t.store(c, acc, y)
		})
	}, func(row Register) {
		xi := t.vec()
		VBROADCASTSS(Mem{Base: x, Index: row, Scale: 4}, xi)
		t.loop(n, 2, func(c chunk) {
			acc := t.load(c, y)
			VFMADD231PS(t.operand(c, w), xi, acc)
			t.store(c, acc, y)
		})
	})
	ret()
}

// gemvTRows emits y += Wᵀ x (W is m rows by n columns, stored as f says) in the
// axpy form, W read front to back: rows in blocks of four, then one at a time. For
// each chunk of y (one vector, unrolled by two; the last chunk masked) a block loads
// y once, adds the four rows' widened chunks times the broadcast x[i] (times f.scale,
// if any) in row order (one FMA chain per chunk, so each y[j] is summed exactly in
// the reference's row order, each product fused with its add) and stores y. y is
// meant to stay in L1.
func (t target) gemvTRows(y, n, w, x, m Register, f rowFormat) {
	rowPasses(m, w, n, f.size, "gemvT", func(rows [gemvRows]Register, _, _, row Register) {
		var xs [gemvRows]VecVirtual
		for r := range xs {
			xs[r] = t.vec()
			VBROADCASTSS(Mem{Base: x, Index: row, Scale: 4, Disp: 4 * r}, xs[r])
			t.scaleBy(f, xs[r], VMULPS)
		}
		t.loop(n, 2, func(c chunk) {
			acc := t.load(c, y)
			for r := range rows {
				VFMADD231PS(f.chunk(t, c, rows[r]), xs[r], acc)
			}
			t.store(c, acc, y)
		})
	}, func(row Register) {
		xi := t.vec()
		VBROADCASTSS(Mem{Base: x, Index: row, Scale: 4}, xi)
		t.scaleBy(f, xi, VMULPS)
		t.loop(n, 2, func(c chunk) {
			acc := t.load(c, y)
			VFMADD231PS(f.chunk(t, c, w), xi, acc)
			t.store(c, acc, y)
		})
	})
}
