package main

import (
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd/internal/spec"
)

// The vectorized exponential shared by Exp and Softmax: the algorithm and constants
// of internal/spec, as in the amd64 generator. Inputs below spec.ExpCutoff give
// exactly 0 (FCMGT mask, cleared with BIC); NaN stays NaN because FMIN/FMAX return
// NaN when either operand is NaN and FCMGT is false for it.
//
// The scalar constants live as lanes of three registers and are used through the
// by-element FMUL/FMLA/FMLS forms or broadcast with DUP, which leaves registers for
// four vectors in flight.

// expConsts is the table loaded into k0, k1, k2 (lane by lane).
var expConsts = []struct {
	v    float64
	name string
}{
	{math.Log2E, "log2(e)"}, {spec.Ln2Hi, "ln2 high"}, {spec.Ln2Lo, "ln2 low"}, {spec.ExpPoly[0], "p0"},
	{spec.ExpPoly[1], "p1"}, {spec.ExpPoly[2], "p2"}, {spec.ExpPoly[3], "p3"}, {spec.ExpPoly[4], "p4"},
	{spec.ExpPoly[5], "p5"}, {1, "1"}, {spec.ExpCutoff, "cutoff"}, {spec.ExpClamp, "clamp"},
}

// expRegs are the exp kernels' constant registers: the packed lanes and three
// full vectors.
type expRegs struct{ k0, k1, k2, cut, hi, one V }

var expK = expRegs{k0: 24, k1: 25, k2: 26, cut: 27, hi: 28, one: 29}

func (e *emitter) declareExpTable() {
	for i, c := range expConsts {
		fmt.Fprintf(&e.data, "DATA expconst<>+%d(SB)/4, $0x%08x // %s\n", 4*i, math.Float32bits(float32(c.v)), c.name)
	}
	fmt.Fprintf(&e.data, "GLOBL expconst<>(SB), RODATA|NOPTR, $%d\n", 4*len(expConsts))
}

// loadExpConsts fills the constant registers (tmp is a scratch GP register).
func (f *fn) loadExpConsts(tmp G) {
	k := expK
	f.op("MOVD $expconst<>(SB), %s", tmp)
	f.op("VLD1 (%s), [%s, %s, %s]", tmp, k.k0.S4(), k.k1.S4(), k.k2.S4())
	f.op("VDUP %s, %s", k.k2.S(1), k.one.S4())
	f.op("VDUP %s, %s", k.k2.S(2), k.cut.S4())
	f.op("VDUP %s, %s", k.k2.S(3), k.hi.S4())
}

// expVecs replaces each V(u), u in us, by e^V(u). Vector u uses V(u) and the
// scratch registers V(4+u), V(8+u), V(12+u), V(16+u); the steps are interleaved
// across the vectors.
func (f *fn) expVecs(us []int) {
	k := expK
	each := func(step func(v, lt, n, p, q V)) {
		for _, u := range us {
			step(V(u), V(4+u), V(8+u), V(12+u), V(16+u))
		}
	}
	each(func(v, lt, n, p, q V) { f.fcmgt(v, k.cut, lt) }) // lt = cutoff > v
	each(func(v, lt, n, p, q V) { f.fmin(k.hi, v, v) })
	each(func(v, lt, n, p, q V) { f.fmax(k.cut, v, v) })
	each(func(v, lt, n, p, q V) { f.fmulElem(k.k0, 0, v, n) }) // x*log2(e)
	each(func(v, lt, n, p, q V) { f.frintn(n, n) })
	each(func(v, lt, n, p, q V) { f.fmlsElem(k.k0, 1, n, v) }) // r = x - n*ln2hi
	each(func(v, lt, n, p, q V) { f.fmlsElem(k.k0, 2, n, v) }) //     - n*ln2lo
	each(func(v, lt, n, p, q V) { f.fcvtzs(n, n) })
	each(func(v, lt, n, p, q V) { f.op("VDUP %s, %s", k.k1.S(0), q.S4()) })
	each(func(v, lt, n, p, q V) { f.fmlaElem(k.k0, 3, v, q) }) // q = p1 + r*p0
	// Horner: P = ((((p0 r + p1) r + p2) r + p3) r + p4) r + p5.
	coef := []struct {
		reg  V
		lane int
	}{{k.k1, 1}, {k.k1, 2}, {k.k1, 3}, {k.k2, 0}}
	for i, c := range coef {
		each(func(v, lt, n, p, q V) {
			src, dst := q, p
			if i%2 == 1 {
				src, dst = p, q
			}
			f.op("VDUP %s, %s", c.reg.S(c.lane), dst.S4())
			f.op("VFMLA %s, %s, %s", src.S4(), v.S4(), dst.S4())
		})
	}
	// P is in q. e^r = 1 + r + r²·P.
	each(func(v, lt, n, p, q V) { f.fmul(v, v, p) })
	each(func(v, lt, n, p, q V) { f.op("VFMLA %s, %s, %s", q.S4(), p.S4(), v.S4()) })
	each(func(v, lt, n, p, q V) { f.fadd(k.one, v, v) })
	// 2^n = 2^h · 2^(n-h), h = n>>1; each factor's bits are (e+127)<<23 = e<<23 + bits(1.0).
	each(func(v, lt, n, p, q V) { f.sshr(1, n, p) })
	each(func(v, lt, n, p, q V) { f.op("VSUB %s, %s, %s", p.S4(), n.S4(), n.S4()) })
	each(func(v, lt, n, p, q V) { f.op("VSHL $23, %s, %s", p.S4(), p.S4()) })
	each(func(v, lt, n, p, q V) { f.op("VSHL $23, %s, %s", n.S4(), n.S4()) })
	each(func(v, lt, n, p, q V) { f.op("VADD %s, %s, %s", k.one.S4(), p.S4(), p.S4()) })
	each(func(v, lt, n, p, q V) { f.op("VADD %s, %s, %s", k.one.S4(), n.S4(), n.S4()) })
	each(func(v, lt, n, p, q V) { f.fmul(p, v, v) })
	each(func(v, lt, n, p, q V) { f.fmul(n, v, v) })
	each(func(v, lt, n, p, q V) { f.bic(lt, v, v) }) // below the cutoff: +0
}

func (e *emitter) exp() {
	f := e.begin("exp")
	const dst, x, n, cnt, tmp G = 0, 1, 2, 3, 4
	f.base("dst", dst)
	f.base("x", x)
	f.length("x", n)
	f.loadExpConsts(tmp)
	f.stream(n, cnt, 4, func(vecs int) {
		f.load4s(x, 0, vecs)
		f.expVecs(seq(vecs))
		f.store4s(0, dst, vecs)
	})
	f.op("AND $3, %s, %s", n, cnt)
	f.partial(cnt, func(lanes int) {
		f.loadLanes(x, 0, lanes)
		f.expVecs(seq(1))
		f.storeLanes(0, dst, lanes)
	})
	f.op("RET")
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// maxScaled returns max(x[i]*s), the first pass of Softmax. FMAX returns NaN when
// either operand is NaN, so a NaN anywhere makes the maximum NaN (and the whole
// softmax row NaN, as kernels.Softmax has it).
func (e *emitter) maxScaled() {
	f := e.begin("maxScaled")
	const x, n, cnt, tmp G = 0, 1, 2, 3
	const s V = 31
	f.base("x", x)
	f.length("x", n)
	f.splat("s", s)
	acc := regs(16, 4)
	f.op("MOVW $0xff800000, %s", tmp)
	for _, a := range acc {
		f.op("VDUP %s, %s", tmp, a.S4())
	}
	f.stream(n, cnt, 4, func(vecs int) {
		f.load4s(x, 0, vecs)
		for u := range vecs {
			f.fmul(s, V(u), V(u))
		}
		for u := range vecs {
			f.fmax(V(u), acc[u], acc[u])
		}
	})
	f.fmax(acc[2], acc[0], acc[0])
	f.fmax(acc[3], acc[1], acc[1])
	f.fmax(acc[1], acc[0], acc[0])
	f.fmaxv(acc[0], acc[0])
	f.scalarTail(n, cnt, func() {
		f.op("FMOVS.P 4(%s), F0", x)
		f.op("FMULS F31, F0, F0")
		f.op("FMAXS F0, F16, F16")
	})
	f.ret(16)
}

// expSum computes x[i] = e^(x[i]*s - m) and returns their sum, the second pass of
// Softmax. The product is rounded before the subtraction, as in kernels.Softmax.
func (e *emitter) expSum() {
	f := e.begin("expSum")
	const x, n, cnt, tmp G = 0, 1, 2, 3
	const s, m V = 30, 31
	acc := []V{20, 21}
	f.base("x", x)
	f.length("x", n)
	f.splat("s", s)
	f.splat("m", m)
	f.loadExpConsts(tmp)
	f.zero(acc...)
	f.stream(n, cnt, 4, func(vecs int) {
		f.loadInPlace(x, 0, vecs)
		for u := range vecs {
			f.fmul(s, V(u), V(u))
		}
		for u := range vecs {
			f.fsub(m, V(u), V(u))
		}
		f.expVecs(seq(vecs))
		for u := range vecs {
			f.fadd(V(u), acc[u%2], acc[u%2])
		}
		f.store4s(0, x, vecs)
	})
	f.op("AND $3, %s, %s", n, cnt)
	f.op("MOVD %s, %s", x, tmp)
	f.partial(cnt, func(lanes int) {
		f.loadLanes(x, 0, lanes)
		f.fmul(s, 0, 0)
		f.fsub(m, 0, 0)
		f.expVecs(seq(1))
		for l := lanes; l < 4; l++ {
			f.op("VMOV ZR, %s", V(0).S(l)) // lanes past the end do not count
		}
		f.fadd(0, acc[0], acc[0])
		f.storeLanes(0, tmp, lanes)
	})
	f.reduceSum(acc)
	f.ret(acc[0])
}
