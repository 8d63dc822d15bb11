package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gemvQ8_0Q8 is the GEMV of Q8_0 weights and a Q8 vector (int8 quants xq, a float32
// scale per 32): each block's products are summed exactly in int32 lanes, which are
// converted to float32 and scaled by d_w·d_x into the row's accumulator. Blocks of
// four rows share each block's loads of x, and prefetch the next block of rows into
// L2 as they go (the last block the bytes after W); the rows' remainder goes one at a
// time.
// len(xq) is a multiple of 32, so every load reads only bytes of W, xq and xd.
//
// AVX2 (VPMADDUBSW) multiplies unsigned by signed bytes into saturating 16-bit pair
// sums, so each block is |q_w| times q_x with q_w's sign (VPABSB, VPSIGNB): a pair
// sum is at most 2·128·127 < 2^15, never saturated, and VPMADDWD adds the pairs into
// eight int32 lanes. AVX-512 (VPDPBUSD, AVX512_VNNI) adds four products per int32
// lane with no intermediate width; it takes two blocks per ZMM (each row's two
// 32-byte halves joined) and makes q_w unsigned as q_w+128 (q_w XOR 0x80), starting
// each lane at -128·Σ q_x of its four bytes, so the sum is exact for every q_w,
// -128 included. An odd last block runs in the low half, the high lanes zero.
func (t target) gemvQ8_0Q8() {
	t.begin("gemvQ8_0Q8")
	// y, xq and xd are reloaded where they are used: a block of rows keeps every
	// other general register busy.
	m := Load(Param("y").Len(), GP64())
	w := ptr("w")
	blocks := Load(Param("xq").Len(), GP64())
	SHRQ(U8(5), blocks)
	rowBytes := GP64()
	IMUL3Q(U32(q8BlockBytes), blocks, rowBytes)
	rowPassesOf(m, w, rowBytes, "q8q8", func(rows [gemvRows]Register, rowBytes, left, row Register) {
		// The last block prefetches the bytes after W too: a long W comes in calls
		// of 256 KiB (compose), and those bytes are the next call's first rows.
		pf := GP64()
		LEAQ(Mem{Base: rows[gemvRows-1], Index: rowBytes, Scale: 1}, pf)
		var acc [gemvRows]VecVirtual
		for r := range acc {
			acc[r] = t.vec()
			t.zero(acc[r])
		}
		t.q8q8Blocks(rows[:], blocks, acc[:], pf)
		VMOVUPS(t.sum4(acc), Mem{Base: ptr("y"), Index: row, Scale: 4})
	}, func(row Register) {
		p := GP64()
		MOVQ(w, p)
		acc := t.vec()
		t.zero(acc)
		t.q8q8Blocks([]Register{p}, blocks, []VecVirtual{acc}, nil)
		VMOVSS(t.hsum(acc), Mem{Base: ptr("y"), Index: row, Scale: 4})
	})
	ret()
}

// q8q8Blocks emits the loop over the blocks of the rows that start at rows (each
// pointer advanced past its row), accumulating (d_w·d_x)·(q_w·q_x) into acc. With pf
// not nil, each step prefetches from pf on as many bytes as it reads of the rows.
func (t target) q8q8Blocks(rows []Register, blocks Register, acc []VecVirtual, pf Register) {
	prefetch := func(blocks int) {
		if pf == nil {
			return
		}
		n := len(rows) * blocks * q8BlockBytes
		for off := 0; off < n; off += 64 {
			PREFETCHT1(Mem{Base: pf, Disp: off})
		}
		ADDQ(U32(n), pf)
	}
	xp, dp, left := ptr("xq"), ptr("xd"), GP64()
	MOVQ(blocks, left)
	if !t.zmm {
		top, done := label("q8q8_block"), label("q8q8_blocks_done")
		Label(top)
		TESTQ(left, left)
		JZ(LabelRef(done))
		prefetch(1)
		t.q8q8BlockAVX2(rows, xp, dp, acc)
		ADDQ(U32(q8Block), xp)
		ADDQ(U32(4), dp)
		DECQ(left)
		JMP(LabelRef(top))
		Label(done)
		return
	}
	flip := ZMM()
	VMOVDQU64(t.splat("bytes80", 0x80808080), flip)
	high := K()
	KMOVW(t.splat("high8", 0xff00), high)
	top, tail, done := label("q8q8_pair"), label("q8q8_tail"), label("q8q8_blocks_done")
	Label(top)
	CMPQ(left, U32(2))
	JB(LabelRef(tail))
	prefetch(2)
	t.q8q8BlocksVNNI(rows, xp, dp, acc, flip, high, true)
	ADDQ(U32(2*q8Block), xp)
	ADDQ(U32(8), dp)
	SUBQ(U32(2), left)
	JMP(LabelRef(top))
	Label(tail)
	TESTQ(left, left)
	JZ(LabelRef(done))
	t.q8q8BlocksVNNI(rows, xp, dp, acc, flip, high, false)
	Label(done)
}

// q8q8BlockAVX2 emits one block of 32 columns for each row.
func (t target) q8q8BlockAVX2(rows []Register, xp, dp Register, acc []VecVirtual) {
	x, dx := YMM(), YMM()
	VMOVDQU(Mem{Base: xp}, x)
	VBROADCASTSS(Mem{Base: dp}, dx)
	ones := t.splat("ones16", 0x00010001)
	for r, p := range rows {
		q, sx := YMM(), YMM()
		VMOVDQU(Mem{Base: p, Disp: 2}, q)
		VPSIGNB(q, x, sx)
		VPABSB(q, q)
		VPMADDUBSW(sx, q, q)
		VPMADDWD(ones, q, q)
		VCVTDQ2PS(q, q)
		h, d := XMM(), YMM()
		VPBROADCASTW(Mem{Base: p}, h)
		VCVTPH2PS(h, d)
		VMULPS(dx, d, d)
		VFMADD231PS(q, d, acc[r])
		ADDQ(U32(q8BlockBytes), p)
	}
}

// q8q8BlocksVNNI emits two blocks of 32 columns (pair) or one for each row: lanes
// 0-7 hold the first block's sums, lanes 8-15 the second's. flip holds 0x80 bytes,
// high the opmask of halves 8-15 (the second block's scale, merged into the first's
// broadcast).
// Only instructions with an EVEX form are used, so that any of the 32 registers fits.
func (t target) q8q8BlocksVNNI(rows []Register, xp, dp Register, acc []VecVirtual, flip VecVirtual, high Register, pair bool) {
	// bias = -128·Σ q_x per lane: VPDPBUSD of the 0x80 bytes (unsigned 128) and x,
	// subtracted from zero.
	bias, sum, dx := ZMM(), ZMM(), ZMM()
	t.zero(bias)
	t.zero(sum)
	if pair {
		VPDPBUSD(Mem{Base: xp}, flip, sum)
		VPSUBD(sum, bias, bias)
		lo, hi := YMM(), YMM()
		VBROADCASTSS(Mem{Base: dp}, lo)
		VBROADCASTSS(Mem{Base: dp, Disp: 4}, hi)
		VINSERTF64X4(U8(1), hi, lo.AsZ(), dx)
	} else {
		VPDPBUSD(Mem{Base: xp}, flip.AsY(), sum.AsY())
		VPSUBD(sum.AsY(), bias.AsY(), bias.AsY())
		VBROADCASTSS(Mem{Base: dp}, dx.AsY())
	}
	for r, p := range rows {
		q, s, h, d := ZMM(), ZMM(), YMM(), ZMM()
		VMOVDQU64(Mem{Base: p, Disp: 2}, q.AsY())
		if pair {
			VPBROADCASTW(Mem{Base: p}, h)
			VINSERTI64X4(U8(1), Mem{Base: p, Disp: q8BlockBytes + 2}, q, q)
			VPXORD(flip, q, q)
			VMOVDQA64(bias, s)
			VPDPBUSD(Mem{Base: xp}, q, s)
			VPBROADCASTW(Mem{Base: p, Disp: q8BlockBytes}, high, h)
			VCVTPH2PS(h, d)
			VMULPS(dx, d, d)
			VCVTDQ2PS(s, s)
			ADDQ(U32(2*q8BlockBytes), p)
		} else {
			VPBROADCASTW(Mem{Base: p}, h.AsX())
			VPXORD(flip.AsY(), q.AsY(), q.AsY())
			VMOVDQA64(bias, s)
			VPDPBUSD(Mem{Base: xp}, q.AsY(), s.AsY())
			VCVTPH2PS(h.AsX(), d.AsY())
			VMULPS(dx.AsY(), d.AsY(), d.AsY())
			VCVTDQ2PS(s.AsY(), s.AsY())
			ADDQ(U32(q8BlockBytes), p)
		}
		VFMADD231PS(s, d, acc[r])
	}
}
