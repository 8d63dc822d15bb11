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

// bf16Clamped loads into dst the address of row min(start+r, last) of matrix name
// (row stride ld elements of 2 bytes): the rows of a tile past the matrix's last are
// computed again from its last row, and never stored. It clobbers RCX, RDX and RAX.
func bf16Clamped(name, ld, last string, start Mem, rows []Register) {
	Load(Param(last), RDX)
	DECQ(RDX)
	Load(Param(ld), RAX)
	SHLQ(U8(1), RAX)
	for r, p := range rows {
		MOVQ(start, RCX)
		if r > 0 {
			ADDQ(U8(r), RCX)
		}
		CMPQ(RCX, RDX)
		CMOVQGT(RDX, RCX)
		IMULQ(RAX, RCX)
		Load(Param(name).Base(), p)
		ADDQ(RCX, p)
	}
}

// gemmNTBF16 (AVX-512, VDPBF16PS) computes c = A Bᵀ in tiles of 4 rows of A by 4
// rows of B, 16 ZMM accumulators of float32 pair sums over k in chunks of 32
// (the tail loaded under a mask with zeros), then reduced together: three rounds of
// lane shuffles and adds leave the tile's 16 sums in one ZMM, a 128-bit lane per row
// of A. The B rows of a tile stay in L1 while every band of 4 rows of A meets them.
func (t target) gemmNTBF16() {
	t.begin("gemmNTBF16")
	if !t.zmm {
		t.gemmNTBF16AVX2()
		return
	}
	a := []Register{RSI, RDI, R12, R13}
	b := []Register{R8, R9, R10, R11}
	i, j, kfull := AllocLocal(8), AllocLocal(8), AllocLocal(8)
	// K1: the first k%32 words, the k tail's mask.
	Load(Param("k"), RCX)
	ANDQ(U8(31), RCX)
	MOVL(U32(1), EDX)
	SHLQ(CL, RDX)
	DECQ(RDX)
	KMOVD(EDX, K1)
	Load(Param("k"), RBX)
	ANDQ(I8(-32), RBX)
	SHLQ(U8(1), RBX)
	MOVQ(RBX, kfull)
	MOVQ(U32(0), j)
	jTop, done := label("ntbf_j"), label("ntbf_done")
	Label(jTop)
	Load(Param("n"), RCX)
	SUBQ(j, RCX)
	JLE(LabelRef(done))
	// K2 keeps the tile's min(4, n-j) columns of c.
	MOVQ(U32(4), RDX)
	CMPQ(RCX, RDX)
	CMOVQGT(RDX, RCX)
	LEAQ(kmaskTable, RDX)
	KMOVW(Mem{Base: RDX, Index: RCX, Scale: 2}, K2)
	bf16Clamped("b", "ldb", "n", j, b)
	MOVQ(U32(0), i)
	iTop, iNext := label("ntbf_i"), label("ntbf_i_next")
	Label(iTop)
	Load(Param("m"), RCX)
	CMPQ(i, RCX)
	JAE(LabelRef(iNext))
	bf16Clamped("a", "lda", "m", i, a)
	// Band i/4 of A prefetches row j+4+(i/4)%4 of B, a cache line per chunk of k: a
	// long B (MLA's cached rows) streams from DRAM a block ahead of its use.
	MOVQ(i, RCX)
	SHRQ(U8(2), RCX)
	ANDQ(U8(3), RCX)
	ADDQ(U8(4), RCX)
	Load(Param("ldb"), RDX)
	SHLQ(U8(1), RDX)
	IMULQ(RDX, RCX)
	ADDQ(b[0], RCX)
	MOVQ(kfull, RBX)
	for z := range 16 {
		VPXORD(zr(z), zr(z), zr(z))
	}
	XORQ(RAX, RAX)
	kTop, kTail, reduce := label("ntbf_k"), label("ntbf_ktail"), label("ntbf_reduce")
	products := func() {
		for h := range 4 {
			for r := range 4 {
				vdpbf16ps(20+r, 16+h, 4*h+r)
			}
		}
	}
	Label(kTop)
	CMPQ(RAX, RBX)
	JAE(LabelRef(kTail))
	PREFETCHT0(Mem{Base: RCX, Index: RAX, Scale: 1})
	for h := range 4 {
		VMOVDQU64(Mem{Base: a[h], Index: RAX, Scale: 1}, zr(16+h))
	}
	for r := range 4 {
		VMOVDQU64(Mem{Base: b[r], Index: RAX, Scale: 1}, zr(20+r))
	}
	products()
	ADDQ(U8(64), RAX)
	JMP(LabelRef(kTop))
	Label(kTail)
	KORTESTD(K1, K1)
	JZ(LabelRef(reduce))
	for h := range 4 {
		VMOVDQU16_Z(Mem{Base: a[h], Index: RAX, Scale: 1}, K1, zr(16+h))
	}
	for r := range 4 {
		VMOVDQU16_Z(Mem{Base: b[r], Index: RAX, Scale: 1}, K1, zr(20+r))
	}
	products()
	Label(reduce)
	out := ntReduce4x4()
	// Row i+h of c gets lane h, its min(4, n-j) columns under K2.
	Load(Param("c").Base(), RCX)
	stored := label("ntbf_stored")
	for h := range 4 {
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

// gemmNNAddBF16 (AVX-512, VDPBF16PS) adds A B to c in tiles of 8 rows of c by 32
// columns: rows p and p+1 of B are interleaved (VPUNPCKLWD, VPUNPCKHWD: two ZMM of
// 16 column pairs), A's pair (a[i][p], a[i][p+1]) is broadcast as one dword, and
// VDPBF16PS adds both products to each column's accumulator (two ZMM per row of c).
// An odd k pairs B's last row with zeros. The unpacking's column order is undone
// with VPERMI2PS before the tile is added to c. Columns past n are loaded as zeros
// and never stored; rows past m are computed from A's last row and never stored.
func (t target) gemmNNAddBF16() {
	t.begin("gemmNNAddBF16")
	if !t.zmm {
		t.gemmNNAddBF16AVX2()
		return
	}
	a := []Register{RSI, RDI, R8, R9, R10, R11, R12, R13}
	i, j := AllocLocal(8), AllocLocal(8)
	done := label("nnbf_done")
	Load(Param("k"), RCX)
	TESTQ(RCX, RCX)
	JZ(LabelRef(done))
	VMOVDQU64(nnOrder[0], Z28)
	VMOVDQU64(nnOrder[1], Z29)
	MOVQ(U32(0), j)
	jTop := label("nnbf_j")
	Label(jTop)
	Load(Param("n"), RCX)
	SUBQ(j, RCX)
	JLE(LabelRef(done))
	// K3: the block's min(32, n-j) words of B; K1, K2: its two halves of c.
	MOVQ(U32(32), RDX)
	CMPQ(RCX, RDX)
	CMOVQGT(RDX, RCX)
	MOVL(U32(1), EDX)
	SHLQ(CL, RDX)
	DECQ(RDX)
	KMOVD(EDX, K3)
	KMOVW(EDX, K1)
	SHRQ(U8(16), RDX)
	KMOVW(EDX, K2)
	MOVQ(U32(0), i)
	iTop, iNext := label("nnbf_i"), label("nnbf_i_next")
	Label(iTop)
	Load(Param("m"), RCX)
	CMPQ(i, RCX)
	JAE(LabelRef(iNext))
	bf16Clamped("a", "lda", "m", i, a)
	for z := range 16 {
		VPXORD(zr(z), zr(z), zr(z))
	}
	// RAX walks B's rows from column j, RBX is B's row stride in bytes, RCX the byte
	// offset of the pair in A's rows, RDX its end.
	Load(Param("ldb"), RBX)
	SHLQ(U8(1), RBX)
	Load(Param("b").Base(), RAX)
	MOVQ(j, RCX)
	LEAQ(Mem{Base: RAX, Index: RCX, Scale: 2}, RAX)
	Load(Param("k"), RDX)
	SHRQ(U8(1), RDX)
	SHLQ(U8(2), RDX)
	XORQ(RCX, RCX)
	pTop, pOdd, store := label("nnbf_p"), label("nnbf_odd"), label("nnbf_store")
	products := func() {
		for h := range 8 {
			vdpbf16ps(18, 20+h, 2*h)
			vdpbf16ps(19, 20+h, 2*h+1)
		}
	}
	Label(pTop)
	CMPQ(RCX, RDX)
	JAE(LabelRef(pOdd))
	VMOVDQU16_Z(Mem{Base: RAX}, K3, Z16)
	VMOVDQU16_Z(Mem{Base: RAX, Index: RBX, Scale: 1}, K3, Z17)
	VPUNPCKLWD(Z17, Z16, Z18)
	VPUNPCKHWD(Z17, Z16, Z19)
	for h := range 8 {
		VPBROADCASTD(Mem{Base: a[h], Index: RCX, Scale: 1}, zr(20+h))
	}
	products()
	LEAQ(Mem{Base: RAX, Index: RBX, Scale: 2}, RAX)
	ADDQ(U8(4), RCX)
	JMP(LabelRef(pTop))
	Label(pOdd)
	Load(Param("k"), RDX)
	TESTQ(U32(1), RDX)
	JZ(LabelRef(store))
	VMOVDQU16_Z(Mem{Base: RAX}, K3, Z16)
	VPXORD(Z17, Z17, Z17)
	VPUNPCKLWD(Z17, Z16, Z18)
	VPUNPCKHWD(Z17, Z16, Z19)
	for h := range 8 {
		MOVWLZX(Mem{Base: a[h], Index: RCX, Scale: 1}, EDX)
		VPBROADCASTD(EDX, zr(20+h))
	}
	products()
	Label(store)
	Load(Param("c").Base(), RCX)
	stored := label("nnbf_stored")
	for h := range 8 {
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
		LEAQ(Mem{Base: RCX, Index: RDX, Scale: 4}, RDX)
		for half, k := range []Register{K1, K2} {
			at := Mem{Base: RDX, Disp: 64 * half}
			VMOVDQU64(zr(28+half), Z30)
			VPERMI2PS(zr(2*h+1), zr(2*h), Z30)
			VMOVUPS_Z(at, k, Z31)
			VADDPS(Z31, Z30, Z30)
			VMOVUPS(Z30, k, at)
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

// nnOrder are the VPERMI2PS indices that put gemmNNAddBF16's accumulators (lo: the
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

// bf16RowPointers returns rows pointers into the bfloat16 matrix name, from row start
// with a row stride of ld elements.
func bf16RowPointers(name, ld string, start Op, rows int) []Register {
	base := ptr(name)
	stride := Load(Param(ld), GP64())
	SHLQ(U8(1), stride)
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

// bf16Scalar loads the bfloat16 at m as a float32 in the low lane of a new XMM.
func bf16Scalar(m Mem) VecVirtual {
	g := GP32()
	MOVWLZX(m, g)
	SHLL(U8(16), g)
	x := XMM()
	VMOVD(g, x)
	return x
}

// gemmNTBF16AVX2 widens and FMAs: tiles of 2 rows of A by 4 rows of B, 16 bfloat16
// per step split into their even elements (dword<<16) and odd ones (dword with the
// low half cleared), each half a float32 FMA; the k%16 tail goes first, one element
// at a time into lane 0 of the zeroed accumulators.
func (t target) gemmNTBF16AVX2() {
	t.tiles([]int{2, 1}, []int{4, 1}, func(rows, cols int, i, j Mem) {
		a := bf16RowPointers("a", "lda", i, rows)
		b := bf16RowPointers("b", "ldb", j, cols)
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
		ANDQ(I8(-16), p)
		tail, tailDone := label("ntbf_tail"), label("ntbf_tail_done")
		Label(tail)
		CMPQ(p, k)
		JAE(LabelRef(tailDone))
		for r := range rows {
			x := bf16Scalar(Mem{Base: a[r], Index: p, Scale: 2})
			for s := range cols {
				y := bf16Scalar(Mem{Base: b[s], Index: p, Scale: 2})
				VFMADD231SS(y, x, acc[r][s].AsX())
			}
		}
		INCQ(p)
		JMP(LabelRef(tail))
		Label(tailDone)
		kfull := GP64()
		MOVQ(k, kfull)
		ANDQ(I8(-16), kfull)
		XORQ(p, p)
		top, end := label("ntbf_step"), label("ntbf_steps_done")
		Label(top)
		CMPQ(p, kfull)
		JAE(LabelRef(end))
		hiMask := t.splat("bf16hi", 0xffff0000)
		type pair struct{ even, odd VecVirtual }
		va := make([]pair, rows)
		for r := range rows {
			v := YMM()
			VMOVDQU(Mem{Base: a[r], Index: p, Scale: 2}, v)
			va[r] = pair{YMM(), YMM()}
			VPSLLD(U8(16), v, va[r].even)
			VPAND(hiMask, v, va[r].odd)
		}
		for s := range cols {
			v, e, o := YMM(), YMM(), YMM()
			VMOVDQU(Mem{Base: b[s], Index: p, Scale: 2}, v)
			VPSLLD(U8(16), v, e)
			VPAND(hiMask, v, o)
			for r := range rows {
				VFMADD231PS(e, va[r].even, acc[r][s])
				VFMADD231PS(o, va[r].odd, acc[r][s])
			}
		}
		ADDQ(U8(16), p)
		JMP(LabelRef(top))
		Label(end)
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
			for s := range cols {
				VMOVSS(t.hsum(acc[r][s]), Mem{Base: cp, Index: off, Scale: 4, Disp: 4 * s})
			}
		}
	})
	ret()
}

// gemmNNAddBF16AVX2 widens and FMAs: tiles of 4 rows of c by 16 or 8 columns (then
// single columns), each row of B widened 8 at a time (VPMOVZXWD, VPSLLD) and each
// a[i][p] broadcast (VPBROADCASTW, VPSLLD).
func (t target) gemmNNAddBF16AVX2() {
	t.tiles([]int{4, 1}, []int{16, 8, 1}, func(rows, cols int, i, jm Mem) {
		j := GP64()
		MOVQ(jm, j)
		width := cols / 8
		a := bf16RowPointers("a", "lda", i, rows)
		ldb := Load(Param("ldb"), GP64())
		SHLQ(U8(1), ldb)
		pb := ptr("b")
		LEAQ(Mem{Base: pb, Index: j, Scale: 2}, pb)
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
		k := Load(Param("k"), GP64())
		p := GP64()
		XORQ(p, p)
		top, done := label("nnbf_k"), label("nnbf_k_done")
		Label(top)
		CMPQ(p, k)
		JAE(LabelRef(done))
		if cols == 1 {
			y := bf16Scalar(Mem{Base: pb})
			for r := range rows {
				x := bf16Scalar(Mem{Base: a[r], Index: p, Scale: 2})
				VFMADD231SS(y, x, acc[r][0])
			}
		} else {
			vb := make([]VecVirtual, width)
			for v := range width {
				vb[v] = YMM()
				VPMOVZXWD(Mem{Base: pb, Disp: 16 * v}, vb[v])
				VPSLLD(U8(16), vb[v], vb[v])
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
