package mlasimd_test

import (
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// gemvShapes covers every row remainder of the four-row blocks and every column
// tail, plus the shapes MLA uses.
func gemvShapes() [][2]int {
	var s [][2]int
	for rows := 0; rows <= 9; rows++ {
		for cols := 0; cols <= 70; cols += 1 + rows%3 {
			s = append(s, [2]int{rows, cols})
		}
	}
	s = append(s, [2]int{37, 1100}, [2]int{64, 576}, [2]int{576, 64}, [2]int{128, 512}, [2]int{5, 1031})
	if !testing.Short() {
		s = append(s, [2]int{300, 300}, [2]int{1031, 77})
	}
	return s
}

// checkMatVec checks y against rows dot products given by row(i) (the exact
// operands of output i).
func checkMatVec(t *testing.T, name string, y []float32, row func(i int) (a, b []float32)) {
	t.Helper()
	for i := range y {
		a, b := row(i)
		if err := testutil.CheckDot(y[i], a, b); err != nil {
			require.Failf(t, name, "len(y)=%d y[%d]: %v", len(y), i, err)
		}
	}
}

func column(w []float32, cols, j int) []float32 {
	c := make([]float32, len(w)/max(cols, 1))
	for i := range c {
		c[i] = w[i*cols+j]
	}
	return c
}

func TestGemv(t *testing.T) {
	// From 1 MiB (tuning.DefaultColdFloats) Gemv takes the prefetching routine: here over five
	// chunks of 256 rows, the last one ending in three single rows, with column tails.
	shapes := append(gemvShapes(), [2]int{1031, 255})
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 4*1100), testutil.NewRegion(t, 4<<20), testutil.NewRegion(t, 4*1100)
		for si, s := range shapes {
			rows, cols := s[0], s[1]
			p := testutil.Places[si%len(testutil.Places)]
			wv, xv := testutil.Normals(rng, rows*cols), testutil.Normals(rng, cols)
			y, w, x := ry.F32(rows, p, nil), rw.F32(rows*cols, testutil.Place{Tail: true}, wv), rx.F32(cols, p, xv)
			k.Gemv(y, w, x)
			checkMatVec(t, "Gemv", y, func(i int) ([]float32, []float32) { return wv[i*cols : (i+1)*cols], xv })
			require.True(t, ry.UntouchedF32(y), "Gemv wrote outside y (%dx%d)", rows, cols)
		}
	})
}

func TestGemvT(t *testing.T) {
	// From 1 MiB GemvT streams W row by row: five chunks of 256 rows, the last ending
	// in three single rows, with column tails.
	shapes := append(gemvShapes(), [2]int{1031, 255})
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 4*1100), testutil.NewRegion(t, 4<<20), testutil.NewRegion(t, 4*1100)
		for si, s := range shapes {
			rows, cols := s[0], s[1] // W is len(x) x len(y)
			p := testutil.Places[si%len(testutil.Places)]
			wv, xv := testutil.Normals(rng, rows*cols), testutil.Normals(rng, rows)
			y, w, x := ry.F32(cols, p, nil), rw.F32(rows*cols, testutil.Place{Tail: true}, wv), rx.F32(rows, p, xv)
			k.GemvT(y, w, x)
			checkMatVec(t, "GemvT", y, func(j int) ([]float32, []float32) { return column(wv, cols, j), xv })
			require.True(t, ry.UntouchedF32(y), "GemvT wrote outside y (%dx%d)", rows, cols)
		}
	})
}

func TestDownUp(t *testing.T) {
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		for _, s := range [][3]int{{0, 0, 0}, {1, 1, 1}, {7, 3, 9}, {64, 16, 33}, {130, 29, 257}, {2048, 512, 16}, {13, 1031, 255}} {
			out, lat, in := s[0], s[1], s[2]
			down, up, xv := testutil.Normals(rng, lat*in), testutil.Normals(rng, out*lat), testutil.Normals(rng, in)
			y, latent := make([]float32, out), make([]float32, lat)
			k.DownUp(y, latent, down, up, xv)
			checkMatVec(t, "DownUp latent", latent, func(i int) ([]float32, []float32) { return down[i*in : (i+1)*in], xv })
			// y is checked against the latent the kernel returned: the second GEMV's
			// own bound, given its actual input.
			checkMatVec(t, "DownUp y", y, func(i int) ([]float32, []float32) { return up[i*lat : (i+1)*lat], latent })
		}
	})
}

type gemmCase struct{ m, n, k, lda, ldb int }

func gemmCases(short bool) []gemmCase {
	var cs []gemmCase
	ks := []int{0, 1, 3, 8, 13, 16, 31, 64, 65, 130}
	for _, m := range []int{0, 1, 2, 3, 4, 5, 7, 9, 16} {
		for n := 0; n <= 40; n += 1 + m%4 {
			k := ks[(m+n)%len(ks)]
			cs = append(cs, gemmCase{m, n, k, k + n%3, 0})
		}
	}
	cs = append(cs, gemmCase{16, 70, 576, 576, 576}, gemmCase{16, 512, 70, 70, 576}, gemmCase{5, 33, 200, 203, 0})
	// Deep products, which GemmNT splits over k (tuning.DeepK): slices of 512 and a
	// partial last one, with every row-band and column tail.
	cs = append(cs, gemmCase{7, 70, 1100, 1103, 0}, gemmCase{17, 130, 2048, 2048, 2050}, gemmCase{1, 3, 1537, 1537, 0})
	return cs
}

func TestGemmNT(t *testing.T) {
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		for _, c := range gemmCases(testing.Short()) {
			ldb := max(c.ldb, c.k+c.m%3)
			a := testutil.Normals(rng, max(0, (c.m-1)*c.lda+c.k))
			b := testutil.Normals(rng, max(0, (c.n-1)*ldb+c.k))
			rc := testutil.NewRegion(t, 4*c.m*c.n)
			out := rc.F32(c.m*c.n, testutil.Place{Tail: true}, nil)
			if c.n%2 == 0 { // half the cases through GemmNTPrefetch, with an unrelated next
				k.GemmNTPrefetch(out, a, b, a, c.m, c.n, c.k, c.lda, ldb)
			} else {
				k.GemmNT(out, a, b, c.m, c.n, c.k, c.lda, ldb)
			}
			for i := range c.m {
				checkMatVec(t, "GemmNT", out[i*c.n:(i+1)*c.n], func(j int) ([]float32, []float32) {
					return a[i*c.lda : i*c.lda+c.k], b[j*ldb : j*ldb+c.k]
				})
			}
			require.True(t, rc.UntouchedF32(out))
		}
	})
}

func TestGemmNN(t *testing.T) {
	forEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		for _, c := range gemmCases(testing.Short()) {
			ldb := max(c.ldb, c.n+c.m%3)
			a := testutil.Normals(rng, max(0, (c.m-1)*c.lda+c.k))
			b := testutil.Normals(rng, max(0, (c.k-1)*ldb+c.n))
			rc := testutil.NewRegion(t, 4*c.m*c.n)
			c0 := testutil.Normals(rng, c.m*c.n)
			out := rc.F32(c.m*c.n, testutil.Place{Tail: true}, c0)
			// Half the cases add to c (GemmNNAdd), the others overwrite it: an added
			// c0 is the first term of each sum, a product with 1.
			add := c.n%2 == 0
			if add {
				k.GemmNNAdd(out, a, b, c.m, c.n, c.k, c.lda, ldb)
			} else {
				k.GemmNN(out, a, b, c.m, c.n, c.k, c.lda, ldb)
			}
			for i := range c.m {
				checkMatVec(t, "GemmNN", out[i*c.n:(i+1)*c.n], func(j int) ([]float32, []float32) {
					row, col := a[i*c.lda:i*c.lda+c.k], make([]float32, c.k)
					for p := range col {
						col[p] = b[p*ldb+j]
					}
					if add {
						return append([]float32{1}, row...), append([]float32{c0[i*c.n+j]}, col...)
					}
					return row, col
				})
			}
			require.True(t, rc.UntouchedF32(out))
		}
	})
}
