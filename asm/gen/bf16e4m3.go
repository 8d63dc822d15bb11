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

// gemmNTBF16E4M3 (AVX-512) is ntBF16 (gemmNTBF16's tiles) with B's rows widened
// into the scratch w: chunk c of row r at w + 256c + 64r bytes, a tail's masked-off
// words zeros. The first band of A widens each 64 bytes of the tile's 4 rows
// (e4m3Widen64) just before its two chunks, so that the widening overlaps the
// products; the other bands (and the first's last chunk) read w, at RBX.
func (t target) gemmNTBF16E4M3() {
	t.begin("gemmNTBF16E4M3")
	if !t.zmm {
		t.gemmNTBF16E4M3AVX2()
		return
	}
	var kfull64 Mem
	// widen widens 64 bytes of each of the tile's rows of B at RAX into w.
	widen := func(tail bool) {
		for r, p := range ntB {
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
	t.ntBF16(ntSource{
		prefix: "nte",
		shift:  0,
		// K7: the first k%64 bytes, the widening's tail mask; kfull64: k rounded
		// down to 64.
		setup: func() {
			kfull64 = AllocLocal(8)
			kChunks(64, kfull64)
			KMOVQ(RDX, K7)
		},
		tile: func() { Load(Param("w").Base(), RBX) },
		load: func(d, r int, _ bool) {
			VMOVDQU64(Mem{Base: RBX, Index: RAX, Scale: 8, Disp: 256*d + 64*r}, zr(20+r))
		},
		// The first band: 64 elements at a time, widened and multiplied, then the
		// widened tail; the rest of k as the other bands run it.
		first: func(chunk func(d int, tail bool), kTop, reduce string) {
			top, tail := label("nte_first_top"), label("nte_first_tail")
			e4m3WidenRegs() // the reduction overwrites them
			Label(top)
			CMPQ(RAX, kfull64)
			JAE(LabelRef(tail))
			PREFETCHT0(Mem{Base: RCX, Index: RAX, Scale: 1})
			widen(false)
			chunk(0, false)
			chunk(1, false)
			ADDQ(U8(64), RAX)
			JMP(LabelRef(top))
			Label(tail)
			KORTESTQ(K7, K7)
			JZ(LabelRef(reduce))
			widen(true)
			JMP(LabelRef(kTop))
		},
	})
}

// gemmNNAddBF16E4M3 (AVX-512) is nnAddBF16 (gemmNNAddBF16's tiles) with each block of
// 32 columns of B widened and interleaved once, before the bands of c meet it: rows
// p and p+1 (32 bytes each, the columns past n loaded as zeros; an odd k's last row
// with zeros) widened together by e4m3Widen64 and interleaved as bf16Pair
// interleaves them, into w + 128·(p/2) bytes, which the tiles read.
func (t target) gemmNNAddBF16E4M3() {
	t.begin("gemmNNAddBF16E4M3")
	if !t.zmm {
		t.gemmNNAddBF16E4M3AVX2()
		return
	}
	t.nnAddBF16(nnSource{
		prefix: "nne",
		block:  t.e4m3NNWiden,
		tile:   func(Mem) { Load(Param("w").Base(), RAX) },
		pair: func(bool) {
			VMOVDQU64(Mem{Base: RAX}, Z18)
			VMOVDQU64(Mem{Base: RAX, Disp: 64}, Z19)
		},
		next: func() { ADDQ(U32(128), RAX) },
	})
}

// e4m3NNWiden widens and interleaves the block of B at column j (K3: its columns)
// into w, for every band of c: pair q's two ZMM go to w + 128q bytes. RAX walks B's
// rows from column j, RBX is B's row stride, RSI walks w, RCX counts the pairs up to
// RDX.
func (t target) e4m3NNWiden(j Mem) {
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

// e4m3AVX2 reads an E4M3 B: e4m3Widen8 (its constants in registers), single
// elements from e4m3F32Table.
func (t target) e4m3AVX2() avx2Source {
	return avx2Source{
		prefix: "e4",
		shift:  0,
		scalar: e4m3Scalar,
		widen8: func() func(Mem) VecVirtual {
			c := t.e4m3ConstsAVX2()
			return func(m Mem) VecVirtual { return t.e4m3Widen8(m, c) }
		},
	}
}

// gemmNTBF16E4M3AVX2 is ntAVX2 with 8 elements per step, A's bfloat16 widened by
// bf16Widen8, B's bytes by e4m3Widen8.
func (t target) gemmNTBF16E4M3AVX2() {
	src := t.e4m3AVX2()
	t.ntAVX2(src, 8, func() ntStep {
		widen := src.widen8()
		return func(a, b []Register, p Register, acc [][]VecVirtual) {
			va := make([]VecVirtual, len(a))
			for r := range a {
				va[r] = bf16Widen8(Mem{Base: a[r], Index: p, Scale: 2})
			}
			for s := range b {
				v := widen(Mem{Base: b[s], Index: p, Scale: 1})
				for r := range a {
					VFMADD231PS(v, va[r], acc[r][s])
				}
			}
		}
	})
}

// gemmNNAddBF16E4M3AVX2 is nnAddAVX2 widening B's bytes 8 at a time.
func (t target) gemmNNAddBF16E4M3AVX2() { t.nnAddAVX2(t.e4m3AVX2()) }
