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

// rowFormat is how W stores its weights for gemvBody: size bytes each; load puts
// vecs four-lane vectors of a row, as float32, into consecutive registers from dst,
// and lanes a partial vector's first lanes (the others zero), both advancing p. A
// scaled format widens to the weights divided by the factor that its body first
// puts in every lane of scaleReg: gemvBody multiplies each row's sum by it, and
// gemvTRows each x[i].
type rowFormat struct {
	size   int
	load   func(f *fn, p G, dst V, vecs int)
	lanes  func(f *fn, p G, dst V, lanes int)
	scaled bool
}

// scaleReg holds a scaled rowFormat's factor; gemvBody and gemvTRows leave it free.
const scaleReg V = 31

// scaleBy multiplies the lanes of v by the factor of a scaled format.
func (f *fn) scaleBy(rows rowFormat, v V) {
	if rows.scaled {
		f.fmul(scaleReg, v, v)
	}
}

var f32Rows = rowFormat{size: 4, load: (*fn).load4s, lanes: (*fn).loadLanes}

// The half-precision rows are loaded into halfTmp (and halfTmp+1), which gemvBody
// leaves free, and widened from there; halfZero holds zeros for bf16's ZIP.
const halfTmp, halfZero V = 28, 30

// halfRows is the rowFormat of 16-bit weights that widenLo and widenHi convert
// (the low or high four halfwords of a register) to four float32 lanes.
func halfRows(widenLo, widenHi func(f *fn, src, dst V)) rowFormat {
	return rowFormat{size: 2,
		load: func(f *fn, p G, dst V, vecs int) {
			if vecs == 1 {
				f.op("FMOVD.P 8(%s), %s", p, halfTmp.F())
				widenLo(f, halfTmp, dst)
				return
			}
			for g := 0; g < vecs; g += 4 {
				f.op("VLD1.P 32(%s), %s", p, list(halfTmp, 2, "H8"))
				for u := range 4 {
					widen := widenLo
					if u%2 == 1 {
						widen = widenHi
					}
					widen(f, halfTmp+V(u/2), dst+V(g+u))
				}
			}
		},
		lanes: func(f *fn, p G, dst V, lanes int) {
			f.zero(halfTmp)
			for l := range lanes {
				f.op("VLD1.P 2(%s), V%d.H[%d]", p, halfTmp.num(), l)
			}
			widenLo(f, halfTmp, dst)
		}}
}

// bf16Rows widens by interleaving zero halfwords below each value, as bf16ToF32.
var bf16Rows = halfRows(
	func(f *fn, src, dst V) { f.op("VZIP1 %s, %s, %s", src.H8(), halfZero.H8(), dst.H8()) },
	func(f *fn, src, dst V) { f.op("VZIP2 %s, %s, %s", src.H8(), halfZero.H8(), dst.H8()) })

// f16Rows widens with FCVTL/FCVTL2, as f16ToF32.
var f16Rows = halfRows((*fn).fcvtl, (*fn).fcvtl2)

// gemvBF16 and gemvF16 are gemv for W in bfloat16 or IEEE half bits, each chunk of
// a row widened in registers before the FMLAs.
func (e *emitter) gemvBF16() {
	f := e.begin("gemvBF16")
	f.zero(halfZero)
	f.gemvBody("y", "w", "x", bf16Rows)
	f.op("RET")
}

func (e *emitter) gemvF16() {
	f := e.begin("gemvF16")
	f.gemvBody("y", "w", "x", f16Rows)
	f.op("RET")
}

// gemvTBF16 and gemvTF16 accumulate y += Wᵀ x for W in bfloat16 or IEEE half bits,
// in the axpy form of gemvTRows, each chunk of a row widened in registers.
func (e *emitter) gemvTBF16() {
	f := e.begin("gemvTBF16")
	f.zero(halfZero)
	f.gemvTRows(bf16Rows)
	f.op("RET")
}

func (e *emitter) gemvTF16() {
	f := e.begin("gemvTF16")
	f.gemvTRows(f16Rows)
	f.op("RET")
}
