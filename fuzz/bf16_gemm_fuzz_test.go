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
	f.Fuzz(func(t *testing.T, data []byte) { fuzzGemmBF16(t, data, false) })
}

func FuzzGemmNNAddBF16(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzGemmBF16(t, data, true) })
}

func bf16Of(x []float32) []uint16 {
	h := make([]uint16, len(x))
	mlasimd.F32ToBF16DAZ(h, x)
	return h
}

func fuzzGemmBF16(t *testing.T, data []byte, nn bool) {
	in := &input{b: data}
	m, n, k, lda, ldb, p := gemm(in)
	name, bRows, bCols := "GemmNTBF16", n, k
	if nn {
		k %= 200
		lda = k + lda%5
		name, bRows, bCols = "GemmNNAddBF16", k, n
	}
	ldb += bCols
	av, bv := bf16Of(in.values(testutil.MatLen(m, k, lda))), bf16Of(in.values(testutil.MatLen(bRows, bCols, ldb)))
	var c0 []float32
	if nn {
		c0 = in.values(m * n)
	}
	b := func(j, q int) uint16 { // B's factor of term q of c[.][j]
		if nn {
			return bv[q*ldb+j]
		}
		return bv[j*ldb+q]
	}
	val := func(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
	rc, ra, rb := testutil.NewRegion(t, 4*m*n), testutil.NewRegion(t, 2*len(av)), testutil.NewRegion(t, 2*len(bv))
	run := func(im string, f func(c []float32, a, b []uint16, m, n, k, lda, ldb int)) {
		c := rc.F32(m*n, p, c0)
		f(c, ra.U16(len(av), p, av), rb.U16(len(bv), p, bv), m, n, k, lda, ldb)
		for i := range m {
			for j := range n {
				var sum, mag float64
				if nn {
					sum, mag = float64(c0[i*n+j]), math.Abs(float64(c0[i*n+j]))
				}
				for q := range k {
					v := float64(val(av[i*lda+q]) * val(b(j, q))) // exact, or ±Inf
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
	if nn {
		run("reference", kernels.GemmNNAddBF16)
	} else {
		run("reference", kernels.GemmNTBF16)
	}
	for _, im := range impls(t) {
		if nn {
			run(im.name, im.k.GemmNNAddBF16)
		} else {
			run(im.name, im.k.GemmNTBF16)
		}
	}
}
