package main

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/mlasimd/mlasimd/internal/spec"
)

// G is a general-purpose register. Go reserves R18 (platform), R26 (closure
// context), R27 (assembler temporary), R28 (g), R29 (frame pointer) and R30 (link);
// R16 and R17 are left to the linker's veneers.
type G uint8

func (g G) String() string {
	if g > 25 || g == 16 || g == 17 || g == 18 {
		panic(fmt.Sprintf("arm64 gen: register R%d is reserved or out of range", g))
	}
	return fmt.Sprintf("R%d", g)
}

// V is a SIMD&FP register, V0..V31. Its methods spell it with an arrangement for
// native instructions; the WORD encoders take the number itself.
type V uint8

func (v V) num() uint32 {
	if v > 31 {
		panic(fmt.Sprintf("arm64 gen: vector register V%d out of range", v))
	}
	return uint32(v)
}

func (v V) S4() string  { return fmt.Sprintf("V%d.S4", v.num()) }
func (v V) H8() string  { return fmt.Sprintf("V%d.H8", v.num()) }
func (v V) B16() string { return fmt.Sprintf("V%d.B16", v.num()) }
func (v V) F() string   { return fmt.Sprintf("F%d", v.num()) }

// S is lane i of the register as a 32-bit element, D lane i as a 64-bit one.
func (v V) S(i int) string {
	if i < 0 || i > 3 {
		panic(fmt.Sprintf("arm64 gen: lane S[%d] out of range", i))
	}
	return fmt.Sprintf("V%d.S[%d]", v.num(), i)
}

func (v V) D(i int) string {
	if i < 0 || i > 1 {
		panic(fmt.Sprintf("arm64 gen: lane D[%d] out of range", i))
	}
	return fmt.Sprintf("V%d.D[%d]", v.num(), i)
}

// list spells a register list [Va.S4, Va+1.S4, ...] for VLD1/VST1 (1 to 4
// consecutive registers).
func list(first V, n int, arr string) string {
	if n < 1 || n > 4 || int(first)+n > 32 {
		panic(fmt.Sprintf("arm64 gen: bad register list V%d x %d", first, n))
	}
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("V%d.%s", int(first)+i, arr)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// emitter collects the text of the assembly file.
type emitter struct {
	text   strings.Builder
	data   strings.Builder
	stubs  strings.Builder
	labels int
}

// op emits one native instruction.
func (e *emitter) op(format string, args ...any) {
	fmt.Fprintf(&e.text, "\t"+format+"\n", args...)
}

// word emits an instruction the Go assembler lacks, with the Go-syntax disassembly
// that `go tool objdump` prints for it as the comment (the asmcheck test compares them).
func (e *emitter) word(w uint32, asm string) {
	fmt.Fprintf(&e.text, "\tWORD $0x%08x // %s\n", w, asm)
}

func (e *emitter) newLabel(prefix string) string {
	e.labels++
	return fmt.Sprintf("%s%d", prefix, e.labels)
}

func (e *emitter) label(l string) { fmt.Fprintf(&e.text, "%s:\n", l) }

// param is one Go parameter of a kernel; typ is []float32, []uint16, []byte, float32 or int.
type param struct {
	name, typ string
	off       int
}

// fn is the kernel being emitted: its frame layout and argument accessors.
type fn struct {
	*emitter
	params  map[string]param
	retOff  int
	argSize int
}

// begin opens TEXT ·<name>NEON with the ABI0 frame of the routine's Go signature in
// the spec, and writes the stub with its doc comment. The body reads its parameters
// by name and type (param), so a body that disagrees with the spec fails to generate.
func (e *emitter) begin(name string) *fn {
	r, ok := spec.Lookup(name)
	if !ok || !r.Has(spec.NEON) {
		panic("arm64 gen: the spec has no NEON routine " + name)
	}
	f := &fn{emitter: e, params: map[string]param{}}
	off := 0
	var decl []string
	for _, a := range r.Args {
		size := map[string]int{"[]float32": 24, "[]uint16": 24, "[]byte": 24, "float32": 4, "int": 8}[a.Type]
		if size == 0 {
			panic("arm64 gen: unsupported parameter type " + a.Type)
		}
		align := min(size, 8)
		off = (off + align - 1) &^ (align - 1)
		f.params[a.Name] = param{a.Name, a.Type, off}
		off += size
		decl = append(decl, a.Name+" "+a.Type)
	}
	res := ""
	f.argSize = off
	switch r.Result {
	case "":
	case "float32":
		f.retOff = (off + 7) &^ 7
		f.argSize = f.retOff + 4
		res = " float32"
	default:
		panic("arm64 gen: unsupported result type " + r.Result)
	}
	fmt.Fprintf(&e.stubs, "\n// %s\n//\n//go:noescape\nfunc %sNEON(%s)%s\n", r.Doc, name, strings.Join(decl, ", "), res)
	fmt.Fprintf(&e.text, "\n// %s\nTEXT ·%sNEON(SB), NOSPLIT, $0-%d\n", r.Doc, name, f.argSize)
	return f
}

func (f *fn) param(name, want string) param {
	p, ok := f.params[name]
	if !ok || (want != "" && !strings.HasPrefix(p.typ, want)) {
		panic(fmt.Sprintf("arm64 gen: no %s parameter %q", want, name))
	}
	return p
}

// base and length load a slice's pointer and length.
func (f *fn) base(name string, r G) {
	f.op("MOVD %s_base+%d(FP), %s", name, f.param(name, "[]").off, r)
}

func (f *fn) length(name string, r G) {
	f.op("MOVD %s_len+%d(FP), %s", name, f.param(name, "[]").off+8, r)
}

func (f *fn) intArg(name string, r G) {
	f.op("MOVD %s+%d(FP), %s", name, f.param(name, "int").off, r)
}

// splat loads a float32 parameter into every lane of v.
func (f *fn) splat(name string, v V) {
	f.op("FMOVS %s+%d(FP), %s", name, f.param(name, "float32").off, v.F())
	f.op("VDUP %s, %s", v.S(0), v.S4())
}

// ret stores lane 0 of v as the float32 result and returns.
func (f *fn) ret(v V) {
	f.op("FMOVS %s, ret+%d(FP)", v.F(), f.retOff)
	f.op("RET")
}

func (f *fn) zero(vs ...V) {
	for _, v := range vs {
		f.op("VEOR %s, %s, %s", v.B16(), v.B16(), v.B16())
	}
}

// loop emits `for ; cnt != 0; cnt-- { body }`.
func (f *fn) loop(cnt G, body func()) {
	top, done := f.newLabel("loop"), f.newLabel("done")
	f.op("CBZ %s, %s", cnt, done)
	f.label(top)
	body()
	f.op("SUBS $1, %s, %s", cnt, cnt)
	f.op("BNE %s", top)
	f.label(done)
}

func log2(n int) int {
	if n <= 0 || n&(n-1) != 0 {
		panic(fmt.Sprintf("arm64 gen: %d is not a power of two", n))
	}
	return bits.TrailingZeros(uint(n))
}

// stream emits the vector part of a loop over n elements: blocks of unroll
// four-lane vectors, then single vectors. body(v) emits the work for v vectors
// (4v elements) and advances the pointers. The n%4 elements left are the caller's.
func (f *fn) stream(n, cnt G, unroll int, body func(vecs int)) {
	f.op("LSR $%d, %s, %s", log2(4*unroll), n, cnt)
	f.loop(cnt, func() { body(unroll) })
	if unroll > 1 {
		f.op("UBFX $2, %s, $%d, %s", n, log2(unroll), cnt)
		f.loop(cnt, func() { body(1) })
	}
}

// scalarTail emits the loop over the last n%4 elements, one at a time.
func (f *fn) scalarTail(n, cnt G, body func()) {
	f.op("AND $3, %s, %s", n, cnt)
	f.loop(cnt, body)
}

// partial dispatches on rem (0 to 3, in a register) to body(lanes) for a partial
// vector of that many lanes; rem = 0 emits nothing.
func (f *fn) partial(rem G, body func(lanes int)) {
	done, one, two := f.newLabel("part"), f.newLabel("part"), f.newLabel("part")
	f.op("CBZ %s, %s", rem, done)
	f.op("CMP $2, %s", rem)
	f.op("BLT %s", one)
	f.op("BEQ %s", two)
	body(3)
	f.op("B %s", done)
	f.label(two)
	body(2)
	f.op("B %s", done)
	f.label(one)
	body(1)
	f.label(done)
}

// loadLanes loads `lanes` consecutive floats from p into the first lanes of v,
// advancing p past them; the other lanes keep their contents.
func (f *fn) loadLanes(p G, v V, lanes int) {
	for l := range lanes {
		f.op("VLD1.P 4(%s), %s", p, v.S(l))
	}
}

// storeLanes stores the first `lanes` lanes of v at p, advancing p past them.
func (f *fn) storeLanes(v V, p G, lanes int) {
	for l := range lanes {
		f.op("VST1.P %s, 4(%s)", v.S(l), p)
	}
}

// reduceSum adds the vectors of acc (a power of two of them) and leaves the total in
// lane 0 of acc[0] (F register acc[0]).
func (f *fn) reduceSum(acc []V) {
	for len(acc) > 1 {
		h := len(acc) / 2
		for i := range h {
			f.fadd(acc[i+h], acc[i], acc[i])
		}
		acc = acc[:h]
	}
	f.faddp(acc[0], acc[0], acc[0])
	f.faddpScalar(acc[0], acc[0])
}

// sum4 leaves in d the four horizontal sums of a, b, c, e (lane i = sum of the i-th).
func (f *fn) sum4(a, b, c, e, t, d V) {
	f.faddp(b, a, d)
	f.faddp(e, c, t)
	f.faddp(t, d, d)
}

// regs returns n consecutive registers from first.
func regs(first V, n int) []V {
	r := make([]V, n)
	for i := range r {
		r[i] = first + V(i)
	}
	return r
}
