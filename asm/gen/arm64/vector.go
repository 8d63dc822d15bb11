package main

// The streaming kernels. Reductions run eight accumulators over 32 floats per
// iteration (eight independent FMLA chains cover the FMLA latency on two or more
// pipes); elementwise kernels take 16 floats per iteration. Then four-lane steps,
// then at most three scalar elements.

func (e *emitter) dot() {
	f := e.begin("dot")
	const a, n, b, cnt G = 0, 1, 2, 3
	f.base("a", a)
	f.length("a", n)
	f.base("b", b)
	f.reduction(n, cnt, func(vecs int, acc []V) {
		f.load4s(a, 0, vecs)
		f.load4s(b, 8, vecs)
		for u := range vecs {
			f.op("VFMLA %s, %s, %s", V(8+u).S4(), V(u).S4(), acc[u].S4())
		}
	}, func() {
		f.op("FMOVS.P 4(%s), F0", a)
		f.op("FMOVS.P 4(%s), F1", b)
		f.op("FMADDS F1, F16, F0, F16")
	})
}

func (e *emitter) sum() {
	f := e.begin("sum")
	const x, n, cnt G = 0, 1, 2
	f.base("x", x)
	f.length("x", n)
	f.reduction(n, cnt, func(vecs int, acc []V) {
		f.load4s(x, 0, vecs)
		for u := range vecs {
			f.fadd(V(u), acc[u], acc[u])
		}
	}, func() {
		f.op("FMOVS.P 4(%s), F0", x)
		f.op("FADDS F0, F16, F16")
	})
}

func (e *emitter) sumSqDiff() {
	f := e.begin("sumSqDiff")
	const x, n, cnt G = 0, 1, 2
	const mean V = 31
	f.base("x", x)
	f.length("x", n)
	f.splat("mean", mean)
	f.reduction(n, cnt, func(vecs int, acc []V) {
		f.load4s(x, 0, vecs)
		for u := range vecs {
			f.fsub(mean, V(u), V(u))
		}
		for u := range vecs {
			f.op("VFMLA %s, %s, %s", V(u).S4(), V(u).S4(), acc[u].S4())
		}
	}, func() {
		f.op("FMOVS.P 4(%s), F0", x)
		f.op("FSUBS F31, F0, F0")
		f.op("FMADDS F0, F16, F0, F16")
	})
}

// reduction emits what the reductions share: eight accumulators V16-V23 that body
// adds one stream step of vecs vectors into, their sum in F16, the scalar tail
// (which adds into F16) and the return of F16.
func (f *fn) reduction(n, cnt G, body func(vecs int, acc []V), tail func()) {
	acc := regs(16, 8)
	f.zero(acc...)
	f.stream(n, cnt, 8, func(vecs int) { body(vecs, acc) })
	f.reduceSum(acc)
	f.scalarTail(n, cnt, tail)
	f.ret(16)
}

// load4s loads vecs (1 to 8) vectors of floats from p, post-incrementing it, into
// consecutive registers from first.
func (f *fn) load4s(p G, first V, vecs int) {
	for g := 0; g < vecs; g += 4 {
		k := min(4, vecs-g)
		f.op("VLD1.P %d(%s), %s", 16*k, p, list(first+V(g), k, "S4"))
	}
}

// store4s stores vecs vectors from consecutive registers at p, post-incrementing it.
func (f *fn) store4s(first V, p G, vecs int) {
	for g := 0; g < vecs; g += 4 {
		k := min(4, vecs-g)
		f.op("VST1.P %s, %d(%s)", list(first+V(g), k, "S4"), 16*k, p)
	}
}

// loadInPlace loads up to four vectors from p without moving it, for a
// read-modify-write whose store advances p.
func (f *fn) loadInPlace(p G, first V, vecs int) {
	f.op("VLD1 (%s), %s", p, list(first, vecs, "S4"))
}

func (e *emitter) axpy() {
	f := e.begin("axpy")
	const x, n, y, cnt G = 0, 1, 2, 3
	const alpha V = 31
	f.splat("alpha", alpha)
	f.base("x", x)
	f.length("x", n)
	f.base("y", y)
	f.stream(n, cnt, 4, func(vecs int) {
		f.load4s(x, 0, vecs)
		f.loadInPlace(y, 4, vecs)
		for u := range vecs {
			f.op("VFMLA %s, %s, %s", V(u).S4(), alpha.S4(), V(4+u).S4())
		}
		f.store4s(4, y, vecs)
	})
	f.scalarTail(n, cnt, func() {
		f.op("FMOVS.P 4(%s), F0", x)
		f.op("FMOVS (%s), F1", y)
		f.op("FMADDS F0, F1, F31, F1")
		f.op("FMOVS.P F1, 4(%s)", y)
	})
	f.op("RET")
}

func (e *emitter) scale() {
	f := e.begin("scale")
	const x, n, cnt G = 0, 1, 2
	const s V = 31
	f.base("x", x)
	f.length("x", n)
	f.splat("s", s)
	f.stream(n, cnt, 4, func(vecs int) {
		f.loadInPlace(x, 0, vecs)
		for u := range vecs {
			f.fmul(s, V(u), V(u))
		}
		f.store4s(0, x, vecs)
	})
	f.scalarTail(n, cnt, func() {
		f.op("FMOVS (%s), F0", x)
		f.op("FMULS F31, F0, F0")
		f.op("FMOVS.P F0, 4(%s)", x)
	})
	f.op("RET")
}

func (e *emitter) scaleMul() {
	f := e.begin("scaleMul")
	const dst, x, n, w, cnt G = 0, 1, 2, 3, 4
	const r V = 31
	f.base("dst", dst)
	f.base("x", x)
	f.length("x", n)
	f.base("w", w)
	f.splat("r", r)
	f.stream(n, cnt, 4, func(vecs int) {
		f.load4s(x, 0, vecs)
		f.load4s(w, 4, vecs)
		for u := range vecs {
			f.fmul(r, V(u), V(u))
		}
		for u := range vecs {
			f.fmul(V(4+u), V(u), V(u))
		}
		f.store4s(0, dst, vecs)
	})
	f.scalarTail(n, cnt, func() {
		f.op("FMOVS.P 4(%s), F0", x)
		f.op("FMOVS.P 4(%s), F1", w)
		f.op("FMULS F31, F0, F0")
		f.op("FMULS F1, F0, F0")
		f.op("FMOVS.P F0, 4(%s)", dst)
	})
	f.op("RET")
}

func (e *emitter) affine() {
	f := e.begin("affine")
	const dst, x, n, w, b, nb, cnt G = 0, 1, 2, 3, 4, 5, 6
	const mean, r V = 30, 31
	f.base("dst", dst)
	f.base("x", x)
	f.length("x", n)
	f.base("w", w)
	f.base("b", b)
	f.length("b", nb)
	f.splat("mean", mean)
	f.splat("r", r)
	noBias, done := f.newLabel("nobias"), f.newLabel("affine")
	f.op("CBZ %s, %s", nb, noBias)
	for _, bias := range []bool{true, false} {
		f.stream(n, cnt, 4, func(vecs int) {
			f.load4s(x, 0, vecs)
			f.load4s(w, 4, vecs)
			if bias {
				f.load4s(b, 8, vecs)
			}
			for u := range vecs {
				f.fsub(mean, V(u), V(u))
			}
			for u := range vecs {
				f.fmul(r, V(u), V(u))
			}
			out := V(0)
			for u := range vecs {
				if bias {
					f.op("VFMLA %s, %s, %s", V(4+u).S4(), V(u).S4(), V(8+u).S4())
					out = 8
				} else {
					f.fmul(V(4+u), V(u), V(u))
				}
			}
			f.store4s(out, dst, vecs)
		})
		f.scalarTail(n, cnt, func() {
			f.op("FMOVS.P 4(%s), F0", x)
			f.op("FMOVS.P 4(%s), F1", w)
			f.op("FSUBS F30, F0, F0")
			f.op("FMULS F31, F0, F0")
			if bias {
				f.op("FMOVS.P 4(%s), F2", b)
				f.op("FMADDS F1, F2, F0, F0")
			} else {
				f.op("FMULS F1, F0, F0")
			}
			f.op("FMOVS.P F0, 4(%s)", dst)
		})
		if bias {
			f.op("B %s", done)
			f.label(noBias)
		}
	}
	f.label(done)
	f.op("RET")
}
