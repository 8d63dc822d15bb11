package main

import (
	"fmt"

	"github.com/mlasimd/mlasimd/internal/spec"
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// target is one x86 vector instruction set that every kernel is instantiated for.
// The kernels are written once against its methods; only this file knows how a
// width (YMM or ZMM) loads, masks, reduces and zeroes.
type target struct {
	isa   spec.ISA // its Name suffixes the TEXT symbols, e.g. dotAVX2
	lanes int      // float32 lanes per vector
	zmm   bool     // AVX-512: ZMM registers and opmask tails
}

var (
	avx2   = target{isa: spec.AVX2, lanes: 8}
	avx512 = target{isa: spec.AVX512, lanes: 16, zmm: true}
)

func (t target) vec() VecVirtual {
	if t.zmm {
		return ZMM()
	}
	return YMM()
}

// zero clears v by loading zeros. A register XORed with itself would be free, but
// Avo's liveness analysis reads it as a use of v's old value: every accumulator would
// then be live from the function's entry, and a kernel with many tile shapes would
// run out of registers.
func (t target) zero(v Register) {
	VMOVUPS(t.splat("zero", 0), v)
}

// mask selects the first rem lanes of a vector for a tail that is shorter than one.
type mask struct {
	v   VecVirtual // AVX2: all-ones lanes to keep
	k   Register   // AVX-512: opmask
	rem Register   // the number of lanes kept
}

// tailMask builds the mask for rem (0 .. lanes-1, in a register) leading lanes. Both
// come from tables, so no instruction outside the tier (BZHI is BMI2) is needed.
func (t target) tailMask(rem Register) mask {
	if t.zmm {
		table := GP64()
		LEAQ(kmaskTable, table)
		k := K()
		KMOVW(Mem{Base: table, Index: rem, Scale: 2}, k)
		return mask{k: k, rem: rem}
	}
	idx := GP64()
	MOVQ(U32(8), idx)
	SUBQ(rem, idx)
	table := GP64()
	LEAQ(tailTable, table)
	m := YMM()
	VMOVUPS(Mem{Base: table, Index: idx, Scale: 4}, m)
	return mask{v: m, rem: rem}
}

// tailTable holds eight all-ones words then eight zero words: the 8 words starting
// at word 8-rem keep the first rem lanes (VMASKMOVPS reads the top bit of each).
var tailTable Mem

// kmaskTable holds the 16-bit opmasks (1<<rem)-1 for rem = 0..16.
var kmaskTable Mem

func declareTables() {
	tailTable = GLOBL("tailmask", RODATA|NOPTR)
	for i := range 16 {
		v := U32(0)
		if i < 8 {
			v = U32(0xffffffff)
		}
		DATA(4*i, v)
	}
	kmaskTable = GLOBL("kmask", RODATA|NOPTR)
	for rem := range 17 {
		DATA(2*rem, U16(1<<rem-1))
	}
}

var constTables = map[string]Mem{}

// splat returns a memory operand holding a full vector of copies of the 32-bit
// value bits, so that kernels can use constants as operands without spending
// registers on them.
func (t target) splat(name string, bits uint32) Mem {
	key := fmt.Sprintf("%s_%d", name, t.lanes)
	if m, ok := constTables[key]; ok {
		return m
	}
	m := GLOBL("c_"+key, RODATA|NOPTR)
	for i := range t.lanes {
		DATA(4*i, U32(bits))
	}
	constTables[key] = m
	return m
}

// chunk is one vector's worth of a streaming loop: element index idx plus u
// vectors, or a masked tail when m is not nil.
type chunk struct {
	idx Register
	u   int
	m   *mask
}

// at addresses the chunk in an array of elemSize-byte elements based at base.
func (t target) at(c chunk, base Register, elemSize int) Mem {
	return Mem{Base: base, Index: c.idx, Scale: uint8(elemSize), Disp: c.u * t.lanes * elemSize}
}

// load reads the chunk of a float32 array into a new register; masked-off lanes
// read as zero and never fault.
func (t target) load(c chunk, base Register) VecVirtual {
	v := t.vec()
	t.loadInto(c, base, v)
	return v
}

func (t target) loadInto(c chunk, base Register, v Register) {
	m := t.at(c, base, 4)
	switch {
	case c.m == nil:
		VMOVUPS(m, v)
	case t.zmm:
		VMOVUPS_Z(m, c.m.k, v)
	default:
		VMASKMOVPS(m, c.m.v, v)
	}
}

// operand gives the chunk as an instruction operand: memory for a full vector, a
// register loaded under the mask for a tail.
func (t target) operand(c chunk, base Register) Op {
	if c.m == nil {
		return t.at(c, base, 4)
	}
	return t.load(c, base)
}

// store writes v to the chunk; masked-off lanes are not written.
func (t target) store(c chunk, v Register, base Register) {
	m := t.at(c, base, 4)
	switch {
	case c.m == nil:
		VMOVUPS(v, m)
	case t.zmm:
		VMOVUPS(v, c.m.k, m)
	default:
		VMASKMOVPS(v, c.m.v, m)
	}
}

// keepActive zeroes the masked-off lanes of v (no-op for a full chunk), for values
// that are not zero when computed from zero inputs.
func (t target) keepActive(c chunk, v Register) {
	switch {
	case c.m == nil:
	case t.zmm:
		VMOVAPS_Z(v, c.m.k, v)
	default:
		VANDPS(c.m.v, v, v)
	}
}

// labelCount numbers the labels of the TEXT block being written; begin resets it, so
// that adding a routine leaves every other block's labels as they were.
var labelCount int

func label(name string) string {
	labelCount++
	return fmt.Sprintf("%s_%d", name, labelCount)
}

// loop emits a streaming loop over n elements: blocks of unroll vectors, then single
// vectors, then one masked tail. body emits the work for one chunk.
func (t target) loop(n Register, unroll int, body func(c chunk)) {
	idx := GP64()
	XORQ(idx, idx)
	end := GP64()
	if unroll > 1 {
		big, single := label("unrolled"), label("single")
		MOVQ(n, end)
		SUBQ(U32(unroll*t.lanes), end)
		Label(big)
		CMPQ(idx, end)
		JG(LabelRef(single))
		for u := range unroll {
			body(chunk{idx: idx, u: u})
		}
		ADDQ(U32(unroll*t.lanes), idx)
		JMP(LabelRef(big))
		Label(single)
	}
	one, tail, done := label("one"), label("tail"), label("done")
	MOVQ(n, end)
	SUBQ(U32(t.lanes), end)
	Label(one)
	CMPQ(idx, end)
	JG(LabelRef(tail))
	body(chunk{idx: idx})
	ADDQ(U32(t.lanes), idx)
	JMP(LabelRef(one))
	Label(tail)
	rem := GP64()
	MOVQ(n, rem)
	SUBQ(idx, rem)
	JZ(LabelRef(done))
	m := t.tailMask(rem)
	body(chunk{idx: idx, m: &m})
	Label(done)
}

// hsum adds the lanes of v and returns an XMM register with the sum in lane 0.
// The AVX-512 instantiation may be given registers 16-31, which only EVEX encodes:
// its reductions use only instructions with an EVEX form (VEXTRACTF32X4, not
// VEXTRACTF128; VINSERTPS, not VHADDPS).
func (t target) hsum(v VecVirtual) Register { return t.reduce(v, VADDPS, VADDSS) }

// hmax returns an XMM register with the largest lane of v in lane 0.
func (t target) hmax(v VecVirtual) Register { return t.reduce(v, VMAXPS, VMAXSS) }

func (t target) reduce(v VecVirtual, packed, scalar func(...Op)) Register {
	y := v
	if t.zmm {
		y = YMM()
		VEXTRACTF64X4(U8(1), v, y)
		packed(y, v.AsY(), y)
	}
	x, hi := y.AsX(), XMM()
	if t.zmm {
		VEXTRACTF32X4(U8(1), y, hi)
	} else {
		VEXTRACTF128(U8(1), y, hi)
	}
	packed(hi, x, x)
	VMOVHLPS(x, x, hi)
	packed(hi, x, x)
	VMOVSHDUP(x, hi)
	scalar(hi, x, x)
	return x
}

// sum4 reduces four vectors to one XMM register holding their four lane sums.
func (t target) sum4(v [4]VecVirtual) Register {
	if t.zmm {
		x := t.hsum(v[0])
		for i := 1; i < 4; i++ {
			VINSERTPS(U8(i<<4), t.hsum(v[i]), x, x)
		}
		return x
	}
	VHADDPS(v[1], v[0], v[0])
	VHADDPS(v[3], v[2], v[2])
	VHADDPS(v[2], v[0], v[0])
	hi := XMM()
	VEXTRACTF128(U8(1), v[0], hi)
	VADDPS(hi, v[0].AsX(), hi)
	return hi
}

// broadcastScalar loads a float32 parameter and splats it over a vector.
func (t target) broadcastParam(name string) VecVirtual {
	x := Load(Param(name), XMM())
	v := t.vec()
	VBROADCASTSS(x, v)
	return v
}

// begin opens the TEXT block of routine name at this target, with the signature and
// doc comment of its spec entry. The body names its parameters (Param), so a body
// that disagrees with the spec's signature fails to generate.
func (t target) begin(name string) {
	r, ok := spec.Lookup(name)
	if !ok || !r.Has(t.isa) {
		panic(fmt.Sprintf("gen: the spec has no routine %s for %s", name, t.isa.Name))
	}
	labelCount = 0
	TEXT(name+t.isa.Name, NOSPLIT, r.Signature())
	Pragma("noescape")
	Doc(r.Doc)
}

// ret returns, clearing the upper vector state first so that the SSE code the Go
// compiler emits after the call pays no AVX transition penalty.
func ret() {
	VZEROUPPER()
	RET()
}

func slice(name string) (base, n Register) {
	return Load(Param(name).Base(), GP64()), Load(Param(name).Len(), GP64())
}

func ptr(name string) Register { return Load(Param(name).Base(), GP64()) }
