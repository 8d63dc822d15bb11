package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The int8 attention kernels over an I8 row store (kernels/attn_i8.go gives the
// layout and the exact results every Level must match bit for bit): in a tile of 16
// rows, the 64 bytes of column group g (columns 4g..4g+3) hold four columns of all
// sixteen rows, each row's four bytes a dword, each byte the value plus 128.
//
// The kernels take the queries (or probability rows) in blocks of heads, 16 at a
// time on AVX-512 (one ZMM accumulator per head), 8 on AVX2, then the remainder in
// blocks of 8, 4, 2 and 1. A head's row inside a block is addressed from one or two
// pointers that walk the columns (rows) and index registers holding 1, 3, 5 and 7
// times the row stride (scaled by 1, 2, 4 or 8), so that no head needs a register of
// its own.

// i8HeadBlocks are the head-block sizes, largest first.
func (t target) i8HeadBlocks() []int {
	if t.zmm {
		return []int{16, 8, 4, 2, 1}
	}
	return []int{8, 4, 2, 1}
}

// strides holds the index registers for rows of a block: the stride times 1, 3, 5
// and 7 (the ones a block of h heads needs), and the pointer to the block's rows 8..15.
type strides struct {
	s1, s3, s5, s7 Register
}

func newStrides(stride Register, heads int) strides {
	var s strides
	s.s1 = stride
	if heads > 2 {
		s.s3 = GP64()
		LEAQ(Mem{Base: stride, Index: stride, Scale: 2}, s.s3)
	}
	if heads > 4 {
		s.s5, s.s7 = GP64(), GP64()
		LEAQ(Mem{Base: stride, Index: stride, Scale: 4}, s.s5)
		LEAQ(Mem{Base: s.s3, Index: stride, Scale: 4}, s.s7)
	}
	return s
}

// row addresses row h (0..7) of a block from p (row 0), plus disp.
func (s strides) row(p Register, h, disp int) Mem {
	switch h {
	case 0:
		return Mem{Base: p, Disp: disp}
	case 1:
		return Mem{Base: p, Index: s.s1, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: p, Index: s.s1, Scale: 2, Disp: disp}
	case 3:
		return Mem{Base: p, Index: s.s3, Scale: 1, Disp: disp}
	case 4:
		return Mem{Base: p, Index: s.s1, Scale: 4, Disp: disp}
	case 5:
		return Mem{Base: p, Index: s.s5, Scale: 1, Disp: disp}
	case 6:
		return Mem{Base: p, Index: s.s3, Scale: 2, Disp: disp}
	case 7:
		return Mem{Base: p, Index: s.s7, Scale: 1, Disp: disp}
	}
	panic("gen: row of a block beyond 7")
}

// headRows are the walking pointers of a block's rows: p for rows 0..7, p8 for 8..15.
type headRows struct {
	p, p8 Register
	s     strides
}

func newHeadRows(base, stride Register, heads int) headRows {
	r := headRows{p: GP64(), s: newStrides(stride, heads)}
	MOVQ(base, r.p)
	if heads > 8 {
		r.p8 = GP64()
		LEAQ(Mem{Base: base, Index: stride, Scale: 8}, r.p8)
	}
	return r
}

func (r headRows) at(h, disp int) Mem {
	if h >= 8 {
		return r.s.row(r.p8, h-8, disp)
	}
	return r.s.row(r.p, h, disp)
}

func (r headRows) advance(n int) {
	ADDQ(U32(n), r.p)
	if r.p8 != nil {
		ADDQ(U32(n), r.p8)
	}
}

// i8Blocks emits the loop over blocks of heads: block(h) handles h heads starting at
// the head whose index is in the local at first (advanced by h after each block).
func (t target) i8Blocks(first Mem, m Register, block func(heads int)) {
	sizes := t.i8HeadBlocks()
	MOVQ(U32(0), first)
	left := GP64()
	for i, h := range sizes {
		top, next := label("heads"), label("heads_done")
		Label(top)
		MOVQ(m, left)
		SUBQ(first, left)
		CMPQ(left, U32(h))
		JL(LabelRef(next))
		block(h)
		ADDQ(U32(h), first)
		if i == 0 {
			JMP(LabelRef(top))
		}
		Label(next)
	}
}

// blockBiasVNNI writes to out (16 int32) -128 times the sum of the count (a
// register, may be zero) dwords of signed bytes from base + h·stride for each head h
// of the block, 0 for the lanes beyond heads: VPDPBUSD of 0x80 bytes and them, one
// accumulator per head (no chain longer than the row), the last 64-byte chunk loaded
// under a mask, then the sixteen accumulators reduced together (sum16).
func (t target) blockBiasVNNI(base, stride, count Register, heads int, out Mem) {
	acc := make([]VecVirtual, heads)
	for h := range acc {
		acc[h] = ZMM()
		t.zero(acc[h])
	}
	rows := newHeadRows(base, stride, heads)
	left := GP64()
	MOVQ(count, left)
	full, tail, done := label("bias_full"), label("bias_tail"), label("bias_done")
	f := ZMM()
	VMOVDQU64(t.splat("bytes80", 0x80808080), f)
	Label(full)
	CMPQ(left, U32(16))
	JL(LabelRef(tail))
	for h := range heads {
		VPDPBUSD(rows.at(h, 0), f, acc[h])
	}
	rows.advance(64)
	SUBQ(U32(16), left)
	JMP(LabelRef(full))
	Label(tail)
	TESTQ(left, left)
	JZ(LabelRef(done))
	table, k := GP64(), K()
	LEAQ(kmaskTable, table)
	KMOVW(Mem{Base: table, Index: left, Scale: 2}, k)
	for h := range heads {
		v := ZMM()
		VMOVDQU32_Z(rows.at(h, 0), k, v)
		VPDPBUSD(v, f, acc[h])
	}
	Label(done)
	sum := sum16(acc)
	neg := ZMM()
	t.zero(neg)
	VPSUBD(sum, neg, neg)
	VMOVDQU32(neg, out)
}

// sum16 returns a register whose lane h is the sum of the int32 lanes of acc[h]
// (zero beyond len(acc) <= 16), by a transposing reduction: pairs of registers are
// folded into one (qword, then dword interleaves within each 128-bit lane), then the
// 128-bit lanes of pairs.
func sum16(acc []VecVirtual) VecVirtual {
	regs := make([]VecVirtual, 16)
	copy(regs, acc)
	var zero VecVirtual
	for i := range regs {
		if regs[i] == nil {
			if zero == nil {
				zero = ZMM()
				VPXORD(zero, zero, zero)
			}
			regs[i] = zero
		}
	}
	add := func(a, b VecVirtual) VecVirtual {
		r := ZMM()
		VPADDD(a, b, r)
		return r
	}
	// [a0+a2, a1+a3, b0+b2, b1+b3] per lane.
	var x [8]VecVirtual
	for i := range x {
		lo, hi := ZMM(), ZMM()
		VPUNPCKLQDQ(regs[2*i+1], regs[2*i], lo)
		VPUNPCKHQDQ(regs[2*i+1], regs[2*i], hi)
		x[i] = add(lo, hi)
	}
	// Heads 4j..4j+3 per lane.
	var z [4]VecVirtual
	for j := range z {
		lo, hi := ZMM(), ZMM()
		VSHUFPS(U8(0x88), x[2*j+1], x[2*j], lo)
		VSHUFPS(U8(0xdd), x[2*j+1], x[2*j], hi)
		z[j] = add(lo, hi)
	}
	lanes := func(a, b VecVirtual) VecVirtual {
		lo, hi := ZMM(), ZMM()
		VSHUFI64X2(U8(0x88), b, a, lo)
		VSHUFI64X2(U8(0xdd), b, a, hi)
		return add(lo, hi)
	}
	return lanes(lanes(z[0], z[1]), lanes(z[2], z[3]))
}

// i8RowMask loads the opmask of the rows of the tile at j0 below n (kmaskTable).
func i8RowMask(j0, n Register) Register {
	r, sixteen := GP64(), GP64()
	MOVQ(n, r)
	SUBQ(j0, r)
	MOVQ(U32(16), sixteen)
	CMPQ(r, sixteen)
	CMOVQGT(sixteen, r)
	table, k := GP64(), K()
	LEAQ(kmaskTable, table)
	KMOVW(Mem{Base: table, Index: r, Scale: 2}, k)
	return k
}

// attnScoresI8 computes s = the int8 queries against the rows of an I8 store (see
// kernels.AttnScoresI8).
//
// AVX-512 (VPDPBUSD, AVX512_VNNI): per tile and head block, each 64-byte column
// group (four columns of the sixteen rows, unsigned) is one register, and each
// head's VPDPBUSD with the broadcast dword of its four query bytes adds the four
// products to that head's sixteen row lanes: no horizontal sums. Each lane starts at
// -128·Σq over the segment (computed per head once per call), which cancels the bias
// of the stored bytes, so at the segment's end the lanes are I_seg exactly. Segment
// 0's scaled result is stored (under the mask of rows below n) and segment 1's added
// to it.
//
// AVX2 (VPMADDUBSW, VPMADDWD) takes half a tile (eight rows) at a time and makes the
// stored bytes signed values v again: |v| (VPABSB, unsigned) times q with v's sign
// (VPSIGNB) has pair sums of at most 2·128·127 < 2^15, never saturated, added as
// int32 by VPMADDWD with ones. Every quant of q must be in [-127, 127].
func (t target) attnScoresI8() {
	t.begin("attnScoresI8")
	first := AllocLocal(8)
	var bias Mem
	if t.zmm {
		bias = AllocLocal(2 * 64)
	}
	m := Load(Param("m"), GP64())
	t.i8Blocks(first, m, func(heads int) {
		if t.zmm {
			t.scoresI8BlockVNNI(first, bias, heads)
		} else {
			t.scoresI8BlockAVX2(first, heads)
		}
	})
	ret()
}

// i8BlockQ returns the pointer to the query rows of the block at head first.
func i8BlockQ(first Mem, w Register) Register {
	qb := GP64()
	MOVQ(first, qb)
	IMULQ(w, qb)
	ADDQ(ptr("q"), qb)
	return qb
}

func (t target) scoresI8BlockVNNI(first, bias Mem, heads int) {
	w := Load(Param("w"), GP64())
	// The biases: -128·Σq of segment 0, then of segment 1, per head.
	{
		split := Load(Param("split"), GP64())
		qb := i8BlockQ(first, w)
		c := GP64()
		MOVQ(split, c)
		SHRQ(U8(2), c)
		t.blockBiasVNNI(qb, w, c, heads, bias)
		ADDQ(split, qb)
		MOVQ(w, c)
		SUBQ(split, c)
		SHRQ(U8(2), c)
		t.blockBiasVNNI(qb, w, c, heads, bias.Offset(64))
	}
	j0 := GP64()
	XORQ(j0, j0)
	tp := ptr("tiles")
	// Each group's load prefetches the same group of the next tile (16·w bytes on):
	// a long store (MLA's cache) streams from DRAM a tile ahead of its use.
	ahead := GP64()
	MOVQ(w, ahead)
	SHLQ(U8(4), ahead)
	top, done := label("tile"), label("tiles_done")
	Label(top)
	CMPQ(j0, Load(Param("n"), GP64()))
	JGE(LabelRef(done))
	qb := i8BlockQ(first, w)
	rows := newHeadRows(qb, w, heads)
	for seg := range 2 {
		acc := make([]VecVirtual, heads)
		for h := range acc {
			acc[h] = ZMM()
			VPBROADCASTD(bias.Offset(64*seg+4*h), acc[h])
		}
		cnt := GP64()
		if seg == 0 {
			Load(Param("split"), cnt)
		} else {
			MOVQ(w, cnt)
			SUBQ(Load(Param("split"), GP64()), cnt)
		}
		SHRQ(U8(2), cnt)
		// Two column groups a step, then the odd one.
		pair, one, groupsDone := label("groups2"), label("group1"), label("groups_done")
		groups := func(k int) {
			for g := range k {
				v := ZMM()
				PREFETCHT0(Mem{Base: tp, Index: ahead, Scale: 1, Disp: 64 * g})
				VMOVDQU64(Mem{Base: tp, Disp: 64 * g}, v)
				for h := range heads {
					VPDPBUSD_BCST(rows.at(h, 4*g), v, acc[h])
				}
			}
			ADDQ(U32(64*k), tp)
			rows.advance(4 * k)
		}
		Label(pair)
		CMPQ(cnt, U32(2))
		JL(LabelRef(one))
		groups(2)
		SUBQ(U32(2), cnt)
		JMP(LabelRef(pair))
		Label(one)
		TESTQ(cnt, cnt)
		JZ(LabelRef(groupsDone))
		groups(1)
		Label(groupsDone)
		// Epilogue: float32(I)·(qs·d), rows below n only.
		n := Load(Param("n"), GP64())
		k := i8RowMask(j0, n)
		d := ZMM()
		sc := ptr("scales")
		VMOVUPS(Mem{Base: sc, Index: j0, Scale: 8, Disp: 64 * seg}, d)
		qs := GP64()
		MOVQ(first, qs)
		SHLQ(U8(3), qs)
		ADDQ(ptr("qs"), qs)
		sp, n4 := GP64(), GP64()
		MOVQ(first, sp)
		IMULQ(n, sp)
		ADDQ(j0, sp)
		SHLQ(U8(2), sp)
		ADDQ(ptr("s"), sp)
		MOVQ(n, n4)
		SHLQ(U8(2), n4)
		// Segment 1 reads every row of s before it writes any (4K aliasing, as in
		// attnValuesI8).
		st := GP64()
		MOVQ(sp, st)
		for h := range heads {
			f := ZMM()
			VMULPS_BCST(Mem{Base: qs, Disp: 8*h + 4*seg}, d, f)
			VCVTDQ2PS(acc[h], acc[h])
			VMULPS(f, acc[h], acc[h])
			if seg == 1 {
				s0 := ZMM()
				VMOVUPS_Z(Mem{Base: sp}, k, s0)
				VADDPS(s0, acc[h], acc[h])
				if h < heads-1 {
					ADDQ(n4, sp)
				}
			}
		}
		for h := range heads {
			VMOVUPS(acc[h], k, Mem{Base: st})
			if h < heads-1 {
				ADDQ(n4, st)
			}
		}
	}
	ADDQ(U32(16), j0)
	JMP(LabelRef(top))
	Label(done)
}

func (t target) scoresI8BlockAVX2(first Mem, heads int) {
	w := Load(Param("w"), GP64())
	n := Load(Param("n"), GP64())
	j0 := GP64()
	XORQ(j0, j0)
	top, done := label("tile"), label("tiles_done")
	Label(top)
	CMPQ(j0, n)
	JGE(LabelRef(done))
	for half := range 2 {
		skip := label("half_done")
		// rem = the rows of this half below n, 0..8.
		rem := GP64()
		MOVQ(n, rem)
		SUBQ(j0, rem)
		if half == 1 {
			SUBQ(U32(8), rem)
			JLE(LabelRef(skip))
		}
		eight := GP64()
		MOVQ(U32(8), eight)
		CMPQ(rem, eight)
		CMOVQGT(eight, rem)
		tp := GP64()
		MOVQ(j0, tp)
		IMULQ(w, tp)
		ADDQ(ptr("tiles"), tp)
		if half == 1 {
			ADDQ(U32(32), tp)
		}
		qb := i8BlockQ(first, w)
		rows := newHeadRows(qb, w, heads)
		for seg := range 2 {
			acc := make([]VecVirtual, heads)
			for h := range acc {
				acc[h] = YMM()
				t.zero(acc[h])
			}
			cnt := GP64()
			split := Load(Param("split"), GP64())
			if seg == 0 {
				MOVQ(split, cnt)
			} else {
				MOVQ(w, cnt)
				SUBQ(split, cnt)
			}
			SHRQ(U8(2), cnt)
			flip := t.splatReg("bytes80", 0x80808080)
			group := label("group")
			Label(group)
			v, a := YMM(), YMM()
			VPXOR(Mem{Base: tp}, flip, v)
			VPABSB(v, a)
			for h := range heads {
				qv := YMM()
				VPBROADCASTD(rows.at(h, 0), qv)
				VPSIGNB(v, qv, qv)
				VPMADDUBSW(qv, a, qv)
				VPMADDWD(t.splat("ones16", 0x00010001), qv, qv)
				VPADDD(qv, acc[h], acc[h])
			}
			ADDQ(U32(64), tp)
			rows.advance(4)
			DECQ(cnt)
			JNZ(LabelRef(group))
			// Epilogue over the half's rows below n.
			idx, table, mk := GP64(), GP64(), YMM()
			MOVQ(U32(8), idx)
			SUBQ(rem, idx)
			LEAQ(tailTable, table)
			VMOVUPS(Mem{Base: table, Index: idx, Scale: 4}, mk)
			d := YMM()
			VMOVUPS(Mem{Base: ptr("scales"), Index: j0, Scale: 8, Disp: 64*seg + 32*half}, d)
			qs := GP64()
			MOVQ(first, qs)
			SHLQ(U8(3), qs)
			ADDQ(ptr("qs"), qs)
			sp, n4 := GP64(), GP64()
			MOVQ(first, sp)
			IMULQ(n, sp)
			ADDQ(j0, sp)
			SHLQ(U8(2), sp)
			ADDQ(ptr("s"), sp)
			if half == 1 {
				ADDQ(U32(32), sp)
			}
			MOVQ(n, n4)
			SHLQ(U8(2), n4)
			for h := range heads {
				f := YMM()
				VBROADCASTSS(Mem{Base: qs, Disp: 8*h + 4*seg}, f)
				VMULPS(d, f, f)
				VCVTDQ2PS(acc[h], acc[h])
				VMULPS(f, acc[h], acc[h])
				if seg == 1 {
					s0 := YMM()
					VMASKMOVPS(Mem{Base: sp}, mk, s0)
					VADDPS(s0, acc[h], acc[h])
				}
				VMASKMOVPS(acc[h], mk, Mem{Base: sp})
				if h < heads-1 {
					ADDQ(n4, sp)
				}
			}
		}
		Label(skip)
	}
	ADDQ(U32(16), j0)
	JMP(LabelRef(top))
	Label(done)
}

// splatReg loads the splat constant into a register (AVX2's VEX forms take a memory
// operand only as the first source).
func (t target) splatReg(name string, bits uint32) VecVirtual {
	v := t.vec()
	VMOVDQU(t.splat(name, bits), v)
	return v
}

// laneTable returns a memory operand holding a vector of the four dwords repeated
// in every 128-bit lane (VPSHUFB patterns).
func (t target) laneTable(name string, d [4]uint32) Mem {
	key := name + "_" + t.isa.Name
	if m, ok := constTables[key]; ok {
		return m
	}
	m := GLOBL("c_"+key, RODATA|NOPTR)
	for i := range t.lanes {
		DATA(4*i, U32(d[i%4]))
	}
	constTables[key] = m
	return m
}

// transpose4x4 is the VPSHUFB pattern that transposes each 4x4 block of bytes of a
// lane: four rows' dwords of four columns become four columns' dwords of four rows.
var transpose4x4 = [4]uint32{0x0c080400, 0x0d090501, 0x0e0a0602, 0x0f0b0703}

// attnValuesI8 adds the quantized probabilities times the latent values of the rows
// of an I8 store to o (see kernels.AttnValuesI8).
//
// Both bodies need, per output lane (a column d), four consecutive rows' bytes of d
// in one dword: VPSHUFB transposes each lane's 4x4 block (four rows' dwords of four
// columns into four columns' dwords of those rows), then a transpose of 128-bit lanes
// across column groups gathers sixteen (AVX2: eight) columns of a quad of rows.
//
// AVX-512 (VPDPBUSD) keeps the stored bytes unsigned (v+128) and multiplies them by
// the broadcast dword of the head's four probability quants taken as signed (they are
// at most 127): each lane starts at -128·Σ_j pq[h][j] (once per call per head), so
// that it ends at Σ_j pq·v exactly; one ZMM accumulator per head of a block of 16
// over sixteen columns, all rows, then one conversion.
//
// AVX2 makes the bytes signed and multiplies the broadcast quants (unsigned, at most
// 127) by them with VPMADDUBSW: pair sums of at most 2·127·128 < 2^15, added as int32
// by VPMADDWD with ones.
func (t target) attnValuesI8() {
	t.begin("attnValuesI8")
	first := AllocLocal(8)
	var bias Mem
	if t.zmm {
		bias = AllocLocal(4 * 16)
	}
	m := Load(Param("m"), GP64())
	t.i8Blocks(first, m, func(heads int) {
		t.valuesI8Block(first, bias, heads)
	})
	ret()
}

// probStride returns I8ProbStride(n) in a new register.
func probStride() Register {
	ld := Load(Param("n"), GP64())
	ADDQ(U32(15), ld)
	ANDQ(I32(-16), ld)
	return ld
}

// i8BlockPQ returns the pointer to the probability rows of the block at head first.
func i8BlockPQ(first Mem, ld Register) Register {
	pb := GP64()
	MOVQ(first, pb)
	IMULQ(ld, pb)
	ADDQ(ptr("pq"), pb)
	return pb
}

func (t target) valuesI8Block(first, bias Mem, heads int) {
	if t.zmm {
		ld := probStride()
		c := GP64()
		MOVQ(ld, c)
		SHRQ(U8(2), c)
		t.blockBiasVNNI(i8BlockPQ(first, ld), ld, c, heads, bias)
	}
	cols := 16
	if !t.zmm {
		cols = 8
	}
	col := GP64()
	XORQ(col, col)
	ctop, cdone := label("cols"), label("cols_done")
	Label(ctop)
	dv := Load(Param("dv"), GP64())
	CMPQ(col, dv)
	JGE(LabelRef(cdone))
	acc := make([]VecVirtual, heads)
	for h := range acc {
		acc[h] = t.vec()
		if t.zmm {
			VPBROADCASTD(bias.Offset(4*h), acc[h])
		} else {
			t.zero(acc[h])
		}
	}
	ld := probStride()
	rows := newHeadRows(i8BlockPQ(first, ld), ld, heads)
	// tp: the tile's column group col/4, from the first tile on.
	tp := GP64()
	MOVQ(col, tp)
	SHLQ(U8(4), tp)
	ADDQ(ptr("tiles"), tp)
	tileBytes := Load(Param("w"), GP64())
	SHLQ(U8(4), tileBytes)
	j0 := GP64()
	XORQ(j0, j0)
	top, done := label("tile"), label("tiles_done")
	Label(top)
	CMPQ(j0, Load(Param("n"), GP64()))
	JGE(LabelRef(done))
	if t.zmm {
		var x [4]VecVirtual
		for i := range x {
			x[i] = ZMM()
			VMOVDQU64(Mem{Base: tp, Disp: 64 * i}, x[i])
			VPSHUFB(t.laneTable("transpose4x4", transpose4x4), x[i], x[i])
		}
		a0, a1, b0, b1 := ZMM(), ZMM(), ZMM(), ZMM()
		VSHUFI64X2(U8(0x44), x[1], x[0], a0)
		VSHUFI64X2(U8(0xee), x[1], x[0], a1)
		VSHUFI64X2(U8(0x44), x[3], x[2], b0)
		VSHUFI64X2(U8(0xee), x[3], x[2], b1)
		var y [4]VecVirtual
		for i := range y {
			y[i] = ZMM()
		}
		VSHUFI64X2(U8(0x88), b0, a0, y[0])
		VSHUFI64X2(U8(0xdd), b0, a0, y[1])
		VSHUFI64X2(U8(0x88), b1, a1, y[2])
		VSHUFI64X2(U8(0xdd), b1, a1, y[3])
		for r := range y {
			for h := range heads {
				VPDPBUSD_BCST(rows.at(h, 4*r), y[r], acc[h])
			}
		}
	} else {
		flip := t.splatReg("bytes80", 0x80808080)
		for half := range 2 {
			a, b := YMM(), YMM()
			VPXOR(Mem{Base: tp, Disp: 32 * half}, flip, a)
			VPXOR(Mem{Base: tp, Disp: 64 + 32*half}, flip, b)
			VPSHUFB(t.laneTable("transpose4x4", transpose4x4), a, a)
			VPSHUFB(t.laneTable("transpose4x4", transpose4x4), b, b)
			y0, y1 := YMM(), YMM()
			VPERM2I128(U8(0x20), b, a, y0)
			VPERM2I128(U8(0x31), b, a, y1)
			for r, y := range []VecVirtual{y0, y1} {
				for h := range heads {
					p := YMM()
					VPBROADCASTD(rows.at(h, 8*half+4*r), p)
					VPMADDUBSW(y, p, p)
					VPMADDWD(t.splat("ones16", 0x00010001), p, p)
					VPADDD(p, acc[h], acc[h])
				}
			}
		}
	}
	ADDQ(tileBytes, tp)
	rows.advance(16)
	ADDQ(U32(16), j0)
	JMP(LabelRef(top))
	Label(done)
	// o[h][col..] += float32(A)·ps[h].
	op, ps := GP64(), GP64()
	dv4 := Load(Param("dv"), GP64())
	MOVQ(first, op)
	IMULQ(dv4, op)
	ADDQ(col, op)
	SHLQ(U8(2), op)
	ADDQ(ptr("o"), op)
	SHLQ(U8(2), dv4)
	MOVQ(first, ps)
	SHLQ(U8(2), ps)
	ADDQ(ptr("ps"), ps)
	// Every row of o is read before any is written: the rows are dv·4 bytes apart,
	// often a multiple of 4 KiB, and a load behind a store to an address 4 KiB away
	// waits for it (4K aliasing).
	st := GP64()
	MOVQ(op, st)
	for h := range heads {
		VCVTDQ2PS(acc[h], acc[h])
		if t.zmm {
			VMULPS_BCST(Mem{Base: ps, Disp: 4 * h}, acc[h], acc[h])
		} else {
			f := YMM()
			VBROADCASTSS(Mem{Base: ps, Disp: 4 * h}, f)
			VMULPS(f, acc[h], acc[h])
		}
		VADDPS(Mem{Base: op}, acc[h], acc[h])
		if h < heads-1 {
			ADDQ(dv4, op)
		}
	}
	for h := range heads {
		VMOVUPS(acc[h], Mem{Base: st})
		if h < heads-1 {
			ADDQ(dv4, st)
		}
	}
	ADDQ(U32(cols), col)
	JMP(LabelRef(ctop))
	Label(cdone)
}

// quantizeProbsI8 rounds rows of probabilities times their rows' latent scales to
// unsigned quants (see kernels.QuantizeProbsI8): a pass for the row's largest
// product (and whether any is NaN), then one that multiplies each product by 127/M,
// rounds it to the nearest integer, ties to even (VCVTPS2DQ under Go's rounding
// mode), clamps it to [0, 127] and stores it as a byte, the padding up to the row
// stride zero (the masked lanes' products are zero). A row with no usable M (0, NaN,
// infinite, or so small that 127/M is) takes 127/M as 0, which makes every quant 0.
func (t target) quantizeProbsI8() {
	t.begin("quantizeProbsI8")
	h := GP64()
	XORQ(h, h)
	top, done := label("row"), label("rows_done")
	Label(top)
	CMPQ(h, Load(Param("m"), GP64()))
	JGE(LabelRef(done))
	// pr: the row of p.
	pr := GP64()
	n := Load(Param("n"), GP64())
	MOVQ(h, pr)
	IMULQ(n, pr)
	SHLQ(U8(2), pr)
	ADDQ(ptr("p"), pr)
	subs := 16 / t.lanes
	// products emits the loop over the row's tiles; body gets each chunk's products
	// (zero beyond n) and its index sub within the tile at j.
	products := func(name string, body func(x VecVirtual, j Register, sub int)) {
		j, end := GP64(), GP64()
		XORQ(j, j)
		n := Load(Param("n"), GP64())
		MOVQ(n, end)
		SUBQ(U32(16), end)
		sc := ptr("scales")
		// Whole tiles of rows below n, then the last, under a mask.
		full, tail, ldone := label(name+"_full"), label(name+"_tail"), label(name+"_done")
		Label(full)
		CMPQ(j, end)
		JG(LabelRef(tail))
		for sub := range subs {
			x := t.vec()
			VMOVUPS(Mem{Base: pr, Index: j, Scale: 4, Disp: 4 * t.lanes * sub}, x)
			VMULPS(Mem{Base: sc, Index: j, Scale: 8, Disp: 4 * t.lanes * sub}, x, x)
			body(x, j, sub)
		}
		ADDQ(U32(16), j)
		JMP(LabelRef(full))
		Label(tail)
		CMPQ(j, n)
		JGE(LabelRef(ldone))
		for sub := range subs {
			x := t.vec()
			if t.zmm {
				k := i8RowMask(j, n)
				VMOVUPS_Z(Mem{Base: pr, Index: j, Scale: 4}, k, x)
				VMULPS_Z(Mem{Base: sc, Index: j, Scale: 8}, x, k, x)
			} else {
				rem, zero, eight := GP64(), GP64(), GP64()
				MOVQ(n, rem)
				SUBQ(j, rem)
				if sub > 0 {
					SUBQ(U32(8*sub), rem)
				}
				XORQ(zero, zero)
				MOVQ(U32(8), eight)
				CMPQ(rem, zero)
				CMOVQLT(zero, rem)
				CMPQ(rem, eight)
				CMOVQGT(eight, rem)
				idx, table, mk := GP64(), GP64(), YMM()
				MOVQ(eight, idx)
				SUBQ(rem, idx)
				LEAQ(tailTable, table)
				VMOVUPS(Mem{Base: table, Index: idx, Scale: 4}, mk)
				VMASKMOVPS(Mem{Base: pr, Index: j, Scale: 4, Disp: 32 * sub}, mk, x)
				VMULPS(Mem{Base: sc, Index: j, Scale: 8, Disp: 32 * sub}, x, x)
				VANDPS(mk, x, x)
			}
			body(x, j, sub)
		}
		Label(ldone)
	}
	mx := t.vec()
	t.zero(mx)
	var knan Register
	var vnan VecVirtual
	if t.zmm {
		knan = K()
		KXORW(knan, knan, knan)
	} else {
		vnan = YMM()
		t.zero(vnan)
	}
	products("max", func(x VecVirtual, _ Register, _ int) {
		if t.zmm {
			k := K()
			VCMPPS(U8(3), x, x, k)
			KORW(k, knan, knan)
		} else {
			u := YMM()
			VCMPPS(U8(3), x, x, u)
			VORPS(u, vnan, vnan)
		}
		VMAXPS(x, mx, mx)
	})
	invalid, quantize := label("invalid"), label("quantize")
	if t.zmm {
		KORTESTW(knan, knan)
	} else {
		VPTEST(vnan, vnan)
	}
	JNZ(LabelRef(invalid))
	m1 := t.hmax(mx)
	bits := GP32()
	VMOVD(m1, bits)
	CMPL(bits, U32(0))
	JLE(LabelRef(invalid))
	CMPL(bits, U32(0x7f800000))
	JGE(LabelRef(invalid))
	c127, inv, psv := XMM(), XMM(), XMM()
	VMOVSS(t.splat("f127", 0x42fe0000), c127)
	VDIVSS(m1, c127, inv)
	VMOVD(inv, bits)
	CMPL(bits, U32(0x7f800000))
	JGE(LabelRef(invalid))
	VDIVSS(c127, m1, psv)
	VMOVSS(psv, Mem{Base: ptr("ps"), Index: h, Scale: 4})
	invv := t.vec()
	VBROADCASTSS(inv, invv)
	JMP(LabelRef(quantize))
	Label(invalid)
	zero := GP32()
	XORL(zero, zero)
	MOVL(zero, Mem{Base: ptr("ps"), Index: h, Scale: 4})
	t.zero(invv)
	Label(quantize)
	// qr: the row of pq.
	qr := probStride()
	IMULQ(h, qr)
	ADDQ(ptr("pq"), qr)
	products("quant", func(x VecVirtual, j Register, sub int) {
		VMULPS(invv, x, x)
		VCVTPS2DQ(x, x)
		VPMAXSD(t.splat("zero", 0), x, x)
		VPMINSD(t.splat("i127", 127), x, x)
		if t.zmm {
			VPMOVDB(x, Mem{Base: qr, Index: j, Scale: 1})
			return
		}
		hi, lo := XMM(), XMM()
		VPSHUFB(t.laneTable("lowbytes", [4]uint32{0x0c080400, 0x80808080, 0x80808080, 0x80808080}), x, x)
		VEXTRACTI128(U8(1), x, hi)
		VPUNPCKLDQ(hi, x.AsX(), lo)
		VMOVQ(lo, Mem{Base: qr, Index: j, Scale: 1, Disp: 8 * sub})
	})
	INCQ(h)
	JMP(LabelRef(top))
	Label(done)
	ret()
}
