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
	return scaledRowPointers(name, ld, start, rows, 2)
}

// scaledRowPointers is rowPointers for elements of 1<<shift bytes (the bfloat16 and
// E4M3 GEMMs).
func scaledRowPointers(name, ld string, start Op, rows int, shift uint8) []Register {
	base := ptr(name)
	stride := Load(Param(ld), GP64())
	if shift > 0 {
		SHLQ(U8(shift), stride)
	}
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

// cOffset returns in a new register the element offset (i+r)*ldc + j of c.
func cOffset(i, j Mem, r int, ldc Register) Register {
	off := GP64()
	MOVQ(i, off)
	if r > 0 {
		ADDQ(U32(r), off)
	}
	IMULQ(ldc, off)
	ADDQ(j, off)
	return off
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
		off := cOffset(i, j, r, ldc)
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

// gemmNTFew is gemmNT for a B of few rows (compose gives it up to 8): in a batched
// decode step A holds the weight rows and B the tokens. Its tiles are fewBand rows of A by 8 rows of B (then
// 4, 2, 1): each loaded chunk of A meets every token of the tile, and the chunks of
// B (read from L1) meet every row of the band, 11 loads per 24 FMAs. The tiles'
// sums are reduced together (sumRows) instead of one horizontal sum each.
//
// It prefetches next a line for each line of A it reads (2 per row per two k-steps):
// in mla, next is the following tile of weight rows, as large as this one, which is
// then in L2 when its turn comes.
func (t target) gemmNTFew() {
	t.begin("gemmNTFew")
	pf := ptr("next")
	last := Load(Param("next").Len(), GP64())
	LEAQ(Mem{Base: pf, Index: last, Scale: 4, Disp: -4}, last)
	s := prefetchStream{at: pf, last: last}
	t.tiles([]int{fewBand, 1}, []int{8, 4, 2, 1}, func(rows, cols int, i, j Mem) {
		t.gemmNTFewBlock(rows, cols, i, j, s)
	})
	ret()
}

// fewBand is the height of gemmNTFew's tiles: 3 rows by 8 tokens are 24
// accumulators, which with 3 chunks of A and one of B fit AVX-512's 32 registers.
const fewBand = 3

// rowAddrs returns the rows pointers into matrix name from row start, row stride ld
// elements, as addressing modes over few registers (a base per 4 rows, the stride and
// its triple); advance moves them all on by bytes.
func rowAddrs(name, ld string, start Op, rows int) (addr []Mem, advance func(bytes int)) {
	stride := Load(Param(ld), GP64())
	SHLQ(U8(2), stride)
	base := GP64()
	MOVQ(start, base)
	IMULQ(stride, base)
	ADDQ(ptr(name), base)
	var triple Register
	if rows > 3 {
		triple = GP64()
		LEAQ(Mem{Base: stride, Index: stride, Scale: 2}, triple)
	}
	bases := []Register{base}
	for r := 4; r < rows; r += 4 {
		b := GP64()
		LEAQ(Mem{Base: bases[len(bases)-1], Index: stride, Scale: 4}, b)
		bases = append(bases, b)
	}
	addr = make([]Mem, rows)
	for r := range addr {
		b := bases[r/4]
		switch r % 4 {
		case 0:
			addr[r] = Mem{Base: b}
		case 1:
			addr[r] = Mem{Base: b, Index: stride, Scale: 1}
		case 2:
			addr[r] = Mem{Base: b, Index: stride, Scale: 2}
		case 3:
			addr[r] = Mem{Base: b, Index: triple, Scale: 1}
		}
	}
	return addr, func(bytes int) {
		for _, b := range bases {
			ADDQ(U32(bytes), b)
		}
	}
}

// gemmNTFewBlock emits one rows x nb tile of gemmNTFew at (i, j).
func (t target) gemmNTFewBlock(rows, nb int, i, j Mem, pf prefetchStream) {
	a, advA := rowAddrs("a", "lda", i, rows)
	b, advB := rowAddrs("b", "ldb", j, nb)
	acc := make([][]VecVirtual, rows)
	for r := range acc {
		acc[r] = t.accumulators(nb)
	}
	step := func(u int, m *mask) {
		va := make([]VecVirtual, rows)
		for r := range rows {
			va[r] = t.vec()
			t.fewLoad(a[r], u, m, va[r])
		}
		for s := range nb {
			vb := t.vec()
			t.fewLoad(b[s], u, m, vb)
			for r := range rows {
				VFMADD231PS(vb, va[r], acc[r][s])
			}
		}
	}
	rem := Load(Param("k"), GP64())
	pair, one, tail, done := label("few_pair"), label("few_one"), label("few_tail"), label("few_done")
	Label(pair)
	CMPQ(rem, U32(2*t.lanes))
	JB(LabelRef(one))
	for range 2 * rows {
		pf.step()
	}
	step(0, nil)
	step(1, nil)
	advA(2 * t.lanes * 4)
	advB(2 * t.lanes * 4)
	SUBQ(U32(2*t.lanes), rem)
	JMP(LabelRef(pair))
	Label(one)
	CMPQ(rem, U32(t.lanes))
	JB(LabelRef(tail))
	step(0, nil)
	advA(t.lanes * 4)
	advB(t.lanes * 4)
	SUBQ(U32(t.lanes), rem)
	Label(tail)
	TESTQ(rem, rem)
	JZ(LabelRef(done))
	m := t.tailMask(rem)
	step(0, &m)
	Label(done)
	cp := ptr("c")
	ldc := Load(Param("ldc"), GP64())
	for r := range rows {
		off := cOffset(i, j, r, ldc)
		at := Mem{Base: cp, Index: off, Scale: 4}
		switch nb {
		case 8:
			VMOVUPS(t.sumRows(acc[r]).AsY(), at)
		case 4:
			VMOVUPS(t.sumRows(acc[r]).AsX(), at)
		default:
			for s := range nb {
				at.Disp = 4 * s
				VMOVSS(t.hsum(acc[r][s]), at)
			}
		}
	}
}

// fewLoad loads the vector u of the chunk at addr (masked by m when not nil).
func (t target) fewLoad(addr Mem, u int, m *mask, v Register) {
	addr.Disp += u * t.lanes * 4
	if m == nil {
		VMOVUPS(addr, v)
	} else {
		VMOVUPS_Z(addr, m.k, v)
	}
}

// sumRows reduces 8 (or 4) ZMM accumulators together: lane s of the result (a YMM or
// XMM) holds the sum of v[s]'s lanes. Pairs of vectors swap halves and add, then
// quarters, so that each 128-bit lane q holds four partial sums of v[q] (and of
// v[q+4]); two in-lane shuffles finish them and one permute gathers them in order.
// Every sum pairs the lanes as hsum does (i with i+8, then i+4, i+2, i+1), so a
// product's bits do not depend on the tile that computed it: gemmNTFew's results
// are gemmNT's, whatever n.
func (t target) sumRows(v []VecVirtual) VecVirtual {
	halves := func(x, y VecVirtual, lo, hi uint8) VecVirtual {
		p, q := ZMM(), ZMM()
		VSHUFF32X4(U8(lo), y, x, p)
		VSHUFF32X4(U8(hi), y, x, q)
		VADDPS(q, p, p)
		return p
	}
	var p []VecVirtual
	for s := 0; s < len(v); s += 2 {
		p = append(p, halves(v[s], v[s+1], 0x44, 0xee)) // v[s] in the low 256 bits, v[s+1] high
	}
	lo := halves(p[0], p[1], 0x88, 0xdd) // quarter q: v[q]
	hi := lo
	if len(p) == 4 {
		hi = halves(p[2], p[3], 0x88, 0xdd) // quarter q: v[q+4]
	}
	x, y := ZMM(), ZMM()
	VSHUFPS(U8(0x44), hi, lo, x)
	VSHUFPS(U8(0xee), hi, lo, y)
	VADDPS(y, x, x) // lane q: two partials of v[q], two of v[q+4]
	VSHUFPS(U8(0xb1), x, x, y)
	VADDPS(y, x, x) // lane q: v[q]'s sum twice, v[q+4]'s twice
	idx := ZMM()
	VMOVUPS(fewOrder, idx)
	VPERMPS(x, idx, x)
	return x
}

// fewOrder is sumRows's final permutation: v[q]'s sum is element 0 of lane q, v[q+4]'s
// element 2.
var fewOrder Mem

func declareFewOrder() {
	fewOrder = GLOBL("fewOrder", RODATA|NOPTR)
	for s, e := range []uint32{0, 4, 8, 12, 2, 6, 10, 14, 0, 0, 0, 0, 0, 0, 0, 0} {
		DATA(4*s, U32(e))
	}
}
