package fuzz_test

import (
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
)

// matrix decodes rows and columns (up to 80 x 700, enough for every row remainder and
// column tail) and the operand values.
func matrix(in *input) (rows, cols int, p testutil.Place) {
	cols, p = in.intn(701), in.place()
	return in.intn(81), cols, p
}

func FuzzGemv(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		rows, cols, p := matrix(in)
		wv, xv := in.values(rows*cols), in.values(cols)
		ry, rw, rx := testutil.NewRegion(t, 4*rows), testutil.NewRegion(t, 4*rows*cols), testutil.NewRegion(t, 4*cols)
		for _, im := range matrixImpls() {
			restore := im.use()
			y := ry.F32(rows, p, nil)
			im.k.Gemv(y, rw.F32(rows*cols, testutil.Place{Tail: true}, wv), rx.F32(cols, p, xv))
			for i := range y {
				if err := testutil.CheckDot(y[i], wv[i*cols:(i+1)*cols], xv); err != nil {
					t.Fatalf("%s: Gemv %dx%d row %d: %v", im.name, rows, cols, i, err)
				}
			}
			if !ry.UntouchedF32(y) {
				t.Fatalf("%s: Gemv wrote outside y", im.name)
			}
			restore()
		}
	})
}

func FuzzGemvT(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		cols, rows, p := matrix(in) // W is len(x)=rows by len(y)=cols; cols up to 700
		wv, xv := in.values(rows*cols), in.values(rows)
		ry, rw := testutil.NewRegion(t, 4*cols), testutil.NewRegion(t, 4*rows*cols)
		col := make([]float32, rows)
		for _, im := range matrixImpls() {
			restore := im.use()
			y := ry.F32(cols, p, nil)
			im.k.GemvT(y, rw.F32(rows*cols, testutil.Place{Tail: true}, wv), xv)
			for j := range y {
				for i := range col {
					col[i] = wv[i*cols+j]
				}
				if err := testutil.CheckDot(y[j], col, xv); err != nil {
					t.Fatalf("%s: GemvT %dx%d column %d: %v", im.name, rows, cols, j, err)
				}
			}
			if !ry.UntouchedF32(y) {
				t.Fatalf("%s: GemvT wrote outside y", im.name)
			}
			restore()
		}
	})
}

func FuzzDownUp(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		out, lat, p := matrix(in)
		lat %= 97
		d := in.intn(300)
		down, up, xv := in.values(lat*d), in.values(out*lat), in.values(d)
		ry, rl := testutil.NewRegion(t, 4*out), testutil.NewRegion(t, 4*lat)
		for _, im := range matrixImpls() {
			restore := im.use()
			y, latent := ry.F32(out, p, nil), rl.F32(lat, p, nil)
			im.k.DownUp(y, latent, down, up, xv)
			for i := range latent {
				if err := testutil.CheckDot(latent[i], down[i*d:(i+1)*d], xv); err != nil {
					t.Fatalf("%s: DownUp latent %d: %v", im.name, i, err)
				}
			}
			for i := range y {
				if err := testutil.CheckDot(y[i], up[i*lat:(i+1)*lat], latent); err != nil {
					t.Fatalf("%s: DownUp y %d: %v", im.name, i, err)
				}
			}
			if !ry.UntouchedF32(y) || !rl.UntouchedF32(latent) {
				t.Fatalf("%s: DownUp wrote outside its outputs", im.name)
			}
			restore()
		}
	})
}

// gemm decodes m, n, k and leading dimensions a little larger than the rows.
func gemm(in *input) (m, n, k, lda, ldb int) {
	m, n, k = in.intn(21), in.intn(70), in.intn(600)
	return m, n, k, k + in.intn(5), in.intn(5)
}

func FuzzGemmNT(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		m, n, k, lda, ldb := gemm(in)
		ldb += k
		a, b := in.values(max(0, (m-1)*lda+k)), in.values(max(0, (n-1)*ldb+k))
		rc := testutil.NewRegion(t, 4*m*n)
		for _, im := range matrixImpls() {
			c := rc.F32(m*n, testutil.Place{Tail: true}, nil)
			restore := im.use()
			im.k.GemmNT(c, a, b, m, n, k, lda, ldb)
			restore()
			for i := range m {
				for j := range n {
					if err := testutil.CheckDot(c[i*n+j], a[i*lda:i*lda+k], b[j*ldb:j*ldb+k]); err != nil {
						t.Fatalf("%s: GemmNT m=%d n=%d k=%d (%d,%d): %v", im.name, m, n, k, i, j, err)
					}
				}
			}
			if !rc.UntouchedF32(c) {
				t.Fatalf("%s: GemmNT wrote outside c", im.name)
			}
		}
	})
}

func FuzzGemmNN(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		m, n, k, lda, ldb := gemm(in)
		k %= 200
		lda = k + lda%5
		ldb += n
		a, b := in.values(max(0, (m-1)*lda+k)), in.values(max(0, (k-1)*ldb+n))
		c0 := in.values(m * n)
		rc := testutil.NewRegion(t, 4*m*n)
		// Each dot product as GemmNNAdd sums it: c0 first (times 1), then p in order.
		row, col := make([]float32, k+1), make([]float32, k+1)
		row[0] = 1
		for _, im := range impls() {
			for _, add := range []bool{false, true} {
				c := rc.F32(m*n, testutil.Place{Tail: true}, c0)
				name := "GemmNN"
				if add {
					name = "GemmNNAdd"
					im.k.GemmNNAdd(c, a, b, m, n, k, lda, ldb)
				} else {
					im.k.GemmNN(c, a, b, m, n, k, lda, ldb)
				}
				for i := range m {
					copy(row[1:], a[i*lda:i*lda+k])
					for j := range n {
						col[0] = 0
						if add {
							col[0] = c0[i*n+j]
						}
						for q := range k {
							col[q+1] = b[q*ldb+j]
						}
						if err := testutil.CheckDot(c[i*n+j], row, col); err != nil {
							t.Fatalf("%s: %s m=%d n=%d k=%d (%d,%d): %v", im.name, name, m, n, k, i, j, err)
						}
					}
				}
				if !rc.UntouchedF32(c) {
					t.Fatalf("%s: %s wrote outside c", im.name, name)
				}
			}
		}
	})
}
