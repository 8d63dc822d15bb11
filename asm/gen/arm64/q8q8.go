package main

// gemvQ8_0Q8 computes y = W x for W in Q8_0 and x a Q8 vector (int8 quants xq, a
// float32 scale per 32 in xd), rows four at a time, then the len(y)%4 left one at a
// time, with baseline Advanced SIMD only (no SDOT, an ARMv8.2 extension). Per block,
// x's 32 quants (V0-V1) and scale d_x are loaded once. Each row's half scale goes to
// a lane of one vector, widened exactly (FCVTL) and multiplied by d_x (one rounding,
// as the reference rounds s_b = d_w·d_x). Each row's 32 products are formed in
// 16-bit lanes, two per lane (SMULL of the lower eight bytes, SMLAL2 adding the
// upper eight: |q_w·q_x| <= 128·127, so a lane holds at most 32512 and never
// overflows), and summed pairwise into four int32 lanes (SADDLP, SADALP) of eight
// products each, exactly. Those are converted to float32 (SCVTF, exact below 2^24)
// and times s_b added into the row's accumulator with one by-element FMLA. The
// four rows' accumulators are reduced pairwise straight into a vector of four y
// values (one row's to its scalar sum), as in gemvQ8_0: per lane one rounding per
// block plus the scale's, and two in the reduction, within mlasimd.GemvQ8_0Q8's
// bound. len(xq) is a multiple of 32, so there are no tails, and every load reads
// only bytes of W, xq and xd.
func (e *emitter) gemvQ8_0Q8() {
	f := e.begin("gemvQ8_0Q8")
	const y, m, w, xq, n, rowBytes, blk, r1, r2, r3, xp, cnt, blocks, tmp, xd, dp G = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	// Registers: x's quants V0-V1 and scale V2; the rows' scales V3 (halves, then
	// floats), per row its quants V4-V11 (two each), 16-bit products V12-V19 (two
	// each), int32 sums V20-V23 and accumulators V24-V27.
	const qx, dx, s, qw, prod, isum, acc V = 0, 2, 3, 4, 12, 20, 24
	f.base("y", y)
	f.length("y", m)
	f.base("w", w)
	f.base("xq", xq)
	f.length("xq", n)
	f.base("xd", xd)
	f.op("LSR $5, %s, %s", n, blocks)
	f.op("MOVD $%d, %s", q8BlockBytes, tmp)
	f.op("MUL %s, %s, %s", tmp, blocks, rowBytes)

	// pass emits one pass over the blocks of the rows at ptr (each advanced to the
	// end of its row), leaving row r's sum in the lanes of acc+r.
	pass := func(ptr []G) {
		f.op("MOVD %s, %s", xq, xp)
		f.op("MOVD %s, %s", xd, dp)
		f.zero(regs(acc, len(ptr))...)
		f.op("MOVD %s, %s", blocks, cnt)
		f.loop(cnt, func() {
			f.op("VLD1.P 32(%s), %s", xp, list(qx, 2, "B16"))
			f.op("FMOVS.P 4(%s), %s", dp, dx.F())
			for r, p := range ptr {
				f.op("VLD1.P 2(%s), V%d.H[%d]", p, s, r)
			}
			f.fcvtl(s, s)
			f.fmulElem(dx, 0, s, s)
			for r, p := range ptr {
				q, pr, sum := qw+2*V(r), prod+2*V(r), isum+V(r)
				f.op("VLD1.P 32(%s), %s", p, list(q, 2, "B16"))
				for i := range V(2) {
					f.smull(qx+i, q+i, pr+i)
					f.smlal2(qx+i, q+i, pr+i)
				}
				f.saddlp(pr, sum)
				f.sadalp(pr+1, sum)
				f.scvtf(sum, sum)
				f.fmlaElem(s, r, sum, acc+V(r))
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
