package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Q8_0's block: a half scale, then 32 int8 quants (kernels.Q8_0Block).
const (
	q8Block      = 32
	q8BlockBytes = 2 + q8Block
)

// gemvQ8_0 is gemv for a W in Q8_0 blocks: blocks of four rows share each block's
// loads of x, the rows' remainder goes one at a time. Per row and block the quants
// are sign-extended (VPMOVSXBD) and converted to float32 in registers, their products
// with x summed lane-wise into one vector (VMULPS, then FMAs), and that vector
// scaled by the broadcast half scale (VCVTPH2PS) into the row's accumulator with one
// more FMA; the accumulators are reduced once per row. len(x) is a multiple of 32,
// so there are no tails, and every load reads only bytes of W and x.
func (t target) gemvQ8_0() {
	t.begin("gemvQ8_0")
	y, m := slice("y")
	w := ptr("w")
	x, n := slice("x")
	blocks := GP64()
	MOVQ(n, blocks)
	SHRQ(U8(5), blocks)
	rowBytes := GP64()
	IMUL3Q(U32(q8BlockBytes), blocks, rowBytes)
	rowPassesOf(m, w, rowBytes, "q8", func(rows [gemvRows]Register, _, _, row Register) {
		var acc [gemvRows]VecVirtual
		for r := range acc {
			acc[r] = t.vec()
			t.zero(acc[r])
		}
		t.q8Blocks(rows[:], x, blocks, acc[:])
		var sums [4]VecVirtual
		copy(sums[:], acc[:])
		VMOVUPS(t.sum4(sums), Mem{Base: y, Index: row, Scale: 4})
	}, func(row Register) {
		p := GP64()
		MOVQ(w, p)
		acc := t.vec()
		t.zero(acc)
		t.q8Blocks([]Register{p}, x, blocks, []VecVirtual{acc})
		VMOVSS(t.hsum(acc), Mem{Base: y, Index: row, Scale: 4})
	})
	ret()
}

// q8Blocks emits the loop over a row's blocks for the rows that start at rows (each
// pointer advanced past its row), accumulating d·(q ⊙ x) into acc.
func (t target) q8Blocks(rows []Register, x, blocks Register, acc []VecVirtual) {
	xp, left := GP64(), GP64()
	MOVQ(x, xp)
	MOVQ(blocks, left)
	top, done := label("q8_block"), label("q8_blocks_done")
	Label(top)
	TESTQ(left, left)
	JZ(LabelRef(done))
	vecs := q8Block / t.lanes // 4 YMM or 2 ZMM per block
	xs := make([]VecVirtual, vecs)
	for v := range xs {
		xs[v] = t.vec()
		VMOVUPS(Mem{Base: xp, Disp: 4 * t.lanes * v}, xs[v])
	}
	for r, p := range rows {
		s := t.vec()
		for v := range vecs {
			q := t.vec()
			VPMOVSXBD(Mem{Base: p, Disp: 2 + t.lanes*v}, q)
			VCVTDQ2PS(q, q)
			if v == 0 {
				VMULPS(xs[v], q, s)
			} else {
				VFMADD231PS(xs[v], q, s)
			}
		}
		d := t.vec()
		var h VecVirtual = XMM()
		if t.zmm {
			h = YMM()
		}
		VPBROADCASTW(Mem{Base: p, Disp: 0}, h)
		VCVTPH2PS(h, d)
		VFMADD231PS(s, d, acc[r])
		ADDQ(U32(q8BlockBytes), p)
	}
	ADDQ(U32(4*q8Block), xp)
	DECQ(left)
	JMP(LabelRef(top))
	Label(done)
}

// gemvTQ8_0 accumulates y += Wᵀ x for a W in Q8_0 in the axpy form, W read front to
// back: rows in blocks of four, then one at a time. Per block of 32 columns, each
// row's scale d is broadcast and widened (VCVTPH2PS) and multiplied by its x[i] once,
// s = x[i]·d rounded as kernels.AxpyQ8_0 rounds it; then each vector of y in the
// block (4 YMM or 2 ZMM) is loaded once, gets s·q of each row in row order (quants
// sign-extended with VPMOVSXBD and converted, one FMA per row) and is stored.
// len(y) is a multiple of 32, so there are no tails, and every load reads only bytes
// of W, x and y.
func (t target) gemvTQ8_0() {
	t.begin("gemvTQ8_0")
	y, n := slice("y")
	w := ptr("w")
	x, m := slice("x")
	blocks := GP64()
	MOVQ(n, blocks)
	SHRQ(U8(5), blocks)
	rowBytes := GP64()
	IMUL3Q(U32(q8BlockBytes), blocks, rowBytes)
	rowPassesOf(m, w, rowBytes, "q8T", func(rows [gemvRows]Register, _, _, row Register) {
		xs := make([]VecVirtual, gemvRows)
		for r := range xs {
			xs[r] = t.vec()
			VBROADCASTSS(Mem{Base: x, Index: row, Scale: 4, Disp: 4 * r}, xs[r])
		}
		t.q8TBlocks(rows[:], xs, y, blocks)
	}, func(row Register) {
		xi := t.vec()
		VBROADCASTSS(Mem{Base: x, Index: row, Scale: 4}, xi)
		t.q8TBlocks([]Register{w}, []VecVirtual{xi}, y, blocks)
	})
	ret()
}

// q8TBlocks emits the loop over the blocks of the rows that start at rows (left
// unchanged), adding xs[r]·d·q of each row r into y.
func (t target) q8TBlocks(rows []Register, xs []VecVirtual, y, blocks Register) {
	yp, left, off := GP64(), GP64(), GP64()
	MOVQ(y, yp)
	MOVQ(blocks, left)
	XORQ(off, off)
	top, done := label("q8T_block"), label("q8T_blocks_done")
	Label(top)
	TESTQ(left, left)
	JZ(LabelRef(done))
	s := make([]VecVirtual, len(rows))
	for r, p := range rows {
		var h VecVirtual = XMM()
		if t.zmm {
			h = YMM()
		}
		VPBROADCASTW(Mem{Base: p, Index: off, Scale: 1}, h)
		d := t.vec()
		VCVTPH2PS(h, d)
		s[r] = t.vec()
		VMULPS(d, xs[r], s[r])
	}
	for v := range q8Block / t.lanes {
		acc := t.vec()
		VMOVUPS(Mem{Base: yp, Disp: 4 * t.lanes * v}, acc)
		for r, p := range rows {
			q := t.vec()
			VPMOVSXBD(Mem{Base: p, Index: off, Scale: 1, Disp: 2 + t.lanes*v}, q)
			VCVTDQ2PS(q, q)
			VFMADD231PS(q, s[r], acc)
		}
		VMOVUPS(acc, Mem{Base: yp, Disp: 4 * t.lanes * v})
	}
	ADDQ(U32(q8BlockBytes), off)
	ADDQ(U32(4*q8Block), yp)
	DECQ(left)
	JMP(LabelRef(top))
	Label(done)
}
