package mlasimd_test

import (
	"fmt"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
	"github.com/stretchr/testify/require"
)

// gemmFunc is the common signature of the GEMM kernels (GemmNTPrefetch with next
// bound to b).
type gemmFunc func(c, a, b []float32, m, n, k, lda, ldb int)

// gemmKernels lists every GEMM entry point of a table and of package kernels, with
// whether B is n x k (NT) or k x n (NN).
func gemmKernels(k *mlasimd.Kernels) []struct {
	name string
	nt   bool
	f    gemmFunc
} {
	return []struct {
		name string
		nt   bool
		f    gemmFunc
	}{
		{"GemmNT", true, k.GemmNT},
		{"GemmNTPrefetch", true, func(c, a, b []float32, m, n, kk, lda, ldb int) { k.GemmNTPrefetch(c, a, b, b, m, n, kk, lda, ldb) }},
		{"GemmNN", false, k.GemmNN},
		{"GemmNNAdd", false, k.GemmNNAdd},
		{"kernels.GemmNT", true, kernels.GemmNT},
		{"kernels.GemmNN", false, kernels.GemmNN},
		{"kernels.GemmNNAdd", false, kernels.GemmNNAdd},
	}
}

// overflowCase is a GEMM call with operand lengths lc, la, lb and the panic message
// it must raise.
type overflowCase struct {
	name               string
	lc, la, lb         int
	m, n, kk, lda, ldb int
	msg                string
}

// TestGemmShapeOverflow: shapes whose size products wrap around 2^64 to the lengths
// given must panic with the kernel's message before any memory is touched. Every
// operand sits against guard pages, so a routine that ran anyway would fault, and c
// must keep its values.
func TestGemmShapeOverflow(t *testing.T) {
	const big = 1 << 62
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rc, ra, rb := testutil.NewRegion(t, 64), testutil.NewRegion(t, 64), testutil.NewRegion(t, 64)
		for _, g := range gemmKernels(k) {
			cases := []overflowCase{
				// m*n = (2^62+4)*4 wraps to 16, (m-1)*lda+k to 13: both look in bounds.
				{"m*n", 16, 16, 4, big + 4, 4, 1, 4, 4, fmt.Sprintf("len(c)=16, want m*n=%d*4=overflow", big+4)},
				// (m-1)*lda + k = 4*2^62 + 1 wraps to 1.
				{"lda", 5, 1, 5, 5, 1, 1, big, 1, fmt.Sprintf("len(a)=1 lda=%d too small for 5x1", big)},
			}
			if g.nt { // B is n x k: (n-1)*ldb + k = 4*2^62 + 1 wraps to 1.
				cases = append(cases, overflowCase{"ldb", 5, 1, 1, 1, 5, 1, 1, big, fmt.Sprintf("len(b)=1 ldb=%d too small for 5x1", big)})
			} else { // B is k x n: (k-1)*ldb + n wraps to 1.
				cases = append(cases, overflowCase{"ldb", 1, 5, 1, 1, 1, 5, 5, big, fmt.Sprintf("len(b)=1 ldb=%d too small for 5x1", big)})
			}
			for _, cs := range cases {
				t.Run(g.name+"/"+cs.name, func(t *testing.T) {
					tail := testutil.Place{Tail: true}
					c := rc.F32(cs.lc, tail, nil)
					for i := range c {
						c[i] = 7
					}
					a, b := ra.F32(cs.la, tail, nil), rb.F32(cs.lb, tail, nil)
					name := g.name
					if len(name) > 8 && name[:8] == "kernels." {
						name = name[8:]
					}
					require.PanicsWithValue(t, "mlasimd: "+name+": "+cs.msg, func() {
						g.f(c, a, b, cs.m, cs.n, cs.kk, cs.lda, cs.ldb)
					})
					for i := range c {
						require.Equal(t, float32(7), c[i], "c[%d] written by a rejected call", i)
					}
					require.True(t, rc.UntouchedF32(c), "written outside c")
				})
			}
		}
	})
}

// TestGemmHugeStrides: a stride that only a single row uses is legal however large
// it is; the kernels must compute the one product without touching the memory the
// stride points at (the operands are flush against guard pages).
func TestGemmHugeStrides(t *testing.T) {
	const big = 1 << 62
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rc, ra, rb := testutil.NewRegion(t, 64), testutil.NewRegion(t, 64), testutil.NewRegion(t, 64)
		tail := testutil.Place{Tail: true}
		for _, g := range gemmKernels(k) {
			for _, kk := range []int{1, 3, 17} {
				c := rc.F32(1, tail, []float32{0})
				av, bv := testutil.Normals(newRNG(t), kk), testutil.Normals(newRNG(t), kk)
				a := ra.F32(kk, tail, av)
				var b []float32
				if g.nt { // B is 1 x k
					b = rb.F32(kk, tail, bv)
					g.f(c, a, b, 1, 1, kk, big, big)
				} else { // B is k x 1 with stride 1; A's stride is what is huge
					b = rb.F32(kk, tail, bv)
					g.f(c, a, b, 1, 1, kk, big, 1)
				}
				require.NoError(t, testutil.CheckDot(c[0], av, bv), "%s k=%d", g.name, kk)
				require.True(t, rc.UntouchedF32(c), "%s wrote outside c", g.name)
			}
		}
	})
}

// TestCheckOverflow: the size checks of the vector kernels reject products that
// wrap, which no real slice can reach but a shape computed from a file can.
func TestCheckOverflow(t *testing.T) {
	for _, c := range []struct {
		name, msg string
		call      func()
	}{
		{"Gemv", "mlasimd: Gemv: len(w)=0, want 4294967296*4294967296=overflow", func() { kernels.CheckGemv("Gemv", 0, 1<<32, 1<<32) }},
		{"GemvT", "mlasimd: GemvT: len(w)=4, want 2305843009213693953*8=overflow", func() { kernels.CheckGemv("GemvT", 4, 1<<61+1, 8) }},
		{"GemvE4M3", "mlasimd: GemvE4M3: len(w)=0, want 4294967296*4294967296=overflow", func() { kernels.CheckGemv("GemvE4M3", 0, 1<<32, 1<<32) }},
		{"GemvTE4M3", "mlasimd: GemvTE4M3: len(w)=4, want 4611686018427387905*4=overflow", func() { kernels.CheckGemv("GemvTE4M3", 4, 1<<62+1, 4) }},
		{"GemvTQ8_0", "mlasimd: GemvTQ8_0: len(w)=0, want 4294967296*4294967296/32*34=overflow", func() { kernels.CheckGemvTQ8_0("GemvTQ8_0", 0, 1<<32, 1<<32) }},
		{"DownUp down", "mlasimd: DownUp: len(down)=0, want len(latent)*len(x)=4294967296*4294967296=overflow", func() { kernels.CheckDownUp(0, 1<<32, 0, 0, 1<<32) }},
		{"DownUp up", "mlasimd: DownUp: len(up)=0, want len(y)*len(latent)=4294967296*4294967296=overflow", func() { kernels.CheckDownUp(1<<32, 1<<32, 1<<32, 0, 1) }},
		{"RoPE", "mlasimd: RoPE: len(x)=2, len(cos)=4611686018427387905, len(sin)=4611686018427387905", func() { kernels.CheckRoPE("RoPE", 2, 1<<62+1, 1<<62+1) }},
		{"negative", "mlasimd: GemmNT: negative size m=-1 n=1 k=1", func() { kernels.CheckGemm("GemmNT", 0, 0, 0, -1, 1, 1, 1, 1, 1, 1) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r, "no panic")
				require.Contains(t, r, c.msg)
			}()
			c.call()
		})
	}
}

// TestZeroKernels: the zero Kernels is the generic Level, not a table of nil
// functions.
func TestZeroKernels(t *testing.T) {
	var k mlasimd.Kernels
	x := []float32{1, 2, 3}
	require.Equal(t, float32(14), k.Dot(x, x))
	require.Equal(t, "generic", k.Level().String())
	c := make([]float32, 1)
	k.GemmNT(c, x, x, 1, 1, 3, 3, 3)
	require.Equal(t, []float32{14}, c)
}
