package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The bfloat16 GEMMs for a B of FP8 E4M3 bytes (kernels.GemmNTBF16E4M3,
// GemmNNAddBF16E4M3). Every E4M3 value, subnormals included, is exactly a bfloat16,
// so the AVX-512 bodies widen B to bfloat16 words (e4m3Widen64: in-lane VPSHUFB
// lookups of each word's two bytes, fifteen instructions per 64 bytes) and multiply
// with VDPBF16PS as bf16gemm.go does. Each block of B is widened once into the
// scratch w, for every band of rows of A (for MLA's 16 heads, 4 bands of 4 rows in
// gemmNTBF16E4M3, 2 of 8 in gemmNNAddBF16E4M3), not once per band. The AVX2 bodies
// widen to float32 in registers (the half trick of e4m3.go, then an exact ×256) and
// FMA.
//
// On Zen 4 the widening is what the E4M3 bodies pay beyond the bfloat16 ones: about
// a quarter of their time at MLA's shapes. Widening in the first band, overlapped
// with its products, gained gemmNTBF16E4M3 ~4% and gemmNNAddBF16E4M3 nothing (it
// widens before its bands).

// e4m3Value is the value of the E4M3 byte b, NaN for 0x7f and 0xff.
func e4m3Value(b byte) float64 {
	e, m := int(b>>3&15), float64(b&7)
	var v float64
	switch {
	case b&0x7f == 0x7f:
		return math.NaN()
	case e == 0:
		v = m / 8 * math.Ldexp(1, -6)
	default:
		v = (1 + m/8) * math.Ldexp(1, e-7)
	}
	if b&0x80 != 0 {
		v = -v
	}
	return v
}

// e4m3BF16 is the bfloat16 bits of the E4M3 byte b (exact), 0x7fc0 for NaN with
// b's sign.
func e4m3BF16(b byte) uint16 {
	if b&0x7f == 0x7f {
		return 0x7fc0 | uint16(b&0x80)<<8
	}
	return uint16(math.Float32bits(float32(e4m3Value(b))) >> 16)
}

// e4m3F32 is the float32 bits of the E4M3 byte b (exact), a quiet NaN for NaN.
func e4m3F32(b byte) uint32 { return uint32(e4m3BF16(b)) << 16 }

// e4m3F32Table is the float32 values of all 256 bytes, for the AVX2 scalar tails.
func e4m3F32Table() Mem {
	const key = "e4m3_f32"
	if m, ok := constTables[key]; ok {
		return m
	}
	m := GLOBL(key, RODATA|NOPTR)
	for b := range 256 {
		DATA(4*b, U32(e4m3F32(byte(b))))
	}
	constTables[key] = m
	return m
}

// e4m3WidenTables returns the constants of e4m3Widen64, 64 bytes each: the qword
// order that puts the two byte unpacks' words in element order, and per 128-bit lane
// the VPSHUFB tables of a bfloat16's low byte (normal: by b&15; subnormal: by b&7)
// and high byte without the sign (normal: by (b>>4)&7; subnormal: by b&7), and the
// byte masks 0x78, 0x7f and 0x0f. The tables are cut from e4m3BF16, the exact
// widening.
func e4m3WidenTables() Mem {
	const key = "e4m3_widen"
	if m, ok := constTables[key]; ok {
		return m
	}
	m := GLOBL(key, RODATA|NOPTR)
	for q, src := range []int{0, 4, 1, 5, 2, 6, 3, 7} {
		DATA(8*q, U64(src))
	}
	lo := func(b int) byte { return byte(e4m3BF16(byte(b))) }
	hi := func(b int) byte { return byte(e4m3BF16(byte(b)) >> 8) }
	var t [7][16]byte
	for i := range 16 {
		t[0][i] = lo(0x10 | i)        // a normal byte's low nibble is i
		t[1][i] = lo(i & 7)           // a subnormal's
		t[2][i] = hi(0x08 | (i&7)<<4) // a normal byte with (b>>4)&7 == i&7
		t[3][i] = hi(i & 7)           // a subnormal's
		t[4][i], t[5][i], t[6][i] = 0x78, 0x7f, 0x0f
	}
	for z, tab := range t {
		for lane := range 4 {
			for i, v := range tab {
				DATA(64*(z+1)+16*lane+i, U8(v))
			}
		}
	}
	constTables[key] = m
	return m
}

// e4m3Widen64's registers: its constants in Z26..Z31 (the qword order, 0x7f bytes,
// then the four tables), its temporaries Z20..Z23, its results Z24 and Z25.
const e4m3Consts0, e4m3Out0, e4m3Out1 = 26, 24, 25

// e4m3WidenRegs loads e4m3Widen64's register constants.
func e4m3WidenRegs() {
	tab := e4m3WidenTables()
	for z, off := range []int{0, 6, 1, 2, 3, 4} {
		VMOVDQU64(tab.Offset(64*off), zr(e4m3Consts0+z))
	}
}

// e4m3Widen64 widens 64 E4M3 bytes (src: a 64-byte memory operand or a ZMM) to 64
// bfloat16 words, exactly, elements 0..31 in Z24 and 32..63 in Z25, with
// e4m3WidenRegs loaded. Each byte's low and high result bytes are looked up within
// 128-bit lanes (VPSHUFB), the subnormal bytes' (exponent field 0, zero among them)
// from their own tables under a mask, a NaN byte's high byte set to 0x7f (its low
// byte is 0xf0: the word is a NaN), the sign ORed in; VPUNPCKLBW and VPUNPCKHBW
// interleave them into words, in element order because VPERMQ first put qwords q and
// q+4 in lane q. Fifteen instructions; it clobbers Z20..Z23, K5 and K6.
func (t target) e4m3Widen64(src Op) {
	tab := e4m3WidenTables()
	low4 := t.splat("e4m3_low4", 0x0f0f0f0f)
	perm, m7f, l1, l2, h1, h2 := Z26, Z27, Z28, Z29, Z30, Z31
	b, x, lo, hi := Z20, Z21, Z22, Z23
	VPERMQ(src, perm, b)
	VPANDD_BCST(low4, b, x) // b & 15
	VPSHUFB(x, l1, lo)
	VPTESTNMB(tab.Offset(64*5), b, K5) // exponent field 0
	VPSHUFB(x, l2, K5, lo)
	VPSRLW(U8(4), b, hi)
	VPANDD_BCST(low4, hi, hi) // (b >> 4) & 15
	VPSHUFB(hi, h1, hi)
	VPSHUFB(x, h2, K5, hi)
	VPANDD(m7f, b, x)
	VPCMPEQB(m7f, x, K6) // NaN
	VMOVDQU8(m7f, K6, hi)
	// hi |= b & 0x80: the sign.
	VPTERNLOGD_BCST(U8(0xf8), t.splat("e4m3_sign8", 0x80808080), b, hi)
	VPUNPCKLBW(hi, lo, zr(e4m3Out0))
	VPUNPCKHBW(hi, lo, zr(e4m3Out1))
}

// clampedRow loads into dst the address of row min(start+r, last-1) of matrix name
// (row stride ld elements of 1<<shift bytes). It clobbers RAX and RCX.
func clampedRow(name, ld, last string, start Mem, r int, shift uint8, dst Register) {
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
	Load(Param(name).Base(), dst)
	ADDQ(RCX, dst)
}

// gemmNTBF16E4M3 (AVX-512, VDPBF16PS) is gemmNTBF16 (tiles of 4 rows of A by 4 rows
// of B, 16 ZMM accumulators over k in chunks of 32, ntReduce4x4) with B's rows
// widened into the scratch w: chunk c of row r at w + 256c + 64r bytes, a tail's
// masked-off words zeros. The first band of A widens each 64 bytes of the tile's 4
// rows (e4m3Widen64) just before its two chunks, so that the widening overlaps the
// products; the other bands read w. Band i/4 of A prefetches row j+4+(i/4)%4 of B, a
// cache line per chunk.
func (t target) gemmNTBF16E4M3() {
	t.begin("gemmNTBF16E4M3")
	if !t.zmm {
		t.gemmNTBF16E4M3AVX2()
		return
	}
	a := []Register{RSI, RDI, R8, R9}
	b := []Register{R10, R11, R12, R13}
	i, j, kfull, kfull64 := AllocLocal(8), AllocLocal(8), AllocLocal(8), AllocLocal(8)
	// K1: the first k%32 elements, the k tail's mask; K7: the first k%64 bytes, the
	// widening's tail mask.
	Load(Param("k"), RCX)
	ANDQ(U8(31), RCX)
	MOVL(U32(1), EDX)
	SHLQ(CL, RDX)
	DECQ(RDX)
	KMOVD(EDX, K1)
	Load(Param("k"), RCX)
	ANDQ(U8(63), RCX)
	MOVQ(U32(1), RDX)
	SHLQ(CL, RDX)
	DECQ(RDX)
	KMOVQ(RDX, K7)
	Load(Param("k"), RBX)
	ANDQ(I8(-32), RBX)
	MOVQ(RBX, kfull)
	ANDQ(I8(-64), RBX)
	MOVQ(RBX, kfull64)
	MOVQ(U32(0), j)
	jTop, done := label("nte_j"), label("nte_done")
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
	MOVQ(U32(0), i)
	iTop, iNext := label("nte_i"), label("nte_i_next")
	Label(iTop)
	Load(Param("m"), RCX)
	CMPQ(i, RCX)
	JAE(LabelRef(iNext))
	for h, p := range a {
		clampedRow("a", "lda", "m", i, h, 1, p)
	}
	for r, p := range b {
		clampedRow("b", "ldb", "n", j, r, 0, p)
	}
	MOVQ(i, RCX)
	SHRQ(U8(2), RCX)
	ANDQ(U8(3), RCX)
	ADDQ(U8(4), RCX)
	Load(Param("ldb"), RAX)
	IMULQ(RAX, RCX)
	ADDQ(b[0], RCX)
	Load(Param("w").Base(), RBX)
	for z := range 16 {
		VPXORD(zr(z), zr(z), zr(z))
	}
	XORQ(RAX, RAX)
	kTop, kTail, reduce := label("nte_k"), label("nte_ktail"), label("nte_reduce")
	// chunk multiplies chunk RAX+32·d, A's full or under K1.
	chunk := func(d int, tail bool) {
		for h := range 4 {
			at := Mem{Base: a[h], Index: RAX, Scale: 2, Disp: 64 * d}
			if tail {
				VMOVDQU16_Z(at, K1, zr(16+h))
			} else {
				VMOVDQU64(at, zr(16+h))
			}
		}
		for r := range 4 {
			VMOVDQU64(Mem{Base: RBX, Index: RAX, Scale: 8, Disp: 256*d + 64*r}, zr(20+r))
		}
		for h := range 4 {
			for r := range 4 {
				vdpbf16ps(20+r, 16+h, 4*h+r)
			}
		}
	}
	// widen widens 64 bytes of each of the tile's rows of B at RAX into w.
	widen := func(tail bool) {
		for r, p := range b {
			var src Op = Mem{Base: p, Index: RAX, Scale: 1}
			if tail {
				VMOVDQU8_Z(src, K7, Z20) // a temporary of e4m3Widen64, read first
				src = Z20
			}
			t.e4m3Widen64(src)
			VMOVDQU64(zr(e4m3Out0), Mem{Base: RBX, Index: RAX, Scale: 8, Disp: 64 * r})
			VMOVDQU64(zr(e4m3Out1), Mem{Base: RBX, Index: RAX, Scale: 8, Disp: 256 + 64*r})
		}
	}
	// The first band: 64 elements at a time, widened and multiplied, then the
	// widened tail; the rest of k as the other bands run it.
	first, firstTop, firstTail := label("nte_first"), label("nte_first_top"), label("nte_first_tail")
	CMPQ(i, U8(0))
	JE(LabelRef(first))
	Label(kTop)
	CMPQ(RAX, kfull)
	JAE(LabelRef(kTail))
	PREFETCHT0(Mem{Base: RCX, Index: RAX, Scale: 1})
	chunk(0, false)
	ADDQ(U8(32), RAX)
	JMP(LabelRef(kTop))
	Label(kTail)
	KORTESTD(K1, K1)
	JZ(LabelRef(reduce))
	chunk(0, true)
	JMP(LabelRef(reduce))
	Label(first)
	e4m3WidenRegs() // the reduction overwrites them
	Label(firstTop)
	CMPQ(RAX, kfull64)
	JAE(LabelRef(firstTail))
	PREFETCHT0(Mem{Base: RCX, Index: RAX, Scale: 1})
	widen(false)
	chunk(0, false)
	chunk(1, false)
	ADDQ(U8(64), RAX)
	JMP(LabelRef(firstTop))
	Label(firstTail)
	KORTESTQ(K7, K7)
	JZ(LabelRef(reduce))
	widen(true)
	JMP(LabelRef(kTop))
	Label(reduce)
	out := ntReduce4x4()
	// Row i+h of c gets lane h, its min(4, n-j) columns under K2.
	Load(Param("c").Base(), RCX)
	stored := label("nte_stored")
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

// gemmNNAddBF16E4M3 (AVX-512, VDPBF16PS) is gemmNNAddBF16 with each block of 32
// columns of B widened and interleaved once, before the bands of c meet it: rows p
// and p+1 (32 bytes each, the columns past n loaded as zeros; an odd k's last row
// with zeros) widened together by e4m3Widen64 and interleaved as gemmNNAddBF16
// interleaves them, into w + 128·(p/2) bytes. Then the same tiles of 8 rows of c by
// 32 columns, the same column order undone with VPERMI2PS before the tile is added
// to c.
func (t target) gemmNNAddBF16E4M3() {
	t.begin("gemmNNAddBF16E4M3")
	if !t.zmm {
		t.gemmNNAddBF16E4M3AVX2()
		return
	}
	a := []Register{RSI, RDI, R8, R9, R10, R11, R12, R13}
	i, j := AllocLocal(8), AllocLocal(8)
	done := label("nne_done")
	Load(Param("k"), RCX)
	TESTQ(RCX, RCX)
	JZ(LabelRef(done))
	MOVQ(U32(0), j)
	jTop := label("nne_j")
	Label(jTop)
	Load(Param("n"), RCX)
	SUBQ(j, RCX)
	JLE(LabelRef(done))
	// K3: the block's min(32, n-j) bytes of B; K1, K2: its two halves of c.
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
	// The block's pairs of rows of B, widened and interleaved once for every band of
	// c: pair q's two ZMM go to w + 128q bytes. RAX walks B's rows from column j, RBX
	// is B's row stride, RSI walks w, RCX counts the pairs up to RDX.
	Load(Param("ldb"), RBX)
	Load(Param("b").Base(), RAX)
	ADDQ(j, RAX)
	Load(Param("w").Base(), RSI)
	Load(Param("k"), RDX)
	SHRQ(U8(1), RDX)
	XORQ(RCX, RCX)
	wTop, wOdd, wDone := label("nne_w"), label("nne_wodd"), label("nne_wdone")
	e4m3WidenRegs()
	// Rows p and p+1 are widened together, row p in the low half of a ZMM.
	widen := func(second bool) {
		VMOVDQU8_Z(Mem{Base: RAX}, K3, Y4)
		if second {
			VMOVDQU8_Z(Mem{Base: RAX, Index: RBX, Scale: 1}, K3, Y5)
		} else {
			VPXORD(Z5, Z5, Z5)
		}
		VINSERTI64X4(U8(1), Y5, Z4, Z4)
		t.e4m3Widen64(Z4)
		VPUNPCKLWD(Z25, Z24, Z2)
		VPUNPCKHWD(Z25, Z24, Z3)
		VMOVDQU64(Z2, Mem{Base: RSI})
		VMOVDQU64(Z3, Mem{Base: RSI, Disp: 64})
	}
	Label(wTop)
	CMPQ(RCX, RDX)
	JAE(LabelRef(wOdd))
	widen(true)
	LEAQ(Mem{Base: RAX, Index: RBX, Scale: 2}, RAX)
	ADDQ(U32(128), RSI)
	INCQ(RCX)
	JMP(LabelRef(wTop))
	Label(wOdd)
	Load(Param("k"), RDX)
	TESTQ(U32(1), RDX)
	JZ(LabelRef(wDone))
	widen(false)
	Label(wDone)
	MOVQ(U32(0), i)
	iTop, iNext := label("nne_i"), label("nne_i_next")
	Label(iTop)
	Load(Param("m"), RCX)
	CMPQ(i, RCX)
	JAE(LabelRef(iNext))
	bf16Clamped("a", "lda", "m", i, a)
	for z := range 16 {
		VPXORD(zr(z), zr(z), zr(z))
	}
	// RAX walks w, RCX is the byte offset of the pair in A's rows, RDX its end.
	Load(Param("w").Base(), RAX)
	Load(Param("k"), RDX)
	SHRQ(U8(1), RDX)
	SHLQ(U8(2), RDX)
	XORQ(RCX, RCX)
	pTop, pOdd, store := label("nne_p"), label("nne_odd"), label("nne_store")
	products := func() {
		VMOVDQU64(Mem{Base: RAX}, Z18)
		VMOVDQU64(Mem{Base: RAX, Disp: 64}, Z19)
		for h := range 8 {
			vdpbf16ps(18, 20+h, 2*h)
			vdpbf16ps(19, 20+h, 2*h+1)
		}
	}
	Label(pTop)
	CMPQ(RCX, RDX)
	JAE(LabelRef(pOdd))
	for h := range 8 {
		VPBROADCASTD(Mem{Base: a[h], Index: RCX, Scale: 1}, zr(20+h))
	}
	products()
	ADDQ(U32(128), RAX)
	ADDQ(U8(4), RCX)
	JMP(LabelRef(pTop))
	Label(pOdd)
	Load(Param("k"), RDX)
	TESTQ(U32(1), RDX)
	JZ(LabelRef(store))
	for h := range 8 {
		MOVWLZX(Mem{Base: a[h], Index: RCX, Scale: 1}, EDX)
		VPBROADCASTD(EDX, zr(20+h))
	}
	products()
	Label(store)
	Load(Param("c").Base(), RCX)
	stored := label("nne_stored")
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

// e4m3Consts are the AVX2 widening's constants, kept in registers.
type e4m3Consts struct{ sign, key VecVirtual }

func (t target) e4m3ConstsAVX2() e4m3Consts {
	c := e4m3Consts{YMM(), YMM()}
	VMOVDQU(t.splat("e4m3_sign", e4m3SignBits), c.sign)
	VMOVDQU(t.splat("e4m3_nankey", e4m3NaNKey), c.key)
	return c
}

// e4m3Widen8 widens the 8 E4M3 bytes at src to 8 float32 in a new YMM, exactly: the
// half trick of e4m3Rows (NaN bytes made the NaN half 0xFFFF), VCVTPH2PS, then ×256.
func (t target) e4m3Widen8(src Mem, c e4m3Consts) VecVirtual {
	sx, h, k := XMM(), XMM(), XMM()
	VPMOVSXBW(src, sx)
	VPSLLW(U8(7), sx, h)
	VPAND(c.key.AsX(), h, k)
	VPAND(c.sign.AsX(), h, h)
	VPCMPEQW(c.key.AsX(), k, k)
	VPOR(k, h, h)
	v := YMM()
	VCVTPH2PS(h, v)
	VMULPS(t.splat("f32_256", math.Float32bits(e4m3Scale)), v, v)
	return v
}

// e4m3Scalar loads the float32 value of the E4M3 byte at m into the low lane of a
// new XMM, from e4m3F32Table.
func e4m3Scalar(m Mem) VecVirtual {
	g, tab := GP64(), GP64()
	MOVBQZX(m, g)
	LEAQ(e4m3F32Table(), tab)
	x := XMM()
	VMOVSS(Mem{Base: tab, Index: g, Scale: 4}, x)
	return x
}

// e4m3RowPointers returns rows pointers into the byte matrix name, from row start
// with a row stride of ld bytes.
func e4m3RowPointers(name, ld string, start Op, rows int) []Register {
	base := ptr(name)
	stride := Load(Param(ld), GP64())
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

// gemmNTBF16E4M3AVX2 widens and FMAs: tiles of 2 rows of A by 4 rows of B, 8
// elements per step (A's bfloat16 widened with VPMOVZXWD and VPSLLD, B's bytes with
// e4m3Widen8); the k%8 tail goes first, one element at a time into lane 0 of the
// zeroed accumulators.
func (t target) gemmNTBF16E4M3AVX2() {
	t.tiles([]int{2, 1}, []int{4, 1}, func(rows, cols int, i, j Mem) {
		a := bf16RowPointers("a", "lda", i, rows)
		b := e4m3RowPointers("b", "ldb", j, cols)
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
		ANDQ(I8(-8), p)
		tail, tailDone := label("nte_tail"), label("nte_tail_done")
		Label(tail)
		CMPQ(p, k)
		JAE(LabelRef(tailDone))
		for r := range rows {
			x := bf16Scalar(Mem{Base: a[r], Index: p, Scale: 2})
			for s := range cols {
				y := e4m3Scalar(Mem{Base: b[s], Index: p, Scale: 1})
				VFMADD231SS(y, x, acc[r][s].AsX())
			}
		}
		INCQ(p)
		JMP(LabelRef(tail))
		Label(tailDone)
		c := t.e4m3ConstsAVX2()
		kfull := GP64()
		MOVQ(k, kfull)
		ANDQ(I8(-8), kfull)
		XORQ(p, p)
		top, end := label("nte_step"), label("nte_steps_done")
		Label(top)
		CMPQ(p, kfull)
		JAE(LabelRef(end))
		va := make([]VecVirtual, rows)
		for r := range rows {
			va[r] = YMM()
			VPMOVZXWD(Mem{Base: a[r], Index: p, Scale: 2}, va[r])
			VPSLLD(U8(16), va[r], va[r])
		}
		for s := range cols {
			v := t.e4m3Widen8(Mem{Base: b[s], Index: p, Scale: 1}, c)
			for r := range rows {
				VFMADD231PS(v, va[r], acc[r][s])
			}
		}
		ADDQ(U8(8), p)
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

// gemmNNAddBF16E4M3AVX2 is gemmNNAddBF16AVX2 with each row of B widened 8 bytes at a
// time by e4m3Widen8 (single columns from e4m3F32Table).
func (t target) gemmNNAddBF16E4M3AVX2() {
	t.tiles([]int{4, 1}, []int{16, 8, 1}, func(rows, cols int, i, jm Mem) {
		j := GP64()
		MOVQ(jm, j)
		width := cols / 8
		a := bf16RowPointers("a", "lda", i, rows)
		ldb := Load(Param("ldb"), GP64())
		pb := ptr("b")
		ADDQ(j, pb)
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
		var c e4m3Consts
		if cols > 1 {
			c = t.e4m3ConstsAVX2()
		}
		k := Load(Param("k"), GP64())
		p := GP64()
		XORQ(p, p)
		top, done := label("nne_k"), label("nne_k_done")
		Label(top)
		CMPQ(p, k)
		JAE(LabelRef(done))
		if cols == 1 {
			y := e4m3Scalar(Mem{Base: pb})
			for r := range rows {
				x := bf16Scalar(Mem{Base: a[r], Index: p, Scale: 2})
				VFMADD231SS(y, x, acc[r][0])
			}
		} else {
			vb := make([]VecVirtual, width)
			for v := range width {
				vb[v] = t.e4m3Widen8(Mem{Base: pb, Disp: 8 * v}, c)
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
