package main

import (
	"fmt"
	"math"
	"math/bits"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gemvRows is how many rows of W one pass of gemv multiplies: each chunk of x is
// loaded once into a register and reused for all of them.
const gemvRows = 4

func (t target) gemv() {
	t.begin("gemv")
	y, m := slice("y")
	w := ptr("w")
	x, n := slice("x")
	t.gemvBody(y, m, w, x, n, nil, f32Rows)
	ret()
}

// gemvStream is gemv for a W streamed from DRAM: while a block of rows is
// multiplied, the next block streams into L2, as many lines per chunk as the chunk
// reads, so the memory bus never waits for the arithmetic to ask. The last block
// prefetches next instead (the rows after W, or W's own last block when there are
// none). The prefetches cost load slots, so for a W already in cache gemv is faster.
func (t target) gemvStream() {
	t.begin("gemvStream")
	y, m := slice("y")
	w := ptr("w")
	x, n := slice("x")
	t.gemvBody(y, m, w, x, n, func(Register) Register { return ptr("next") }, f32Rows)
	ret()
}

// downUpStream is downUp for matrices streamed from DRAM: each pass prefetches
// like gemvStream, its last block prefetching itself.
func (t target) downUpStream() {
	t.begin("downUpStream")
	self := func(w Register) Register { return w }
	lat, r := slice("latent")
	x, n := slice("x")
	t.gemvBody(lat, r, ptr("down"), x, n, self, f32Rows)
	y, m := slice("y")
	t.gemvBody(y, m, ptr("up"), Load(Param("latent").Base(), GP64()), Load(Param("latent").Len(), GP64()), self, f32Rows)
	ret()
}

// downUp runs the gemv body twice in one call: latent = Down x, then y = Up latent.
func (t target) downUp() {
	t.begin("downUp")
	lat, r := slice("latent")
	x, n := slice("x")
	t.gemvBody(lat, r, ptr("down"), x, n, nil, f32Rows)
	y, m := slice("y")
	t.gemvBody(y, m, ptr("up"), Load(Param("latent").Base(), GP64()), Load(Param("latent").Len(), GP64()), nil, f32Rows)
	ret()
}

// rowFormat is how W stores its weights: size bytes each, and chunk gives a chunk
// of a row as float32 lanes, an operand of VFMADD231PS (masked-off lanes zero). A
// format whose chunks are the weights divided by a power of two sets scale to it (0:
// the chunks are the weights): gemvBody multiplies each row's sum by scale, and
// gemvTRows each x[i], which is exact short of overflow and underflow.
type rowFormat struct {
	size  int
	chunk func(t target, c chunk, row Register) Op
	scale float32
}

// scaleBy multiplies v (a vector, or lane 0 with mul = VMULSS) by f.scale, if any.
func (t target) scaleBy(f rowFormat, v Register, mul func(...Op)) {
	if f.scale != 0 {
		mul(t.splat(fmt.Sprintf("scale_%08x", math.Float32bits(f.scale)), math.Float32bits(f.scale)), v, v)
	}
}

// f32Rows is a W of float32, whose full chunks the FMAs read straight from memory.
var f32Rows = rowFormat{size: 4, chunk: target.operand}

// gemvBody emits y = W x for m rows and n columns: blocks of four rows with two
// accumulators each (eight independent FMA chains), then the remaining rows one
// at a time. With next not nil each block prefetches the following one, and the
// last block the memory at next(w), w being the block's first row. f says how a
// row is stored.
func (t target) gemvBody(y, m, w, x, n Register, next func(w Register) Register, f rowFormat) {
	rowPasses(m, w, n, f.size, "gemv", func(rows [gemvRows]Register, rowBytes, left, row Register) {
		var pf Register
		if next != nil {
			pf = blockPrefetch(rows, rowBytes, left, next(w))
		}
		var acc [gemvRows][2]VecVirtual
		for r := range acc {
			acc[r][0], acc[r][1] = t.vec(), t.vec()
			t.zero(acc[r][0])
			t.zero(acc[r][1])
		}
		t.loop(n, 2, func(c chunk) {
			if next != nil && c.m == nil {
				t.prefetchChunk(pf, f.size)
			}
			vx := t.load(c, x)
			for r := range rows {
				VFMADD231PS(f.chunk(t, c, rows[r]), vx, acc[r][c.u])
			}
		})
		var sums [4]VecVirtual
		for r := range acc {
			VADDPS(acc[r][1], acc[r][0], acc[r][0])
			sums[r] = acc[r][0]
		}
		s := t.sum4(sums)
		t.scaleBy(f, s, VMULPS)
		VMOVUPS(s, Mem{Base: y, Index: row, Scale: 4})
	}, func(row Register) {
		a := t.accumulators(2)
		t.loop(n, 2, func(c chunk) {
			vx := t.load(c, x)
			VFMADD231PS(f.chunk(t, c, w), vx, a[c.u])
		})
		s := t.reduceSum(a)
		t.scaleBy(f, s, VMULSS)
		VMOVSS(s, Mem{Base: y, Index: row, Scale: 4})
	})
}

// rowPasses emits the row loop of the kernels that walk W (m rows of n columns of
// size bytes) front to back from w: block(rows, rowBytes, left, row) for each block of gemvRows
// rows starting at row (left rows remain from it), then single(row) for each
// remaining row, w pointing at that row. name prefixes the labels.
func rowPasses(m, w, n Register, size int, name string,
	block func(rows [gemvRows]Register, rowBytes, left, row Register), single func(row Register)) {
	rowBytes := GP64()
	MOVQ(n, rowBytes)
	if size > 1 {
		SHLQ(U8(bits.TrailingZeros(uint(size))), rowBytes)
	}
	rowPassesOf(m, w, rowBytes, name, block, single)
}

// rowPassesOf is rowPasses for rows rowBytes long, for a W whose rows are not a
// whole number of bytes per column (Q8_0's blocks).
func rowPassesOf(m, w, rowBytes Register, name string,
	block func(rows [gemvRows]Register, rowBytes, left, row Register), single func(row Register)) {
	row := GP64()
	XORQ(row, row)
	blocks, singles, done := label(name+"_rows4"), label(name+"_rows1"), label(name+"_done")

	Label(blocks)
	left := GP64()
	MOVQ(m, left)
	SUBQ(row, left)
	CMPQ(left, U32(gemvRows))
	JB(LabelRef(singles))
	block(rowBlock(w, rowBytes), rowBytes, left, row)
	LEAQ(Mem{Base: w, Index: rowBytes, Scale: 4}, w)
	ADDQ(U32(gemvRows), row)
	JMP(LabelRef(blocks))

	Label(singles)
	CMPQ(row, m)
	JAE(LabelRef(done))
	single(row)
	ADDQ(rowBytes, w)
	INCQ(row)
	JMP(LabelRef(singles))
	Label(done)
}

// gemvT computes y = Wᵀ x (W is len(x) rows by len(y) columns) a block of columns
// at a time: the block's accumulators stay in registers while the loop walks down
// the rows, broadcasting x[i]. Rows go two at a time into two accumulator sets, so
// the FMA chains are independent.
func (t target) gemvT() {
	t.begin("gemvT")
	y, n := slice("y")
	w := ptr("w")
	x, m := slice("x")
	rowBytes := GP64()
	MOVQ(n, rowBytes)
	SHLQ(U8(2), rowBytes)
	col := GP64()
	XORQ(col, col)
	for _, width := range []int{8, 4, 1} {
		next := label("cols_next")
		top := label("cols")
		Label(top)
		left := GP64()
		MOVQ(n, left)
		SUBQ(col, left)
		CMPQ(left, U32(width*t.lanes))
		JB(LabelRef(next))
		t.gemvTColumns(y, w, x, m, rowBytes, col, width, nil)
		ADDQ(U32(width*t.lanes), col)
		JMP(LabelRef(top))
		Label(next)
	}
	done := label("gemvT_done")
	rem := GP64()
	MOVQ(n, rem)
	SUBQ(col, rem)
	JZ(LabelRef(done))
	msk := t.tailMask(rem)
	t.gemvTColumns(y, w, x, m, rowBytes, col, 1, &msk)
	Label(done)
	ret()
}

// gemvTColumns emits the pass over all m rows for width vectors of columns starting
// at col (under msk for the last, partial block).
func (t target) gemvTColumns(y, w, x, m, rowBytes, col Register, width int, msk *mask) {
	p := GP64()
	LEAQ(Mem{Base: w, Index: col, Scale: 4}, p)
	// Two accumulator sets (rows in pairs) keep a narrow block's FMA chains
	// independent; a block of eight vectors has eight chains in one set.
	sets := 2
	if width >= 8 {
		sets = 1
	}
	var acc [2][]VecVirtual
	for s := range sets {
		acc[s] = t.accumulators(width)
	}
	fma := func(set int, xi VecVirtual, offset Register) {
		for v := range width {
			mem := Mem{Base: p, Disp: v * t.lanes * 4}
			if offset != nil {
				mem.Index, mem.Scale = offset, 1
			}
			var src Op = mem
			if msk != nil {
				wv := t.vec()
				if t.zmm {
					VMOVUPS_Z(mem, msk.k, wv)
				} else {
					VMASKMOVPS(mem, msk.v, wv)
				}
				src = wv
			}
			VFMADD231PS(src, xi, acc[set][v])
		}
	}
	i := GP64()
	XORQ(i, i)
	pairs, last, done := label("pairs"), label("lastrow"), label("rows_done")
	end := GP64()
	MOVQ(m, end)
	SUBQ(U32(2), end)
	Label(pairs)
	CMPQ(i, end)
	JG(LabelRef(last))
	x0, x1 := t.vec(), t.vec()
	VBROADCASTSS(Mem{Base: x, Index: i, Scale: 4}, x0)
	VBROADCASTSS(Mem{Base: x, Index: i, Scale: 4, Disp: 4}, x1)
	fma(0, x0, nil)
	fma(1%sets, x1, rowBytes)
	LEAQ(Mem{Base: p, Index: rowBytes, Scale: 2}, p)
	ADDQ(U32(2), i)
	JMP(LabelRef(pairs))
	Label(last)
	CMPQ(i, m)
	JAE(LabelRef(done))
	xl := t.vec()
	VBROADCASTSS(Mem{Base: x, Index: i, Scale: 4}, xl)
	fma(0, xl, nil)
	Label(done)
	for v := range width {
		if sets == 2 {
			VADDPS(acc[1][v], acc[0][v], acc[0][v])
		}
		t.store(chunk{idx: col, u: v, m: msk}, acc[0][v], y)
	}
}

// rowBlock returns pointers to the gemvRows rows of W from w, rowBytes apart.
func rowBlock(w, rowBytes Register) [gemvRows]Register {
	var rows [gemvRows]Register
	for r := range rows {
		rows[r] = GP64()
		if r == 0 {
			MOVQ(w, rows[0])
		} else {
			LEAQ(Mem{Base: rows[r-1], Index: rowBytes, Scale: 1}, rows[r])
		}
	}
	return rows
}

// blockPrefetch returns the prefetch pointer of a block of rows: the next block, or
// last when fewer than two blocks' rows are left from this one.
func blockPrefetch(rows [gemvRows]Register, rowBytes, left, last Register) Register {
	pf := GP64()
	LEAQ(Mem{Base: rows[gemvRows-1], Index: rowBytes, Scale: 1}, pf)
	CMPQ(left, U32(2*gemvRows))
	CMOVQLT(last, pf)
	return pf
}

// prefetchChunk prefetches, from pf on, as many bytes as a chunk of a row block reads
// (gemvRows vectors of size-byte weights), and advances pf past them.
func (t target) prefetchChunk(pf Register, size int) {
	chunkBytes := gemvRows * t.lanes * size
	for off := 0; off < chunkBytes; off += 64 {
		PREFETCHT1(Mem{Base: pf, Disp: off})
	}
	ADDQ(U32(chunkBytes), pf)
}
