package fuzz_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
)

// FuzzGemmNTBF16E4M3 and FuzzGemmNNAddBF16E4M3 check the bfloat16 GEMMs with a B of
// FP8 E4M3 bytes as FuzzGemmNTBF16 checks GemmNTBF16: A is the fuzz values rounded
// with F32ToBF16DAZ, B the fuzz values rounded to E4M3 by e4m3FromValues (NaN bytes,
// ±448, subnormals and zeros among them), the bound γ(k+1)·Σ|terms| + k·2^-126
// around the exact sum of the exact products.
func FuzzGemmNTBF16E4M3(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzGemmBF16E4M3(t, data, false) })
}

func FuzzGemmNNAddBF16E4M3(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzGemmBF16E4M3(t, data, true) })
}

func fuzzGemmBF16E4M3(t *testing.T, data []byte, nn bool) {
	in := &input{b: data}
	m, n, k, lda, ldb, p := gemm(in)
	name, bRows, bCols := "GemmNTBF16E4M3", n, k
	if nn {
		k %= 200
		lda = k + lda%5
		name, bRows, bCols = "GemmNNAddBF16E4M3", k, n
	}
	ldb += bCols
	av, bv := bf16Of(in.values(testutil.MatLen(m, k, lda))), e4m3FromValues(in.values(testutil.MatLen(bRows, bCols, ldb)))
	var c0 []float32
	if nn {
		c0 = in.values(m * n)
	}
	b := func(j, q int) byte { // B's factor of term q of c[.][j]
		if nn {
			return bv[q*ldb+j]
		}
		return bv[j*ldb+q]
	}
	val := func(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }
	rc, ra, rb := testutil.NewRegion(t, 4*m*n), testutil.NewRegion(t, 2*len(av)), testutil.NewRegion(t, len(bv))
	run := func(im string, f func(c []float32, a []uint16, b []byte, m, n, k, lda, ldb int)) {
		c := rc.F32(m*n, p, c0)
		f(c, ra.U16(len(av), p, av), rb.Bytes(len(bv), p, bv), m, n, k, lda, ldb)
		for i := range m {
			for j := range n {
				var sum, mag float64
				if nn {
					sum, mag = float64(c0[i*n+j]), math.Abs(float64(c0[i*n+j]))
				}
				for q := range k {
					v := float64(val(av[i*lda+q]) * kernels.E4M3Value(b(j, q))) // exact, or ±Inf, or NaN
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
		run("reference", kernels.GemmNNAddBF16E4M3)
	} else {
		run("reference", kernels.GemmNTBF16E4M3)
	}
	for _, im := range impls(t) {
		if nn {
			run(im.name, im.k.GemmNNAddBF16E4M3)
		} else {
			run(im.name, im.k.GemmNTBF16E4M3)
		}
	}
}
