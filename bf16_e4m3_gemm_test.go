package mlasimd_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
	"github.com/stretchr/testify/require"
)

// e4m3Finite returns n random E4M3 bytes of every finite value (subnormals
// included), never a NaN byte.
func e4m3Finite(rng interface{ IntN(int) int }, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(256))
		if b[i]&0x7f == 0x7f {
			b[i] &^= 1
		}
	}
	return b
}

// e4m3B is a B of E4M3 bytes of every finite value (e4m3Finite).
func e4m3B(name string, nt bool, run func(k *mlasimd.Kernels, c []float32, a []uint16, b []byte, m, n, kk, lda, ldb int)) narrowGemm[byte] {
	return narrowGemm[byte]{name: name, nt: nt, run: run,
		value: func(b byte) float64 { return float64(kernels.E4M3Value(b)) },
		draw:  func(rng *rand.Rand, n int) []byte { return e4m3Finite(rng, n) },
		place: func(r *testutil.Region, n int, p testutil.Place, v []byte) []byte { return r.Bytes(n, p, v) }}
}

// e4m3GemmCases are bf16GemmCases plus a k that compose splits for
// GemmNNAddBF16E4M3 (past e4m3NNRows) and one past its pooled scratch for
// GemmNTBF16E4M3 (k > 4096), except with -short.
func e4m3GemmCases() []gemmCase {
	if testing.Short() { // under emulation (Bochs runs -short)
		return bf16GemmCases()
	}
	return append(bf16GemmCases(), gemmCase{5, 40, 600, 601, 600}, gemmCase{3, 5, 4133, 4133, 4140})
}

// TestGemmNTBF16E4M3 runs GemmNTBF16E4M3 on every Level over e4m3GemmCases on guard
// pages, B's bytes drawn from every finite E4M3 value. On an AVX-512 CPU with
// AVX512_BF16 the AVX-512 Level runs the VDPBF16PS body, the AVX2 Level the body that
// is its fallback.
func TestGemmNTBF16E4M3(t *testing.T) {
	testNarrowGemm(t, e4m3GemmCases(), e4m3B("GemmNTBF16E4M3", true, (*mlasimd.Kernels).GemmNTBF16E4M3))
}

// TestGemmNNAddBF16E4M3 runs GemmNNAddBF16E4M3 like TestGemmNTBF16E4M3, on a c that
// starts from normals.
func TestGemmNNAddBF16E4M3(t *testing.T) {
	testNarrowGemm(t, e4m3GemmCases(), e4m3B("GemmNNAddBF16E4M3", false, (*mlasimd.Kernels).GemmNNAddBF16E4M3))
}

// TestGemmBF16E4M3Widening: every one of the 256 bytes of B, subnormals and both NaNs
// included, meets a one-hot row of A at a position p of a full chunk of k or of its
// tail (and, for GemmNNAddBF16E4M3, in a full or partial block of columns), so each
// output is the byte's value exactly (NaN for 0x7f and 0xff) on every Level.
func TestGemmBF16E4M3Widening(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		const n = 256
		for _, kk := range []int{1, 8, 32, 45, 71} {
			for _, p := range []int{0, kk / 2, kk - 1} {
				a := make([]uint16, kk)
				a[p] = 0x3f80 // 1
				bt, bn := make([]byte, n*kk), make([]byte, kk*n)
				for j := range n {
					for q := range kk {
						bt[j*kk+q] = byte(j)
					}
					bn[p*n+j] = byte(j)
				}
				nt, nn := make([]float32, n), make([]float32, n)
				k.GemmNTBF16E4M3(nt, a, bt, 1, n, kk, kk, kk)
				k.GemmNNAddBF16E4M3(nn, a, bn, 1, n, kk, kk, n)
				for j := range n {
					want := kernels.E4M3Value(byte(j))
					for name, got := range map[string]float32{"GemmNTBF16E4M3": nt[j], "GemmNNAddBF16E4M3": nn[j]} {
						if j&0x7f == 0x7f {
							require.True(t, got != got, "%s k=%d p=%d byte %#x: %v, want NaN", name, kk, p, j, got)
						} else {
							require.Equal(t, want, got, "%s k=%d p=%d byte %#x", name, kk, p, j)
						}
					}
				}
			}
		}
	})
}

func ExampleGemmNTBF16E4M3() {
	// Two queries in bfloat16 against three FP8 E4M3 rows, k = 2.
	bf := func(x ...float32) []uint16 {
		h := make([]uint16, len(x))
		mlasimd.F32ToBF16DAZ(h, x)
		return h
	}
	q := bf(1, 2, 0.5, -1)
	rows := []byte{0x38, 0x00, 0x00, 0x38, 0x44, 0x28} // 1, 0; 0, 1; 3, 0.25
	s := make([]float32, 2*3)
	mlasimd.GemmNTBF16E4M3(s, q, rows, 2, 3, 2, 2, 2)
	fmt.Println(s)
	// Output: [1 2 3.5 0.5 -1 1.25]
}

func ExampleGemmNNAddBF16E4M3() {
	// One row of bfloat16 probabilities over two FP8 E4M3 rows of three values, added to o.
	bf := func(x ...float32) []uint16 {
		h := make([]uint16, len(x))
		mlasimd.F32ToBF16DAZ(h, x)
		return h
	}
	p := bf(0.25, 0.75)
	rows := []byte{0x48, 0x50, 0xc8, 0x00, 0x48, 0x50} // 4, 8, -4; 0, 4, 8
	o := []float32{1, 1, 1}
	mlasimd.GemmNNAddBF16E4M3(o, p, rows, 1, 3, 2, 2, 3)
	fmt.Println(o)
	// Output: [2 6 6]
}
