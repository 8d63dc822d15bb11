package main

// f16ToF32 widens IEEE halves with FCVTL/FCVTL2, which are exact and quiet a
// signaling NaN as kernels.F16ToF32 does (FPCR.DN is 0 under Go); the last
// elements go through the scalar FCVT, which does the same.
func (e *emitter) f16ToF32() {
	f := e.begin("f16ToF32")
	const dst, src, n, cnt, bits G = 0, 1, 2, 3, 4
	f.base("dst", dst)
	f.base("src", src)
	f.length("src", n)
	f.stream(n, cnt, 8, func(vecs int) {
		if vecs == 1 {
			f.op("FMOVD.P 8(%s), F0", src)
			f.fcvtl(0, 1)
			f.store4s(1, dst, 1)
			return
		}
		f.op("VLD1.P 64(%s), %s", src, list(0, 4, "H8"))
		for u := range 4 {
			f.fcvtl(V(u), V(4+2*u))
			f.fcvtl2(V(u), V(5+2*u))
		}
		f.store4s(4, dst, 8)
	})
	f.scalarTail(n, cnt, func() {
		f.op("MOVHU.P 2(%s), %s", src, bits)
		f.op("FMOVS %s, F0", bits)
		f.op("FCVTHS F0, F0")
		f.op("FMOVS.P F0, 4(%s)", dst)
	})
	f.op("RET")
}

// bf16ToF32 widens bfloat16 by interleaving zero halfwords below each value (ZIP1
// and ZIP2 with a zero register), which puts it in the top half of a float32.
func (e *emitter) bf16ToF32() {
	f := e.begin("bf16ToF32")
	const dst, src, n, cnt, bits G = 0, 1, 2, 3, 4
	const zero V = 31
	f.base("dst", dst)
	f.base("src", src)
	f.length("src", n)
	f.zero(zero)
	f.stream(n, cnt, 8, func(vecs int) {
		if vecs == 1 {
			f.op("FMOVD.P 8(%s), F0", src)
			f.op("VZIP1 %s, %s, %s", V(0).H8(), zero.H8(), V(1).H8())
			f.store4s(1, dst, 1)
			return
		}
		f.op("VLD1.P 64(%s), %s", src, list(0, 4, "H8"))
		for u := range 4 {
			f.op("VZIP1 %s, %s, %s", V(u).H8(), zero.H8(), V(4+2*u).H8())
			f.op("VZIP2 %s, %s, %s", V(u).H8(), zero.H8(), V(5+2*u).H8())
		}
		f.store4s(4, dst, 8)
	})
	f.scalarTail(n, cnt, func() {
		f.op("MOVHU.P 2(%s), %s", src, bits)
		f.op("LSLW $16, %s, %s", bits, bits)
		f.op("MOVW.P %s, 4(%s)", bits, dst)
	})
	f.op("RET")
}
