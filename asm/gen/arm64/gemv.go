package main

// gemvRegs names the registers of one gemv body: the operands (y, m rows, w, x, n
// columns) and the scratch registers it may clobber.
type gemvRegs struct {
	y, m, w, x, n                           G
	rowBytes, blk, r1, r2, r3, xp, cnt, rem G
}

// gemvR is the register assignment of gemv and both bodies of downUp.
var gemvR = gemvRegs{y: 0, m: 1, w: 2, x: 3, n: 4, rowBytes: 5, blk: 6, r1: 7, r2: 8, r3: 9, xp: 10, cnt: 11, rem: 12}

func (e *emitter) gemv() {
	f := e.begin("gemv")
	f.gemvBody("y", "w", "x", f32Rows)
	f.op("RET")
}

// downUp runs the gemv body twice in one call: latent = Down x, then y = Up latent.
func (e *emitter) downUp() {
	f := e.begin("downUp")
	f.gemvBody("latent", "down", "x", f32Rows)
	f.gemvBody("y", "up", "latent", f32Rows)
	f.op("RET")
}

// gemvBody emits y = W x for m rows of n columns. Rows go four at a time: each
// 16-float chunk of x is loaded once and meets four rows of W, into two
// accumulators per row (eight FMLA chains). The last n%4 columns are a partial
// vector loaded lane by lane into zeroed registers. The four row sums are reduced
// with pairwise adds straight into a vector of four y values. The remaining m%4
// rows go one at a time. W's pointer w ends up past the last row. y, w and x name
// the parameters that the body loads into gemvR's operand registers first; rows
// says how W is stored.
func (f *fn) gemvBody(y, w, x string, rows rowFormat) {
	r := gemvR
	f.base(y, r.y)
	f.length(y, r.m)
	f.base(w, r.w)
	f.base(x, r.x)
	f.length(x, r.n)
	// Registers: x chunk V0-V3; rows 0-3 of W in V4-V7, V8-V11, V12-V15, V24-V27;
	// accumulators acc[row][k] = V16+2*row+k.
	wr := [4]V{4, 8, 12, 24}
	rowPtr := [4]G{r.w, r.r1, r.r2, r.r3}
	acc := func(row, k int) V { return V(16 + 2*row + k) }

	f.rowBytes(rows, r.n, r.rowBytes)
	f.op("LSR $2, %s, %s", r.m, r.blk)
	f.loop(r.blk, func() {
		f.op("ADD %s, %s, %s", r.rowBytes, r.w, r.r1)
		f.op("ADD %s, %s, %s", r.rowBytes, r.r1, r.r2)
		f.op("ADD %s, %s, %s", r.rowBytes, r.r2, r.r3)
		f.op("MOVD %s, %s", r.x, r.xp)
		f.zero(regs(16, 8)...)
		f.stream(r.n, r.cnt, 4, func(vecs int) {
			f.load4s(r.xp, 0, vecs)
			for row := range 4 {
				rows.load(f, rowPtr[row], wr[row], vecs)
			}
			for u := range vecs {
				for row := range 4 {
					f.op("VFMLA %s, %s, %s", (wr[row] + V(u)).S4(), V(u).S4(), acc(row, u%2).S4())
				}
			}
		})
		f.op("AND $3, %s, %s", r.n, r.rem)
		f.partial(r.rem, func(lanes int) {
			f.zero(0, wr[0], wr[1], wr[2], wr[3])
			f.loadLanes(r.xp, 0, lanes)
			for row := range 4 {
				rows.lanes(f, rowPtr[row], wr[row], lanes)
			}
			for row := range 4 {
				f.op("VFMLA %s, %s, %s", wr[row].S4(), V(0).S4(), acc(row, 1).S4())
			}
		})
		for row := range 4 {
			f.fadd(acc(row, 1), acc(row, 0), acc(row, 0))
		}
		f.sum4(acc(0, 0), acc(1, 0), acc(2, 0), acc(3, 0), 1, 0)
		f.scaleBy(rows, 0)
		f.op("VST1.P [%s], 16(%s)", V(0).S4(), r.y)
		f.op("MOVD %s, %s", r.r3, r.w)
	})

	f.op("AND $3, %s, %s", r.m, r.blk)
	f.loop(r.blk, func() {
		f.op("MOVD %s, %s", r.x, r.xp)
		one := regs(16, 4)
		f.zero(one...)
		f.stream(r.n, r.cnt, 4, func(vecs int) {
			f.load4s(r.xp, 0, vecs)
			rows.load(f, r.w, 4, vecs)
			for u := range vecs {
				f.op("VFMLA %s, %s, %s", V(4+u).S4(), V(u).S4(), one[u].S4())
			}
		})
		f.op("AND $3, %s, %s", r.n, r.rem)
		f.partial(r.rem, func(lanes int) {
			f.zero(0, 4)
			f.loadLanes(r.xp, 0, lanes)
			rows.lanes(f, r.w, 4, lanes)
			f.op("VFMLA %s, %s, %s", V(4).S4(), V(0).S4(), one[1].S4())
		})
		f.reduceSum(one)
		f.scaleBy(rows, one[0])
		f.op("FMOVS.P %s, 4(%s)", one[0].F(), r.y)
	})
}

// gemvT computes y = Wᵀ x (W is len(x) rows by len(y) columns) a block of columns
// at a time: the block's accumulators stay in registers while the loop walks down
// the rows, broadcasting x[i] with LD1R. Rows go two at a time into two accumulator
// sets, so the FMLA chains are independent. Blocks are 16 columns, then 4, then a
// partial block of the last 1 to 3 columns, loaded and stored lane by lane.
func (e *emitter) gemvT() {
	f := e.begin("gemvT")
	const y, n, w, x, m, rowBytes, blk, p, xp, cnt, rem, tmp G = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
	f.base("y", y)
	f.length("y", n)
	f.base("w", w)
	f.base("x", x)
	f.length("x", m)
	f.op("LSL $2, %s, %s", n, rowBytes)

	// columns emits one pass over the rows for `vecs` vectors of columns starting at
	// w (or, for lanes > 0, a partial vector of that many columns).
	columns := func(vecs, lanes int) {
		set0, set1 := V(16), V(20)
		f.op("MOVD %s, %s", w, p)
		f.op("MOVD %s, %s", x, xp)
		f.zero(regs(set0, vecs)...)
		f.zero(regs(set1, vecs)...)
		load := func(dst V) {
			if lanes == 0 {
				f.op("VLD1.P (%s)(%s), %s", p, rowBytes, list(dst, vecs, "S4"))
				return
			}
			f.op("MOVD %s, %s", p, tmp)
			f.loadLanes(tmp, dst, lanes)
			f.op("ADD %s, %s", rowBytes, p)
		}
		f.op("LSR $1, %s, %s", m, cnt)
		f.loop(cnt, func() {
			f.op("VLD1R.P 4(%s), [%s]", xp, V(0).S4())
			f.op("VLD1R.P 4(%s), [%s]", xp, V(1).S4())
			load(4)
			load(8)
			for v := range vecs {
				f.op("VFMLA %s, %s, %s", (4 + V(v)).S4(), V(0).S4(), (set0 + V(v)).S4())
			}
			for v := range vecs {
				f.op("VFMLA %s, %s, %s", (8 + V(v)).S4(), V(1).S4(), (set1 + V(v)).S4())
			}
		})
		even := f.newLabel("even")
		f.op("TBZ $0, %s, %s", m, even)
		f.op("VLD1R (%s), [%s]", xp, V(0).S4())
		load(4)
		for v := range vecs {
			f.op("VFMLA %s, %s, %s", (4 + V(v)).S4(), V(0).S4(), (set0 + V(v)).S4())
		}
		f.label(even)
		for v := range vecs {
			f.fadd(set1+V(v), set0+V(v), set0+V(v))
		}
		if lanes == 0 {
			f.store4s(set0, y, vecs)
		} else {
			f.storeLanes(set0, y, lanes)
		}
	}
	f.op("LSR $4, %s, %s", n, blk)
	f.loop(blk, func() {
		columns(4, 0)
		f.op("ADD $64, %s", w)
	})
	f.op("UBFX $2, %s, $2, %s", n, blk)
	f.loop(blk, func() {
		columns(1, 0)
		f.op("ADD $16, %s", w)
	})
	f.op("AND $3, %s, %s", n, rem)
	f.partial(rem, func(lanes int) { columns(1, lanes) })
	f.op("RET")
}

// gemvTRows emits y += Wᵀ x (W is len(x) rows by len(y) columns, stored as rows
// says) in the axpy form, W read front to back: rows four at a time, their x[i]
// broadcast with LD1R (and multiplied by a scaled format's factor). Each chunk of y
// (16 columns, then 4, then the last 1 to 3 lane by lane) is loaded once, gets the
// four rows' chunks times their x[i] in row order (one FMLA chain per vector, so
// each y[j] is summed in the reference's row order, each product fused with its add)
// and is stored. The remaining len(x)%4 rows go one at a time.
func (f *fn) gemvTRows(rows rowFormat) {
	const y, n, w, x, m, rowBytes, r1, r2, r3, blk, yp, cnt, rem, tmp G = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
	f.base("y", y)
	f.length("y", n)
	f.base("w", w)
	f.base("x", x)
	f.length("x", m)
	// Registers: x[i..i+3] broadcast in V0-V3; rows 0-3 of W in V4-V7, V8-V11,
	// V12-V15, V24-V27 (as gemvBody); the chunk of y in V16-V19.
	wr := [4]V{4, 8, 12, 24}
	rowPtr := [4]G{w, r1, r2, r3}
	const acc V = 16

	f.rowBytes(rows, n, rowBytes)
	f.op("LSR $2, %s, %s", m, blk)
	f.loop(blk, func() {
		f.op("ADD %s, %s, %s", rowBytes, w, r1)
		f.op("ADD %s, %s, %s", rowBytes, r1, r2)
		f.op("ADD %s, %s, %s", rowBytes, r2, r3)
		for r := range 4 {
			f.op("VLD1R.P 4(%s), [%s]", x, V(r).S4())
			f.scaleBy(rows, V(r))
		}
		f.op("MOVD %s, %s", y, yp)
		f.stream(n, cnt, 4, func(vecs int) {
			f.loadInPlace(yp, acc, vecs)
			for r := range 4 {
				rows.load(f, rowPtr[r], wr[r], vecs)
			}
			for u := range vecs {
				for r := range 4 {
					f.op("VFMLA %s, %s, %s", (wr[r] + V(u)).S4(), V(r).S4(), (acc + V(u)).S4())
				}
			}
			f.store4s(acc, yp, vecs)
		})
		f.op("AND $3, %s, %s", n, rem)
		f.partial(rem, func(lanes int) {
			f.op("MOVD %s, %s", yp, tmp)
			f.loadLanes(tmp, acc, lanes)
			for r := range 4 {
				rows.lanes(f, rowPtr[r], wr[r], lanes)
			}
			for r := range 4 {
				f.op("VFMLA %s, %s, %s", wr[r].S4(), V(r).S4(), acc.S4())
			}
			f.storeLanes(acc, yp, lanes)
		})
		f.op("MOVD %s, %s", r3, w)
	})

	f.op("AND $3, %s, %s", m, blk)
	f.loop(blk, func() {
		f.op("VLD1R.P 4(%s), [%s]", x, V(0).S4())
		f.scaleBy(rows, 0)
		f.op("MOVD %s, %s", y, yp)
		f.stream(n, cnt, 4, func(vecs int) {
			f.loadInPlace(yp, acc, vecs)
			rows.load(f, w, 4, vecs)
			for u := range vecs {
				f.op("VFMLA %s, %s, %s", (4 + V(u)).S4(), V(0).S4(), (acc + V(u)).S4())
			}
			f.store4s(acc, yp, vecs)
		})
		f.op("AND $3, %s, %s", n, rem)
		f.partial(rem, func(lanes int) {
			f.op("MOVD %s, %s", yp, tmp)
			f.loadLanes(tmp, acc, lanes)
			rows.lanes(f, w, 4, lanes)
			f.op("VFMLA %s, %s, %s", V(4).S4(), V(0).S4(), acc.S4())
			f.storeLanes(acc, yp, lanes)
		})
	})
}

// rowBytes sets d to the bytes of a row of n weights stored as rows says.
func (f *fn) rowBytes(rows rowFormat, n, d G) {
	if rows.size == 1 {
		f.op("MOVD %s, %s", n, d)
		return
	}
	f.op("LSL $%d, %s, %s", log2(rows.size), n, d)
}
