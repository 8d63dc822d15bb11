package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// f16ToF32 widens IEEE halves with F16C's VCVTPH2PS, which is exact and quiets
// signaling NaNs as kernels.F16ToF32 does.
func (t target) f16ToF32() {
	t.begin("f16ToF32")
	t.widen(func(src Op, dst VecVirtual) {
		VCVTPH2PS(src, dst)
	}, func(bits GPVirtual, dst VecVirtual) {
		VMOVD(bits.As32(), dst.AsX())
		VCVTPH2PS(dst.AsX(), dst.AsX())
	})
}

// bf16ToF32 widens bfloat16 by zero-extending each 16-bit word and shifting it into
// the top half of a float32.
func (t target) bf16ToF32() {
	t.begin("bf16ToF32")
	t.widen(func(src Op, dst VecVirtual) {
		VPMOVZXWD(src, dst)
		VPSLLD(U8(16), dst, dst)
	}, func(bits GPVirtual, dst VecVirtual) {
		SHLL(U8(16), bits.As32())
		VMOVD(bits.As32(), dst.AsX())
	})
}

// widen emits a conversion loop from 16-bit to 32-bit elements: four vectors per
// iteration, then single vectors, then the tail. vector converts a source operand (a
// memory half-vector, or a register) into dst. AVX-512 loads the tail's words with a
// masked VMOVDQU16 (masked-off words are neither read nor faulted on) and converts
// the register. The AVX2 masked moves work on 32-bit lanes and cannot guard a 16-bit
// source, so there the last few elements go one at a time through scalar.
func (t target) widen(vector func(src Op, dst VecVirtual), scalar func(bits GPVirtual, dst VecVirtual)) {
	dst := ptr("dst")
	src, n := slice("src")
	if t.zmm {
		t.loop(n, 4, func(c chunk) {
			v := t.vec()
			var from Op = t.at(c, src, 2)
			if c.m != nil {
				words := YMM()
				VMOVDQU16_Z(from, c.m.k, words)
				from = words
			}
			vector(from, v)
			t.store(c, v, dst)
		})
		ret()
		return
	}
	idx := GP64()
	XORQ(idx, idx)
	for _, unroll := range []int{4, 1} {
		top, next := label("widen"), label("widen_next")
		end := GP64()
		MOVQ(n, end)
		SUBQ(U32(unroll*t.lanes), end)
		Label(top)
		CMPQ(idx, end)
		JG(LabelRef(next))
		for u := range unroll {
			c := chunk{idx: idx, u: u}
			v := t.vec()
			vector(t.at(c, src, 2), v)
			t.store(c, v, dst)
		}
		ADDQ(U32(unroll*t.lanes), idx)
		JMP(LabelRef(top))
		Label(next)
	}
	top, done := label("widen_tail"), label("widen_done")
	Label(top)
	CMPQ(idx, n)
	JAE(LabelRef(done))
	bits := GP32()
	MOVWLZX(Mem{Base: src, Index: idx, Scale: 2}, bits)
	v := t.vec()
	scalar(bits, v)
	VMOVSS(v.AsX(), Mem{Base: dst, Index: idx, Scale: 4})
	INCQ(idx)
	JMP(LabelRef(top))
	Label(done)
	ret()
}

// gemvBF16 is gemv for a W of bfloat16, each chunk of a row widened in registers as
// bf16ToF32 does before its FMAs.
func (t target) gemvBF16() {
	t.begin("gemvBF16")
	t.gemvHalf(func(src Op, dst VecVirtual) {
		VPMOVZXWD(src, dst)
		VPSLLD(U8(16), dst, dst)
	})
}

// gemvF16 is gemv for a W of IEEE halves, widened with VCVTPH2PS as f16ToF32 does.
func (t target) gemvF16() {
	t.begin("gemvF16")
	t.gemvHalf(func(src Op, dst VecVirtual) { VCVTPH2PS(src, dst) })
}

// gemvHalf emits the gemv body for 16-bit weights that widen converts (from memory
// or a register of words) to float32. Each block of rows prefetches the next into
// L2 (the last block itself), as gemvStream does: on Zen 4 that is 3-15% faster from
// DRAM and up to 35% for a W in L3, and within noise in L2, so unlike the f32 gemv
// there is no separate in-cache form. A row's tail is loaded under the tail mask:
// AVX-512 with a masked VMOVDQU16 (masked-off words are neither read nor faulted
// on). AVX2's masked moves guard 32-bit lanes only, so there the tail's words are
// copied one by one into a zeroed stack buffer, which is then widened: at most
// lanes-1 words, a few per row.
func (t target) gemvHalf(widen func(src Op, dst VecVirtual)) {
	y, m := slice("y")
	w := ptr("w")
	x, n := slice("x")
	self := func(w Register) Register { return w }
	t.gemvBody(y, m, w, x, n, self, t.halfRows(widen))
	ret()
}

// gemvTBF16 is the transposed gemvBF16 in the axpy form of gemvTRows: W's rows are
// widened a chunk at a time as bf16ToF32 does and added, times x[i], into y.
func (t target) gemvTBF16() {
	t.begin("gemvTBF16")
	t.gemvTHalf(func(src Op, dst VecVirtual) {
		VPMOVZXWD(src, dst)
		VPSLLD(U8(16), dst, dst)
	})
}

// gemvTF16 is gemvTBF16 for W of IEEE halves, widened with VCVTPH2PS.
func (t target) gemvTF16() {
	t.begin("gemvTF16")
	t.gemvTHalf(func(src Op, dst VecVirtual) { VCVTPH2PS(src, dst) })
}

// gemvTHalf emits y += Wᵀ x for 16-bit weights that widen converts, with the row
// chunks and tails of gemvHalf.
func (t target) gemvTHalf(widen func(src Op, dst VecVirtual)) {
	y, n := slice("y")
	w := ptr("w")
	x, m := slice("x")
	t.gemvTRows(y, n, w, x, m, t.halfRows(widen))
	ret()
}

// halfRows is the rowFormat of 16-bit weights that widen converts. It allocates
// AVX2's tail buffer in the frame, so a body calls it once.
func (t target) halfRows(widen func(src Op, dst VecVirtual)) rowFormat {
	var buf Mem
	if !t.zmm {
		buf = AllocLocal(16)
	}
	return rowFormat{size: 2, chunk: func(t target, c chunk, row Register) Op {
		var src Op = t.at(c, row, 2)
		switch {
		case c.m == nil:
		case t.zmm:
			words := YMM()
			VMOVDQU16_Z(src, c.m.k, words)
			src = words
		default:
			t.copyWords(c, row, buf)
			src = buf
		}
		v := t.vec()
		widen(src, v)
		return v
	}}
}

// copyWords copies the c.m.rem (1 to lanes-1) words of a tail chunk of row into the
// 16-byte buf, zeroing the rest: the zero weights then meet x's zeroed lanes. The
// copy is unrolled, so it needs one scratch register beyond the row's.
func (t target) copyWords(c chunk, row Register, buf Mem) {
	MOVQ(U32(0), buf)
	MOVQ(U32(0), buf.Offset(8))
	done := label("words_done")
	word := GP32()
	for j := range t.lanes - 1 {
		if j > 0 {
			CMPQ(c.m.rem, U32(j))
			JBE(LabelRef(done))
		}
		MOVWLZX(Mem{Base: row, Index: c.idx, Scale: 2, Disp: 2 * j}, word)
		MOVW(word.As16(), buf.Offset(2*j))
	}
	Label(done)
}
