package main

// gemmRegs are the general registers shared by both GEMMs' tilings.
type gemmRegs struct {
	b, m, n, k, lda, ldb, ldc G // lda, ldb, ldc in bytes
	aRow, cRow, iCnt          G // band start in A and c, band counter
	bCol, cj, jCnt            G // tile start in B and c, tile counter
	a                         [4]G
	pb, cnt, rem, tmp         G
}

var gr = gemmRegs{
	b: 2, m: 3, n: 4, k: 5, lda: 6, ldb: 7, ldc: 8,
	aRow: 9, cRow: 10, iCnt: 11, bCol: 12, cj: 13, jCnt: 14,
	a:  [4]G{15, 19, 20, 21},
	pb: 22, cnt: 23, rem: 24, tmp: 25,
}

// gemmPrologue loads the operands, turns the leading dimensions into byte strides
// and emits the row bands: four rows of A and c at a time, then single rows.
// band(rows) emits the work of one band starting at aRow/cRow.
func (f *fn) gemmPrologue(band func(rows int)) { f.gemmBands([3]int{2, 2, 2}, band) }

// gemmBands is gemmPrologue for elements of 1<<shift[i] bytes in A, B and c (lda,
// ldb and ldc in that order).
func (f *fn) gemmBands(shift [3]int, band func(rows int)) {
	r := gr
	f.base("c", r.cRow)
	f.base("a", r.aRow)
	f.base("b", r.b)
	for _, p := range []struct {
		name string
		reg  G
	}{{"m", r.m}, {"n", r.n}, {"k", r.k}, {"lda", r.lda}, {"ldb", r.ldb}, {"ldc", r.ldc}} {
		f.intArg(p.name, p.reg)
	}
	for i, ld := range []G{r.lda, r.ldb, r.ldc} {
		f.op("LSL $%d, %s, %s", shift[i], ld, ld)
	}
	f.op("LSR $2, %s, %s", r.m, r.iCnt)
	f.loop(r.iCnt, func() {
		band(4)
		f.op("ADD %s<<2, %s, %s", r.lda, r.aRow, r.aRow)
		f.op("ADD %s<<2, %s, %s", r.ldc, r.cRow, r.cRow)
	})
	f.op("AND $3, %s, %s", r.m, r.iCnt)
	f.loop(r.iCnt, func() {
		band(1)
		f.op("ADD %s, %s, %s", r.lda, r.aRow, r.aRow)
		f.op("ADD %s, %s, %s", r.ldc, r.cRow, r.cRow)
	})
	f.op("RET")
}

// rowPtrs sets ptr[0..rows-1] to start, start+ld, start+2ld, ...
func (f *fn) rowPtrs(ptr []G, start, ld G) {
	f.op("MOVD %s, %s", start, ptr[0])
	for i := 1; i < len(ptr); i++ {
		f.op("ADD %s, %s, %s", ld, ptr[i-1], ptr[i])
	}
}

// gemmNT computes c[i*ldc+j] = sum_p a[i*lda+p]*b[j*ldb+p] in tiles of 4 rows of A by
// 2 rows of B (eight accumulators, 16 floats of k per iteration), then the leftover
// row of B and the leftover rows of A. The last k%4 columns are a partial vector
// loaded lane by lane into zeroed registers. Each tile's sums are reduced with
// pairwise adds into vectors whose lanes go straight to c. It takes next, the
// prefetch hint of the amd64 routines, and ignores it: prefetch distances want
// tuning on arm64 hardware, and the hardware prefetchers follow B's rows.
func (e *emitter) gemmNT() {
	f := e.begin("gemmNT")
	r := gr
	f.gemmPrologue(func(rows int) {
		f.op("MOVD %s, %s", r.b, r.bCol)
		f.op("MOVD %s, %s", r.cRow, r.cj)
		f.op("LSR $1, %s, %s", r.n, r.jCnt)
		f.loop(r.jCnt, func() {
			f.gemmNTTile(rows, 2)
			f.op("ADD %s<<1, %s, %s", r.ldb, r.bCol, r.bCol)
			f.op("ADD $8, %s", r.cj)
		})
		odd := f.newLabel("even")
		f.op("TBZ $0, %s, %s", r.n, odd)
		f.gemmNTTile(rows, 1)
		f.label(odd)
	})
}

func (f *fn) gemmNTTile(rows, nb int) {
	r := gr
	bp := []G{r.pb, r.tmp}[:nb]
	ap := r.a[:rows]
	f.rowPtrs(ap, r.aRow, r.lda)
	f.rowPtrs(bp, r.bCol, r.ldb)
	// A rows in V0-V15 (4 vectors each), B rows in V24-V31, accumulators from V16.
	av := func(row, u int) V { return V(4*row + u) }
	bv := func(s, u int) V { return V(24 + 4*s + u) }
	acc := func(row, s int) V { return V(16 + nb*row + s) }
	f.zero(regs(16, rows*nb)...)
	f.stream(r.k, r.cnt, 4, func(vecs int) {
		for s := range nb {
			f.load4s(bp[s], bv(s, 0), vecs)
		}
		for row := range rows {
			f.load4s(ap[row], av(row, 0), vecs)
		}
		for u := range vecs {
			for row := range rows {
				for s := range nb {
					f.op("VFMLA %s, %s, %s", bv(s, u).S4(), av(row, u).S4(), acc(row, s).S4())
				}
			}
		}
	})
	f.op("AND $3, %s, %s", r.k, r.rem)
	f.partial(r.rem, func(lanes int) {
		for s := range nb {
			f.zero(bv(s, 0))
			f.loadLanes(bp[s], bv(s, 0), lanes)
		}
		for row := range rows {
			f.zero(av(row, 0))
			f.loadLanes(ap[row], av(row, 0), lanes)
		}
		for row := range rows {
			for s := range nb {
				f.op("VFMLA %s, %s, %s", bv(s, 0).S4(), av(row, 0).S4(), acc(row, s).S4())
			}
		}
	})
	// Reduce and store; the A row pointers are free now and address the c rows.
	cp := ap
	f.rowPtrs(cp, r.cj, r.ldc)
	switch {
	case nb == 2: // per pair of rows: lanes c[i][j], c[i][j+1], c[i+1][j], c[i+1][j+1]
		for row := 0; row < rows; row += 2 {
			if rows == 1 {
				f.faddp(acc(0, 1), acc(0, 0), 0)
				f.faddp(0, 0, 0)
				f.op("VST1 %s, (%s)", V(0).D(0), cp[0])
				break
			}
			f.sum4(acc(row, 0), acc(row, 1), acc(row+1, 0), acc(row+1, 1), 1, 0)
			f.op("VST1 %s, (%s)", V(0).D(0), cp[row])
			f.op("VST1 %s, (%s)", V(0).D(1), cp[row+1])
		}
	case rows == 4: // lanes c[i][j] .. c[i+3][j]
		f.sum4(acc(0, 0), acc(1, 0), acc(2, 0), acc(3, 0), 1, 0)
		for row := range 4 {
			f.op("VST1 %s, (%s)", V(0).S(row), cp[row])
		}
	default:
		f.faddp(acc(0, 0), acc(0, 0), 0)
		f.faddpScalar(0, 0)
		f.op("FMOVS F0, (%s)", cp[0])
	}
}

// gemmNNAdd accumulates c[i*ldc+j] += sum_p a[i*lda+p]*b[p*ldb+j] in tiles of 4 rows
// by 16 columns (16 accumulators loaded from c): p advances four at a time, with
// the four values of each A row in one register used through the by-element FMLA,
// then one at a time with LD1R broadcasts. Columns go 16, then 4, then a partial
// vector of the last 1 to 3, loaded and stored lane by lane.
func (e *emitter) gemmNNAdd() {
	f := e.begin("gemmNNAdd")
	r := gr
	f.gemmPrologue(func(rows int) {
		f.op("MOVD %s, %s", r.b, r.bCol)
		f.op("MOVD %s, %s", r.cRow, r.cj)
		f.op("LSR $4, %s, %s", r.n, r.jCnt)
		f.loop(r.jCnt, func() {
			f.gemmNNTile(rows, 4, 0)
			f.op("ADD $64, %s", r.bCol)
			f.op("ADD $64, %s", r.cj)
		})
		f.op("UBFX $2, %s, $2, %s", r.n, r.jCnt)
		f.loop(r.jCnt, func() {
			f.gemmNNTile(rows, 1, 0)
			f.op("ADD $16, %s", r.bCol)
			f.op("ADD $16, %s", r.cj)
		})
		f.op("AND $3, %s, %s", r.n, r.rem)
		f.partial(r.rem, func(lanes int) { f.gemmNNTile(rows, 1, lanes) })
	})
}

// gemmNNTile emits one tile of rows x (4*vecs) columns at cj, or rows x lanes
// columns for lanes > 0.
func (f *fn) gemmNNTile(rows, vecs, lanes int) {
	r := gr
	ap := r.a[:rows]
	// Accumulators acc[row][v] = V16+vecs*row+v; A values V0-V3; B rows in V4-V7 and
	// V8-V11, alternating.
	acc := func(row, v int) V { return V(16 + vecs*row + v) }
	bset := func(q int) V { return V(4 + 4*(q%2)) }
	// The A row pointers first address the c rows, to load the accumulators.
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
	loadB := func(dst V) {
		if lanes == 0 {
			f.op("VLD1.P (%s)(%s), %s", r.pb, r.ldb, list(dst, vecs, "S4"))
			return
		}
		f.op("MOVD %s, %s", r.pb, r.tmp)
		f.loadLanes(r.tmp, dst, lanes)
		f.op("ADD %s, %s", r.ldb, r.pb)
	}
	f.op("LSR $2, %s, %s", r.k, r.cnt)
	f.loop(r.cnt, func() {
		for row := range rows {
			f.op("VLD1.P 16(%s), [%s]", ap[row], V(row).S4())
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
			f.op("VLD1R.P 4(%s), [%s]", ap[row], V(row).S4())
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
