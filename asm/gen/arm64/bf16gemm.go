package main

import "fmt"

// The bfloat16 GEMMs and the rounding to bfloat16 that makes their operands, on
// baseline Advanced SIMD (ARMv8.0: no BFDOT/BFMMLA, which are the ARMv8.6 BF16
// extension). A bfloat16 value is the top half of a float32, so SHLL #16 widens it
// exactly; the product of two widened values is exact in float32 and FMLA rounds
// only the sum, as kernels.GemmNTBF16 allows (FPCR.FZ is 0 under Go, so subnormal
// operands are multiplied exactly too).

// encSHLL widens the lower (from H4: SHLL) or upper (H8: SHLL2) four halfwords of n
// to the 4S d, each shifted left by 16: a bfloat16 made the float32 it stands for.
// (USHLL's shift stops at 15; SHLL is the form that shifts by the element size.)
func encSHLL(from arr, n, d V) (uint32, string) {
	q := from.q("VSHLL", H4, H8)
	name := "VSHLL"
	if q != 0 {
		name = "VSHLL2"
	}
	return 0x2e613800 | q | vreg(n)<<5 | vreg(d), fmt.Sprintf("%s $16, %s, %s", name, vname(n, from), vname(d, S4))
}

// encCMHI: each 32-bit lane of d is all ones where the lane of n is above that of m,
// unsigned (CMHI, register).
func encCMHI(a arr, m, n, d V) (uint32, string) {
	w := 0x2ea03400 | a.q("VCMHI", S2, S4) | vreg(m)<<16 | vreg(n)<<5 | vreg(d)
	return w, fmt.Sprintf("VCMHI %s, %s, %s", vname(m, a), vname(n, a), vname(d, a))
}

func (e *emitter) shll(n, d V)    { e.word(encSHLL(H4, n, d)) }
func (e *emitter) shll2(n, d V)   { e.word(encSHLL(H8, n, d)) }
func (e *emitter) cmhi(m, n, d V) { e.word(encCMHI(S4, m, n, d)) }

// bfB are the row pointers of B in a gemmNTBF16 tile (gr leaves R0 and R1 free).
var bfB = [4]G{gr.pb, gr.tmp, 0, 1}

// gemmNTBF16 computes c[i*ldc+j] = sum_p a[i*lda+p]*b[j*ldb+p] in tiles of 4 rows of
// A by 4 rows of B: 16 accumulators, k eight at a time (one 16-byte load per row,
// widened into two vectors with SHLL and SHLL2, then 32 FMLAs), then a half chunk
// of four and a partial vector of the last 1 to 3, loaded lane by lane into zeroed
// registers. Each row of the tile reduces its four accumulators with pairwise adds
// into one vector of four c values. The last n%4 rows of B make a tile of 1 to 3
// rows, the last m%4 rows of A bands of one row.
func (e *emitter) gemmNTBF16() {
	f := e.begin("gemmNTBF16")
	r := gr
	f.gemmBands([3]int{1, 1, 2}, func(rows int) {
		f.op("MOVD %s, %s", r.b, r.bCol)
		f.op("MOVD %s, %s", r.cRow, r.cj)
		f.op("LSR $2, %s, %s", r.n, r.jCnt)
		f.loop(r.jCnt, func() {
			f.bf16NTTile(rows, 4)
			f.op("ADD %s<<2, %s, %s", r.ldb, r.bCol, r.bCol)
			f.op("ADD $16, %s", r.cj)
		})
		f.op("AND $3, %s, %s", r.n, r.rem)
		f.partial(r.rem, func(nb int) { f.bf16NTTile(rows, nb) })
	})
}

// bf16NTTile emits one tile of rows (1 or 4) of A by nb (1 to 4) rows of B at
// aRow, bCol and cj.
func (f *fn) bf16NTTile(rows, nb int) {
	r := gr
	ap, bp := r.a[:rows], bfB[:nb]
	f.rowPtrs(ap, r.aRow, r.lda)
	f.rowPtrs(bp, r.bCol, r.ldb)
	// Row `row` of A widened in V0-V7 (two vectors each), row s of B in V8-V15, the
	// accumulators from V16.
	av := func(row, h int) V { return V(2*row + h) }
	bv := func(s, h int) V { return V(8 + 2*s + h) }
	acc := func(row, s int) V { return V(16 + 4*row + s) }
	type operand struct {
		p G
		v V
	}
	var ops []operand
	for s := range nb {
		ops = append(ops, operand{bp[s], bv(s, 0)})
	}
	for row := range rows {
		ops = append(ops, operand{ap[row], av(row, 0)})
	}
	fmla := func(h int) {
		for row := range rows {
			for s := range nb {
				f.op("VFMLA %s, %s, %s", bv(s, h).S4(), av(row, h).S4(), acc(row, s).S4())
			}
		}
	}
	for row := range rows {
		f.zero(regs(acc(row, 0), nb)...)
	}
	f.op("LSR $3, %s, %s", r.k, r.cnt)
	f.loop(r.cnt, func() {
		for _, o := range ops {
			f.op("VLD1.P 16(%s), [%s]", o.p, o.v.H8())
			f.shll2(o.v, o.v+1)
			f.shll(o.v, o.v)
		}
		fmla(0)
		fmla(1)
	})
	half := f.newLabel("half")
	f.op("TBZ $2, %s, %s", r.k, half)
	for _, o := range ops {
		f.op("FMOVD.P 8(%s), %s", o.p, o.v.F())
		f.shll(o.v, o.v)
	}
	fmla(0)
	f.label(half)
	f.op("AND $3, %s, %s", r.k, r.rem)
	f.partial(r.rem, func(lanes int) {
		for _, o := range ops {
			f.zero(o.v)
			for l := range lanes {
				f.op("VLD1.P 2(%s), V%d.H[%d]", o.p, o.v.num(), l)
			}
			f.shll(o.v, o.v)
		}
		fmla(0)
	})
	// Reduce and store; the A row pointers are free now and address the c rows.
	cp := ap
	f.rowPtrs(cp, r.cj, r.ldc)
	const t, d V = 1, 0
	for row := range rows {
		a := func(s int) V { return acc(row, s) }
		switch nb {
		case 4: // lanes c[i][j] .. c[i][j+3]
			f.sum4(a(0), a(1), a(2), a(3), t, d)
			f.op("VST1 [%s], (%s)", d.S4(), cp[row])
		case 3:
			f.sum4(a(0), a(1), a(2), a(2), t, d)
			f.op("VST1.P %s, 8(%s)", d.D(0), cp[row])
			f.op("VST1 %s, (%s)", d.S(2), cp[row])
		case 2: // lanes c[i][j], c[i][j+1], twice
			f.faddp(a(1), a(0), d)
			f.faddp(d, d, d)
			f.op("VST1 %s, (%s)", d.D(0), cp[row])
		default:
			f.faddp(a(0), a(0), d)
			f.faddpScalar(d, d)
			f.op("FMOVS %s, (%s)", d.F(), cp[row])
		}
	}
}

// gemmNNAddBF16 accumulates c[i*ldc+j] += sum_p a[i*lda+p]*b[p*ldb+j] in tiles of 4
// rows by 16 columns (16 accumulators loaded from c), as gemmNNAdd: p advances four
// at a time, the four values of each A row widened into one register and used
// through the by-element FMLA, each row of B's chunk (32 bytes) loaded and widened
// into four vectors; then one p at a time, each A value broadcast with LD1R and
// widened. Columns go 16, then 4, then a partial vector of the last 1 to 3, B's
// halfwords and c's floats loaded lane by lane.
func (e *emitter) gemmNNAddBF16() {
	f := e.begin("gemmNNAddBF16")
	r := gr
	f.gemmBands([3]int{1, 1, 2}, func(rows int) {
		f.op("MOVD %s, %s", r.b, r.bCol)
		f.op("MOVD %s, %s", r.cRow, r.cj)
		f.op("LSR $4, %s, %s", r.n, r.jCnt)
		f.loop(r.jCnt, func() {
			f.bf16NNTile(rows, 4, 0)
			f.op("ADD $32, %s", r.bCol)
			f.op("ADD $64, %s", r.cj)
		})
		f.op("UBFX $2, %s, $2, %s", r.n, r.jCnt)
		f.loop(r.jCnt, func() {
			f.bf16NNTile(rows, 1, 0)
			f.op("ADD $8, %s", r.bCol)
			f.op("ADD $16, %s", r.cj)
		})
		f.op("AND $3, %s, %s", r.n, r.rem)
		f.partial(r.rem, func(lanes int) { f.bf16NNTile(rows, 1, lanes) })
	})
}

// bf16NNTile emits one tile of rows x (4*vecs) columns at cj, or rows x lanes
// columns for lanes > 0.
func (f *fn) bf16NNTile(rows, vecs, lanes int) {
	r := gr
	ap := r.a[:rows]
	// Accumulators acc[row][v] = V16+vecs*row+v; A values V0-V3; B's chunk of row p
	// widened in V4-V7 and V8-V11, alternating.
	acc := func(row, v int) V { return V(16 + vecs*row + v) }
	bset := func(q int) V { return V(4 + 4*(q%2)) }
	f.rowPtrs(ap, r.cj, r.ldc)
	for row := range rows {
		if lanes == 0 {
			f.op("VLD1 (%s), %s", ap[row], list(acc(row, 0), vecs, "S4"))
		} else {
			f.loadLanes(ap[row], acc(row, 0), lanes)
		}
	}
	f.rowPtrs(ap, r.aRow, r.lda)
	f.op("MOVD %s, %s", r.bCol, r.pb)
	// loadB loads and widens row p's chunk into dst.. and advances pb to row p+1. A
	// partial chunk leaves garbage in the lanes past `lanes`, which only reach lanes
	// of the accumulators that are never stored.
	loadB := func(dst V) {
		switch {
		case vecs == 4: // 16 halfwords into dst, dst+1, widened in place from the top
			f.op("VLD1.P (%s)(%s), %s", r.pb, r.ldb, list(dst, 2, "H8"))
			f.shll2(dst+1, dst+3)
			f.shll(dst+1, dst+2)
			f.shll2(dst, dst+1)
			f.shll(dst, dst)
		case lanes == 0:
			f.op("VLD1.P (%s)(%s), [%s]", r.pb, r.ldb, fmt.Sprintf("V%d.H4", dst.num()))
			f.shll(dst, dst)
		default:
			f.op("MOVD %s, %s", r.pb, r.tmp)
			for l := range lanes {
				f.op("VLD1.P 2(%s), V%d.H[%d]", r.tmp, dst.num(), l)
			}
			f.op("ADD %s, %s", r.ldb, r.pb)
			f.shll(dst, dst)
		}
	}
	f.op("LSR $2, %s, %s", r.k, r.cnt)
	f.loop(r.cnt, func() {
		for row := range rows {
			f.op("FMOVD.P 8(%s), %s", ap[row], V(row).F())
			f.shll(V(row), V(row))
		}
		for q := range 4 {
			loadB(bset(q))
			for row := range rows {
				for v := range vecs {
					f.fmlaElem(V(row), q, bset(q)+V(v), acc(row, v))
				}
			}
		}
	})
	f.op("AND $3, %s, %s", r.k, r.cnt)
	f.loop(r.cnt, func() {
		for row := range rows {
			f.op("VLD1R.P 2(%s), [%s]", ap[row], fmt.Sprintf("V%d.H4", row))
			f.shll(V(row), V(row))
		}
		loadB(bset(0))
		for row := range rows {
			for v := range vecs {
				f.op("VFMLA %s, %s, %s", (bset(0) + V(v)).S4(), V(row).S4(), acc(row, v).S4())
			}
		}
	})
	f.rowPtrs(ap, r.cj, r.ldc)
	for row := range rows {
		if lanes == 0 {
			f.op("VST1 %s, (%s)", list(acc(row, 0), vecs, "S4"), ap[row])
		} else {
			f.storeLanes(acc(row, 0), ap[row], lanes)
		}
	}
}

// f32ToBF16DAZ narrows float32 to bfloat16 in integer arithmetic, the semantics of
// kernels.F32ToBF16DAZ bit for bit, as the AVX-512 body: round to nearest even
// (add 0x7fff plus the kept half's lowest bit, shift right 16), a NaN (|b| above
// the infinity's bits, CMHI) made its top half with bit 6 set (BIT), and a result
// whose exponent field is zero (CMTST) cut to its sign. UZP1 packs the low
// halfwords of two vectors of results into one. 16 values at a time, then 4, then
// the last 1 to 3 lane by lane.
func (e *emitter) f32ToBF16DAZ() {
	f := e.begin("f32ToBF16DAZ")
	const dst, src, n, cnt, tmp G = 0, 1, 2, 3, 4
	const one, round, abs, inf, quiet, exp, sign V = 24, 25, 26, 27, 28, 29, 30
	f.base("dst", dst)
	f.base("src", src)
	f.length("src", n)
	for _, c := range []struct {
		v    V
		bits uint32
	}{{one, 1}, {round, 0x7fff}, {abs, 0x7fffffff}, {inf, 0x7f800000}, {quiet, 0x40}, {exp, 0x7f80}, {sign, 0x8000}} {
		f.op("MOVD $%#x, %s", c.bits, tmp)
		f.op("VDUP %s, %s", tmp, c.v.S4())
	}
	// narrow rounds V(u) for u < vecs into the low halfwords of the 32-bit lanes of
	// V(8+u), with V(4+u) and V(12+u) as scratch.
	narrow := func(vecs int) {
		for u := range vecs {
			b, h, x, t := V(u), V(4+u), V(8+u), V(12+u)
			f.op("VUSHR $16, %s, %s", b.S4(), h.S4())
			f.op("VAND %s, %s, %s", one.B16(), h.B16(), x.B16())
			f.op("VADD %s, %s, %s", round.S4(), x.S4(), x.S4())
			f.op("VADD %s, %s, %s", b.S4(), x.S4(), x.S4())
			f.op("VUSHR $16, %s, %s", x.S4(), x.S4())
			// NaN: |b| > Inf, unsigned; its top half, quieted.
			f.op("VAND %s, %s, %s", abs.B16(), b.B16(), t.B16())
			f.cmhi(inf, t, t)
			f.op("VORR %s, %s, %s", quiet.B16(), h.B16(), h.B16())
			f.op("VBIT %s, %s, %s", t.B16(), h.B16(), x.B16())
			// A zero exponent field keeps the sign only.
			f.op("VCMTST %s, %s, %s", exp.S4(), x.S4(), t.S4())
			f.op("VORR %s, %s, %s", sign.B16(), t.B16(), t.B16())
			f.op("VAND %s, %s, %s", t.B16(), x.B16(), x.B16())
		}
	}
	f.stream(n, cnt, 4, func(vecs int) {
		if vecs == 1 {
			f.op("VLD1.P 16(%s), [%s]", src, V(0).S4())
			narrow(1)
			f.op("VUZP1 %s, %s, %s", V(8).H8(), V(8).H8(), V(16).H8())
			f.op("VST1.P %s, 8(%s)", V(16).D(0), dst)
			return
		}
		f.op("VLD1.P 64(%s), %s", src, list(0, 4, "S4"))
		narrow(4)
		f.op("VUZP1 %s, %s, %s", V(9).H8(), V(8).H8(), V(16).H8())
		f.op("VUZP1 %s, %s, %s", V(11).H8(), V(10).H8(), V(17).H8())
		f.op("VST1.P %s, 32(%s)", list(16, 2, "H8"), dst)
	})
	f.op("AND $3, %s, %s", n, cnt)
	f.partial(cnt, func(lanes int) {
		f.loadLanes(src, 0, lanes)
		narrow(1)
		for l := range lanes {
			f.op("VST1.P V8.H[%d], 2(%s)", 2*l, dst)
		}
	})
	f.op("RET")
}
