package main

// FP8 E4M3 weights widen through IEEE halves, as on amd64 (asm/gen/e4m3.go): the
// half ((b&0x7f)<<7) | ((b&0x80)<<8) is exactly e4m3(b)·2^-8, subnormals included.
// SSHLL #7 sign-extends the bytes to halfwords shifted left by 7 (the sign lands in
// bits 15 and 14), BIC clears bit 14, and FCVTL/FCVTL2 widen the halves exactly. A
// NaN byte (b&0x7f == 0x7f) would become the half 1.875: those are found by comparing
// the halfword shifted left by 9 more, (b&0x7f)<<9, with 0xFE00 (CMEQ), and ORed with
// the all-ones result, the NaN half 0xFFFF. The factor 256 is in scaleReg.
const (
	e4m3Bytes V = 28 // the bytes of a chunk, as loaded
	e4m3Words V = 29 // sx(b)<<7, then the half bits
	e4m3Key   V = 30 // 0xFE00 in every halfword
)

// e4m3Rows is the rowFormat of FP8 E4M3 bytes: 16 bytes (four vectors) at a time
// with one load, 4 for a single vector, and a partial vector's 1 to 3 bytes lane by
// lane into a zeroed register. The destination registers are the scratch of the
// compare.
var e4m3Rows = rowFormat{size: 1, scaled: true,
	load: func(f *fn, p G, dst V, vecs int) {
		if vecs == 1 {
			f.op("FMOVS.P 4(%s), %s", p, e4m3Bytes.F())
			f.e4m3Widen(false, dst, 1)
			return
		}
		for g := 0; g < vecs; g += 4 {
			f.op("VLD1.P 16(%s), [%s]", p, e4m3Bytes.B16())
			f.e4m3Widen(false, dst+V(g), 2)
			f.e4m3Widen(true, dst+V(g+2), 2)
		}
	},
	lanes: func(f *fn, p G, dst V, lanes int) {
		f.zero(e4m3Bytes)
		for l := range lanes {
			f.op("VLD1.P 1(%s), V%d.B[%d]", p, e4m3Bytes.num(), l)
		}
		f.e4m3Widen(false, dst, 1)
	}}

// e4m3Widen widens the low eight bytes of e4m3Bytes (the high eight with hi) to vecs
// (1 or 2) vectors of float32 from dst: the first four bytes, then the next four.
func (f *fn) e4m3Widen(hi bool, dst V, vecs int) {
	if hi {
		f.sshll2(7, e4m3Bytes, e4m3Words)
	} else {
		f.sshll(7, e4m3Bytes, e4m3Words)
	}
	f.op("VSHL $2, %s, %s", e4m3Words.H8(), dst.H8())
	f.op("VCMEQ %s, %s, %s", e4m3Key.H8(), dst.H8(), dst.H8())
	f.word(encBICImm16(H8, 0x40, 8, e4m3Words))
	f.op("VORR %s, %s, %s", dst.B16(), e4m3Words.B16(), e4m3Words.B16())
	f.fcvtl(e4m3Words, dst)
	if vecs == 2 {
		f.fcvtl2(e4m3Words, dst+1)
	}
}

// e4m3Consts fills e4m3Key and scaleReg (256.0 in every lane), using R14.
func (f *fn) e4m3Consts() {
	f.op("MOVD $0xfe00, R14")
	f.op("VDUP R14, %s", e4m3Key.H8())
	f.op("MOVW $0x43800000, R14") // 256.0
	f.op("VDUP R14, %s", scaleReg.S4())
}

// gemvE4M3 is gemv for W in FP8 E4M3 bytes, each chunk of a row widened in registers
// to 2^-8 times its weights and each row's sum multiplied by 256.
func (e *emitter) gemvE4M3() {
	f := e.begin("gemvE4M3")
	f.e4m3Consts()
	f.gemvBody("y", "w", "x", e4m3Rows)
	f.op("RET")
}

// gemvTE4M3 accumulates y += Wᵀ x for W in FP8 E4M3 bytes in the axpy form of
// gemvTRows, each x[i] multiplied by 256.
func (e *emitter) gemvTE4M3() {
	f := e.begin("gemvTE4M3")
	f.e4m3Consts()
	f.gemvTRows(e4m3Rows)
	f.op("RET")
}
