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
	// From 1 MiB of W (internal/tuning's threshold) Gemv takes the streaming routine:
	// here over five chunks of 256 rows, the last ending in three single rows, with
	// column tails.
	shapes := append(gemvShapes(), [2]int{1031, 255})
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for si, s := range shapes {
			rows, cols := s[0], s[1]
			wv, xv := testutil.Normals(rng, rows*cols), testutil.Normals(rng, cols)
			for _, p := range testutil.PlacesFor(si) {
				y := ry.F32(rows, p, nil)
				k.Gemv(y, rw.Copy(p, wv), rx.Copy(p, xv))
				checkMatVec(t, "Gemv", y, func(i int) ([]float32, []float32) { return wv[i*cols : (i+1)*cols], xv })
				require.True(t, ry.UntouchedF32(y), "Gemv wrote outside y (%dx%d)", rows, cols)
			}
		}
	})
}

func TestGemvT(t *testing.T) {
	// From 1 MiB GemvT streams W row by row: five chunks of 256 rows, the last ending
	// in three single rows, with column tails.
	shapes := append(gemvShapes(), [2]int{1031, 255})
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for si, s := range shapes {
			rows, cols := s[0], s[1] // W is len(x) x len(y)
			wv, xv := testutil.Normals(rng, rows*cols), testutil.Normals(rng, rows)
			for _, p := range testutil.PlacesFor(si) {
				y := ry.F32(cols, p, nil)
				k.GemvT(y, rw.Copy(p, wv), rx.Copy(p, xv))
				checkMatVec(t, "GemvT", y, func(j int) ([]float32, []float32) { return column(wv, cols, j), xv })
				require.True(t, ry.UntouchedF32(y), "GemvT wrote outside y (%dx%d)", rows, cols)
			}
		}
	})
}

func TestDownUp(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rl := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		rd, ru, rx := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for si, s := range [][3]int{{0, 0, 0}, {1, 1, 1}, {7, 3, 9}, {64, 16, 33}, {130, 29, 257}, {2048, 512, 16}, {13, 1031, 255}} {
			out, lat, in := s[0], s[1], s[2]
			dv, uv, xv := testutil.Normals(rng, lat*in), testutil.Normals(rng, out*lat), testutil.Normals(rng, in)
			for _, p := range testutil.PlacesFor(si) {
				y, latent := ry.F32(out, p, nil), rl.F32(lat, p, nil)
				k.DownUp(y, latent, rd.Copy(p, dv), ru.Copy(p, uv), rx.Copy(p, xv))
				checkMatVec(t, "DownUp latent", latent, func(i int) ([]float32, []float32) { return dv[i*in : (i+1)*in], xv })
				// y is checked against the latent the kernel returned: the second GEMV's
				// own bound, given its actual input.
				checkMatVec(t, "DownUp y", y, func(i int) ([]float32, []float32) { return uv[i*lat : (i+1)*lat], latent })
				require.True(t, ry.UntouchedF32(y) && rl.UntouchedF32(latent), "DownUp wrote outside its outputs")
			}
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

func TestGemmNT(t *testing.T)         { testGemmNT(t, false) }
func TestGemmNTPrefetch(t *testing.T) { testGemmNT(t, true) }

// testGemmNT runs GemmNT, or GemmNTPrefetch (with an unrelated next of its own) when
// prefetch is set, over gemmCases on guard pages.
func testGemmNT(t *testing.T, prefetch bool) {
	name := "GemmNT"
	if prefetch {
		name = "GemmNTPrefetch"
	}
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rc, ra, rb, rn := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for ci, c := range gemmCases(testing.Short()) {
			ldb := max(c.ldb, c.k+c.m%3)
			av := testutil.Normals(rng, testutil.MatLen(c.m, c.k, c.lda))
			bv := testutil.Normals(rng, testutil.MatLen(c.n, c.k, ldb))
			for _, p := range testutil.PlacesFor(ci) {
				out, a, b := rc.F32(c.m*c.n, p, nil), ra.Copy(p, av), rb.Copy(p, bv)
				if prefetch {
					k.GemmNTPrefetch(out, a, b, rn.F32(len(bv), p, nil), c.m, c.n, c.k, c.lda, ldb)
				} else {
					k.GemmNT(out, a, b, c.m, c.n, c.k, c.lda, ldb)
				}
				for i := range c.m {
					checkMatVec(t, name, out[i*c.n:(i+1)*c.n], func(j int) ([]float32, []float32) {
						return av[i*c.lda : i*c.lda+c.k], bv[j*ldb : j*ldb+c.k]
					})
				}
				require.True(t, rc.UntouchedF32(out), "%s wrote outside c (%+v)", name, c)
			}
		}
	})
}

func TestGemmNN(t *testing.T)    { testGemmNN(t, false) }
func TestGemmNNAdd(t *testing.T) { testGemmNN(t, true) }

// testGemmNN runs GemmNN, or GemmNNAdd when add is set, over gemmCases on guard pages,
// on a c that starts from arbitrary values (GemmNN must overwrite them).
func testGemmNN(t *testing.T, add bool) {
	name := "GemmNN"
	if add {
		name = "GemmNNAdd"
	}
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		rc, ra, rb := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for ci, c := range gemmCases(testing.Short()) {
			ldb := max(c.ldb, c.n+c.m%3)
			av := testutil.Normals(rng, testutil.MatLen(c.m, c.k, c.lda))
			bv := testutil.Normals(rng, testutil.MatLen(c.k, c.n, ldb))
			c0 := testutil.Normals(rng, c.m*c.n)
			// Each output is checked as the sum GemmNNAdd forms: c0 (times 1) first, then
			// the products in order; GemmNN's has 0 there.
			row, col := make([]float32, c.k+1), make([]float32, c.k+1)
			row[0] = 1
			for _, p := range testutil.PlacesFor(ci) {
				out := rc.F32(c.m*c.n, p, c0)
				if add {
					k.GemmNNAdd(out, ra.Copy(p, av), rb.Copy(p, bv), c.m, c.n, c.k, c.lda, ldb)
				} else {
					k.GemmNN(out, ra.Copy(p, av), rb.Copy(p, bv), c.m, c.n, c.k, c.lda, ldb)
				}
				for i := range c.m {
					copy(row[1:], av[i*c.lda:i*c.lda+c.k])
					checkMatVec(t, name, out[i*c.n:(i+1)*c.n], func(j int) ([]float32, []float32) {
						col[0] = 0
						if add {
							col[0] = c0[i*c.n+j]
						}
						for q := range c.k {
							col[q+1] = bv[q*ldb+j]
						}
						return row, col
					})
				}
				require.True(t, rc.UntouchedF32(out), "%s wrote outside c (%+v)", name, c)
			}
		}
	})
}
