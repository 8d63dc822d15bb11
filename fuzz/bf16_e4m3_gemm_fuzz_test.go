package fuzz_test

import (
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
)

// FuzzGemmNTBF16E4M3 and FuzzGemmNNAddBF16E4M3 check the bfloat16 GEMMs with a B of
// FP8 E4M3 bytes as FuzzGemmNTBF16 checks GemmNTBF16: A is the fuzz values rounded
// with F32ToBF16DAZ, B the fuzz values rounded to E4M3 by e4m3FromValues (NaN bytes,
// ±448, subnormals and zeros among them), the bound γ(k+1)·Σ|terms| + k·2^-126
// around the exact sum of the exact products.
func FuzzGemmNTBF16E4M3(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzNarrowGemm(t, data, false, e4m3Gemm) })
}

func FuzzGemmNNAddBF16E4M3(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzNarrowGemm(t, data, true, e4m3Gemm) })
}

var e4m3Gemm = narrowGemm[byte]{names: [2]string{"GemmNTBF16E4M3", "GemmNNAddBF16E4M3"}, round: e4m3FromValues, value: kernels.E4M3Value, size: 1,
	place: func(r *testutil.Region, n int, p testutil.Place, v []byte) []byte { return r.Bytes(n, p, v) },
	ref:   narrowGemmFns[byte]{kernels.GemmNTBF16E4M3, kernels.GemmNNAddBF16E4M3},
	level: func(k *mlasimd.Kernels) narrowGemmFns[byte] {
		return narrowGemmFns[byte]{k.GemmNTBF16E4M3, k.GemmNNAddBF16E4M3}
	}}
