package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"

	"github.com/mlasimd/mlasimd/internal/spec"
)

// The vectorized exponential shared by Exp and Softmax: the algorithm and constants
// of internal/spec (range reduction by ln 2, Cephes' polynomial, 2^n in two halves,
// exactly 0 below spec.ExpCutoff). The clamps keep NaN: it is the second source
// operand of VMINPS/VMAXPS, which return that operand when either is NaN.

func f32bits(f float64) uint32 { return math.Float32bits(float32(f)) }

// expVec replaces v by e^v.
func (t target) expVec(v VecVirtual) {
	// keep = !(v < cutoff), true for NaN (predicate NLT_US): in a vector for AVX2, in
	// an opmask for AVX-512.
	var keep Register
	if t.zmm {
		keep = K()
	} else {
		keep = t.vec()
	}
	VCMPPS(U8(5), t.splat("expcut", f32bits(spec.ExpCutoff)), v, keep)
	x, lo := t.vec(), t.vec()
	VMOVUPS(t.splat("exphi", f32bits(spec.ExpClamp)), x)
	VMINPS(v, x, x) // v is the second source: a NaN v is kept
	VMOVUPS(t.splat("expcut", f32bits(spec.ExpCutoff)), lo)
	VMAXPS(x, lo, x)
	fn := t.vec()
	VMULPS(t.splat("log2e", f32bits(math.Log2E)), x, fn)
	if t.zmm {
		VRNDSCALEPS(U8(0), fn, fn)
	} else {
		VROUNDPS(U8(0), fn, fn)
	}
	VFNMADD231PS(t.splat("ln2hi", f32bits(spec.Ln2Hi)), fn, x)
	VFNMADD231PS(t.splat("ln2lo", f32bits(spec.Ln2Lo)), fn, x)
	p := t.vec()
	VMOVUPS(t.splat("expp0", f32bits(spec.ExpPoly[0])), p)
	for i, c := range spec.ExpPoly[1:] {
		VFMADD213PS(t.splat("expp"+string(rune('1'+i)), f32bits(c)), x, p)
	}
	r2 := t.vec()
	VMULPS(x, x, r2)
	VFMADD213PS(x, r2, p)
	VADDPS(t.splat("one", f32bits(1)), p, p)
	n := t.vec()
	VCVTPS2DQ(fn, n)
	half := t.vec()
	VPSRAD(U8(1), n, half)
	VPSUBD(half, n, n)
	bias := t.splat("i127", 127)
	VPADDD(bias, half, half)
	VPADDD(bias, n, n)
	VPSLLD(U8(23), half, half)
	VPSLLD(U8(23), n, n)
	VMULPS(half, p, p)
	VMULPS(n, p, p)
	if t.zmm {
		VMOVAPS_Z(p, keep, v)
	} else {
		VANDPS(keep, p, v)
	}
}

func (t target) exp() {
	t.begin("exp")
	dst := ptr("dst")
	x, n := slice("x")
	t.loop(n, 2, func(c chunk) {
		v := t.load(c, x)
		t.expVec(v)
		t.store(c, v, dst)
	})
	ret()
}

// maxScaled returns max(x[i]*s), the first pass of Softmax. Masked-off tail lanes
// must not take part: they are replaced by -Inf before the max.
func (t target) maxScaled() {
	t.begin("maxScaled")
	x, n := slice("x")
	s := t.broadcastParam("s")
	negInf := t.splat("neginf", 0xff800000)
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = t.vec()
		VMOVUPS(negInf, acc[i])
	}
	t.loop(n, 4, func(c chunk) {
		v := t.vec()
		VMULPS(t.operand(c, x), s, v)
		switch {
		case c.m == nil:
			VMAXPS(v, acc[c.u], acc[c.u])
		case t.zmm:
			VMAXPS(v, acc[c.u], c.m.k, acc[c.u])
		default:
			ninf := t.vec()
			VMOVUPS(negInf, ninf)
			VBLENDVPS(c.m.v, v, ninf, v) // active lanes keep v, the others -Inf
			VMAXPS(v, acc[c.u], acc[c.u])
		}
	})
	VMAXPS(acc[2], acc[0], acc[0])
	VMAXPS(acc[3], acc[1], acc[1])
	VMAXPS(acc[1], acc[0], acc[0])
	Store(t.hmax(acc[0]), ReturnIndex(0))
	ret()
}

// expSum computes x[i] = e^(x[i]*s - m) and returns their sum, the second pass of
// Softmax.
func (t target) expSum() {
	t.begin("expSum")
	x, n := slice("x")
	s := t.broadcastParam("s")
	m := t.broadcastParam("m")
	acc := t.accumulators(2)
	t.loop(n, 2, func(c chunk) {
		v := t.load(c, x)
		// Round x*s before subtracting, as maxScaled rounded it: then the maximum
		// gives exactly 0 and no argument is positive (a fused x*s - m would leave
		// the product's rounding error, which overflows exp for huge inputs).
		VMULPS(s, v, v)
		VSUBPS(m, v, v)
		t.expVec(v)
		t.keepActive(c, v)
		VADDPS(v, acc[c.u], acc[c.u])
		t.store(c, v, x)
	})
	Store(t.reduceSum(acc), ReturnIndex(0))
	ret()
}
