package fuzz_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
)

// FuzzGemmNTBF16 and FuzzGemmNNAddBF16 check the bfloat16 GEMMs of every Level
// against the exact sum of the products the reference forms (each exact in float32,
// or infinite where it overflows), with the stated bound: γ(k+1)·Σ|terms| + k·2^-126.
// The operands are the fuzz values rounded with F32ToBF16DAZ (no subnormals); c, for
// GemmNNAddBF16, starts from fuzz values too. The reference runs through the same
// check, so the bound holds for it as well.
func FuzzGemmNTBF16(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzNarrowGemm(t, data, false, bf16Gemm) })
}

func FuzzGemmNNAddBF16(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzNarrowGemm(t, data, true, bf16Gemm) })
}

func bf16Of(x []float32) []uint16 {
	h := make([]uint16, len(x))
	mlasimd.F32ToBF16DAZ(h, x)
	return h
}

func bf16Val(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// narrowGemmFns are a bfloat16 A times a B of E: c = A Bᵀ and c += A B.
type narrowGemmFns[E uint16 | byte] [2]func(c []float32, a []uint16, b []E, m, n, k, lda, ldb int)

// narrowGemm describes the GEMMs of a bfloat16 A with a B of E for fuzzNarrowGemm.
type narrowGemm[E uint16 | byte] struct {
	names [2]string
	round func([]float32) []E // fuzz values to B's elements
	value func(E) float32
	place func(r *testutil.Region, n int, p testutil.Place, v []E) []E
	size  int // bytes per element of B
	ref   narrowGemmFns[E]
	level func(k *mlasimd.Kernels) narrowGemmFns[E]
}

var bf16Gemm = narrowGemm[uint16]{names: [2]string{"GemmNTBF16", "GemmNNAddBF16"}, round: bf16Of, value: bf16Val, size: 2,
	place: func(r *testutil.Region, n int, p testutil.Place, v []uint16) []uint16 { return r.U16(n, p, v) },
	ref:   narrowGemmFns[uint16]{kernels.GemmNTBF16, kernels.GemmNNAddBF16},
	level: func(k *mlasimd.Kernels) narrowGemmFns[uint16] {
		return narrowGemmFns[uint16]{k.GemmNTBF16, k.GemmNNAddBF16}
	}}

// fuzzNarrowGemm checks g's c = A Bᵀ (or c += A B when nn) on the reference and every
// Level against the exact sum with GemmNTBF16's bound.
func fuzzNarrowGemm[E uint16 | byte](t *testing.T, data []byte, nn bool, g narrowGemm[E]) {
	in := &input{b: data}
	m, n, k, lda, ldb, p := gemm(in)
	which, bRows, bCols := 0, n, k
	if nn {
		k %= 200
		lda = k + lda%5
		which, bRows, bCols = 1, k, n
	}
	name := g.names[which]
	ldb += bCols
	av, bv := bf16Of(in.values(testutil.MatLen(m, k, lda))), g.round(in.values(testutil.MatLen(bRows, bCols, ldb)))
	var c0 []float32
	if nn {
		c0 = in.values(m * n)
	}
	b := func(j, q int) E { // B's factor of term q of c[.][j]
		if nn {
			return bv[q*ldb+j]
		}
		return bv[j*ldb+q]
	}
	rc, ra, rb := testutil.NewRegion(t, 4*m*n), testutil.NewRegion(t, 2*len(av)), testutil.NewRegion(t, g.size*len(bv))
	run := func(im string, f func(c []float32, a []uint16, b []E, m, n, k, lda, ldb int)) {
		c := rc.F32(m*n, p, c0)
		f(c, ra.U16(len(av), p, av), g.place(rb, len(bv), p, bv), m, n, k, lda, ldb)
		for i := range m {
			for j := range n {
				var sum, mag float64
				if nn {
					sum, mag = float64(c0[i*n+j]), math.Abs(float64(c0[i*n+j]))
				}
				for q := range k {
					v := float64(bf16Val(av[i*lda+q]) * g.value(b(j, q))) // exact, or ±Inf, or NaN
					sum += v
					mag += math.Abs(v)
				}
				bound := testutil.Gamma(k+1)*mag + float64(k)*0x1p-126
				if !testutil.Close(c[i*n+j], sum, bound) {
					t.Fatalf("%s: %s m=%d n=%d k=%d lda=%d ldb=%d (%d,%d): got %v, want %v ± %v", im, name, m, n, k, lda, ldb, i, j, c[i*n+j], sum, bound)
				}
			}
		}
		if !rc.UntouchedF32(c) {
			t.Fatalf("%s: %s wrote outside c", im, name)
		}
	}
	run("reference", g.ref[which])
	for _, im := range impls(t) {
		run(im.name, g.level(im.k)[which])
	}
}
