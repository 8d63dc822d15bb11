package main

// Q8_0's block: a half scale, then 32 int8 quants (kernels.Q8_0Block).
const (
	q8Block      = 32
	q8BlockBytes = 2 + q8Block
)

// q8Regs are the registers that widen one row's block: its 32 quants loaded as two
// B16 (q, q+1), sign-extended to four H8 (h..h+3), each quarter of those to float32
// in one of four S4 (f..f+3, reused round robin).
type q8Regs struct{ q, h, f V }

// q8Scale loads a block's half scale from p (advancing it past) into lane 0 of d,
// widened exactly with the scalar FCVT as f16ToF32's tail does; bits is scratch.
func (f *fn) q8Scale(p, bits G, d V) {
	f.op("MOVHU.P 2(%s), %s", p, bits)
	f.op("FMOVS %s, %s", bits, d.F())
	f.op("FCVTHS %s, %s", d.F(), d.F())
}

// q8Quants loads the 32 quants at p (advancing it past them) and calls use(k, v)
// for k = 0..7 with quants 4k..4k+3 converted to float32 in v, in that order.
func (f *fn) q8Quants(p G, r q8Regs, use func(k int, v V)) {
	f.op("VLD1.P 32(%s), %s", p, list(r.q, 2, "B16"))
	for i := range 2 {
		f.sxtl(B8, r.q+V(i), r.h+V(2*i))
		f.sxtl(B16, r.q+V(i), r.h+V(2*i+1))
	}
	for k := range 8 {
		v := r.f + V(k%4)
		from := H4
		if k%2 == 1 {
			from = H8
		}
		f.sxtl(from, r.h+V(k/2), v)
		f.scvtf(v, v)
		use(k, v)
	}
}

// gemvQ8_0 computes y = W x for W in Q8_0, rows four at a time, then the len(y)%4
// left one at a time. Per block, the 32 floats of x are loaded once (V0-V7); per row
// the quants are widened in registers (SXTL twice, SCVTF), their products with x
// summed lane-wise into one vector s (FMUL, then seven FMLAs in column order), and s
// scaled by the block's half scale d into the row's accumulator with one
// by-element FMLA. The four rows' accumulators are reduced pairwise straight into a
// vector of four y values (one row's to its scalar sum). Per lane that is eight
// roundings in the block and one per block in the outer sum, plus two in the
// reduction, within mlasimd.GemvQ8_0's bound. len(x) is a multiple of 32, so there
// are no tails, and every load reads only bytes of W and x.
func (e *emitter) gemvQ8_0() {
	f := e.begin("gemvQ8_0")
	const y, m, w, x, n, rowBytes, blk, r1, r2, r3, xp, cnt, blocks, tmp G = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
	bits := [4]G{14, 15, 19, 20}
	// Registers: x V0-V7; widening V8-V9 (quants), V10-V13 (halves), V14-V17
	// (floats); scales V20-V23, accumulators V24-V27 and block sums V28-V31, one per
	// row.
	wide := q8Regs{q: 8, h: 10, f: 14}
	const d, acc, s V = 20, 24, 28
	f.base("y", y)
	f.length("y", m)
	f.base("w", w)
	f.base("x", x)
	f.length("x", n)
	f.op("LSR $5, %s, %s", n, blocks)
	f.op("MOVD $%d, %s", q8BlockBytes, tmp)
	f.op("MUL %s, %s, %s", tmp, blocks, rowBytes)

	// pass emits one pass over the blocks of the rows at ptr (each advanced to the
	// end of its row), leaving row r's sum in the lanes of acc+r.
	pass := func(ptr []G) {
		f.op("MOVD %s, %s", x, xp)
		f.zero(regs(acc, len(ptr))...)
		f.op("MOVD %s, %s", blocks, cnt)
		f.loop(cnt, func() {
			f.load4s(xp, 0, 8)
			for r, p := range ptr {
				sr := s + V(r)
				f.q8Scale(p, bits[r], d+V(r))
				f.q8Quants(p, wide, func(k int, v V) {
					if k == 0 {
						f.fmul(V(k), v, sr)
						return
					}
					f.op("VFMLA %s, %s, %s", v.S4(), V(k).S4(), sr.S4())
				})
				f.fmlaElem(d+V(r), 0, sr, acc+V(r))
			}
		})
	}

	f.op("LSR $2, %s, %s", m, blk)
	f.loop(blk, func() {
		f.op("ADD %s, %s, %s", rowBytes, w, r1)
		f.op("ADD %s, %s, %s", rowBytes, r1, r2)
		f.op("ADD %s, %s, %s", rowBytes, r2, r3)
		pass([]G{w, r1, r2, r3})
		f.sum4(acc, acc+1, acc+2, acc+3, 1, 0)
		f.op("VST1.P [%s], 16(%s)", V(0).S4(), y)
		f.op("MOVD %s, %s", r3, w)
	})
	f.op("AND $3, %s, %s", m, blk)
	f.loop(blk, func() {
		pass([]G{w})
		f.reduceSum([]V{acc})
		f.op("FMOVS.P %s, 4(%s)", acc.F(), y)
	})
	f.op("RET")
}

// gemvTQ8_0 accumulates y += Wᵀ x for W in Q8_0 in the axpy form of
// kernels.AxpyQ8_0, W read front to back: rows four at a time, then the len(x)%4
// left one at a time. Per block of 32 columns, each row's s = x[i]·d is formed once
// with a scalar FMUL (rounded to float32 as the reference rounds it), the block's 32
// values of y are loaded (V16-V23), get s·q of each row in row order (the quants
// widened in registers as in gemvQ8_0, one by-element FMLA per vector, each product
// fused with its add) and are stored. len(y) is a multiple of 32, so there are no
// tails, and every load reads only bytes of W, x and y.
func (e *emitter) gemvTQ8_0() {
	f := e.begin("gemvTQ8_0")
	const y, n, w, x, m, rowBytes, blk, r1, r2, r3, yp, cnt, blocks, tmp G = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
	bits := [4]G{14, 15, 19, 20}
	// Registers: widening V0-V1 (quants), V2-V5 (halves), V6-V9 (floats); the block
	// of y V16-V23; per row, the scale V10-V13, x[i] V24-V27 and s V28-V31.
	wide := q8Regs{q: 0, h: 2, f: 6}
	const d, acc, xs, s V = 10, 16, 24, 28
	f.base("y", y)
	f.length("y", n)
	f.base("w", w)
	f.base("x", x)
	f.length("x", m)
	f.op("LSR $5, %s, %s", n, blocks)
	f.op("MOVD $%d, %s", q8BlockBytes, tmp)
	f.op("MUL %s, %s, %s", tmp, blocks, rowBytes)

	// pass emits one pass over the blocks of the rows at ptr (each advanced to the
	// end of its row), whose x[i] are in xs, xs+1, ...
	pass := func(ptr []G) {
		f.op("MOVD %s, %s", y, yp)
		f.op("MOVD %s, %s", blocks, cnt)
		f.loop(cnt, func() {
			for r, p := range ptr {
				f.q8Scale(p, bits[r], d+V(r))
				f.op("FMULS %s, %s, %s", (d + V(r)).F(), (xs + V(r)).F(), (s + V(r)).F())
			}
			f.op("MOVD %s, %s", yp, tmp)
			f.op("VLD1.P 64(%s), %s", tmp, list(acc, 4, "S4"))
			f.op("VLD1 (%s), %s", tmp, list(acc+4, 4, "S4"))
			for r, p := range ptr {
				f.q8Quants(p, wide, func(k int, v V) {
					f.fmlaElem(s+V(r), 0, v, acc+V(k))
				})
			}
			f.store4s(acc, yp, 8)
		})
	}

	f.op("LSR $2, %s, %s", m, blk)
	f.loop(blk, func() {
		f.op("ADD %s, %s, %s", rowBytes, w, r1)
		f.op("ADD %s, %s, %s", rowBytes, r1, r2)
		f.op("ADD %s, %s, %s", rowBytes, r2, r3)
		for r := range 4 {
			f.op("FMOVS.P 4(%s), %s", x, (xs + V(r)).F())
		}
		pass([]G{w, r1, r2, r3})
		f.op("MOVD %s, %s", r3, w)
	})
	f.op("AND $3, %s, %s", m, blk)
	f.loop(blk, func() {
		f.op("FMOVS.P 4(%s), %s", x, xs.F())
		pass([]G{w})
	})
	f.op("RET")
}
