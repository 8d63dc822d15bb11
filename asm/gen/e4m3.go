package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// FP8 E4M3 weights are widened through IEEE halves: for a byte b, the half with bits
// ((b&0x7f)<<7) | ((b&0x80)<<8) is exactly e4m3(b)·2^-8 (E4M3's exponent field
// lands in the half's, whose bias is 8 more, and E4M3's subnormals m/8·2^-6 become
// the half subnormals m·2^-17), so VCVTPH2PS finishes the widening exactly. The
// bytes are sign-extended to words (VPMOVSXBW), shifted left by 7 and ANDed with
// 0xBFFF, which clears the copy of the sign that lands in bit 14. E4M3 has no
// infinities: its NaN bytes (b&0x7f == 0x7f) would become the half 1.875, so they are
// found by ANDing the shifted word with 0x3F80 ((b&0x7f)<<7) and comparing with
// 0x3F80, and made a NaN half: AVX-512 merges 0x7E00 under the compare's mask, AVX2
// ORs in the compare's all-ones words (0xFFFF, a NaN too). That costs three of the
// eight instructions per chunk (on Zen 4 about 28% of GemvE4M3's time on a W in L3).
// The 2^8 comes back in exactly as rowFormat.scale.
const (
	e4m3SignBits = 0xbfffbfff // clears bit 14 of each word
	e4m3NaNKey   = 0x3f803f80 // (b&0x7f)<<7, in each word: the mask and a NaN byte's bits
	e4m3NaNHalf  = 0x7e007e00 // a quiet NaN half, in each word
	e4m3Scale    = 256        // the widened weights are e4m3(b)/256
)

// gemvE4M3 is gemv for a W of FP8 E4M3 bytes, each chunk of a row widened in
// registers (see e4m3Rows) and each row's sum multiplied by 256. Each block of rows
// prefetches the next, as gemvHalf does.
func (t target) gemvE4M3() { t.gemvE4M3Body("gemvE4M3", false) }

// gemvE4M3Finite is gemvE4M3 for a W without NaN bytes: it widens as e4m3Rows does
// without the NaN check (five instructions per chunk instead of eight).
func (t target) gemvE4M3Finite() { t.gemvE4M3Body("gemvE4M3Finite", true) }

func (t target) gemvE4M3Body(name string, finite bool) {
	t.begin(name)
	y, m := slice("y")
	w := ptr("w")
	x, n := slice("x")
	self := func(w Register) Register { return w }
	t.gemvBody(y, m, w, x, n, self, t.e4m3Rows(finite))
	ret()
}

// gemvTE4M3 accumulates y += Wᵀ x for a W of FP8 E4M3 bytes in the axpy form of
// gemvTRows, each x[i] multiplied by 256 (compose keeps the x[i] for which that would
// overflow away from it).
func (t target) gemvTE4M3() {
	t.begin("gemvTE4M3")
	y, n := slice("y")
	w := ptr("w")
	x, m := slice("x")
	t.gemvTRows(y, n, w, x, m, t.e4m3Rows(false))
	ret()
}

// e4m3Rows is the rowFormat of FP8 E4M3 bytes. A full chunk's bytes are widened
// straight from memory; a tail's are loaded under the tail mask first: AVX-512 with
// a masked VMOVDQU8 (masked-off bytes are neither read nor faulted on), AVX2 by
// copying them one by one into a zeroed stack buffer (its masked moves guard 32-bit
// lanes only), as halfRows does with words. Zero bytes widen to +0. With finite, NaN
// bytes are not looked for (they widen to ±1.875·2^8 times 2^-8). It allocates AVX2's
// buffer in the frame, so a body calls it once.
func (t target) e4m3Rows(finite bool) rowFormat {
	var buf Mem
	if !t.zmm {
		buf = AllocLocal(8)
	}
	// The constants stay in registers: as memory operands they cost three loads per
	// chunk. AVX2 uses the low halves of YMM registers.
	sign := t.vec()
	VMOVUPS(t.splat("e4m3_sign", e4m3SignBits), sign)
	var key VecVirtual
	if !finite {
		key = t.vec()
		VMOVUPS(t.splat("e4m3_nankey", e4m3NaNKey), key)
	}
	var nanHalf VecVirtual
	if t.zmm && !finite {
		nanHalf = t.vec()
		VMOVUPS(t.splat("e4m3_nan", e4m3NaNHalf), nanHalf)
	}
	words := func(v VecVirtual) Register {
		if t.zmm {
			return v.AsY()
		}
		return v.AsX()
	}
	return rowFormat{size: 1, scale: e4m3Scale, chunk: func(t target, c chunk, row Register) Op {
		var src Op = t.at(c, row, 1)
		switch {
		case c.m == nil:
		case t.zmm:
			b := XMM()
			VMOVDQU8_Z(src, c.m.k, b)
			src = b
		default:
			t.copyBytes(c, row, buf)
			src = buf
		}
		// AVX2 widens eight bytes in an XMM of words, AVX-512 sixteen in a YMM; k is
		// (b&0x7f)<<7, which is e4m3NaNKey exactly for a NaN byte.
		sx, h, k := t.vec(), t.vec(), t.vec()
		VPMOVSXBW(src, words(sx))
		VPSLLW(U8(7), words(sx), words(h))
		switch {
		case finite && t.zmm:
			VPANDD(words(sign), words(h), words(h))
		case finite:
			VPAND(words(sign), words(h), words(h))
		case t.zmm:
			VPANDD(words(key), words(h), words(k))
			VPANDD(words(sign), words(h), words(h))
			nan := K()
			VPCMPEQW(words(key), words(k), nan)
			VMOVDQU16(words(nanHalf), nan, words(h))
		default:
			VPAND(words(key), words(h), words(k))
			VPAND(words(sign), words(h), words(h))
			// All-ones words where the byte is NaN: h | ones is the NaN half 0xFFFF.
			VPCMPEQW(words(key), words(k), words(k))
			VPOR(words(k), words(h), words(h))
		}
		v := t.vec()
		VCVTPH2PS(words(h), v)
		return v
	}}
}

// copyBytes copies the c.m.rem (1 to lanes-1) bytes of a tail chunk of row into the
// 8-byte buf, zeroing the rest: the zero weights then meet x's zeroed lanes.
func (t target) copyBytes(c chunk, row Register, buf Mem) {
	MOVQ(U32(0), buf)
	done := label("bytes_done")
	b := GP32()
	for j := range t.lanes - 1 {
		if j > 0 {
			CMPQ(c.m.rem, U32(j))
			JBE(LabelRef(done))
		}
		MOVBLZX(Mem{Base: row, Index: c.idx, Scale: 1, Disp: j}, b)
		MOVB(b.As8(), buf.Offset(j))
	}
	Label(done)
}
