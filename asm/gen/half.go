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
