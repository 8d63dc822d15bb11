package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The streaming kernels: reductions (four accumulators, so four independent FMA
// chains hide the FMA latency) and elementwise updates.

func (t target) accumulators(n int) []VecVirtual {
	acc := make([]VecVirtual, n)
	for i := range acc {
		acc[i] = t.vec()
		t.zero(acc[i])
	}
	return acc
}

// reduceSum adds the accumulators and returns the scalar total in an XMM register.
func (t target) reduceSum(acc []VecVirtual) Register {
	for len(acc) > 1 {
		h := len(acc) / 2
		for i := range h {
			VADDPS(acc[i+h], acc[i], acc[i])
		}
		acc = acc[:h]
	}
	return t.hsum(acc[0])
}

func (t target) dot() {
	t.begin("dot")
	a, n := slice("a")
	b := ptr("b")
	acc := t.accumulators(4)
	t.loop(n, 4, func(c chunk) {
		va := t.load(c, a)
		VFMADD231PS(t.operand(c, b), va, acc[c.u])
	})
	Store(t.reduceSum(acc), ReturnIndex(0))
	ret()
}

func (t target) sum() {
	t.begin("sum")
	x, n := slice("x")
	acc := t.accumulators(4)
	t.loop(n, 4, func(c chunk) {
		VADDPS(t.operand(c, x), acc[c.u], acc[c.u])
	})
	Store(t.reduceSum(acc), ReturnIndex(0))
	ret()
}

func (t target) sumSqDiff() {
	t.begin("sumSqDiff")
	x, n := slice("x")
	mean := t.broadcastParam("mean")
	acc := t.accumulators(4)
	t.loop(n, 4, func(c chunk) {
		d := t.load(c, x)
		VSUBPS(mean, d, d)
		t.keepActive(c, d)
		VFMADD231PS(d, d, acc[c.u])
	})
	Store(t.reduceSum(acc), ReturnIndex(0))
	ret()
}

func (t target) axpy() {
	t.begin("axpy")
	alpha := t.broadcastParam("alpha")
	x, n := slice("x")
	y := ptr("y")
	t.loop(n, 4, func(c chunk) {
		vy := t.load(c, y)
		VFMADD231PS(t.operand(c, x), alpha, vy)
		t.store(c, vy, y)
	})
	ret()
}

func (t target) scale() {
	t.begin("scale")
	x, n := slice("x")
	s := t.broadcastParam("s")
	t.loop(n, 4, func(c chunk) {
		v := t.load(c, x)
		VMULPS(s, v, v)
		t.store(c, v, x)
	})
	ret()
}

func (t target) scaleMul() {
	t.begin("scaleMul")
	dst := ptr("dst")
	x, n := slice("x")
	w := ptr("w")
	r := t.broadcastParam("r")
	t.loop(n, 2, func(c chunk) {
		v := t.load(c, x)
		VMULPS(r, v, v)
		VMULPS(t.operand(c, w), v, v)
		t.store(c, v, dst)
	})
	ret()
}

func (t target) affine() {
	t.begin("affine")
	dst := ptr("dst")
	x, n := slice("x")
	w := ptr("w")
	b, nb := slice("b")
	mean := t.broadcastParam("mean")
	r := t.broadcastParam("r")
	noBias, done := label("nobias"), label("affine_done")
	TESTQ(nb, nb)
	JZ(LabelRef(noBias))
	for _, bias := range []bool{true, false} {
		t.loop(n, 2, func(c chunk) {
			v := t.load(c, x)
			VSUBPS(mean, v, v)
			VMULPS(r, v, v)
			if bias {
				vb := t.load(c, b)
				VFMADD231PS(t.operand(c, w), v, vb)
				v = vb
			} else {
				VMULPS(t.operand(c, w), v, v)
			}
			t.store(c, v, dst)
		})
		if bias {
			JMP(LabelRef(done))
			Label(noBias)
		}
	}
	Label(done)
	ret()
}
