package mlasimd

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/kernels"
)

// routines is one Level's kernels, one per Kernels method and with its semantics.
// They trust their arguments: every length has been checked by the Kernels method
// that calls them. An assembly Level's come from compose, which makes every
// size-dependent choice.
type routines struct {
	dot    func(a, b []float32) float32
	axpy   func(alpha float32, x, y []float32)
	gemv   func(y, w, x []float32)
	gemvT  func(y, w, x []float32)
	downUp func(y, latent, down, up, x []float32)
	gemmNT func(c, a, b []float32, m, n, k, lda, ldb int)
	// gemvBF16 and gemvF16 are gemv for a W of bfloat16 or IEEE half bits.
	gemvBF16 func(y []float32, w []uint16, x []float32)
	gemvF16  func(y []float32, w []uint16, x []float32)
	// gemvQ8_0 is gemv for a W in Q8_0 blocks (kernels.Q8_0Block).
	gemvQ8_0 func(y []float32, w []byte, x []float32)
	// gemvQ8_0Q8 is gemvQ8_0 for x a Q8 vector (kernels.QuantizeQ8Vector).
	gemvQ8_0Q8 func(y []float32, w []byte, xq []byte, xd []float32)
	// gemvTBF16, gemvTF16 and gemvTQ8_0 are gemvT for a W of bfloat16 or IEEE half
	// bits, or in Q8_0 blocks.
	gemvTBF16 func(y []float32, w []uint16, x []float32)
	gemvTF16  func(y []float32, w []uint16, x []float32)
	gemvTQ8_0 func(y []float32, w []byte, x []float32)
	// gemvE4M3 and gemvTE4M3 are gemv and gemvT for a W of FP8 E4M3 bytes.
	gemvE4M3 func(y []float32, w []byte, x []float32)
	// gemvE4M3Finite is gemvE4M3 for a W without NaN bytes.
	gemvE4M3Finite func(y []float32, w []byte, x []float32)
	gemvTE4M3      func(y []float32, w []byte, x []float32)
	// gemmNTPrefetch is gemmNT whose last block prefetches next.
	gemmNTPrefetch func(c, a, b, next []float32, m, n, k, lda, ldb int)
	gemmNN         func(c, a, b []float32, m, n, k, lda, ldb int)
	gemmNNAdd      func(c, a, b []float32, m, n, k, lda, ldb int) // c += A B
	exp            func(dst, x []float32)
	softmax        func(x []float32, scale float32) (max, sum float32)
	onlineSoftmax  func(s []float32, scale float32, m, l, carry []float32)
	rope           func(x, cos, sin []float32)
	ropeHalf       func(x, cos, sin []float32)
	rmsNorm        func(dst, x, weight []float32, eps float32)
	layerNorm      func(dst, x, weight, bias []float32, eps float32)
	f16ToF32       func(dst []float32, src []uint16)
	bf16ToF32      func(dst []float32, src []uint16)
	f32ToF16       func(dst []uint16, src []float32)
	f32ToBF16      func(dst []uint16, src []float32)

	// The narrow-type attention (attention_narrow.go).
	f32ToBF16DAZ      func(dst []uint16, src []float32)
	gemmNTBF16E4M3    func(c []float32, a []uint16, b []byte, m, n, k, lda, ldb int)
	gemmNNAddBF16E4M3 func(c []float32, a []uint16, b []byte, m, n, k, lda, ldb int)
	gemmNTBF16        func(c []float32, a, b []uint16, m, n, k, lda, ldb int)
	gemmNNAddBF16     func(c []float32, a, b []uint16, m, n, k, lda, ldb int)
	attnScoresI8      func(s []float32, q []byte, qs []float32, tiles []byte, scales []float32, m, n, w, split int)
	quantizeProbsI8   func(pq []byte, ps []float32, p []float32, scales []float32, m, n int)
	attnValuesI8      func(o []float32, pq []byte, ps []float32, tiles []byte, scales []float32, m, n, dv, w, split int)
}

// Kernels is the kernel table of one Level. Its methods check their arguments (a
// mismatch panics before any memory is touched) and run that Level's routines. Get
// one with Impl to run a particular Level; the package-level functions use the
// active one.
type Kernels struct {
	level dispatch.Level
	p     primitives // an assembly Level's routines, as registered (zero for Generic)
	r     routines
}

// Level returns the instruction-set level this table runs.
func (k *Kernels) Level() dispatch.Level { return k.level }

// rt returns the routines to run: the zero Kernels (never made by Impl) runs the
// generic Level, as its Level method reports, rather than calling nil functions.
func (k *Kernels) rt() *routines {
	if k.r.dot == nil {
		return &genericRoutines
	}
	return &k.r
}

// implemented holds every Level compiled into this build, registered by the
// per-architecture files' init functions.
var implemented = map[dispatch.Level]*Kernels{
	dispatch.Generic: {level: dispatch.Generic, r: genericRoutines},
}

// register adds assembly Level l with its routines; the generated impl_<arch>.go
// files call it from package variable initializers, which all run before init
// selects the active Level.
func register(l dispatch.Level, p primitives) bool {
	implemented[l] = &Kernels{level: l, p: p, r: p.compose()}
	return true
}

var (
	active       atomic.Pointer[Kernels]
	selectionErr error
)

func init() {
	levels := make([]dispatch.Level, 0, len(implemented))
	for l := range implemented {
		levels = append(levels, l)
	}
	l, err := dispatch.Detect(levels)
	if err != nil {
		selectionErr = err
		fmt.Fprintf(os.Stderr, "mlasimd: %v; using %s\n", err, l)
	}
	active.Store(implemented[l])
}

// SelectionError returns the error that MLASIMD_ISA caused at start-up, if any: an
// unknown name, or a Level this CPU or build cannot run. The package then runs the best
// available Level; programs that prefer to stop can check this.
func SelectionError() error { return selectionErr }

// Active returns the Level the package-level kernels run on.
func Active() dispatch.Level { return active.Load().level }

// Available lists the Levels this build implements and this CPU runs, best first.
func Available() []dispatch.Level {
	var out []dispatch.Level
	for _, l := range dispatch.HostFeatures().Supported() {
		if _, ok := implemented[l]; ok {
			out = append(out, l)
		}
	}
	return out
}

// Impl returns the kernel table of Level l, and false when this build does not
// implement l or this CPU cannot run it.
func Impl(l dispatch.Level) (*Kernels, bool) {
	k, ok := implemented[l]
	if !ok || !dispatch.HostFeatures().Supports(l) {
		return nil, false
	}
	return k, true
}

// Use makes Level l the active one and returns a function that restores the previous
// Level. It is meant for tests and benchmarks that compare Levels in one process
// (calls in flight on other goroutines finish on the Level they started with).
func Use(l dispatch.Level) (restore func(), err error) {
	k, ok := Impl(l)
	if !ok {
		return nil, fmt.Errorf("mlasimd: level %s is not available here (available: %v)", l, Available())
	}
	prev := active.Swap(k)
	return func() { active.Store(prev) }, nil
}

var genericRoutines = routines{
	dot: kernels.Dot, axpy: kernels.Axpy,
	gemv: kernels.Gemv, gemvT: kernels.GemvT, downUp: kernels.DownUp,
	gemvBF16: kernels.GemvBF16, gemvF16: kernels.GemvF16, gemvQ8_0: kernels.GemvQ8_0, gemvQ8_0Q8: kernels.GemvQ8_0Q8,
	gemvTBF16: kernels.GemvTBF16, gemvTF16: kernels.GemvTF16, gemvTQ8_0: kernels.GemvTQ8_0,
	gemvE4M3: kernels.GemvE4M3, gemvTE4M3: kernels.GemvTE4M3, gemvE4M3Finite: kernels.GemvE4M3,
	gemmNT: kernels.GemmNT, gemmNTPrefetch: genericGemmNTPrefetch, gemmNN: kernels.GemmNN, gemmNNAdd: kernels.GemmNNAdd,
	exp: kernels.Exp, softmax: kernels.SoftmaxStats, onlineSoftmax: kernels.OnlineSoftmax,
	rope: kernels.RoPE, ropeHalf: kernels.RoPEHalf,
	rmsNorm: kernels.RMSNorm, layerNorm: kernels.LayerNorm,
	f16ToF32: kernels.F16ToF32, bf16ToF32: kernels.BF16ToF32,
	f32ToF16: kernels.F32ToF16, f32ToBF16: kernels.F32ToBF16,
	gemmNTBF16: kernels.GemmNTBF16, gemmNNAddBF16: kernels.GemmNNAddBF16, f32ToBF16DAZ: kernels.F32ToBF16DAZ,
	gemmNTBF16E4M3: kernels.GemmNTBF16E4M3, gemmNNAddBF16E4M3: kernels.GemmNNAddBF16E4M3,
	attnScoresI8: kernels.AttnScoresI8, quantizeProbsI8: kernels.QuantizeProbsI8, attnValuesI8: kernels.AttnValuesI8,
}

// genericGemmNTPrefetch is GemmNT; portable Go has no prefetch to give.
func genericGemmNTPrefetch(c, a, b, _ []float32, m, n, k, lda, ldb int) {
	kernels.GemmNT(c, a, b, m, n, k, lda, ldb)
}

// withExtension returns body when this CPU has the extension feature (named as
// internal/spec.Extensions names it), else fallback: the generated registrations use
// it for a body that needs more than its Level guarantees.
func withExtension[F any](feature string, body, fallback F) F {
	if dispatch.HostFeatures().Has(feature) {
		return body
	}
	return fallback
}
