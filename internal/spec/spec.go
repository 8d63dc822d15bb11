// Package spec is the contract of every assembly routine, written once: its name,
// Go signature, what each argument means, which ISAs have it and the CPU features
// its body needs there, and the constants that the generic kernels and every ISA's
// body share. The generators in asm/gen read it to write the TEXT blocks, the stubs
// and the Go wiring (primitives_gen.go, impl_<arch>.go); the root package's tests
// check the result against it. It imports nothing, so that the generator module can
// import it without the root package's dependencies.
package spec

import "strings"

// ISA is one assembly instruction set: a dispatch Level of the same name (the Go
// identifier in package dispatch), and the suffix of its TEXT symbols.
type ISA struct {
	Name string // dispatch.<Name>, and the routines' suffix: dotAVX2
	Arch string // GOARCH of its assembly file
}

var (
	AVX2   = ISA{Name: "AVX2", Arch: "amd64"}
	AVX512 = ISA{Name: "AVX512", Arch: "amd64"}
	NEON   = ISA{Name: "NEON", Arch: "arm64"}
)

// ISAs lists every ISA in the order the files present them.
var ISAs = []ISA{AVX2, AVX512, NEON}

// Arg is one parameter of a routine.
type Arg struct {
	Name    string
	Type    string // []float32, []uint16, []byte, float32 or int
	Meaning string
}

// Routine is one assembly routine. A Level whose ISA is absent from Needs lacks it:
// its primitives field is nil, and the root package's withFallbacks decides what
// runs instead.
type Routine struct {
	Name   string // the primitives field; the TEXT symbol is Name+ISA.Name
	Doc    string // one sentence, the stub's and TEXT block's doc comment
	Args   []Arg
	Result string // "" or float32
	// Needs is, per ISA that has the routine, the CPU features its body uses, as
	// avo's "// Requires:" line spells them (amd64) or "ASIMD" (arm64 baseline).
	Needs map[ISA][]string
}

// Has reports whether isa has the routine.
func (r Routine) Has(isa ISA) bool { _, ok := r.Needs[isa]; return ok }

// Params is the Go parameter list, consecutive arguments of one type grouped:
// "y, w, x []float32".
func (r Routine) Params() string {
	var b strings.Builder
	for i, a := range r.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.Name)
		if i == len(r.Args)-1 || r.Args[i+1].Type != a.Type {
			b.WriteString(" " + a.Type)
		}
	}
	return b.String()
}

// Signature is the Go function type: "func(y, w, x []float32)".
func (r Routine) Signature() string {
	s := "func(" + r.Params() + ")"
	if r.Result != "" {
		s += " " + r.Result
	}
	return s
}

// ForISA returns the routines isa has, in spec order.
func ForISA(isa ISA) []Routine {
	var out []Routine
	for _, r := range Routines {
		if r.Has(isa) {
			out = append(out, r)
		}
	}
	return out
}

// Lookup returns the routine called name.
func Lookup(name string) (Routine, bool) {
	for _, r := range Routines {
		if r.Name == name {
			return r, true
		}
	}
	return Routine{}, false
}

// The exponential shared by Exp and Softmax on every Level:
//
// e^x = 2^n · e^r with n = round(x·log2 e), ties to even, and r = x - n·ln 2 (ln 2
// split into Ln2Hi, exact in float32, and Ln2Lo), |r| <= ln2/2. e^r = 1 + r +
// r²·P(r) with Cephes' degree-5 minimax P (ExpPoly, highest degree first). 2^n is
// built in two halves, 2^(n>>1)·2^(n-(n>>1)), so that n = 128 overflows to +Inf
// through the multiply instead of wrapping the exponent field. Inputs below
// ExpCutoff give exactly 0 and inputs are clamped to [ExpCutoff, ExpClamp]; NaN
// stays NaN.
const (
	// ExpCutoff is the input below which e^x is exactly 0 (kernels.ExpCutoff):
	// e^ExpCutoff is just above the smallest normal float32 (2^-126), so no kernel
	// ever produces a subnormal, which some CPUs handle with slow microcode assists.
	ExpCutoff = -87.33
	// ExpClamp bounds the argument above: every x >= 88.73 overflows to +Inf anyway.
	ExpClamp = 89
	Ln2Hi    = 0.693359375
	Ln2Lo    = -2.12194440e-4
)

// ExpPoly is P's coefficients, highest degree first (evaluated by Horner's rule).
var ExpPoly = []float64{1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1}
