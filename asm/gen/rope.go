package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// ropeHalf rotates the pairs (x[i], x[i+h]): lo' = lo*c - hi*s, hi' = lo*s + hi*c.
func (t target) ropeHalf() {
	t.begin("ropeHalf")
	lo := ptr("x")
	cs, h := slice("cos")
	sn := ptr("sin")
	hi := GP64()
	LEAQ(Mem{Base: lo, Index: h, Scale: 4}, hi)
	t.loop(h, 2, func(c chunk) {
		a := t.load(c, lo)
		b := t.load(c, hi)
		vc := t.operand(c, cs)
		vs := t.operand(c, sn)
		outLo := t.vec()
		VMULPS(vs, b, outLo)
		VFMSUB231PS(vc, a, outLo) // a*c - b*s
		outHi := t.vec()
		VMULPS(vs, a, outHi)
		VFMADD231PS(vc, b, outHi) // b*c + a*s, rounded as rope rounds the odd lane
		t.store(c, outLo, lo)
		t.store(c, outHi, hi)
	})
	ret()
}

// rope rotates the interleaved pairs (x[2i], x[2i+1]). One vector holds lanes/2
// pairs; their cos and sin are loaded as a half vector and duplicated per pair
// with VPERMPS, the pair is swapped with VPERMILPS, and VFMADDSUB231PS subtracts in
// the even lanes and adds in the odd ones:
//
//	x' = x*cos ∓ swap(x)*sin = (x0*c - x1*s, x1*c + x0*s)
func (t target) rope() {
	t.begin("rope")
	x, n := slice("x")
	cs := ptr("cos")
	sn := ptr("sin")
	dup := t.vec()
	VMOVUPS(t.pairIndex(), dup)
	t.loop(n, 2, func(c chunk) {
		v := t.load(c, x)
		// cos/sin index = x index / 2: the same idx register with half the scale.
		half := Mem{Base: nil, Index: c.idx, Scale: 2, Disp: c.u * t.lanes * 2}
		vc, vs := t.loadHalf(c, half, cs), t.loadHalf(c, half, sn)
		VPERMPS(vc, dup, vc)
		VPERMPS(vs, dup, vs)
		sw := t.vec()
		VPERMILPS(U8(0xb1), v, sw)
		VMULPS(vs, sw, sw)
		VFMADDSUB231PS(vc, v, sw)
		t.store(c, sw, x)
	})
	ret()
}

// pairIndex is the VPERMPS index vector 0,0,1,1,2,2,...
func (t target) pairIndex() Mem {
	key := "pairidx"
	name := "c_pairidx_" + string(rune('0'+t.lanes/8))
	if m, ok := constTables[key+t.isa.Name]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for i := range t.lanes {
		DATA(4*i, U32(i/2))
	}
	constTables[key+t.isa.Name] = m
	return m
}

// loadHalf loads lanes/2 floats of cos or sin for chunk c into the low half of a
// vector. For a tail of rem floats of x it loads rem/2 floats under a mask of its
// own, so it never reads past the end of cos.
func (t target) loadHalf(c chunk, m Mem, base Register) VecVirtual {
	m.Base = base
	v := t.vec()
	half := v.AsX()
	if t.zmm {
		half = v.AsY()
	}
	if c.m == nil {
		VMOVUPS(m, half)
		return v
	}
	pairs := GP64()
	MOVQ(c.m.rem, pairs)
	SHRQ(U8(1), pairs)
	pm := t.tailMask(pairs)
	if t.zmm {
		VMOVUPS_Z(m, pm.k, half)
	} else {
		VMASKMOVPS(m, pm.v.AsX(), half)
	}
	return v
}
