package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The vectorized exponential shared by Exp and Softmax.
//
// e^x = 2^n · e^r with n = round(x·log2 e) and r = x - n·ln 2 (ln 2 split in a high
// part exact in float32 and a low part), |r| <= ln2/2. e^r = 1 + r + r²·P(r) with
// Cephes' degree-5 minimax P. 2^n is built in two halves, 2^(n>>1)·2^(n-(n>>1)), so
// that n = 128 (x up to 89) overflows to +Inf through the multiply instead of
// wrapping the exponent field. Inputs below kernels.ExpCutoff give exactly 0, so no
// subnormal is ever produced; the clamps keep NaN (it is the second source operand
// of VMINPS/VMAXPS, which return that operand when either is NaN).

const expCutoff = -87.33 // kernels.ExpCutoff

func f32bits(f float64) uint32 { return math.Float32bits(float32(f)) }

var expPoly = []float64{1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1}

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
	VCMPPS(U8(5), t.splat("expcut", f32bits(expCutoff)), v, keep)
	x, lo := t.vec(), t.vec()
	VMOVUPS(t.splat("exphi", f32bits(89)), x)
	VMINPS(v, x, x) // v is the second source: a NaN v is kept
	VMOVUPS(t.splat("expcut", f32bits(expCutoff)), lo)
	VMAXPS(x, lo, x)
	fn := t.vec()
	VMULPS(t.splat("log2e", f32bits(math.Log2E)), x, fn)
	if t.zmm {
		VRNDSCALEPS(U8(0), fn, fn)
	} else {
		VROUNDPS(U8(0), fn, fn)
	}
	VFNMADD231PS(t.splat("ln2hi", f32bits(0.693359375)), fn, x)
	VFNMADD231PS(t.splat("ln2lo", f32bits(-2.12194440e-4)), fn, x)
	p := t.vec()
	VMOVUPS(t.splat("expp0", f32bits(expPoly[0])), p)
	for i, c := range expPoly[1:] {
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
	t.begin("exp", "func(dst, x []float32)", "exp computes dst = e^x (see kernels.Exp); len(dst) >= len(x).")
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
	t.begin("maxScaled", "func(x []float32, s float32) float32", "maxScaled returns max(x[i]*s), or -Inf for an empty x.")
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
	t.begin("expSum", "func(x []float32, s, m float32) float32", "expSum computes x = e^(x*s - m) and returns the sum of the results.")
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
