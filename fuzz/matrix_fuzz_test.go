package fuzz_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
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
		for _, im := range matrixImpls(t) {
			restore := im.use()
			y := ry.F32(rows, p, nil)
			im.k.Gemv(y, rw.F32(rows*cols, p, wv), rx.F32(cols, p, xv))
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

func FuzzGemvBF16(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzGemvHalf(t, data, "GemvBF16", kernels.F32ToBF16, kernels.BF16ToF32)
	})
}

func FuzzGemvF16(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzGemvHalf(t, data, "GemvF16", kernels.F32ToF16, kernels.F16ToF32)
	})
}

// fuzzGemvHalf checks a reduced-precision GEMV: W is the input's values narrowed
// (so its classes become infinities, NaNs, subnormals and zeros of the format),
// each y[i] within CheckDot's bound for the exactly widened row. A misaligned W
// starts 2 bytes before the other operands' offset, off their 4-byte grid.
func fuzzGemvHalf(t *testing.T, data []byte, name string, narrow func([]uint16, []float32), widen func([]float32, []uint16)) {
	in := &input{b: data}
	rows, cols, p := matrix(in)
	wv, wide, xv := make([]uint16, rows*cols), make([]float32, rows*cols), in.values(cols)
	narrow(wv, in.values(rows*cols))
	widen(wide, wv)
	wp := p
	if p.Offset > 0 {
		wp.Offset -= 2
	}
	ry, rw, rx := testutil.NewRegion(t, 4*rows), testutil.NewRegion(t, 2*rows*cols), testutil.NewRegion(t, 4*cols)
	for _, im := range impls(t) {
		y := ry.F32(rows, p, nil)
		w, x := rw.U16(rows*cols, wp, wv), rx.F32(cols, p, xv)
		if name == "GemvBF16" {
			im.k.GemvBF16(y, w, x)
		} else {
			im.k.GemvF16(y, w, x)
		}
		for i := range y {
			if err := testutil.CheckDot(y[i], wide[i*cols:(i+1)*cols], xv); err != nil {
				t.Fatalf("%s: %s %dx%d row %d: %v", im.name, name, rows, cols, i, err)
			}
		}
		if !ry.UntouchedF32(y) {
			t.Fatalf("%s: %s wrote outside y", im.name, name)
		}
	}
}

// FuzzGemvQ8_0 checks GemvQ8_0 on the input's shape with its columns cut to whole
// blocks. W is the input's values quantized block by block; a block the quantizer
// refuses (a NaN, an infinity or a huge value in it) is stored raw instead: its
// first value's half bits as the scale (so non-finite scales occur) and bits of
// each value as the quants (-128 included). A misaligned W starts 1 byte before the
// other operands' offset, off every word boundary.
func FuzzGemvQ8_0(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		rows, cols, p := matrix(in)
		cols = cols / kernels.Q8_0Block * kernels.Q8_0Block
		vals, xv := in.values(rows*cols), in.values(cols)
		rowBytes := cols / kernels.Q8_0Block * kernels.Q8_0BlockBytes
		wv := q8FromValues(vals)
		wp := p
		if p.Offset > 0 {
			wp.Offset--
		}
		ry, rw, rx := testutil.NewRegion(t, 4*rows), testutil.NewRegion(t, len(wv)), testutil.NewRegion(t, 4*cols)
		for _, im := range impls(t) {
			y := ry.F32(rows, p, nil)
			im.k.GemvQ8_0(y, rw.Bytes(len(wv), wp, wv), rx.F32(cols, p, xv))
			for i := range y {
				if err := testutil.CheckGemvQ8_0(y[i], wv[i*rowBytes:(i+1)*rowBytes], xv); err != nil {
					t.Fatalf("%s: GemvQ8_0 %dx%d row %d: %v", im.name, rows, cols, i, err)
				}
			}
			if !ry.UntouchedF32(y) {
				t.Fatalf("%s: GemvQ8_0 wrote outside y", im.name)
			}
		}
	})
}

// FuzzGemvQ8_0Q8 checks GemvQ8_0Q8 on the input's shape: W from the input's values
// as in FuzzGemvQ8_0, x quantized by QuantizeQ8Vector (or, where x holds a NaN or an
// infinity, raw quants from its bits, -128 made -127, and its magnitudes as scales),
// each y[i] within CheckGemvQ8_0Q8's bound.
func FuzzGemvQ8_0Q8(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		rows, cols, p := matrix(in)
		cols = cols / kernels.Q8_0Block * kernels.Q8_0Block
		vals, xv := in.values(rows*cols), in.values(cols)
		rowBytes := cols / kernels.Q8_0Block * kernels.Q8_0BlockBytes
		wv := q8FromValues(vals)
		xq, xd := make([]byte, cols), make([]float32, cols/kernels.Q8_0Block)
		if kernels.QuantizeQ8Vector(xq, xd, xv) != nil {
			for j, v := range xv {
				xq[j] = byte(max(-127, int8(math.Float32bits(v)>>7)))
				if d := float32(math.Abs(float64(v))); j%kernels.Q8_0Block == 0 && !math.IsNaN(float64(d)) && !math.IsInf(float64(d), 0) {
					xd[j/kernels.Q8_0Block] = d
				}
			}
		}
		wp := p
		if p.Offset > 0 {
			wp.Offset--
		}
		ry, rw := testutil.NewRegion(t, 4*rows), testutil.NewRegion(t, len(wv))
		rq, rd := testutil.NewRegion(t, cols), testutil.NewRegion(t, len(xd)*4)
		for _, im := range impls(t) {
			y := ry.F32(rows, p, nil)
			im.k.GemvQ8_0Q8(y, rw.Bytes(len(wv), wp, wv), rq.Bytes(cols, p, xq), rd.F32(len(xd), p, xd))
			for i := range y {
				if err := testutil.CheckGemvQ8_0Q8(y[i], wv[i*rowBytes:(i+1)*rowBytes], xq, xd); err != nil {
					t.Fatalf("%s: GemvQ8_0Q8 %dx%d row %d: %v", im.name, rows, cols, i, err)
				}
			}
			if !ry.UntouchedF32(y) {
				t.Fatalf("%s: GemvQ8_0Q8 wrote outside y", im.name)
			}
		}
	})
}

func FuzzGemvTBF16(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzGemvTHalf(t, data, "GemvTBF16", kernels.F32ToBF16, kernels.BF16ToF32)
	})
}

func FuzzGemvTF16(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzGemvTHalf(t, data, "GemvTF16", kernels.F32ToF16, kernels.F16ToF32)
	})
}

// fuzzGemvTHalf checks a transposed reduced-precision GEMV on the input's shape, W
// len(x) = rows (up to 80: every remainder of the four-row blocks) by len(y) = cols
// (up to 700: every column tail) and narrowed from the input's values as in
// fuzzGemvHalf: each y[j] within CheckDot's bound for the exactly widened column of
// W with x. y starts as the guard's NaNs, which the kernel must clear.
func fuzzGemvTHalf(t *testing.T, data []byte, name string, narrow func([]uint16, []float32), widen func([]float32, []uint16)) {
	in := &input{b: data}
	rows, cols, p := matrix(in)
	wv, wide, xv := make([]uint16, rows*cols), make([]float32, rows*cols), in.values(rows)
	narrow(wv, in.values(rows*cols))
	widen(wide, wv)
	wp := p
	if p.Offset > 0 {
		wp.Offset -= 2
	}
	ry, rw, rx := testutil.NewRegion(t, 4*cols), testutil.NewRegion(t, 2*rows*cols), testutil.NewRegion(t, 4*rows)
	col := make([]float32, rows)
	for _, im := range impls(t) {
		y := ry.F32(cols, p, nil)
		w, x := rw.U16(rows*cols, wp, wv), rx.F32(rows, p, xv)
		if name == "GemvTBF16" {
			im.k.GemvTBF16(y, w, x)
		} else {
			im.k.GemvTF16(y, w, x)
		}
		for j := range y {
			for i := range col {
				col[i] = wide[i*cols+j]
			}
			if err := testutil.CheckDot(y[j], col, xv); err != nil {
				t.Fatalf("%s: %s %dx%d column %d: %v", im.name, name, rows, cols, j, err)
			}
		}
		if !ry.UntouchedF32(y) {
			t.Fatalf("%s: %s wrote outside y", im.name, name)
		}
	}
}

// FuzzGemvTQ8_0 checks GemvTQ8_0 on the input's shape, W len(x) = rows by len(y) =
// cols cut to whole blocks, built from the input's values as in FuzzGemvQ8_0 (raw
// blocks where the quantizer refuses, so non-finite scales occur) and at 1 byte off
// the other operands' offset: each y[j] within CheckGemvTQ8_0's bound for its column.
func FuzzGemvTQ8_0(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		rows, cols, p := matrix(in)
		cols = cols / kernels.Q8_0Block * kernels.Q8_0Block
		xv, vals := in.values(rows), in.values(rows*cols)
		wv := q8FromValues(vals)
		wp := p
		if p.Offset > 0 {
			wp.Offset--
		}
		rowBytes := cols / kernels.Q8_0Block * kernels.Q8_0BlockBytes
		scales, quants := make([]uint16, rows), make([]int8, rows)
		ry, rw, rx := testutil.NewRegion(t, 4*cols), testutil.NewRegion(t, len(wv)), testutil.NewRegion(t, 4*rows)
		for _, im := range impls(t) {
			y := ry.F32(cols, p, nil)
			im.k.GemvTQ8_0(y, rw.Bytes(len(wv), wp, wv), rx.F32(rows, p, xv))
			for j := range y {
				for i := range rows {
					blk := wv[i*rowBytes+j/kernels.Q8_0Block*kernels.Q8_0BlockBytes:]
					scales[i], quants[i] = uint16(blk[0])|uint16(blk[1])<<8, int8(blk[2+j%kernels.Q8_0Block])
				}
				if err := testutil.CheckGemvTQ8_0(y[j], xv, scales, quants); err != nil {
					t.Fatalf("%s: GemvTQ8_0 %dx%d column %d: %v", im.name, rows, cols, j, err)
				}
			}
			if !ry.UntouchedF32(y) {
				t.Fatalf("%s: GemvTQ8_0 wrote outside y", im.name)
			}
		}
	})
}

// q8FromValues quantizes vals (whole blocks) to Q8_0 block by block; a block the
// quantizer refuses (a NaN, an infinity or a huge value in it) is stored raw: its
// first value's half bits as the scale and bits of each value as the quants.
func q8FromValues(vals []float32) []byte {
	wv := make([]byte, len(vals)/kernels.Q8_0Block*kernels.Q8_0BlockBytes)
	for b := 0; b < len(vals)/kernels.Q8_0Block; b++ {
		src := vals[b*kernels.Q8_0Block : (b+1)*kernels.Q8_0Block]
		dst := wv[b*kernels.Q8_0BlockBytes : (b+1)*kernels.Q8_0BlockBytes]
		if kernels.QuantizeQ8_0(dst, src) != nil {
			var h [1]uint16
			kernels.F32ToF16(h[:], src[:1])
			dst[0], dst[1] = byte(h[0]), byte(h[0]>>8)
			for j, v := range src {
				dst[2+j] = byte(math.Float32bits(v) >> 11)
			}
		}
	}
	return wv
}

// FuzzGemvE4M3 checks GemvE4M3 on the input's shape: W is the input's values
// rounded to FP8 E4M3 by e4m3FromValues (so its classes become NaN bytes, ±448,
// subnormals and zeros), each y[i] within CheckE4M3Dot's bound for its row with the
// assembly's underflow term E4M3Tiny. A misaligned W starts 1 byte before the other
// operands' offset, off every word boundary.
// FuzzGemvE4M3Finite checks GemvE4M3Finite as FuzzGemvE4M3 checks GemvE4M3, with W's
// NaN bytes made the largest finite ones.
func FuzzGemvE4M3Finite(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzGemvE4M3(t, data, "GemvE4M3Finite", (*mlasimd.Kernels).GemvE4M3Finite, true)
	})
}

func FuzzGemvE4M3(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzGemvE4M3(t, data, "GemvE4M3", (*mlasimd.Kernels).GemvE4M3, false)
	})
}

// fuzzGemvE4M3 checks an FP8 GEMV on the input's shape and values, each y[i] within
// CheckE4M3Dot's bound; with finite, W's NaN bytes are made finite first.
func fuzzGemvE4M3(t *testing.T, data []byte, name string, gemv func(*mlasimd.Kernels, []float32, []byte, []float32), finite bool) {
	in := &input{b: data}
	rows, cols, p := matrix(in)
	wv, xv := e4m3FromValues(in.values(rows*cols)), in.values(cols)
	for i, b := range wv {
		if finite && b&0x7f == 0x7f {
			wv[i]--
		}
	}
	wp := p
	if p.Offset > 0 {
		wp.Offset--
	}
	ry, rw, rx := testutil.NewRegion(t, 4*rows), testutil.NewRegion(t, len(wv)), testutil.NewRegion(t, 4*cols)
	for _, im := range impls(t) {
		y := ry.F32(rows, p, nil)
		gemv(im.k, y, rw.Bytes(len(wv), wp, wv), rx.F32(cols, p, xv))
		for i := range y {
			if err := testutil.CheckE4M3Dot(y[i], wv[i*cols:(i+1)*cols], xv, testutil.E4M3Tiny); err != nil {
				t.Fatalf("%s: %s %dx%d row %d: %v", im.name, name, rows, cols, i, err)
			}
		}
		if !ry.UntouchedF32(y) {
			t.Fatalf("%s: %s wrote outside y", im.name, name)
		}
	}
}

// FuzzGemvTE4M3 checks GemvTE4M3 on the input's shape, W len(x) = rows by len(y) =
// cols built as in FuzzGemvE4M3: each y[j] within CheckE4M3Dot's bound (Tiny, x·256
// being exact) for its column. y starts as the guard's NaNs, which the kernel must
// clear.
func FuzzGemvTE4M3(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		rows, cols, p := matrix(in)
		xv := in.values(rows)
		wv := e4m3FromValues(in.values(rows * cols))
		wp := p
		if p.Offset > 0 {
			wp.Offset--
		}
		ry, rw, rx := testutil.NewRegion(t, 4*cols), testutil.NewRegion(t, len(wv)), testutil.NewRegion(t, 4*rows)
		col := make([]byte, rows)
		for _, im := range impls(t) {
			y := ry.F32(cols, p, nil)
			im.k.GemvTE4M3(y, rw.Bytes(len(wv), wp, wv), rx.F32(rows, p, xv))
			for j := range y {
				for i := range col {
					col[i] = wv[i*cols+j]
				}
				if err := testutil.CheckE4M3Dot(y[j], col, xv, testutil.Tiny); err != nil {
					t.Fatalf("%s: GemvTE4M3 %dx%d column %d: %v", im.name, rows, cols, j, err)
				}
			}
			if !ry.UntouchedF32(y) {
				t.Fatalf("%s: GemvTE4M3 wrote outside y", im.name)
			}
		}
	})
}

// e4m3Finite are the non-negative finite FP8 E4M3 values in byte order, which is
// their order: 0, the subnormals, the normals up to 448.
var e4m3Finite = func() (v [127]float32) {
	for b := range v {
		v[b] = kernels.E4M3Value(byte(b))
	}
	return v
}()

// e4m3FromValues rounds each value to the nearest FP8 E4M3 byte (ties to the lower
// magnitude), saturating at ±448; the value classes map to the format's own: a NaN to
// a NaN byte, an infinity to ±448 (E4M3 has none), a float32 subnormal to an E4M3
// subnormal picked by its low bits, so that those bytes occur at the classes' rate.
func e4m3FromValues(vals []float32) []byte {
	w := make([]byte, len(vals))
	for i, v := range vals {
		bits := math.Float32bits(v)
		sign := byte(bits >> 24 & 0x80)
		a := math.Abs(float64(v))
		switch {
		case v != v:
			w[i] = sign | 0x7f
		case a != 0 && a < 0x1p-126:
			w[i] = sign | byte(1+bits%7)
		default:
			b := 0
			for b < 126 && float64(e4m3Finite[b+1]) <= a {
				b++
			}
			if b < 126 && float64(e4m3Finite[b+1])-a < a-float64(e4m3Finite[b]) {
				b++
			}
			w[i] = sign | byte(b)
		}
	}
	return w
}

func FuzzGemvT(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		cols, rows, p := matrix(in) // W is len(x)=rows by len(y)=cols; cols up to 700
		wv, xv := in.values(rows*cols), in.values(rows)
		ry, rw, rx := testutil.NewRegion(t, 4*cols), testutil.NewRegion(t, 4*rows*cols), testutil.NewRegion(t, 4*rows)
		col := make([]float32, rows)
		for _, im := range matrixImpls(t) {
			restore := im.use()
			y := ry.F32(cols, p, nil)
			im.k.GemvT(y, rw.F32(rows*cols, p, wv), rx.F32(rows, p, xv))
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
		dv, uv, xv := in.values(lat*d), in.values(out*lat), in.values(d)
		ry, rl := testutil.NewRegion(t, 4*out), testutil.NewRegion(t, 4*lat)
		rd, ru, rx := testutil.NewRegion(t, 4*lat*d), testutil.NewRegion(t, 4*out*lat), testutil.NewRegion(t, 4*d)
		for _, im := range matrixImpls(t) {
			restore := im.use()
			y, latent := ry.F32(out, p, nil), rl.F32(lat, p, nil)
			im.k.DownUp(y, latent, rd.F32(lat*d, p, dv), ru.F32(out*lat, p, uv), rx.F32(d, p, xv))
			for i := range latent {
				if err := testutil.CheckDot(latent[i], dv[i*d:(i+1)*d], xv); err != nil {
					t.Fatalf("%s: DownUp latent %d: %v", im.name, i, err)
				}
			}
			for i := range y {
				if err := testutil.CheckDot(y[i], uv[i*lat:(i+1)*lat], latent); err != nil {
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

// gemm decodes m, n, k, leading dimensions a little larger than the rows, and the
// placement of every operand.
func gemm(in *input) (m, n, k, lda, ldb int, p testutil.Place) {
	m, n, k = in.intn(21), in.intn(70), in.intn(600)
	return m, n, k, k + in.intn(5), in.intn(5), in.place()
}

func FuzzGemmNT(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzGemmNT(t, data, false) })
}

// FuzzGemmNTPrefetch checks GemmNTPrefetch, with an unrelated next of its own, like
// GemmNT: it differs only in what it streams into the cache, so it must also give
// GemmNT's bits.
func FuzzGemmNTPrefetch(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzGemmNT(t, data, true) })
}

func fuzzGemmNT(t *testing.T, data []byte, prefetch bool) {
	in := &input{b: data}
	m, n, k, lda, ldb, p := gemm(in)
	ldb += k
	av, bv := in.values(testutil.MatLen(m, k, lda)), in.values(testutil.MatLen(n, k, ldb))
	rc, ra, rb, rn := testutil.NewRegion(t, 4*m*n), testutil.NewRegion(t, 4*len(av)), testutil.NewRegion(t, 4*len(bv)), testutil.NewRegion(t, 4*len(bv))
	name := "GemmNT"
	if prefetch {
		name = "GemmNTPrefetch"
	}
	for _, im := range matrixImpls(t) {
		c := rc.F32(m*n, p, nil)
		restore := im.use()
		im.k.GemmNT(c, ra.F32(len(av), p, av), rb.F32(len(bv), p, bv), m, n, k, lda, ldb)
		restore()
		if prefetch {
			want := append([]float32(nil), c...)
			c = rc.F32(m*n, p, nil)
			restore = im.use()
			im.k.GemmNTPrefetch(c, ra.F32(len(av), p, av), rb.F32(len(bv), p, bv), rn.F32(len(bv), p, nil), m, n, k, lda, ldb)
			restore()
			if !sameBits(c, want) {
				t.Fatalf("%s: GemmNTPrefetch m=%d n=%d k=%d differs from GemmNT", im.name, m, n, k)
			}
		}
		for i := range m {
			for j := range n {
				if err := testutil.CheckDot(c[i*n+j], av[i*lda:i*lda+k], bv[j*ldb:j*ldb+k]); err != nil {
					t.Fatalf("%s: %s m=%d n=%d k=%d (%d,%d): %v", im.name, name, m, n, k, i, j, err)
				}
			}
		}
		if !rc.UntouchedF32(c) {
			t.Fatalf("%s: %s wrote outside c", im.name, name)
		}
	}
}

func FuzzGemmNN(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzGemmNN(t, data, false) })
}

func FuzzGemmNNAdd(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzGemmNN(t, data, true) })
}

// fuzzGemmNN checks GemmNN, or GemmNNAdd when add is set, on a c that starts from
// arbitrary values (GemmNN must overwrite them).
func fuzzGemmNN(t *testing.T, data []byte, add bool) {
	in := &input{b: data}
	m, n, k, lda, ldb, p := gemm(in)
	k %= 200
	lda = k + lda%5
	ldb += n
	av, bv := in.values(testutil.MatLen(m, k, lda)), in.values(testutil.MatLen(k, n, ldb))
	c0 := in.values(m * n)
	rc, ra, rb := testutil.NewRegion(t, 4*m*n), testutil.NewRegion(t, 4*len(av)), testutil.NewRegion(t, 4*len(bv))
	// Each dot product as GemmNNAdd sums it: c0 first (times 1), then p in order;
	// GemmNN's has 0 in c0's place.
	row, col := make([]float32, k+1), make([]float32, k+1)
	row[0] = 1
	name := "GemmNN"
	if add {
		name = "GemmNNAdd"
	}
	for _, im := range impls(t) {
		c, a, b := rc.F32(m*n, p, c0), ra.F32(len(av), p, av), rb.F32(len(bv), p, bv)
		if add {
			im.k.GemmNNAdd(c, a, b, m, n, k, lda, ldb)
		} else {
			im.k.GemmNN(c, a, b, m, n, k, lda, ldb)
		}
		for i := range m {
			copy(row[1:], av[i*lda:i*lda+k])
			for j := range n {
				col[0] = 0
				if add {
					col[0] = c0[i*n+j]
				}
				for q := range k {
					col[q+1] = bv[q*ldb+j]
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
