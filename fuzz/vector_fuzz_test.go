package fuzz_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
)

const maxVec = 4096

func FuzzDot(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		n, p := in.intn(maxVec+1), in.place()
		av, bv := in.values(n), in.values(n)
		ra, rb := testutil.NewRegion(t, 4*n), testutil.NewRegion(t, 4*n)
		for _, im := range impls(t) {
			got := im.k.Dot(ra.F32(n, p, av), rb.F32(n, p, bv))
			if err := testutil.CheckDot(got, av, bv); err != nil {
				t.Fatalf("%s: Dot: %v", im.name, err)
			}
		}
		if err := testutil.CheckDot(kernels.Dot(ra.F32(n, p, av), rb.F32(n, p, bv)), av, bv); err != nil {
			t.Fatalf("kernels.Dot: %v", err)
		}
	})
}

func FuzzAxpy(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		n, p := in.intn(maxVec+1), in.place()
		alpha := in.scale()
		xv, yv := in.values(n), in.values(n)
		rx, ry := testutil.NewRegion(t, 4*n), testutil.NewRegion(t, 4*n)
		for _, im := range impls(t) {
			y := ry.F32(n, p, yv)
			im.k.Axpy(alpha, rx.F32(n, p, xv), y)
			if err := testutil.CheckAxpy(y, alpha, xv, yv); err != nil {
				t.Fatalf("%s: Axpy: %v", im.name, err)
			}
			if !ry.UntouchedF32(y) {
				t.Fatalf("%s: Axpy wrote outside y", im.name)
			}
		}
	})
}

func FuzzExp(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		n, p := in.intn(maxVec+1), in.place()
		xv := in.values(n)
		spread := float32(in.byte()) // Normal values are in ±4: widen them over the range
		for i := range xv {
			xv[i] *= spread / 4
		}
		rx, rd := testutil.NewRegion(t, 4*n), testutil.NewRegion(t, 4*n)
		for _, im := range impls(t) {
			d := rd.F32(n, p, nil)
			im.k.Exp(d, rx.F32(n, p, xv))
			for i := range d {
				if !testutil.ExpOK(d[i], xv[i]) {
					t.Fatalf("%s: Exp(%v) = %v, want %v", im.name, xv[i], d[i], testutil.ExpWant(xv[i]))
				}
			}
			if !rd.UntouchedF32(d) {
				t.Fatalf("%s: Exp wrote outside dst", im.name)
			}
		}
	})
}

func FuzzSoftmax(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSoftmax(t, data, false) })
}

func FuzzSoftmaxStats(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSoftmax(t, data, true) })
}

// fuzzSoftmax checks Softmax, or SoftmaxStats (the same row, and its max and sum)
// when stats is set.
func fuzzSoftmax(t *testing.T, data []byte, stats bool) {
	in := &input{b: data}
	n, p := in.intn(maxVec+1), in.place()
	xv := in.values(n)
	scale := in.scale()
	spread := float32(1 + in.byte())
	for i := range xv {
		xv[i] *= spread
	}
	r := testutil.NewRegion(t, 4*n)
	for _, im := range impls(t) {
		x := r.F32(n, p, xv)
		name := "Softmax"
		if stats {
			name = "SoftmaxStats"
			m, sum := im.k.SoftmaxStats(x, scale)
			if err := testutil.CheckSoftmaxStats(m, sum, xv, scale); err != nil {
				t.Fatalf("%s: SoftmaxStats: %v", im.name, err)
			}
		} else {
			im.k.Softmax(x, scale)
		}
		if err := testutil.CheckSoftmax(x, xv, scale); err != nil {
			t.Fatalf("%s: %s: %v", im.name, name, err)
		}
		if !r.UntouchedF32(x) {
			t.Fatalf("%s: %s wrote outside x", im.name, name)
		}
	}
}

func FuzzOnlineSoftmax(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		// Up to 4 rows (queries) of up to maxVec/4 scores; each state comes from the
		// same value classes, NaN and infinities included (an empty state has l = 0).
		rows, n, p := in.intn(5), in.intn(maxVec/4+1), in.place()
		xv, m0 := in.values(rows*n), in.values(rows)
		lv := in.values(rows)
		scale := in.scale()
		spread := float32(1 + in.byte())
		for i := range xv {
			xv[i] *= spread
		}
		l0 := make([]float32, rows)
		for i := range m0 {
			m0[i] *= spread
			if l0[i] = float32(math.Abs(float64(lv[i]))); math.IsInf(float64(m0[i]), -1) {
				l0[i] = 0 // an empty state
			}
		}
		r, rm, rl, rc := testutil.NewRegion(t, 4*rows*n), testutil.NewRegion(t, 4*rows), testutil.NewRegion(t, 4*rows), testutil.NewRegion(t, 4*rows)
		for _, im := range impls(t) {
			s := r.F32(rows*n, p, xv)
			m, l, carry := rm.F32(rows, p, m0), rl.F32(rows, p, l0), rc.F32(rows, p, nil)
			im.k.OnlineSoftmax(s, scale, m, l, carry)
			for i := range rows {
				if err := testutil.CheckOnlineSoftmax(s[i*n:(i+1)*n], m[i], l[i], carry[i], xv[i*n:(i+1)*n], scale, m0[i], l0[i]); err != nil {
					t.Fatalf("%s: OnlineSoftmax rows=%d n=%d row %d: %v", im.name, rows, n, i, err)
				}
			}
			if !r.UntouchedF32(s) || !rm.UntouchedF32(m) || !rl.UntouchedF32(l) || !rc.UntouchedF32(carry) {
				t.Fatalf("%s: OnlineSoftmax wrote outside s or its state", im.name)
			}
		}
	})
}

// fuzzRotation drives RoPE or RoPEHalf; pair(i) gives the indices of pair i.
func fuzzRotation(t *testing.T, data []byte, name string, pair func(i, h int) (int, int)) {
	in := &input{b: data}
	h, p := in.intn(maxVec/2+1), in.place()
	xv, th := in.values(2*h), in.values(h)
	cv, sv := make([]float32, h), make([]float32, h)
	for i, a := range th {
		cv[i], sv[i] = float32(math.Cos(float64(a))), float32(math.Sin(float64(a)))
	}
	rx, rc, rs := testutil.NewRegion(t, 8*h), testutil.NewRegion(t, 4*h), testutil.NewRegion(t, 4*h)
	for _, im := range impls(t) {
		x := rx.F32(2*h, p, xv)
		c, s := rc.F32(h, p, cv), rs.F32(h, p, sv)
		if name == "RoPE" {
			im.k.RoPE(x, c, s)
		} else {
			im.k.RoPEHalf(x, c, s)
		}
		for i := range h {
			lo, hi := pair(i, h)
			if err := testutil.CheckRotation(x[lo], xv[lo], xv[hi], cv[i], sv[i], -1); err != nil {
				t.Fatalf("%s: %s pair %d: %v", im.name, name, i, err)
			}
			if err := testutil.CheckRotation(x[hi], xv[lo], xv[hi], sv[i], cv[i], +1); err != nil {
				t.Fatalf("%s: %s pair %d: %v", im.name, name, i, err)
			}
		}
		if !rx.UntouchedF32(x) {
			t.Fatalf("%s: %s wrote outside x", im.name, name)
		}
	}
}

func FuzzRoPE(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRotation(t, data, "RoPE", func(i, h int) (int, int) { return 2 * i, 2*i + 1 })
	})
}

func FuzzRoPEHalf(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRotation(t, data, "RoPEHalf", func(i, h int) (int, int) { return i, i + h })
	})
}

func FuzzRMSNorm(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		n, p := in.intn(maxVec+1), in.place()
		xv, wv := in.values(n), finiteWeights(in.values(n))
		rd, rx, rw := testutil.NewRegion(t, 4*n), testutil.NewRegion(t, 4*n), testutil.NewRegion(t, 4*n)
		for _, im := range impls(t) {
			d := rd.F32(n, p, nil)
			im.k.RMSNorm(d, rx.F32(n, p, xv), rw.F32(n, p, wv), 1e-6)
			if err := testutil.CheckRMSNorm(d, xv, wv, 1e-6); err != nil {
				t.Fatalf("%s: RMSNorm: %v", im.name, err)
			}
			if !rd.UntouchedF32(d) {
				t.Fatalf("%s: RMSNorm wrote outside dst", im.name)
			}
		}
	})
}

func FuzzLayerNorm(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		n, p := in.intn(maxVec+1), in.place()
		xv, wv, bv := in.values(n), finiteWeights(in.values(n)), in.values(n)
		if in.byte()&1 == 1 {
			bv = nil
		}
		rd, rx, rw, rb := testutil.NewRegion(t, 4*n), testutil.NewRegion(t, 4*n), testutil.NewRegion(t, 4*n), testutil.NewRegion(t, 4*n)
		for _, im := range impls(t) {
			d := rd.F32(n, p, nil)
			im.k.LayerNorm(d, rx.F32(n, p, xv), rw.F32(n, p, wv), rb.Copy(p, bv), 1e-5)
			if err := testutil.CheckLayerNorm(d, xv, wv, bv, 1e-5); err != nil {
				t.Fatalf("%s: LayerNorm: %v", im.name, err)
			}
			if !rd.UntouchedF32(d) {
				t.Fatalf("%s: LayerNorm wrote outside dst", im.name)
			}
		}
	})
}

// finiteWeights replaces non-finite values by 1: norm weights are model parameters, and
// an infinite weight times an underflowed x·r is NaN in float32 but ±Inf in the oracle.
func finiteWeights(w []float32) []float32 {
	for i, v := range w {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			w[i] = 1
		}
	}
	return w
}
