package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

// f32ToBF16DAZ narrows float32 to bfloat16 in integer arithmetic, the semantics of
// kernels.F32ToBF16DAZ bit for bit: round to nearest even (add 0x7fff plus the kept
// part's lowest bit, shift), a NaN made quiet (its top half with bit 6 set), and a
// result whose exponent field is zero (subnormal) flushed to the sign. VPMOVDW
// narrows the dwords to words; the tail's words are stored under the tail mask.
// AVX-512 only: AVX2 cannot store a partial vector of words.
func (t target) f32ToBF16DAZ() {
	t.begin("f32ToBF16DAZ")
	dst := ptr("dst")
	src, n := slice("src")
	one, round := t.splat("one_bits", 1), t.splat("bf16_round", 0x7fff)
	abs, inf := t.splat("abs_mask", 0x7fffffff), t.splat("inf_bits", 0x7f800000)
	quiet, exp, sign := t.splat("bf16_quiet", 0x40), t.splat("bf16_exp", 0x7f80), t.splat("bf16_sign", 0x8000)
	t.loop(n, 2, func(c chunk) {
		b := t.load(c, src)
		r, x, k2, k3 := ZMM(), ZMM(), K(), K()
		VPSRLD(U8(16), b, r)
		VPANDD(one, r, x)
		VPADDD(round, x, x)
		VPADDD(b, x, x)
		VPSRLD(U8(16), x, x)
		// NaN: |b| > Inf keeps its top half, quieted.
		VPANDD(abs, b, b)
		VPCMPUD(U8(6), inf, b, k2) // b > Inf, unsigned
		VPORD(quiet, r, r)
		VMOVDQA32(r, k2, x)
		// A zero exponent field keeps the sign only.
		VPTESTMD(exp, x, k3)
		VPANDD(sign, x, r)
		VMOVDQA32(x, k3, r)
		out := t.at(c, dst, 2)
		if c.m == nil {
			VPMOVDW(r, out)
		} else {
			VPMOVDW(r, c.m.k, out)
		}
	})
	ret()
}
