package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The bfloat16 GEMMs. A product of two bfloat16 values is exact in float32, so each
// body only chooses the order of the float32 sums (kernels.GemmNTBF16).
//
// The AVX-512 bodies use VDPBF16PS (AVX512_BF16), which neither the Go assembler
// nor Avo knows: it is written as BYTE lines after a comment with its mnemonic
// (vdpbf16ps), which asm/gen's TestByteInstructionsDecode checks with GNU objdump.
// Byte-encoded instructions name physical registers that Avo's allocator cannot see,
// so these bodies use physical registers only (never R14, R15, SP or BP).

// zr is ZMM register n.
func zr(n int) VecPhysical { return zmmRegs[n] }

var zmmRegs = []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
	Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}

// evex512 encodes the register form of an EVEX.512.W0 instruction without masking:
// dst = op(src1, src2), pp the implied prefix (1 66, 2 F3, 3 F2), mm the opcode map
// (1 0F, 2 0F38, 3 0F3A).
func evex512(pp, mm, op byte, dst, src1, src2 int) []byte {
	inv := func(r, bit int) byte { return byte(^r>>bit) & 1 }
	p0 := inv(dst, 3)<<7 | inv(src2, 4)<<6 | inv(src2, 3)<<5 | inv(dst, 4)<<4 | mm
	p1 := byte(^src1&15)<<3 | 1<<2 | pp
	p2 := byte(2)<<5 | inv(src1, 4)<<3
	modrm := byte(0xc0) | byte(dst&7)<<3 | byte(src2&7)
	return []byte{0x62, p0, p1, p2, op, modrm}
}

// vdpbf16ps emits VDPBF16PS src2, src1, dst (Go operand order): each float32 lane of
// dst adds the products of the two bfloat16 pairs of src1 and src2 in that lane.
func vdpbf16ps(src2, src1, dst int) {
	Comment(fmt.Sprintf("VDPBF16PS Z%d, Z%d, Z%d", src2, src1, dst))
	enc := evex512(2, 2, 0x52, dst, src1, src2)
	for i, b := range enc {
		ins := &ir.Instruction{Opcode: "BYTE", Operands: []Op{U8(b)}, ISA: []string{"AVX512BF16"}}
		if i == 0 {
			ins.Inputs = []Op{zr(src1), zr(src2), zr(dst)}
			ins.Outputs = []Op{zr(dst)}
		}
		Instruction(ins)
	}
}

// clampedRows loads into rows[r] the address of row min(start+r, last-1) of matrix
// name (row stride ld elements of 1<<shift bytes): the rows of a tile past the
// matrix's last are computed again from its last row, and never stored. It clobbers
// RAX and RCX.
func clampedRows(name, ld, last string, start Mem, shift uint8, rows []Register) {
	for r, p := range rows {
		Load(Param(last), RAX)
		DECQ(RAX)
		MOVQ(start, RCX)
		if r > 0 {
			ADDQ(U8(r), RCX)
		}
		CMPQ(RCX, RAX)
		CMOVQGT(RAX, RCX)
		Load(Param(ld), RAX)
		if shift > 0 {
			SHLQ(U8(shift), RAX)
		}
		IMULQ(RAX, RCX)
		Load(Param(name).Base(), p)
		ADDQ(RCX, p)
	}
}

// The AVX-512 bodies of the bfloat16 GEMMs are written once, as frames (ntBF16,
// nnAddBF16) that own the tile loops, masks, row pointers, accumulators, reductions
// and stores, parametrized by where each chunk of B comes from: gemmNTBF16 and
// gemmNNAddBF16 read B's bfloat16 rows, the E4M3 routines (bf16e4m3.go) the bfloat16
// words they widened B's bytes into. Only the loading differs, so only it is a hook.

// lowBits sets RDX to the mask of its low CL bits (CL < 64).
func lowBits() {
	MOVL(U32(1), EDX)
	SHLQ(CL, RDX)
	DECQ(RDX)
}

// kChunks stores k rounded down to a multiple of chunk (a power of 2) in full and
// sets RDX to the mask of the k%chunk elements of the tail. It clobbers RBX and RCX.
func kChunks(chunk int, full Mem) {
	Load(Param("k"), RCX)
	ANDQ(U8(chunk-1), RCX)
	lowBits()
	Load(Param("k"), RBX)
	ANDQ(I8(-chunk), RBX)
	MOVQ(RBX, full)
}

// blockCols jumps to done when column j is at or past n, and otherwise sets RCX to
// min(width, n-j), the columns of the block at j. It clobbers RDX.
func blockCols(j Mem, width int, done string) {
	Load(Param("n"), RCX)
	SUBQ(j, RCX)
	JLE(LabelRef(done))
	MOVQ(U32(width), RDX)
	CMPQ(RCX, RDX)
	CMOVQGT(RDX, RCX)
}

// ntSource is how ntBF16 reads B.
type ntSource struct {
	prefix string // of the labels
	shift  uint8  // log2 of B's element size in bytes
	// setup runs once, before the tiles (masks and locals of its own).
	setup func()
	// tile runs per tile after the row pointers and the prefetch pointer RCX; it may
	// claim RBX.
	tile func()
	// load loads chunk d (the 32 elements from RAX+32d) of the tile's row r of B
	// into Z(20+r), under K1 with zeros for the k tail.
	load func(d, r int, tail bool)
	// first, if set, is the first band's own k loop (from RAX = 0): chunk multiplies
	// a chunk; it ends at kTop to finish k as the other bands do, or at reduce.
	first func(chunk func(d int, tail bool), kTop, reduce string)
}

// ntA and ntB are ntBF16's row pointers of a tile of A and B.
var ntA, ntB = []Register{RSI, RDI, R8, R9}, []Register{R10, R11, R12, R13}

// ntBF16 (AVX-512, VDPBF16PS) computes c = A Bᵀ in tiles of 4 rows of A by 4 rows
// of B, 16 ZMM accumulators of float32 pair sums over k in chunks of 32 (the tail
// loaded under a mask with zeros), then reduced together: three rounds of lane
// shuffles and adds leave the tile's 16 sums in one ZMM, a 128-bit lane per row of
// A. The B rows of a tile stay in L1 while every band of 4 rows of A meets them.
// RAX counts k's elements; RDX holds k rounded down to a chunk.
func (t target) ntBF16(src ntSource) {
	i, j, kfull := AllocLocal(8), AllocLocal(8), AllocLocal(8)
	// K1: the first k%32 words, the k tail's mask.
	kChunks(32, kfull)
	KMOVD(EDX, K1)
	if src.setup != nil {
		src.setup()
	}
	MOVQ(U32(0), j)
	jTop, done := label(src.prefix+"_j"), label(src.prefix+"_done")
	Label(jTop)
	// K2 keeps the tile's min(4, n-j) columns of c.
	blockCols(j, 4, done)
	LEAQ(kmaskTable, RDX)
	KMOVW(Mem{Base: RDX, Index: RCX, Scale: 2}, K2)
	clampedRows("b", "ldb", "n", j, src.shift, ntB)
	MOVQ(U32(0), i)
	iTop, iNext := label(src.prefix+"_i"), label(src.prefix+"_i_next")
	Label(iTop)
	Load(Param("m"), RCX)
	CMPQ(i, RCX)
	JAE(LabelRef(iNext))
	clampedRows("a", "lda", "m", i, 1, ntA)
	// Band i/4 of A prefetches row j+4+(i/4)%4 of B, a cache line per chunk of k: a
	// long B (MLA's cached rows) streams from DRAM a block ahead of its use.
	MOVQ(i, RCX)
	SHRQ(U8(2), RCX)
	ANDQ(U8(3), RCX)
	ADDQ(U8(4), RCX)
	Load(Param("ldb"), RAX)
	if src.shift > 0 {
		SHLQ(U8(src.shift), RAX)
	}
	IMULQ(RAX, RCX)
	ADDQ(ntB[0], RCX)
	if src.tile != nil {
		src.tile()
	}
	for z := range 16 {
		VPXORD(zr(z), zr(z), zr(z))
	}
	XORQ(RAX, RAX)
	MOVQ(kfull, RDX)
	kTop, kTail, reduce := label(src.prefix+"_k"), label(src.prefix+"_ktail"), label(src.prefix+"_reduce")
	chunk := func(d int, tail bool) {
		for h := range 4 {
			at := Mem{Base: ntA[h], Index: RAX, Scale: 2, Disp: 64 * d}
			if tail {
				VMOVDQU16_Z(at, K1, zr(16+h))
			} else {
				VMOVDQU64(at, zr(16+h))
			}
		}
		for r := range 4 {
			src.load(d, r, tail)
		}
		for h := range 4 {
			for r := range 4 {
				vdpbf16ps(20+r, 16+h, 4*h+r)
			}
		}
	}
	first := label(src.prefix + "_first")
	if src.first != nil {
		CMPQ(i, U8(0))
		JE(LabelRef(first))
	}
	Label(kTop)
	CMPQ(RAX, RDX)
	JAE(LabelRef(kTail))
	PREFETCHT0(Mem{Base: RCX, Index: RAX, Scale: 1 << src.shift})
	chunk(0, false)
	ADDQ(U8(32), RAX)
	JMP(LabelRef(kTop))
	Label(kTail)
	KORTESTD(K1, K1)
	JZ(LabelRef(reduce))
	chunk(0, true)
	if src.first != nil {
		JMP(LabelRef(reduce))
		Label(first)
		src.first(chunk, kTop, reduce)
	}
	Label(reduce)
	out := ntReduce4x4()
	// Row i+h of c gets lane h, its min(4, n-j) columns under K2.
	Load(Param("c").Base(), RCX)
	stored := label(src.prefix + "_stored")
	for h := range 4 {
		cRow(i, j, h, stored)
		x := out.AsX()
		if h > 0 {
			x = X29
			VEXTRACTF32X4(U8(h), out, x)
		}
		VMOVUPS(x, K2, Mem{Base: RCX, Index: RDX, Scale: 4})
	}
	Label(stored)
	ADDQ(U8(4), i)
	JMP(LabelRef(iTop))
	Label(iNext)
	ADDQ(U8(4), j)
	JMP(LabelRef(jTop))
	Label(done)
	ret()
}

// cRow sets RDX to the element offset in c of row i+h, column j, or jumps to stored
// (the tile's rows from i+h are past m, never stored). It clobbers RAX.
func cRow(i, j Mem, h int, stored string) {
	MOVQ(i, RDX)
	if h > 0 {
		ADDQ(U8(h), RDX)
	}
	Load(Param("m"), RAX)
	CMPQ(RDX, RAX)
	JAE(LabelRef(stored))
	Load(Param("ldc"), RAX)
	IMULQ(RAX, RDX)
	ADDQ(j, RDX)
}

// gemmNTBF16 (AVX-512) is ntBF16 reading B's bfloat16 rows directly.
func (t target) gemmNTBF16() {
	t.begin("gemmNTBF16")
	if !t.zmm {
		t.gemmNTBF16AVX2()
		return
	}
	t.ntBF16(ntSource{prefix: "ntbf", shift: 1, load: func(_, r int, tail bool) {
		at := Mem{Base: ntB[r], Index: RAX, Scale: 2}
		if tail {
			VMOVDQU16_Z(at, K1, zr(20+r))
		} else {
			VMOVDQU64(at, zr(20+r))
		}
	}})
}

// ntReduce4x4 reduces the accumulators Z(4h+r) of a 4x4 tile to one ZMM whose
// 128-bit lane h holds the sums of Z(4h+0) .. Z(4h+3), in that order.
func ntReduce4x4() VecPhysical {
	t1, t2 := Z24, Z25
	for r := range 4 {
		// Round 1: the 256-bit halves of two rows of A (p = row 0 or 2, q = row 1
		// or 3) added; lanes [p0+p2, p1+p3, q0+q2, q1+q3].
		for _, h := range []int{0, 2} {
			p, q := zr(4*h+r), zr(4*(h+1)+r)
			VSHUFF32X4(U8(0x44), q, p, t1)
			VSHUFF32X4(U8(0xee), q, p, t2)
			VADDPS(t2, t1, p)
		}
		// Round 2: lane h holds 4 partial sums of Z(4h+r).
		u, w := zr(r), zr(8+r)
		VSHUFF32X4(U8(0x88), w, u, t1)
		VSHUFF32X4(U8(0xdd), w, u, t2)
		VADDPS(t2, t1, u)
	}
	// Round 3: Z0..Z3 (lane h of Zr: the partials of row h by row r) transposed
	// within each lane and added.
	VUNPCKLPS(Z1, Z0, Z24)
	VUNPCKHPS(Z1, Z0, Z25)
	VADDPS(Z25, Z24, Z24)
	VUNPCKLPS(Z3, Z2, Z26)
	VUNPCKHPS(Z3, Z2, Z27)
	VADDPS(Z27, Z26, Z26)
	VUNPCKLPD(Z26, Z24, Z25)
	VUNPCKHPD(Z26, Z24, Z27)
	VADDPS(Z27, Z25, Z28)
	return Z28
}

// nnSource is how nnAddBF16 reads B: a pair of rows p, p+1 at a time, interleaved
// (two ZMM of 16 column pairs each).
type nnSource struct {
	prefix string // of the labels
	// block runs per block of 32 columns at j, after the masks (K3: the block's
	// columns of B).
	block func(j Mem)
	// tile points RAX at the block's first pair, per tile (it may claim RBX).
	tile func(j Mem)
	// pair loads the interleaved pair at RAX into Z18, Z19; with odd, k's last row
	// paired with zeros.
	pair func(odd bool)
	// next advances RAX to the next pair.
	next func()
}

// nnAddBF16 (AVX-512, VDPBF16PS) adds A B to c in tiles of 8 rows of c by 32
// columns: rows p and p+1 of B are interleaved (two ZMM of 16 column pairs), A's pair
// (a[i][p], a[i][p+1]) is broadcast as one dword, and VDPBF16PS adds both products
// to each column's accumulator (two ZMM per row of c). An odd k pairs B's last row
// with zeros. The interleaving's column order is undone with VPERMI2PS (nnOrder)
// before the tile is added to c. Columns past n are loaded as zeros and never
// stored; rows past m are computed from A's last row and never stored.
func (t target) nnAddBF16(src nnSource) {
	a := []Register{RSI, RDI, R8, R9, R10, R11, R12, R13}
	i, j := AllocLocal(8), AllocLocal(8)
	done := label(src.prefix + "_done")
	Load(Param("k"), RCX)
	TESTQ(RCX, RCX)
	JZ(LabelRef(done))
	MOVQ(U32(0), j)
	jTop := label(src.prefix + "_j")
	Label(jTop)
	// K3: the block's min(32, n-j) elements of B; K1, K2: its two halves of c.
	blockCols(j, 32, done)
	lowBits()
	KMOVD(EDX, K3)
	KMOVW(EDX, K1)
	SHRQ(U8(16), RDX)
	KMOVW(EDX, K2)
	if src.block != nil {
		src.block(j)
	}
	MOVQ(U32(0), i)
	iTop, iNext := label(src.prefix+"_i"), label(src.prefix+"_i_next")
	Label(iTop)
	Load(Param("m"), RCX)
	CMPQ(i, RCX)
	JAE(LabelRef(iNext))
	clampedRows("a", "lda", "m", i, 1, a)
	for z := range 16 {
		VPXORD(zr(z), zr(z), zr(z))
	}
	// RAX walks B's pairs, RCX is the byte offset of the pair in A's rows, RDX its
	// end.
	src.tile(j)
	Load(Param("k"), RDX)
	SHRQ(U8(1), RDX)
	SHLQ(U8(2), RDX)
	XORQ(RCX, RCX)
	pTop, pOdd, store := label(src.prefix+"_p"), label(src.prefix+"_odd"), label(src.prefix+"_store")
	products := func() {
		for h := range 8 {
			vdpbf16ps(18, 20+h, 2*h)
			vdpbf16ps(19, 20+h, 2*h+1)
		}
	}
	Label(pTop)
	CMPQ(RCX, RDX)
	JAE(LabelRef(pOdd))
	src.pair(false)
	for h := range 8 {
		VPBROADCASTD(Mem{Base: a[h], Index: RCX, Scale: 1}, zr(20+h))
	}
	products()
	src.next()
	ADDQ(U8(4), RCX)
	JMP(LabelRef(pTop))
	Label(pOdd)
	Load(Param("k"), RDX)
	TESTQ(U32(1), RDX)
	JZ(LabelRef(store))
	src.pair(true)
	for h := range 8 {
		MOVWLZX(Mem{Base: a[h], Index: RCX, Scale: 1}, EDX)
		VPBROADCASTD(EDX, zr(20+h))
	}
	products()
	Label(store)
	Load(Param("c").Base(), RCX)
	stored := label(src.prefix + "_stored")
	for h := range 8 {
		cRow(i, j, h, stored)
		LEAQ(Mem{Base: RCX, Index: RDX, Scale: 4}, RDX)
		for half, k := range []Register{K1, K2} {
			at := Mem{Base: RDX, Disp: 64 * half}
			VMOVDQU64(nnOrder[half], Z22)
			VPERMI2PS(zr(2*h+1), zr(2*h), Z22)
			VMOVUPS_Z(at, k, Z23)
			VADDPS(Z23, Z22, Z22)
			VMOVUPS(Z22, k, at)
		}
	}
	Label(stored)
	ADDQ(U8(8), i)
	JMP(LabelRef(iTop))
	Label(iNext)
	ADDQ(U8(32), j)
	JMP(LabelRef(jTop))
	Label(done)
	ret()
}

// bf16Pair interleaves the pair of bfloat16 rows at RAX (the next at RAX+RBX; with
// odd, zeros) into Z18 (VPUNPCKLWD) and Z19 (VPUNPCKHWD), K3's columns, the rest
// zeros.
func bf16Pair(odd bool) {
	VMOVDQU16_Z(Mem{Base: RAX}, K3, Z16)
	if odd {
		VPXORD(Z17, Z17, Z17)
	} else {
		VMOVDQU16_Z(Mem{Base: RAX, Index: RBX, Scale: 1}, K3, Z17)
	}
	VPUNPCKLWD(Z17, Z16, Z18)
	VPUNPCKHWD(Z17, Z16, Z19)
}

// gemmNNAddBF16 (AVX-512) is nnAddBF16 interleaving B's bfloat16 rows as it goes:
// RAX walks them from column j, RBX is their stride in bytes.
func (t target) gemmNNAddBF16() {
	t.begin("gemmNNAddBF16")
	if !t.zmm {
		t.gemmNNAddBF16AVX2()
		return
	}
	t.nnAddBF16(nnSource{
		prefix: "nnbf",
		tile: func(j Mem) {
			Load(Param("ldb"), RBX)
			SHLQ(U8(1), RBX)
			Load(Param("b").Base(), RAX)
			MOVQ(j, RCX)
			LEAQ(Mem{Base: RAX, Index: RCX, Scale: 2}, RAX)
		},
		pair: bf16Pair,
		next: func() { LEAQ(Mem{Base: RAX, Index: RBX, Scale: 2}, RAX) },
	})
}

// nnOrder are the VPERMI2PS indices that put nnAddBF16's accumulators (lo: the
// VPUNPCKLWD columns, lane L holding 8L..8L+3; hi: VPUNPCKHWD's, 8L+4..8L+7) back in
// column order: the first 16 columns, then the next 16.
var nnOrder [2]Mem

func declareNNOrder() {
	for half := range 2 {
		m := GLOBL(fmt.Sprintf("nnbf16_order%d", half), RODATA|NOPTR)
		for c := range 16 {
			col := 16*half + c
			lane, e := col/8, col%8
			idx := 4*lane + e%4
			if e >= 4 {
				idx += 16
			}
			DATA(4*c, U32(idx))
		}
		nnOrder[half] = m
	}
}

// bf16Scalar loads the bfloat16 at m as a float32 in the low lane of a new XMM.
func bf16Scalar(m Mem) VecVirtual {
	g := GP32()
	MOVWLZX(m, g)
	SHLL(U8(16), g)
	x := XMM()
	VMOVD(g, x)
	return x
}

// bf16Widen8 widens the 8 bfloat16 at m to 8 float32 in a new YMM.
func bf16Widen8(m Mem) VecVirtual {
	v := YMM()
	VPMOVZXWD(m, v)
	VPSLLD(U8(16), v, v)
	return v
}

// The AVX2 bodies widen to float32 and FMA. Like the AVX-512 ones they are written
// once (ntAVX2, nnAddAVX2), parametrized by how B's elements are read as float32.

// avx2Source is how ntAVX2 and nnAddAVX2 read B.
type avx2Source struct {
	prefix string // of the labels
	shift  uint8  // log2 of B's element size in bytes
	// scalar loads the element at m as a float32 in the low lane of a new XMM.
	scalar func(m Mem) VecVirtual
	// widen8 emits the constants it needs and returns the load of 8 consecutive
	// elements as float32 in a new YMM.
	widen8 func() func(m Mem) VecVirtual
}

// ntStep emits one step of ntAVX2's k loop: the elements from p of the tile's rows
// a of A and b of B multiplied into acc[r][s].
type ntStep func(a, b []Register, p Register, acc [][]VecVirtual)

// ntAVX2 computes c = A Bᵀ in tiles of 2 rows of A by 4 rows of B: the k%step tail
// goes first, one element at a time into lane 0 of the zeroed accumulators, then
// steps of step elements (prepare emits the step's constants and returns the step).
func (t target) ntAVX2(src avx2Source, step int, prepare func() ntStep) {
	t.tiles([]int{2, 1}, []int{4, 1}, func(rows, cols int, i, j Mem) {
		a := scaledRowPointers("a", "lda", i, rows, 1)
		b := scaledRowPointers("b", "ldb", j, cols, src.shift)
		acc := make([][]VecVirtual, rows)
		for r := range acc {
			acc[r] = make([]VecVirtual, cols)
			for s := range acc[r] {
				acc[r][s] = YMM()
				t.zero(acc[r][s])
			}
		}
		k := Load(Param("k"), GP64())
		p := GP64()
		MOVQ(k, p)
		ANDQ(I8(-step), p)
		tail, tailDone := label(src.prefix+"_tail"), label(src.prefix+"_tail_done")
		Label(tail)
		CMPQ(p, k)
		JAE(LabelRef(tailDone))
		for r := range rows {
			x := bf16Scalar(Mem{Base: a[r], Index: p, Scale: 2})
			for s := range cols {
				y := src.scalar(Mem{Base: b[s], Index: p, Scale: 1 << src.shift})
				VFMADD231SS(y, x, acc[r][s].AsX())
			}
		}
		INCQ(p)
		JMP(LabelRef(tail))
		Label(tailDone)
		body := prepare()
		kfull := GP64()
		MOVQ(k, kfull)
		ANDQ(I8(-step), kfull)
		XORQ(p, p)
		top, end := label(src.prefix+"_step"), label(src.prefix+"_steps_done")
		Label(top)
		CMPQ(p, kfull)
		JAE(LabelRef(end))
		body(a, b, p, acc)
		ADDQ(U8(step), p)
		JMP(LabelRef(top))
		Label(end)
		cp := ptr("c")
		ldc := Load(Param("ldc"), GP64())
		for r := range rows {
			off := cOffset(i, j, r, ldc)
			for s := range cols {
				VMOVSS(t.hsum(acc[r][s]), Mem{Base: cp, Index: off, Scale: 4, Disp: 4 * s})
			}
		}
	})
	ret()
}

// gemmNTBF16AVX2 is ntAVX2 with 16 bfloat16 per step split into their even elements
// (dword<<16) and odd ones (dword with the low half cleared), each half a float32
// FMA: no widening shuffles.
func (t target) gemmNTBF16AVX2() {
	t.ntAVX2(bf16AVX2, 16, func() ntStep {
		hiMask := t.splat("bf16hi", 0xffff0000)
		return func(a, b []Register, p Register, acc [][]VecVirtual) {
			type pair struct{ even, odd VecVirtual }
			va := make([]pair, len(a))
			for r := range a {
				v := YMM()
				VMOVDQU(Mem{Base: a[r], Index: p, Scale: 2}, v)
				va[r] = pair{YMM(), YMM()}
				VPSLLD(U8(16), v, va[r].even)
				VPAND(hiMask, v, va[r].odd)
			}
			for s := range b {
				v, e, o := YMM(), YMM(), YMM()
				VMOVDQU(Mem{Base: b[s], Index: p, Scale: 2}, v)
				VPSLLD(U8(16), v, e)
				VPAND(hiMask, v, o)
				for r := range a {
					VFMADD231PS(e, va[r].even, acc[r][s])
					VFMADD231PS(o, va[r].odd, acc[r][s])
				}
			}
		}
	})
}

// bf16AVX2 reads a bfloat16 B.
var bf16AVX2 = avx2Source{
	prefix: "bf",
	shift:  1,
	scalar: bf16Scalar,
	widen8: func() func(Mem) VecVirtual { return bf16Widen8 },
}

// nnAddAVX2 adds A B to c in tiles of 4 rows of c by 16 or 8 columns (then single
// columns), each row of B widened 8 at a time and each a[i][p] broadcast (VPBROADCASTW,
// VPSLLD).
func (t target) nnAddAVX2(src avx2Source) {
	t.tiles([]int{4, 1}, []int{16, 8, 1}, func(rows, cols int, i, jm Mem) {
		j := GP64()
		MOVQ(jm, j)
		width := cols / 8
		a := scaledRowPointers("a", "lda", i, rows, 1)
		ldb := Load(Param("ldb"), GP64())
		if src.shift > 0 {
			SHLQ(U8(src.shift), ldb)
		}
		pb := ptr("b")
		LEAQ(Mem{Base: pb, Index: j, Scale: 1 << src.shift}, pb)
		cRows := rowPointers("c", "ldc", i, rows)
		acc := make([][]VecVirtual, rows)
		for r := range acc {
			if cols == 1 {
				acc[r] = []VecVirtual{XMM()}
				VMOVSS(Mem{Base: cRows[r], Index: j, Scale: 4}, acc[r][0])
				continue
			}
			acc[r] = make([]VecVirtual, width)
			for v := range width {
				acc[r][v] = YMM()
				VMOVUPS(Mem{Base: cRows[r], Index: j, Scale: 4, Disp: 32 * v}, acc[r][v])
			}
		}
		var widen func(Mem) VecVirtual
		if cols > 1 {
			widen = src.widen8()
		}
		k := Load(Param("k"), GP64())
		p := GP64()
		XORQ(p, p)
		top, done := label(src.prefix+"nn_k"), label(src.prefix+"nn_k_done")
		Label(top)
		CMPQ(p, k)
		JAE(LabelRef(done))
		if cols == 1 {
			y := src.scalar(Mem{Base: pb})
			for r := range rows {
				x := bf16Scalar(Mem{Base: a[r], Index: p, Scale: 2})
				VFMADD231SS(y, x, acc[r][0])
			}
		} else {
			vb := make([]VecVirtual, width)
			for v := range width {
				vb[v] = widen(Mem{Base: pb, Disp: (8 << src.shift) * v})
			}
			for r := range rows {
				bc := YMM()
				VPBROADCASTW(Mem{Base: a[r], Index: p, Scale: 2}, bc)
				VPSLLD(U8(16), bc, bc)
				for v := range width {
					VFMADD231PS(vb[v], bc, acc[r][v])
				}
			}
		}
		ADDQ(ldb, pb)
		INCQ(p)
		JMP(LabelRef(top))
		Label(done)
		cRows = rowPointers("c", "ldc", i, rows)
		for r := range rows {
			if cols == 1 {
				VMOVSS(acc[r][0], Mem{Base: cRows[r], Index: j, Scale: 4})
				continue
			}
			for v := range width {
				VMOVUPS(acc[r][v], Mem{Base: cRows[r], Index: j, Scale: 4, Disp: 32 * v})
			}
		}
	})
	ret()
}

// gemmNNAddBF16AVX2 is nnAddAVX2 widening B's bfloat16 (VPMOVZXWD, VPSLLD).
func (t target) gemmNNAddBF16AVX2() { t.nnAddAVX2(bf16AVX2) }
