package main

import "fmt"

// Encoders for the Advanced SIMD instructions that Go's arm64 assembler does not
// accept (golang/go#41092 and friends). Each one checks its operands, packs them
// into the A64 encoding and returns the word with the Go-syntax disassembly that
// `go tool objdump` prints for it, which becomes the WORD's comment; the asmcheck
// test decodes every WORD of the generated file and compares.
//
// Go's operand order is the reverse of Arm's: sources first, destination last.
// For three-register forms that is (m, n, d), meaning d = n op m.
//
// Field layout: Rd bits 0-4, Rn 5-9, Rm 16-20, Q (128-bit) bit 30.

// arr is a vector arrangement.
type arr int

const (
	S2  arr = iota // 2 x 32-bit, 64-bit register
	S4             // 4 x 32-bit
	H4             // 4 x 16-bit, 64-bit register
	H8             // 8 x 16-bit
	B8             // 8 x 8-bit, 64-bit register
	B16            // 16 x 8-bit
)

var arrNames = map[arr]string{S2: "S2", S4: "S4", H4: "H4", H8: "H8", B8: "B8", B16: "B16"}

func (a arr) String() string {
	if s, ok := arrNames[a]; ok {
		return s
	}
	return fmt.Sprintf("arr(%d)", int(a))
}

// q returns the Q bit of a, which must be one of the allowed arrangements.
func (a arr) q(op string, allowed ...arr) uint32 {
	for _, b := range allowed {
		if a == b {
			if a == S4 || a == H8 || a == B16 {
				return 1 << 30
			}
			return 0
		}
	}
	panic(fmt.Sprintf("arm64 gen: %s does not take arrangement %v (want one of %v)", op, a, allowed))
}

func vreg(v V) uint32 { return v.num() }

func vname(v V, a arr) string { return fmt.Sprintf("V%d.%v", vreg(v), a) }

// Three-register floating-point ops on 2S/4S (bases are the 2S forms).
type float3 struct {
	name string // as objdump prints it
	base uint32
}

var (
	opFADD   = float3{"FADD", 0x0e20d400}
	opFSUB   = float3{"FSUB", 0x0ea0d400}
	opFMUL   = float3{"FMUL", 0x2e20dc00}
	opFMAX   = float3{"FMAX", 0x0e20f400} // NaN in either operand gives NaN
	opFMIN   = float3{"FMIN", 0x0ea0f400} // NaN in either operand gives NaN
	opFADDP  = float3{"VFADDP", 0x2e20d400}
	opFCMGT  = float3{"VFCMGT", 0x2ea0e400} // all ones where n > m; false for NaN
	opFCMGE  = float3{"VFCMGE", 0x2e20e400}
	opFMAXNM = float3{"FMAXNM", 0x0e20c400}
)

func encFloat3(op float3, a arr, m, n, d V) (uint32, string) {
	w := op.base | a.q(op.name, S2, S4) | vreg(m)<<16 | vreg(n)<<5 | vreg(d)
	return w, fmt.Sprintf("%s %s, %s, %s", op.name, vname(m, a), vname(n, a), vname(d, a))
}

// encBIC: d = n AND NOT m, bitwise.
func encBIC(a arr, m, n, d V) (uint32, string) {
	w := 0x0e601c00 | a.q("VBIC", B8, B16) | vreg(m)<<16 | vreg(n)<<5 | vreg(d)
	return w, fmt.Sprintf("VBIC %s, %s, %s", vname(m, a), vname(n, a), vname(d, a))
}

// Two-register floating-point ops on 2S/4S.
type float2 struct {
	name string
	base uint32
}

var (
	opFRINTN = float2{"FRINTN", 0x0e218800} // round to nearest, ties to even
	opFCVTZS = float2{"FCVTZS", 0x0ea1b800} // to int32, toward zero
	opSCVTF  = float2{"SCVTF", 0x0e21d800}
	opFNEG   = float2{"FNEG", 0x2ea0f800}
	opFABS   = float2{"FABS", 0x0ea0f800}
)

func encFloat2(op float2, a arr, n, d V) (uint32, string) {
	w := op.base | a.q(op.name, S2, S4) | vreg(n)<<5 | vreg(d)
	return w, fmt.Sprintf("%s %s, %s", op.name, vname(n, a), vname(d, a))
}

// encFCVTL widens half to single: from H4 (FCVTL, lower half) or H8 (FCVTL2, upper
// half of n) to 4S.
func encFCVTL(from arr, n, d V) (uint32, string) {
	q := from.q("VFCVTL", H4, H8)
	name := "VFCVTL"
	if q != 0 {
		name = "VFCVTL2"
	}
	return 0x0e217800 | q | vreg(n)<<5 | vreg(d), fmt.Sprintf("%s %s, %s", name, vname(n, from), vname(d, S4))
}

// encSSHLL widens signed integers to twice their width, shifted left by shift:
// from B8 (SSHLL, the lower half of n) or B16 (SSHLL2, its upper half) to 8H, or
// from H4 or H8 to 4S. Shift 0 is SXTL/SXTL2, which objdump prints as VSXTL.
func encSSHLL(from arr, shift int, n, d V) (uint32, string) {
	q := from.q("VSSHLL", B8, B16, H4, H8)
	immh, to, width := uint32(1), H8, 8 // immh = 0001 for bytes, 001x for halfwords
	if from == H4 || from == H8 {
		immh, to, width = 2, S4, 16
	}
	if shift < 0 || shift >= width {
		panic(fmt.Sprintf("arm64 gen: VSSHLL shift %d out of range 0..%d", shift, width-1))
	}
	suffix := ""
	if q != 0 {
		suffix = "2"
	}
	operands := fmt.Sprintf("%s, %s", vname(n, from), vname(d, to))
	text := fmt.Sprintf("VSSHLL%s $%d, %s", suffix, shift, operands)
	if shift == 0 {
		text = fmt.Sprintf("VSXTL%s %s", suffix, operands)
	}
	immhb := immh<<3 | uint32(shift) // immh:immb = width + shift
	return 0x0f00a400 | q | immhb<<16 | vreg(n)<<5 | vreg(d), text
}

// Widening integer multiplies: d (8H from bytes, 4S from halfwords) = or += the
// lane-wise products of the lower (B8, H4) or upper (B16, H8: the "2" forms) halves
// of n and m, signed.
type long3 struct {
	name string // as objdump prints it, without the "2"
	base uint32
}

var (
	opSMULL = long3{"VSMULL", 0x0e20c000}
	opSMLAL = long3{"VSMLAL", 0x0e208000}
)

// widened returns the size field of from (bytes 0, halfwords 1) and the
// arrangement of twice its width.
func widened(op string, from arr) (uint32, arr) {
	from.q(op, B8, B16, H4, H8)
	if from == H4 || from == H8 {
		return 1, S4
	}
	return 0, H8
}

func encLong3(op long3, from arr, m, n, d V) (uint32, string) {
	q := from.q(op.name, B8, B16, H4, H8)
	size, to := widened(op.name, from)
	name := op.name
	if q != 0 {
		name += "2"
	}
	w := op.base | q | size<<22 | vreg(m)<<16 | vreg(n)<<5 | vreg(d)
	return w, fmt.Sprintf("%s %s, %s, %s", name, vname(m, from), vname(n, from), vname(d, to))
}

// Pairwise widening adds: each lane of d (twice the width of n's, half as many) is
// the sum of a pair of adjacent lanes of n, signed (SADDLP), or gets it added
// (SADALP).
type pairLong struct {
	name string
	base uint32
}

var (
	opSADDLP = pairLong{"VSADDLP", 0x0e202800}
	opSADALP = pairLong{"VSADALP", 0x0e206800}
)

func encPairLong(op pairLong, from arr, n, d V) (uint32, string) {
	q := from.q(op.name, B8, B16, H4, H8)
	size, to := widened(op.name, from)
	if q == 0 { // a 64-bit source gives a 64-bit result
		to = map[arr]arr{H8: H4, S4: S2}[to]
	}
	return op.base | q | size<<22 | vreg(n)<<5 | vreg(d), fmt.Sprintf("%s %s, %s", op.name, vname(n, from), vname(d, to))
}

// encFADDPScalar: Sd = n[0] + n[1].
func encFADDPScalar(n, d V) (uint32, string) {
	return 0x7e30d800 | vreg(n)<<5 | vreg(d), fmt.Sprintf("FADDP %s, F%d", vname(n, S2), vreg(d))
}

// encFMAXV: Sd = max over the four lanes of n (NaN propagates).
func encFMAXV(n, d V) (uint32, string) {
	return 0x6e30f800 | vreg(n)<<5 | vreg(d), fmt.Sprintf("FMAXV %s, F%d", vname(n, S4), vreg(d))
}

// encSSHR: arithmetic shift right of 32-bit lanes by 1..32.
func encSSHR(a arr, shift int, n, d V) (uint32, string) {
	q := a.q("VSSHR", S2, S4)
	if shift < 1 || shift > 32 {
		panic(fmt.Sprintf("arm64 gen: VSSHR shift %d out of range 1..32", shift))
	}
	immhb := uint32(64 - shift) // immh = 01xx for 32-bit lanes
	return 0x0f000400 | q | immhb<<16 | vreg(n)<<5 | vreg(d),
		fmt.Sprintf("VSSHR $%d, %s, %s", shift, vname(n, a), vname(d, a))
}

// encBICImm16 clears, in every halfword of d (H4 or H8), the bits of imm8 shifted
// left by 0 or 8: BIC (vector, immediate).
func encBICImm16(a arr, imm8, shift int, d V) (uint32, string) {
	q := a.q("VBIC", H4, H8)
	if imm8 < 0 || imm8 > 0xff || (shift != 0 && shift != 8) {
		panic(fmt.Sprintf("arm64 gen: VBIC immediate %#x<<%d out of range", imm8, shift))
	}
	cmode := uint32(0x9) | uint32(shift/8)<<1 // 10x1: 16-bit, LSL 0 or 8
	abc, defgh := uint32(imm8>>5), uint32(imm8&0x1f)
	imm := fmt.Sprintf("$%d", imm8)
	if shift != 0 {
		imm = fmt.Sprintf("$(%d<<%d)", imm8, shift)
	}
	return 0x2f000400 | q | abc<<16 | cmode<<12 | defgh<<5 | vreg(d),
		fmt.Sprintf("VBIC %s, %s", imm, vname(d, a))
}

// By-element multiply ops on 2S/4S: d (op)= n * m[index].
type floatElem struct {
	name string
	base uint32
}

var (
	opFMULElem = floatElem{"FMUL", 0x0f809000}
	opFMLAElem = floatElem{"VFMLA", 0x0f801000}
	opFMLSElem = floatElem{"VFMLS", 0x0f805000}
)

func encFloatElem(op floatElem, a arr, m V, index int, n, d V) (uint32, string) {
	q := a.q(op.name, S2, S4)
	if index < 0 || index > 3 {
		panic(fmt.Sprintf("arm64 gen: %s lane index %d out of range 0..3", op.name, index))
	}
	l, h := uint32(index&1), uint32(index>>1)
	w := op.base | q | l<<21 | vreg(m)<<16 | h<<11 | vreg(n)<<5 | vreg(d)
	return w, fmt.Sprintf("%s V%d.S[%d], %s, %s", op.name, vreg(m), index, vname(n, a), vname(d, a))
}

// The emitter's typed instruction methods, all on .4S (Go operand order).

func (e *emitter) fadd(m, n, d V)  { e.word(encFloat3(opFADD, S4, m, n, d)) }
func (e *emitter) fsub(m, n, d V)  { e.word(encFloat3(opFSUB, S4, m, n, d)) }
func (e *emitter) fmul(m, n, d V)  { e.word(encFloat3(opFMUL, S4, m, n, d)) }
func (e *emitter) fmax(m, n, d V)  { e.word(encFloat3(opFMAX, S4, m, n, d)) }
func (e *emitter) fmin(m, n, d V)  { e.word(encFloat3(opFMIN, S4, m, n, d)) }
func (e *emitter) faddp(m, n, d V) { e.word(encFloat3(opFADDP, S4, m, n, d)) }
func (e *emitter) fcmgt(m, n, d V) { e.word(encFloat3(opFCMGT, S4, m, n, d)) }
func (e *emitter) bic(m, n, d V)   { e.word(encBIC(B16, m, n, d)) }
func (e *emitter) frintn(n, d V)   { e.word(encFloat2(opFRINTN, S4, n, d)) }
func (e *emitter) fcvtzs(n, d V)   { e.word(encFloat2(opFCVTZS, S4, n, d)) }
func (e *emitter) scvtf(n, d V)    { e.word(encFloat2(opSCVTF, S4, n, d)) }
func (e *emitter) fcvtl(n, d V)    { e.word(encFCVTL(H4, n, d)) }
func (e *emitter) fcvtl2(n, d V)   { e.word(encFCVTL(H8, n, d)) }
func (e *emitter) sshr(shift int, n, d V) {
	e.word(encSSHR(S4, shift, n, d))
}
func (e *emitter) sshll(shift int, n, d V)  { e.word(encSSHLL(B8, shift, n, d)) }
func (e *emitter) sshll2(shift int, n, d V) { e.word(encSSHLL(B16, shift, n, d)) }

// sxtl sign-extends the lower (from B8 or H4) or upper (B16 or H8) half of n into d.
func (e *emitter) sxtl(from arr, n, d V) { e.word(encSSHLL(from, 0, n, d)) }
func (e *emitter) faddpScalar(n, d V)    { e.word(encFADDPScalar(n, d)) }
func (e *emitter) fmaxv(n, d V)          { e.word(encFMAXV(n, d)) }
func (e *emitter) fmulElem(m V, i int, n, d V) {
	e.word(encFloatElem(opFMULElem, S4, m, i, n, d))
}
func (e *emitter) fmlaElem(m V, i int, n, d V) {
	e.word(encFloatElem(opFMLAElem, S4, m, i, n, d))
}
func (e *emitter) fmlsElem(m V, i int, n, d V) {
	e.word(encFloatElem(opFMLSElem, S4, m, i, n, d))
}

// smull sets d (8H) to the products of the lower eight signed bytes of n and m;
// smlal2 adds those of the upper eight.
func (e *emitter) smull(m, n, d V)  { e.word(encLong3(opSMULL, B8, m, n, d)) }
func (e *emitter) smlal2(m, n, d V) { e.word(encLong3(opSMLAL, B16, m, n, d)) }

// saddlp sets, and sadalp adds to, the 4S d the sums of adjacent pairs of the 8H n.
func (e *emitter) saddlp(n, d V) { e.word(encPairLong(opSADDLP, H8, n, d)) }
func (e *emitter) sadalp(n, d V) { e.word(encPairLong(opSADALP, H8, n, d)) }
