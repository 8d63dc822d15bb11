package main

import "fmt"

// The int8 attention kernels over an I8 row store (kernels/attn_i8.go gives the
// layout and the exact results every Level must match bit for bit): in a tile of 16
// rows, the 64 bytes of column group g (columns 4g..4g+3) hold four columns of all
// sixteen rows, each row's four bytes together, each byte the value plus 128 (EOR
// 0x80 gives the signed value back). The bodies use baseline Advanced SIMD only
// (widening multiplies and pairwise adds, no SDOT, an ARMv8.2 extension): every
// product of a quant in [-127, 127] and a value in [-128, 127] is at most 16256 in
// magnitude, so a 16-bit lane holds the sum of two exactly, and the int32 sums are
// exact (and exactly converted to float32, below 2^24).

// Narrowing with saturation: each lane of n (twice the width of d's) to half its
// width, into the lower half of d (B8, H4: the plain form, the upper half cleared)
// or its upper half (B16, H8: the "2" form, the lower half kept).
type narrow struct {
	name string // as objdump prints it, without the "2"
	base uint32
}

var (
	opSQXTUN = narrow{"VSQXTUN", 0x2e212800} // signed to unsigned: negatives give 0
	opUQXTN  = narrow{"VUQXTN", 0x2e214800}  // unsigned to unsigned
)

func encNarrow(op narrow, to arr, n, d V) (uint32, string) {
	q := to.q(op.name, B8, B16, H4, H8)
	size, from := uint32(0), H8
	if to == H4 || to == H8 {
		size, from = 1, S4
	}
	name := op.name
	if q != 0 {
		name += "2"
	}
	return op.base | q | size<<22 | vreg(n)<<5 | vreg(d), fmt.Sprintf("%s %s, %s", name, vname(n, from), vname(d, to))
}

// opFCVTNS converts float32 to int32, rounding to nearest with ties to even (and
// saturating), as math.RoundToEven then a clamp.
var opFCVTNS = float2{"VFCVTNS", 0x0e21a800}

// attnScoresI8 computes s[h·n+j] for tiles of 16 rows (outer loop) and heads two at a
// time, then the last one (inner loop), so that a tile's column groups are loaded and
// unbiased once per pair of heads. Per column group the 64 bytes go to V0-V3 (rows
// 4i..4i+3 in Vi, each row's four bytes together) and the head's four query bytes
// for the group are replicated into every word (LD1R). SMULL and SMULL2 of Vi and
// the query give the 16-bit products of rows 4i, 4i+1 and of 4i+2, 4i+3 (four per
// row); ADDP of the two adds adjacent pairs (at most 32512), leaving two sums per
// row in row order, and SADALP adds each row's two into its int32 lane of the
// accumulator of rows 4i..4i+3. A head has four accumulators per segment, the
// segments' groups summed in two loops, so the sums need no horizontal adds.
//
// The epilogue follows the reference's order exactly: the scale products qs·d (one
// by-element FMUL per four rows), SCVTF (exact), the products, their sum (FMUL,
// FMUL, FADD: no fused operation). A tile's sixteen results per head go to s with
// one store, or, in a last tile of fewer than 16 rows, lane by lane for the rows
// that exist. Every tile and its scales are read whole (they are, by the shape
// check); q, qs and s only within their rows.
func (e *emitter) attnScoresI8() {
	f := e.begin("attnScoresI8")
	const (
		sTile, qBase, qsBase, tp, sc, m, n, w, g0, g1 G = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
		left, tileBytes, tiles, hcnt, qa, qb, qsp, sh G = 10, 11, 12, 13, 14, 15, 19, 20
		gp, cnt, tmp, rem, n4                         G = 21, 22, 23, 24, 25
	)
	// Registers: the column group V0-V3 (then the segment-0 scales d_0), the bias
	// 0x80 V4, the heads' query words V5-V6 (then their scale pairs), products V7-V14
	// (then the scale products), the segment-1 scales d_1 V11-V14 in the epilogue,
	// the accumulators V16-V31: head k's segment s rows 4i..4i+3 in V16+8k+4s+i.
	const (
		grp, bias, qv, prod, d1 V = 0, 4, 5, 7, 11
	)
	acc := func(k, seg, i int) V { return 16 + V(8*k+4*seg+i) }
	f.base("s", sTile)
	f.base("q", qBase)
	f.base("qs", qsBase)
	f.base("tiles", tp)
	f.base("scales", sc)
	f.intArg("m", m)
	f.intArg("n", n)
	f.intArg("w", w)
	f.intArg("split", g0)
	f.op("SUB %s, %s, %s", g0, w, g1)
	f.op("LSR $2, %s, %s", g0, g0)
	f.op("LSR $2, %s, %s", g1, g1)
	f.op("LSL $4, %s, %s", w, tileBytes)
	f.op("LSL $2, %s, %s", n, n4)
	f.op("ADD $15, %s, %s", n, tiles)
	f.op("LSR $4, %s, %s", tiles, tiles)
	f.op("MOVD %s, %s", n, left)
	f.op("VMOVI $128, %s", bias.B16())

	// groups emits the loop over cnt column groups of segment seg for heads heads.
	groups := func(heads, seg int) {
		qp := []G{qa, qb}
		f.loop(cnt, func() {
			f.op("VLD1.P 64(%s), %s", gp, list(grp, 4, "B16"))
			for i := range V(4) {
				f.op("VEOR %s, %s, %s", bias.B16(), (grp + i).B16(), (grp + i).B16())
			}
			for k := range heads {
				f.op("VLD1R.P 4(%s), [%s]", qp[k], (qv + V(k)).S4())
			}
			t := 0
			for i := range 4 {
				for k := range heads {
					lo, hi := prod+V(t%8), prod+V(t%8+1)
					t += 2
					g, qk := grp+V(i), qv+V(k)
					f.word(encLong3(opSMULL, B8, qk, g, lo))
					f.word(encLong3(opSMULL, B16, qk, g, hi))
					f.op("VADDP %s, %s, %s", hi.H8(), lo.H8(), lo.H8())
					f.sadalp(lo, acc(k, seg, i))
				}
			}
		})
	}

	// block emits the work of heads (1 or 2) heads on the current tile.
	block := func(heads int) {
		if heads == 2 {
			f.op("ADD %s, %s, %s", w, qa, qb)
		}
		for k := range heads {
			f.zero(regs(acc(k, 0, 0), 8)...)
		}
		f.op("MOVD %s, %s", tp, gp)
		f.op("MOVD %s, %s", g0, cnt)
		groups(heads, 0)
		f.op("MOVD %s, %s", g1, cnt)
		groups(heads, 1)
		if heads == 2 {
			f.op("MOVD %s, %s", qb, qa) // the end of head b's row: the next head's
		}
		f.op("VLD1 (%s), %s", sc, list(grp, 4, "S4"))
		f.op("ADD $64, %s, %s", sc, tmp)
		f.op("VLD1 (%s), %s", tmp, list(d1, 4, "S4"))
		for k := range heads {
			f.op("FMOVD %d(%s), %s", 8*k, qsp, (qv + V(k)).F())
		}
		f.op("ADD $%d, %s, %s", 8*heads, qsp, qsp)
		for i := range 4 {
			for k := range heads {
				t0, t1 := prod+V(2*k), prod+V(2*k+1)
				a0, a1 := acc(k, 0, i), acc(k, 1, i)
				f.fmulElem(qv+V(k), 0, grp+V(i), t0)
				f.scvtf(a0, a0)
				f.fmulElem(qv+V(k), 1, d1+V(i), t1)
				f.scvtf(a1, a1)
				f.fmul(t0, a0, a0)
				f.fmul(t1, a1, a1)
				f.fadd(a1, a0, a0)
			}
		}
		for k := range heads {
			f.op("MOVD %s, %s", sh, tmp)
			f.storeRows(regs(acc(k, 0, 0), 4), tmp, left, rem)
			f.op("ADD %s, %s, %s", n4, sh, sh)
		}
	}

	f.loop(tiles, func() {
		f.op("MOVD %s, %s", qBase, qa)
		f.op("MOVD %s, %s", qsBase, qsp)
		f.op("MOVD %s, %s", sTile, sh)
		f.op("LSR $1, %s, %s", m, hcnt)
		f.loop(hcnt, func() { block(2) })
		f.op("AND $1, %s, %s", m, hcnt)
		f.loop(hcnt, func() { block(1) })
		f.op("ADD %s, %s, %s", tileBytes, tp, tp)
		f.op("ADD $128, %s, %s", sc, sc)
		f.op("ADD $64, %s, %s", sTile, sTile)
		f.op("SUB $16, %s, %s", left, left)
	})
	f.op("RET")
}

// storeRows stores the floats of rows (four registers, sixteen rows in order) at p:
// all sixteen if left >= 16, else the first left (1..15) one lane at a time, with
// rem as scratch. p is clobbered.
func (f *fn) storeRows(rows []V, p, left, rem G) {
	part, done := f.newLabel("rows_part"), f.newLabel("rows_done")
	f.op("CMP $16, %s", left)
	f.op("BLT %s", part)
	f.op("VST1 %s, (%s)", list(rows[0], 4, "S4"), p)
	f.op("B %s", done)
	f.label(part)
	f.op("MOVD %s, %s", left, rem)
	short := []string{f.newLabel("rows_short"), f.newLabel("rows_short"), f.newLabel("rows_short")}
	for i := range 3 {
		f.op("CMP $4, %s", rem)
		f.op("BLT %s", short[i])
		f.op("VST1.P [%s], 16(%s)", rows[i].S4(), p)
		f.op("SUB $4, %s, %s", rem, rem)
	}
	f.partial(rem, func(lanes int) { f.storeLanes(rows[3], p, lanes) })
	f.op("B %s", done)
	for i := range 3 {
		f.label(short[i])
		f.partial(rem, func(lanes int) { f.storeLanes(rows[i], p, lanes) })
		f.op("B %s", done)
	}
	f.label(done)
}

// quantizeProbsI8 handles one row of probabilities at a time in two passes. The
// first forms x_j = p_j·d_0[j] (FMUL) and their maximum M (FMAX, which, like Go's
// max, gives NaN if any x_j is NaN): sixteen at a time (a tile's d_0 are sixteen
// consecutive floats, a tile's scales 32), then four, then one. An invalid row
// (!(M > 0), M = +Inf or 127/M = +Inf) gets ps 0 and a zero row of quants. Otherwise
// ps = M/127 (FDIV), and the second pass forms x_j again, x_j·(127/M) (FMUL, no
// fusion), converts it with FCVTNS (nearest, ties to even: math.RoundToEven) and
// clamps it to [0, 127]: SQXTUN to 16 bits (negatives to 0), UQXTN to 8, UMIN 127.
// The padding up to I8ProbStride(n) is zeroed. p and scales are read only within the
// row's n probabilities and their scales.
func (e *emitter) quantizeProbsI8() {
	f := e.begin("quantizeProbsI8")
	const (
		pqp, psp, pp, scBase, m, n, cnt, sp, pRow, nt, r4, r1, pad, ld16, tmp G = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14
	)
	// Registers: probabilities V0-V3, scales V4-V7, narrowed V8-V10, the maxima
	// V16-V19 (M in F16), zero V20, 127 bytes V21, 127/M V22, +Inf F23, 127 F24, ps F25,
	// the maximum of the last n%4 F26 (a scalar write clears the rest of a register).
	const (
		pv, dv, n16, n8, mx, zero, c127, inv, inf, f127, psv, mx1 V = 0, 4, 8, 10, 16, 20, 21, 22, 23, 24, 25, 26
	)
	f.base("pq", pqp)
	f.base("ps", psp)
	f.base("p", pp)
	f.base("scales", scBase)
	f.intArg("m", m)
	f.intArg("n", n)
	f.op("LSR $4, %s, %s", n, nt)
	f.op("UBFX $2, %s, $2, %s", n, r4)
	f.op("AND $3, %s, %s", n, r1)
	f.op("ADD $15, %s, %s", n, ld16)
	f.op("LSR $4, %s, %s", ld16, ld16)
	f.op("LSL $4, %s, %s", ld16, pad)
	f.op("SUB %s, %s, %s", n, pad, pad)
	f.zero(zero)
	f.op("VMOVI $127, %s", c127.B16())
	f.op("MOVW $0x7f800000, %s", tmp)
	f.op("FMOVS %s, %s", tmp, inf.F())
	f.op("MOVW $0x42fe0000, %s", tmp)
	f.op("FMOVS %s, %s", tmp, f127.F())

	// quants scales the x of vecs (1 or 4) registers from pv by 127/M and converts
	// them to bytes in n8: the lower 4·vecs bytes.
	quants := func(vecs int) {
		for i := range V(vecs) {
			f.fmul(inv, pv+i, pv+i)
			f.word(encFloat2(opFCVTNS, S4, pv+i, pv+i))
		}
		f.word(encNarrow(opSQXTUN, H4, pv, n16))
		if vecs == 4 {
			f.word(encNarrow(opSQXTUN, H8, pv+1, n16))
			f.word(encNarrow(opSQXTUN, H4, pv+2, n16+1))
			f.word(encNarrow(opSQXTUN, H8, pv+3, n16+1))
		}
		f.word(encNarrow(opUQXTN, B8, n16, n8))
		if vecs == 4 {
			f.word(encNarrow(opUQXTN, B16, n16+1, n8))
		}
		f.op("VUMIN %s, %s, %s", c127.B16(), n8.B16(), n8.B16())
	}

	// pass emits the loops over the row's x (pp at the row's start): body(vecs) gets
	// them in the lanes of pv.. (16 in four registers, then 4 in one, then 1 in lane
	// 0: vecs 4, 1, 0).
	pass := func(body func(vecs int)) {
		f.op("MOVD %s, %s", scBase, sp)
		f.op("MOVD %s, %s", nt, cnt)
		f.loop(cnt, func() {
			f.op("VLD1.P 64(%s), %s", pp, list(pv, 4, "S4"))
			f.op("VLD1 (%s), %s", sp, list(dv, 4, "S4"))
			f.op("ADD $128, %s, %s", sp, sp)
			for i := range V(4) {
				f.fmul(dv+i, pv+i, pv+i)
			}
			body(4)
		})
		f.op("MOVD %s, %s", r4, cnt)
		f.loop(cnt, func() {
			f.op("VLD1.P 16(%s), [%s]", pp, pv.S4())
			f.op("VLD1.P 16(%s), [%s]", sp, dv.S4())
			f.fmul(dv, pv, pv)
			body(1)
		})
		f.op("MOVD %s, %s", r1, cnt)
		f.loop(cnt, func() {
			f.op("VLD1.P 4(%s), %s", pp, pv.S(0))
			f.op("VLD1.P 4(%s), %s", sp, dv.S(0))
			f.fmul(dv, pv, pv)
			body(0)
		})
	}

	f.loop(m, func() {
		invalid, next := f.newLabel("probs_invalid"), f.newLabel("probs_next")
		f.op("MOVD %s, %s", pp, pRow)
		f.zero(append(regs(mx, 4), mx1)...)
		pass(func(vecs int) {
			switch vecs {
			case 4:
				for i := range V(4) {
					f.fmax(pv+i, mx+i, mx+i)
				}
			case 1:
				f.fmax(pv, mx, mx)
			case 0:
				f.op("FMAXS %s, %s, %s", pv.F(), mx1.F(), mx1.F())
			}
		})
		f.fmax(mx+1, mx, mx)
		f.fmax(mx+3, mx+2, mx+2)
		f.fmax(mx+2, mx, mx)
		f.fmaxv(mx, mx)
		f.op("FMAXS %s, %s, %s", mx1.F(), mx.F(), mx.F())
		f.op("FCMPS $(0.0), %s", mx.F())
		f.op("BLE %s", invalid) // M <= 0 or NaN
		f.op("FCMPS %s, %s", inf.F(), mx.F())
		f.op("BEQ %s", invalid)
		f.op("FDIVS %s, %s, %s", mx.F(), f127.F(), inv.F())
		f.op("FCMPS %s, %s", inf.F(), inv.F())
		f.op("BEQ %s", invalid)
		f.op("FDIVS %s, %s, %s", f127.F(), mx.F(), psv.F())
		f.op("FMOVS.P %s, 4(%s)", psv.F(), psp)
		f.op("VDUP %s, %s", inv.S(0), inv.S4())
		f.op("MOVD %s, %s", pRow, pp)
		pass(func(vecs int) {
			switch vecs {
			case 4:
				quants(4)
				f.op("VST1.P [%s], 16(%s)", n8.B16(), pqp)
			case 1:
				quants(1)
				f.op("VST1.P %s, 4(%s)", n8.S(0), pqp)
			case 0:
				quants(1)
				f.op("VST1.P V%d.B[0], 1(%s)", n8, pqp)
			}
		})
		f.op("MOVD %s, %s", pad, cnt)
		f.loop(cnt, func() { f.op("MOVB.P ZR, 1(%s)", pqp) })
		f.op("B %s", next)
		f.label(invalid)
		f.op("MOVW.P ZR, 4(%s)", psp)
		f.op("MOVD %s, %s", ld16, cnt)
		f.loop(cnt, func() { f.op("VST1.P [%s], 16(%s)", zero.B16(), pqp) })
		f.label(next)
	})
	f.op("RET")
}

// attnValuesI8 computes o for heads four at a time, then two, then one, and per
// block four output columns (one column group) at a time, over every tile. A tile's
// group loads with LD4, which deinterleaves the bytes: Vt gets column 4g+t of the
// sixteen rows in order, unbiased by EOR 0x80. The head's sixteen probability quants
// of the tile (u8 <= 127, so also signed) times Vt: SMULL of the lower eight rows,
// SMLAL2 adding the upper eight (two products per 16-bit lane, at most 32512), and
// SADALP adds adjacent pairs into the int32 lanes of the (head, column) accumulator,
// four lanes of partial sums each. The padding rows of the last tile have quant 0,
// so tiles are read whole with no tail. After the tiles, ADDP of the four columns'
// accumulators (twice) leaves the four sums A in one register in column order;
// SCVTF (exact), FMUL by ps[h], FADD to o, in the reference's order.
func (e *emitter) attnValuesI8() {
	f := e.begin("attnValuesI8")
	const (
		oBase, pqBase, psp, tiles, m, dv, w, ld, nt, tileBytes, hcnt, gcnt, gp, tp, tcnt, tmp, oc, dv4 G = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 19, 20
	)
	pk := []G{21, 22, 23, 24}
	// Registers: the group V0-V3 (then the sums), the bias 0x80 V4, the heads'
	// quants V5-V8 (then ps in V5, o in V6), products V9-V15, accumulators V16-V31:
	// head k's column t in V16+4k+t.
	const (
		col, bias, pv, prod, psv, ov V = 0, 4, 5, 9, 5, 6
	)
	acc := func(k, t int) V { return 16 + V(4*k+t) }
	f.base("o", oBase)
	f.base("pq", pqBase)
	f.base("ps", psp)
	f.base("tiles", tiles)
	f.intArg("m", m)
	f.intArg("n", nt)
	f.intArg("dv", dv)
	f.intArg("w", w)
	f.op("ADD $15, %s, %s", nt, nt)
	f.op("LSR $4, %s, %s", nt, nt)
	f.op("LSL $4, %s, %s", nt, ld)
	f.op("LSL $4, %s, %s", w, tileBytes)
	f.op("LSL $2, %s, %s", dv, dv4)
	f.op("VMOVI $128, %s", bias.B16())

	block := func(heads int) {
		f.op("MOVD %s, %s", tiles, gp)
		f.op("MOVD %s, %s", oBase, oc)
		f.op("LSR $2, %s, %s", dv, gcnt)
		f.loop(gcnt, func() {
			f.zero(regs(acc(0, 0), 4*heads)...)
			f.op("MOVD %s, %s", gp, tp)
			f.op("MOVD %s, %s", pqBase, pk[0])
			for k := 1; k < heads; k++ {
				f.op("ADD %s, %s, %s", ld, pk[k-1], pk[k])
			}
			f.op("MOVD %s, %s", nt, tcnt)
			f.loop(tcnt, func() {
				f.op("VLD4.P (%s)(%s), %s", tp, tileBytes, list(col, 4, "B16"))
				for t := range V(4) {
					f.op("VEOR %s, %s, %s", bias.B16(), (col + t).B16(), (col + t).B16())
				}
				for k := range heads {
					f.op("VLD1.P 16(%s), [%s]", pk[k], (pv + V(k)).B16())
				}
				i := 0
				for t := range 4 {
					for k := range heads {
						pr := prod + V(i%7)
						i++
						f.smull(pv+V(k), col+V(t), pr)
						f.smlal2(pv+V(k), col+V(t), pr)
						f.sadalp(pr, acc(k, t))
					}
				}
			})
			switch heads {
			case 4:
				f.op("VLD1 (%s), [%s]", psp, psv.S4())
			case 2:
				f.op("FMOVD (%s), %s", psp, psv.F())
			case 1:
				f.op("FMOVS (%s), %s", psp, psv.F())
			}
			f.op("MOVD %s, %s", oc, tmp)
			for k := range heads {
				f.op("VADDP %s, %s, %s", acc(k, 1).S4(), acc(k, 0).S4(), col.S4())
				f.op("VADDP %s, %s, %s", acc(k, 3).S4(), acc(k, 2).S4(), (col + 1).S4())
				f.op("VADDP %s, %s, %s", (col + 1).S4(), col.S4(), col.S4())
				f.scvtf(col, col)
				f.fmulElem(psv, k, col, col)
				f.op("VLD1 (%s), [%s]", tmp, ov.S4())
				f.fadd(col, ov, ov)
				f.op("VST1 [%s], (%s)", ov.S4(), tmp)
				if k < heads-1 {
					f.op("ADD %s, %s, %s", dv4, tmp, tmp)
				}
			}
			f.op("ADD $64, %s, %s", gp, gp)
			f.op("ADD $16, %s, %s", oc, oc)
		})
		for range heads {
			f.op("ADD %s, %s, %s", ld, pqBase, pqBase)
			f.op("ADD %s, %s, %s", dv4, oBase, oBase)
		}
		f.op("ADD $%d, %s, %s", 4*heads, psp, psp)
	}

	f.op("LSR $2, %s, %s", m, hcnt)
	f.loop(hcnt, func() { block(4) })
	f.op("UBFX $1, %s, $1, %s", m, hcnt)
	f.loop(hcnt, func() { block(2) })
	f.op("AND $1, %s, %s", m, hcnt)
	f.loop(hcnt, func() { block(1) })
	f.op("RET")
}
