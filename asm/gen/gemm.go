package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gemmNT computes c[i*ldc+j] = sum_p a[i*lda+p]*b[j*ldb+p] in tiles of a band of rows
// of A (see bands) by 2 rows of B: each loaded row chunk of A meets two rows of B. In
// MLA decode A holds the heads' queries and B the cache rows.
//
// While it computes, it prefetches next (the memory the caller reads after this call,
// in MLA decode the following cache rows) one cache line per step of the multi-row
// tiles (one per 8 accumulators): from DRAM, B would otherwise arrive only when the
// first band of A rows asks for it, and every later band would find it cached with
// the memory bus idle. next must not be empty; prefetching never faults, and the
// stream stays on next's last line once it reaches it.
func (t target) gemmNT() {
	t.gemmNTKernel("gemmNT", false)
}

// gemmNTAdd is gemmNT that adds each sum to c: deep products (large k) run as
// several of these over slices of k, each slice's rows small enough to stay in L1.
// Only AVX-512 has it: AVX2's 32-byte loads are served from L2 fast enough that
// splitting gains nothing there.
func (t target) gemmNTAdd() {
	t.gemmNTKernel("gemmNTAdd", true)
}

func (t target) gemmNTKernel(name string, add bool) {
	t.begin(name)
	pf := ptr("next")
	last := Load(Param("next").Len(), GP64())
	LEAQ(Mem{Base: pf, Index: last, Scale: 4, Disp: -4}, last)
	s := prefetchStream{at: pf, last: last}
	t.tiles(t.bands(), []int{2, 1}, func(rows, cols int, i, j Mem) {
		if rows == 1 {
			t.gemmNTBlock(rows, cols, i, j, nil, add)
		} else {
			t.gemmNTBlock(rows, cols, i, j, &s, add)
		}
	})
	ret()
}

// prefetchStream walks a region one cache line at a time, stopping at its last line.
type prefetchStream struct{ at, last Register }

func (s prefetchStream) step() {
	PREFETCHT1(Mem{Base: s.at})
	ADDQ(U32(64), s.at)
	CMPQ(s.at, s.last)
	CMOVQHI(s.last, s.at)
}

// gemmNNAdd accumulates c[i*ldc+j] += sum_p a[i*lda+p]*b[p*ldb+j] in tiles of a band
// of rows of c (see bands) by 2 vectors of columns: the tile stays in registers while
// p walks down B, broadcasting a[i*lda+p].
func (t target) gemmNNAdd() {
	t.begin("gemmNNAdd")
	t.tiles(t.bands(), []int{2 * t.lanes, t.lanes, -1}, func(rows, cols int, i, j Mem) { t.gemmNNTile(rows, cols, i, j) })
	ret()
}

// tiles walks the m x n result in tiles: bands of the given row heights, tallest
// first (the last height must be 1); within a band, columns in the given steps, widest
// first. A step of -1 is the masked tail of the remaining columns. tile(rows, cols, i,
// j) emits one tile at row i, column j; i and j live in the frame, leaving the
// general registers to the tile.
func (t target) tiles(bands, steps []int, tile func(rows, cols int, i, j Mem)) {
	i, j := AllocLocal(8), AllocLocal(8)
	MOVQ(U32(0), i)
	for _, rows := range bands {
		rowTop, rowNext := label("rowtile"), label("rowtile_next")
		Label(rowTop)
		left := Load(Param("m"), GP64())
		SUBQ(i, left)
		CMPQ(left, U32(rows))
		JB(LabelRef(rowNext))
		MOVQ(U32(0), j)
		for _, cols := range steps {
			colTop, colNext := label("coltile"), label("coltile_next")
			Label(colTop)
			n := Load(Param("n"), GP64())
			SUBQ(j, n)
			if cols < 0 {
				JZ(LabelRef(colNext))
			} else {
				CMPQ(n, U32(cols))
				JB(LabelRef(colNext))
			}
			tile(rows, cols, i, j)
			if cols > 0 {
				ADDQ(U32(cols), j)
				JMP(LabelRef(colTop))
			}
			Label(colNext)
		}
		ADDQ(U32(rows), i)
		JMP(LabelRef(rowTop))
		Label(rowNext)
	}
}

// rowPointers returns rows pointers into matrix name, starting at row start with a
// row stride of ld elements.
func rowPointers(name, ld string, start Op, rows int) []Register {
	base := ptr(name)
	stride := Load(Param(ld), GP64())
	SHLQ(U8(2), stride)
	p := make([]Register, rows)
	p[0] = GP64()
	MOVQ(start, p[0])
	IMULQ(stride, p[0])
	ADDQ(base, p[0])
	for r := 1; r < rows; r++ {
		p[r] = GP64()
		LEAQ(Mem{Base: p[r-1], Index: stride, Scale: 1}, p[r])
	}
	return p
}

// gemmNTBlock emits one rows x nb tile of dot products over k at (i, j).
// When pf is not nil, every full step of the k loop also prefetches a line per 8
// accumulators (at least one). With add, the sums are added to c.
func (t target) gemmNTBlock(rows, nb int, i, j Mem, pf *prefetchStream, add bool) {
	a := rowPointers("a", "lda", i, rows)
	b := rowPointers("b", "ldb", j, nb)
	acc := make([][]VecVirtual, rows)
	for r := range acc {
		acc[r] = t.accumulators(nb)
	}
	k := Load(Param("k"), GP64())
	t.loop(k, 2, func(c chunk) {
		if pf != nil && c.u == 0 && c.m == nil {
			for range max(1, rows*nb/8) {
				pf.step()
			}
		}
		// Each B chunk meets every A row: load it once into a register (as a memory
		// operand it would be loaded once per row, and loads would bound the loop).
		vb := make([]Op, nb)
		for s := range nb {
			vb[s] = t.load(c, b[s])
		}
		for r := range rows {
			va := t.load(c, a[r])
			for s := range nb {
				VFMADD231PS(vb[s], va, acc[r][s])
			}
		}
	})
	cp := ptr("c")
	ldc := Load(Param("ldc"), GP64())
	for r := range rows {
		off := GP64()
		MOVQ(i, off)
		if r > 0 {
			ADDQ(U32(r), off)
		}
		IMULQ(ldc, off)
		ADDQ(j, off)
		for s := range nb {
			at := Mem{Base: cp, Index: off, Scale: 4, Disp: 4 * s}
			x := t.hsum(acc[r][s])
			if add {
				VADDSS(at, x, x)
			}
			VMOVSS(x, at)
		}
	}
}

func (t target) gemmNNTile(rows, cols int, i, jm Mem) {
	j := GP64()
	MOVQ(jm, j)
	width := 2
	var msk *mask
	switch cols {
	case t.lanes:
		width = 1
	case -1:
		width = 1
		rem := Load(Param("n"), GP64())
		SUBQ(j, rem)
		m := t.tailMask(rem)
		msk = &m
	}
	a := rowPointers("a", "lda", i, rows)
	ldb := Load(Param("ldb"), GP64())
	SHLQ(U8(2), ldb)
	pb := ptr("b")
	LEAQ(Mem{Base: pb, Index: j, Scale: 4}, pb)
	at := func(v int) chunk { return chunk{idx: j, u: v, m: msk} }
	acc := make([][]VecVirtual, rows)
	cRows := rowPointers("c", "ldc", i, rows)
	for r := range acc {
		acc[r] = make([]VecVirtual, width)
		for v := range width {
			acc[r][v] = t.load(at(v), cRows[r])
		}
	}
	k := Load(Param("k"), GP64())
	p := GP64()
	XORQ(p, p)
	top, done := label("nnk"), label("nnk_done")
	Label(top)
	CMPQ(p, k)
	JAE(LabelRef(done))
	vb := make([]Op, width)
	for v := range width {
		mem := Mem{Base: pb, Disp: v * t.lanes * 4}
		r := t.vec()
		switch {
		case msk == nil:
			VMOVUPS(mem, r) // in a register: it meets every row of the tile
		case t.zmm:
			VMOVUPS_Z(mem, msk.k, r)
		default:
			VMASKMOVPS(mem, msk.v, r)
		}
		vb[v] = r
	}
	for r := range rows {
		bc := t.vec()
		VBROADCASTSS(Mem{Base: a[r], Index: p, Scale: 4}, bc)
		for v := range width {
			VFMADD231PS(vb[v], bc, acc[r][v])
		}
	}
	ADDQ(ldb, pb)
	INCQ(p)
	JMP(LabelRef(top))
	Label(done)
	cRows = rowPointers("c", "ldc", i, rows)
	for r := range rows {
		for v := range width {
			t.store(at(v), acc[r][v], cRows[r])
		}
	}
}

// bands are the row heights of the GEMM tiles, tallest first. A tile needs
// independent accumulators to cover the FMA latency (two FMA pipes x 4 cycles = 8
// in flight on Zen and Intel cores): AVX2's 6-row bands give 12 of its 16 registers
// to them, more than 4 rows would; AVX-512's 4-row bands already have 8.
func (t target) bands() []int {
	if t.zmm {
		return []int{4, 1}
	}
	return []int{6, 4, 1}
}
