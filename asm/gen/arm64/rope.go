package main

// rope rotates the interleaved pairs (x[2i], x[2i+1]). LD2 splits 16 pairs into
// the even elements a and the odd ones b, four vectors each; the rotation is then
// plain vector arithmetic against cos and sin, and ST2 interleaves the results back:
//
//	a' = a*c - b*s, b' = a*s + b*c
func (e *emitter) rope() {
	f := e.begin("rope")
	const x, pairs, cs, sn, out, cnt G = 0, 1, 2, 3, 4, 5
	f.base("x", x)
	f.base("cos", cs)
	f.length("cos", pairs)
	f.base("sin", sn)
	f.op("MOVD %s, %s", x, out)
	// Vector u: a in V(2u), b in V(2u+1), cos V(8+u), sin V(12+u), results V(16+2u), V(17+2u).
	f.stream(pairs, cnt, 4, func(vecs int) {
		for u := range vecs {
			f.op("VLD2.P 32(%s), [%s, %s]", x, V(2*u).S4(), V(2*u+1).S4())
		}
		f.load4s(cs, 8, vecs)
		f.load4s(sn, 12, vecs)
		for u := range vecs {
			a, b, c, s := V(2*u), V(2*u+1), V(8+u), V(12+u)
			ra, rb := V(16+2*u), V(17+2*u)
			f.fmul(c, a, ra)
			f.fmul(c, b, rb)
			f.op("VFMLS %s, %s, %s", s.S4(), b.S4(), ra.S4())
			f.op("VFMLA %s, %s, %s", s.S4(), a.S4(), rb.S4())
		}
		for u := range vecs {
			f.op("VST2.P [%s, %s], 32(%s)", V(16+2*u).S4(), V(17+2*u).S4(), out)
		}
	})
	f.scalarTail(pairs, cnt, func() {
		f.op("FMOVS.P 4(%s), F0", x)
		f.op("FMOVS.P 4(%s), F1", x)
		f.op("FMOVS.P 4(%s), F2", cs)
		f.op("FMOVS.P 4(%s), F3", sn)
		f.op("FMULS F2, F0, F4")      // a*c
		f.op("FMSUBS F3, F4, F1, F4") // - b*s
		f.op("FMULS F2, F1, F5")      // b*c
		f.op("FMADDS F3, F5, F0, F5") // + a*s
		f.op("FMOVS.P F4, 4(%s)", out)
		f.op("FMOVS.P F5, 4(%s)", out)
	})
	f.op("RET")
}

// ropeHalf rotates the pairs (x[i], x[i+h]): lo' = lo*c - hi*s, hi' = lo*s + hi*c.
func (e *emitter) ropeHalf() {
	f := e.begin("ropeHalf")
	const lo, h, cs, sn, hi, cnt G = 0, 1, 2, 3, 4, 5
	f.base("x", lo)
	f.base("cos", cs)
	f.length("cos", h)
	f.base("sin", sn)
	f.op("ADD %s<<2, %s, %s", h, lo, hi)
	f.stream(h, cnt, 4, func(vecs int) {
		f.loadInPlace(lo, 0, vecs)
		f.loadInPlace(hi, 4, vecs)
		f.load4s(cs, 8, vecs)
		f.load4s(sn, 12, vecs)
		for u := range vecs {
			a, b, c, s := V(u), V(4+u), V(8+u), V(12+u)
			ra, rb := V(16+u), V(20+u)
			f.fmul(c, a, ra)
			f.fmul(c, b, rb)
			f.op("VFMLS %s, %s, %s", s.S4(), b.S4(), ra.S4())
			f.op("VFMLA %s, %s, %s", s.S4(), a.S4(), rb.S4())
		}
		f.store4s(16, lo, vecs)
		f.store4s(20, hi, vecs)
	})
	f.scalarTail(h, cnt, func() {
		f.op("FMOVS (%s), F0", lo)
		f.op("FMOVS (%s), F1", hi)
		f.op("FMOVS.P 4(%s), F2", cs)
		f.op("FMOVS.P 4(%s), F3", sn)
		f.op("FMULS F2, F0, F4")
		f.op("FMSUBS F3, F4, F1, F4")
		f.op("FMULS F2, F1, F5")
		f.op("FMADDS F3, F5, F0, F5")
		f.op("FMOVS.P F4, 4(%s)", lo)
		f.op("FMOVS.P F5, 4(%s)", hi)
	})
	f.op("RET")
}
