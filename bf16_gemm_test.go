package mlasimd_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// bf16Normals returns n normals rounded to bfloat16 without subnormals
// (F32ToBF16DAZ), scaled by 2^e for e in [-40, 40] per value so that sums cancel
// and magnitudes spread.
func bf16Normals(rng interface{ IntN(int) int }, x []float32) []uint16 {
	for i := range x {
		x[i] = float32(math.Ldexp(float64(x[i]), rng.IntN(81)-40))
	}
	h := make([]uint16, len(x))
	mlasimd.F32ToBF16DAZ(h, x)
	return h
}

func bf16Value(h uint16) float64 { return float64(math.Float32frombits(uint32(h) << 16)) }

// checkNarrowSum checks got against the exact c0 + Σ a[p]·b[p] (b's values by
// value) with GemmNTBF16's bound: γ(k+1)·(|c0| + Σ|a||b|) + k·2^-126 (inputs without
// subnormals bfloat16s).
func checkNarrowSum[E uint16 | byte](got float32, c0 float64, k int, value func(E) float64, term func(p int) (a uint16, b E)) error {
	sum, mag := c0, math.Abs(c0)
	for p := range k {
		a, b := term(p)
		v := bf16Value(a) * value(b)
		sum += v
		mag += math.Abs(v)
	}
	bound := testutil.Gamma(k+1)*mag + float64(k)*0x1p-126
	if !testutil.Close(got, sum, bound) {
		return fmt.Errorf("got %v, want %v ± %v", got, sum, bound)
	}
	return nil
}

// narrowGemm is a GEMM of a bfloat16 A with a B of E (bfloat16 bits or E4M3 bytes),
// for testNarrowGemm: its name, the Level's kernel, how B's values are drawn, placed
// on guard pages and valued exactly.
type narrowGemm[E uint16 | byte] struct {
	name  string
	nt    bool // c = A Bᵀ (else c += A B)
	run   func(k *mlasimd.Kernels, c []float32, a []uint16, b []E, m, n, kk, lda, ldb int)
	draw  func(rng *rand.Rand, n int) []E
	place func(r *testutil.Region, n int, p testutil.Place, v []E) []E
	value func(E) float64
}

// testNarrowGemm runs g on every Level over cases on guard pages against the exact
// sums (c += A B on a c that starts from normals).
func testNarrowGemm[E uint16 | byte](t *testing.T, cases []gemmCase, g narrowGemm[E]) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rc, ra, rb := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for ci, c := range cases {
			ldb, bRows, bCols := max(c.ldb, c.n+c.m%3), c.k, c.n
			if g.nt {
				ldb, bRows, bCols = max(c.ldb, c.k+c.m%3), c.n, c.k
			}
			av := bf16Normals(rng, testutil.Normals(rng, testutil.MatLen(c.m, c.k, c.lda)))
			bv := g.draw(rng, testutil.MatLen(bRows, bCols, ldb))
			var c0 []float32
			if !g.nt {
				c0 = testutil.Normals(rng, c.m*c.n)
			}
			for _, p := range testutil.PlacesFor(ci) {
				out := rc.F32(c.m*c.n, p, c0)
				g.run(k, out, ra.U16(len(av), p, av), g.place(rb, len(bv), p, bv), c.m, c.n, c.k, c.lda, ldb)
				for i := range c.m {
					for j := range c.n {
						term := func(q int) (uint16, E) { return av[i*c.lda+q], bv[q*ldb+j] }
						start := 0.0
						if g.nt {
							term = func(q int) (uint16, E) { return av[i*c.lda+q], bv[j*ldb+q] }
						} else {
							start = float64(c0[i*c.n+j])
						}
						if err := checkNarrowSum(out[i*c.n+j], start, c.k, g.value, term); err != nil {
							require.Failf(t, g.name, "%+v c[%d][%d]: %v", c, i, j, err)
						}
					}
				}
				require.True(t, rc.UntouchedF32(out), "%s wrote outside c (%+v)", g.name, c)
			}
		}
	})
}

// bf16B is a B of bfloat16 normals (bf16Normals).
func bf16B(name string, nt bool, run func(k *mlasimd.Kernels, c []float32, a, b []uint16, m, n, kk, lda, ldb int)) narrowGemm[uint16] {
	return narrowGemm[uint16]{name: name, nt: nt, run: run, value: bf16Value,
		draw:  func(rng *rand.Rand, n int) []uint16 { return bf16Normals(rng, testutil.Normals(rng, n)) },
		place: func(r *testutil.Region, n int, p testutil.Place, v []uint16) []uint16 { return r.U16(n, p, v) }}
}

// bf16GemmCases are gemmCases plus MLA decode's tiles: the scores of 16 heads against
// n cache rows of 576, and the probabilities times the rows' first 512 columns.
func bf16GemmCases() []gemmCase {
	cs := gemmCases(testing.Short())
	tiles := []int{1, 17, 64, 127}
	if testing.Short() { // under emulation (Bochs runs -short): one odd tile
		tiles = []int{17}
	}
	for _, n := range tiles {
		cs = append(cs, gemmCase{16, n, 576, 576, 576}, gemmCase{16, 512, n, n, 576})
	}
	return append(cs, gemmCase{11, 45, 33, 40, 50}, gemmCase{9, 31, 100, 101, 33})
}

// TestGemmNTBF16 runs GemmNTBF16 on every Level over bf16GemmCases on guard pages.
// On an AVX-512 CPU with AVX512_BF16 the AVX-512 Level runs the VDPBF16PS body, the
// AVX2 Level the body that is its fallback.
func TestGemmNTBF16(t *testing.T) {
	testNarrowGemm(t, bf16GemmCases(), bf16B("GemmNTBF16", true, (*mlasimd.Kernels).GemmNTBF16))
}

// TestGemmNNAddBF16 runs GemmNNAddBF16 like TestGemmNTBF16, on a c that starts from
// normals.
func TestGemmNNAddBF16(t *testing.T) {
	testNarrowGemm(t, bf16GemmCases(), bf16B("GemmNNAddBF16", false, (*mlasimd.Kernels).GemmNNAddBF16))
}

// TestGemmBF16NonFinite: a NaN or an infinity in A reaches exactly the outputs of its
// row on every Level (an infinity meets only finite non-zero values here).
func TestGemmBF16NonFinite(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		const m, n, kk = 5, 37, 67
		for _, bad := range []uint16{0x7fc0, 0x7f80, 0xff80} {
			a, bt, bn := make([]uint16, m*kk), make([]uint16, n*kk), make([]uint16, kk*n)
			for i := range a {
				a[i] = 0x3f80 // 1
			}
			for i := range bt {
				bt[i], bn[i] = 0x3f00, 0x3f00 // 0.5
			}
			a[2*kk+kk-1] = bad // row 2, the last (odd) p
			want := float32(math.Float32frombits(uint32(bad) << 16))
			nt, nn := make([]float32, m*n), make([]float32, m*n)
			k.GemmNTBF16(nt, a, bt, m, n, kk, kk, kk)
			k.GemmNNAddBF16(nn, a, bn, m, n, kk, kk, n)
			for i := range m {
				for j := range n {
					for name, got := range map[string]float32{"GemmNTBF16": nt[i*n+j], "GemmNNAddBF16": nn[i*n+j]} {
						switch {
						case i != 2:
							require.Equal(t, float32(kk)/2, got, "%s c[%d][%d]", name, i, j)
						case want != want:
							require.True(t, got != got, "%s c[%d][%d] = %v, want NaN", name, i, j, got)
						default:
							require.Equal(t, want, got, "%s c[%d][%d]", name, i, j)
						}
					}
				}
			}
		}
	})
}

// TestBF16ExtensionDispatch: the AVX-512 Level runs the VDPBF16PS bodies exactly
// when the CPU has AVX512_BF16 (and MLASIMD_NO_EXTENSIONS does not name it).
func TestBF16ExtensionDispatch(t *testing.T) {
	f := dispatch.HostFeatures()
	require.Equal(t, f.AVX512F && f.AVX512BW && f.AVX512BF16, f.Has("AVX512BF16"))
	t.Setenv(dispatch.EnvNoExtensions, "avx512vnni, avx512bf16")
	require.False(t, dispatch.HostFeatures().Has("AVX512BF16"))
}

func ExampleGemmNTBF16() {
	// Two queries against three rows, k = 2, all rounded to bfloat16.
	bf := func(x ...float32) []uint16 {
		h := make([]uint16, len(x))
		mlasimd.F32ToBF16DAZ(h, x)
		return h
	}
	q := bf(1, 2, 0.5, -1)
	rows := bf(1, 0, 0, 1, 3, 0.25)
	s := make([]float32, 2*3)
	mlasimd.GemmNTBF16(s, q, rows, 2, 3, 2, 2, 2)
	fmt.Println(s)
	// Output: [1 2 3.5 0.5 -1 1.25]
}

func ExampleGemmNNAddBF16() {
	// One row of probabilities over two rows of three values, added to o.
	bf := func(x ...float32) []uint16 {
		h := make([]uint16, len(x))
		mlasimd.F32ToBF16DAZ(h, x)
		return h
	}
	p := bf(0.25, 0.75)
	rows := bf(4, 8, -4, 0, 4, 8)
	o := []float32{1, 1, 1}
	mlasimd.GemmNNAddBF16(o, p, rows, 1, 3, 2, 2, 3)
	fmt.Println(o)
	// Output: [2 6 6]
}
