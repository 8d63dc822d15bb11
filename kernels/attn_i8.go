package kernels

import (
	"fmt"
	"github.com/mlasimd/mlasimd/internal/checked"
	"math"
)

// An I8 cache stores rows of w int8 values (w a multiple of 4) in tiles of
// I8TileRows rows, laid out for dot products over 4 bytes (VPDPBUSD, SDOT): in a
// tile, the byte of row r and column 4g+t sits at offset (g·I8TileRows + r)·4 + t,
// so that one 64-byte load holds four columns of all sixteen rows. Each byte is the
// value plus 128 (the value XOR 0x80), unsigned, so that a product with a signed
// query is VPDPBUSD's u8·s8 and the 128·Σq it adds is subtracted once per query.
//
// A row is two segments, columns [0, split) and [split, w) (MLA's latent part and
// its rope part), each with its own float32 scale: the tile's scales are 2·I8TileRows
// floats, segment 0's for rows 0..15, then segment 1's. A value v of a segment with
// scale d stands for d·v, v in [-127, 127].
const I8TileRows = 16

// I8TileBytes is the bytes of one tile of rows of width w.
func I8TileBytes(w int) int { return I8TileRows * w }

// I8MaxWidth bounds w, so that a segment's dot product of quants is exact in
// float32 (1024·127·127 < 2^24).
const I8MaxWidth = 1024

// CheckI8Rows panics unless tiles and scales (lengths) hold whole tiles for n rows of
// width w split at split.
func CheckI8Rows(kernel string, tiles, scales, n, w, split int) {
	if w <= 0 || w%4 != 0 || w > I8MaxWidth || split <= 0 || split >= w || split%4 != 0 {
		shapePanic(kernel, "row width %d split at %d, want a multiple of 4 up to %d split at a multiple of 4 inside it", w, split, I8MaxWidth)
	}
	if n < 0 {
		shapePanic(kernel, "negative row count %d", n)
	}
	t := i8Tiles(n)
	bytes, ok1 := checked.Mul(t, I8TileBytes(w))
	floats, ok2 := checked.Mul(t, 2*I8TileRows)
	if !ok1 || !ok2 || tiles < bytes || scales < floats {
		shapePanic(kernel, "len(tiles)=%d len(scales)=%d, want %d tiles of %d bytes and %d scales", tiles, scales, t, I8TileBytes(w), 2*I8TileRows)
	}
}

// i8Tiles is the number of tiles that hold n >= 0 rows (no overflow for any n).
func i8Tiles(n int) int {
	if n%I8TileRows != 0 {
		return n/I8TileRows + 1
	}
	return n / I8TileRows
}

// isProduct reports whether n == a·b without overflow.
func isProduct(n, a, b int) bool {
	p, ok := checked.Mul(a, b)
	return ok && p == n
}

// i8At returns the offset in a tile store of row j, column k.
func i8At(j, k, w int) int {
	return (j/I8TileRows)*I8TileBytes(w) + ((k/4)*I8TileRows+j%I8TileRows)*4 + k%4
}

// i8Scale returns the index in a scale store of row j's segment seg.
func i8Scale(j, seg int) int {
	return (j/I8TileRows)*2*I8TileRows + seg*I8TileRows + j%I8TileRows
}

// segmentScale is d = max|x|/127 rounded to float32: the step of a segment's quants.
func segmentScale(x []float32) float32 {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	return amax / 127
}

// quant is v/d rounded to the nearest integer (ties away from zero, formed in
// float64), clamped to ±127, and 0 when d is 0 (QuantizeQ8Vector's rounding).
func quant(v, d float32) int8 {
	if d == 0 {
		return 0
	}
	return int8(max(-127, min(127, math.Round(float64(v)/float64(d)))))
}

// checkFinite returns an error naming the first value of x that is not finite.
func checkFinite(kernel string, x []float32) error {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("mlasimd: %s: value %d is %v: %w", kernel, i, v, ErrQ8_0Value)
		}
	}
	return nil
}

// QuantizeI8Rows writes the rows of x (len(x)/w rows of width w) as rows j0, j0+1, ...
// of an I8 store, each segment quantized on its own (|x - d·q| <= d/2 with
// d = max|x|/127 of the segment, as for QuantizeQ8Vector). A NaN or an infinity is
// an error wrapping ErrQ8_0Value, and nothing is written.
func QuantizeI8Rows(tiles []byte, scales []float32, x []float32, j0, w, split int) error {
	end, ok := checked.Add(j0, len(x)/max(w, 1))
	if w <= 0 || len(x)%w != 0 || j0 < 0 || !ok {
		shapePanic("QuantizeI8Rows", "len(x)=%d is not whole rows of width %d, or row %d is negative or too large", len(x), w, j0)
	}
	CheckI8Rows("QuantizeI8Rows", len(tiles), len(scales), end, w, split)
	if err := checkFinite("QuantizeI8Rows", x); err != nil {
		return err
	}
	for r := range len(x) / w {
		j := j0 + r
		row := x[r*w : (r+1)*w]
		for seg, part := range [2][]float32{row[:split], row[split:]} {
			k0, d := seg*split, segmentScale(part)
			scales[i8Scale(j, seg)] = d
			for i, v := range part {
				tiles[i8At(j, k0+i, w)] = byte(quant(v, d)) ^ 0x80
			}
		}
	}
	return nil
}

// DequantizeI8Rows writes rows [j0, j1) of an I8 store to dst ((j1-j0)·w values):
// each value times its segment's scale, rounded to float32.
func DequantizeI8Rows(dst []float32, tiles []byte, scales []float32, j0, j1, w, split int) {
	CheckI8Rows("DequantizeI8Rows", len(tiles), len(scales), j1, w, split)
	if j0 < 0 || j0 > j1 || len(dst) != (j1-j0)*w {
		shapePanic("DequantizeI8Rows", "rows [%d, %d) of width %d into len(dst)=%d", j0, j1, w, len(dst))
	}
	for j := j0; j < j1; j++ {
		for k := range w {
			seg := 0
			if k >= split {
				seg = 1
			}
			v := float32(int8(tiles[i8At(j, k, w)] ^ 0x80))
			dst[(j-j0)*w+k] = v * scales[i8Scale(j, seg)]
		}
	}
}

// QuantizeI8Query writes m query rows x (m x w) as int8 quants q (m x w, as bytes)
// with two scales per row in qs (m x 2), one per segment, quantized like the cache's
// rows. A NaN or an infinity is an error wrapping ErrQ8_0Value.
func QuantizeI8Query(q []byte, qs []float32, x []float32, m, w, split int) error {
	if m < 0 || w <= 0 || split <= 0 || split >= w || !isProduct(len(x), m, w) || len(q) != len(x) || !isProduct(len(qs), 2, m) {
		shapePanic("QuantizeI8Query", "len(q)=%d len(qs)=%d len(x)=%d for %d rows of %d split at %d", len(q), len(qs), len(x), m, w, split)
	}
	if err := checkFinite("QuantizeI8Query", x); err != nil {
		return err
	}
	for h := range m {
		row := x[h*w : (h+1)*w]
		for seg, part := range [2][]float32{row[:split], row[split:]} {
			out, d := q[h*w+seg*split:][:len(part)], segmentScale(part)
			qs[2*h+seg] = d
			for i, v := range part {
				out[i] = byte(quant(v, d))
			}
		}
	}
	return nil
}

// CheckAttnScoresI8 panics unless the shapes fit AttnScoresI8.
func CheckAttnScoresI8(kernel string, s, q, qs, tiles, scales, m, n, w, split int) {
	CheckI8Rows(kernel, tiles, scales, n, w, split)
	if m < 0 || !isProduct(s, m, n) || !isProduct(q, m, w) || !isProduct(qs, 2, m) {
		shapePanic(kernel, "len(s)=%d len(q)=%d len(qs)=%d, want m·n, m·w and 2·m for %d queries of %d over %d rows", s, q, qs, m, w, n)
	}
}

// AttnScoresI8 computes the scores of m int8 queries against n rows of an I8 store:
// with I_seg = Σ_{k in seg} q[h][k]·v[j][k], exact in int32 (and in float32, w <=
// I8MaxWidth),
//
//	s[h·n+j] = float32(I_0)·(qs[2h]·d_0[j]) + float32(I_1)·(qs[2h+1]·d_1[j]),
//
// each scale product, each product and the sum rounded to float32 in that order, on
// every Level. Every quant of q must be in [-127, 127] (the AVX2 body's pair sums
// assume it; QuantizeI8Query writes no -128).
func AttnScoresI8(s []float32, q []byte, qs []float32, tiles []byte, scales []float32, m, n, w, split int) {
	CheckAttnScoresI8("AttnScoresI8", len(s), len(q), len(qs), len(tiles), len(scales), m, n, w, split)
	for h := range m {
		qh := q[h*w : (h+1)*w]
		for j := range n {
			var sum [2]int32
			for k, qv := range qh {
				seg := 0
				if k >= split {
					seg = 1
				}
				sum[seg] += int32(int8(qv)) * int32(int8(tiles[i8At(j, k, w)]^0x80))
			}
			f0 := qs[2*h] * scales[i8Scale(j, 0)]
			f1 := qs[2*h+1] * scales[i8Scale(j, 1)]
			s[h*n+j] = float32(float32(sum[0])*f0) + float32(float32(sum[1])*f1)
		}
	}
}

// I8ProbStride is the row stride of quantized probabilities for n rows: n rounded
// up to a whole tile, the padding zero.
func I8ProbStride(n int) int { return i8Tiles(n) * I8TileRows }

// CheckQuantizeProbsI8 panics unless the shapes fit QuantizeProbsI8.
func CheckQuantizeProbsI8(kernel string, pq, ps, p, scales, m, n int) {
	t := i8Tiles(max(n, 0))
	floats, ok := checked.Mul(t, 2*I8TileRows)
	if m < 0 || n < 0 || !ok || !isProduct(p, m, n) || !isProduct(pq, m, t*I8TileRows) || ps != m || scales < floats {
		shapePanic(kernel, "len(pq)=%d len(ps)=%d len(p)=%d len(scales)=%d for %d rows of %d probabilities", pq, ps, p, scales, m, n)
	}
}

// QuantizeProbsI8 rounds m rows of n probabilities p (m x n, each >= 0 and finite)
// times the latent scale d_0[j] of the row they weigh to unsigned quants for
// AttnValuesI8: per row h, x_j = p[h][j]·d_0[j] and M = max_j x_j, both float32;
// ps[h] = M/127 and pq[h][j] = x_j·(127/M) rounded to the nearest integer (ties to
// even), clamped to [0, 127], every quotient and product rounded to float32. A row
// whose M is 0, infinite or not a positive number (a NaN product), or so small that
// 127/M overflows to +Inf (M below about 3.7e-37), gets ps[h] = 0 and zero quants. pq has row
// stride I8ProbStride(n), its padding zero. The error: |x_j - ps[h]·pq[h][j]| <=
// ps[h]/2 + 2·2^-24·x_j.
//
// The quants stop at 127 so that the AVX2 body's VPMADDUBSW pair sums
// (2·127·127 < 2^15) never saturate.
func QuantizeProbsI8(pq []byte, ps []float32, p []float32, scales []float32, m, n int) {
	CheckQuantizeProbsI8("QuantizeProbsI8", len(pq), len(ps), len(p), len(scales), m, n)
	ld := I8ProbStride(n)
	for h := range m {
		row := p[h*n : (h+1)*n]
		var mx float32
		for j, v := range row {
			mx = max(mx, float32(v*scales[i8Scale(j, 0)]))
		}
		out := pq[h*ld : (h+1)*ld]
		clear(out)
		inv := 127 / mx
		if !(mx > 0) || math.IsInf(float64(mx), 1) || math.IsInf(float64(inv), 1) {
			ps[h] = 0
			continue
		}
		ps[h] = mx / 127
		for j, v := range row {
			x := float32(v * scales[i8Scale(j, 0)])
			r := math.RoundToEven(float64(float32(x * inv)))
			out[j] = byte(max(0, min(127, r)))
		}
	}
}

// CheckAttnValuesI8 panics unless the shapes fit AttnValuesI8.
func CheckAttnValuesI8(kernel string, o, pq, ps, tiles, scales, m, n, dv, w, split int) {
	CheckI8Rows(kernel, tiles, scales, n, w, split)
	if m < 0 || dv < 0 || dv > split || dv%16 != 0 || !isProduct(o, m, dv) || !isProduct(pq, m, i8Tiles(n)*I8TileRows) || ps != m {
		shapePanic(kernel, "len(o)=%d len(pq)=%d len(ps)=%d for %d rows of %d values (a multiple of 16 up to %d) over %d rows", o, pq, ps, m, dv, split, n)
	}
}

// AttnValuesI8 adds the probability-weighted latent values of n rows of an I8 store
// to o (m x dv, dv a multiple of 16 within segment 0):
//
//	o[h·dv+d] += float32(A)·ps[h],  A = Σ_j pq[h][j]·v[j][d]  (int32, exact),
//
// the conversion of A rounded to float32 (exact while |A| < 2^24, i.e. n <= 1040),
// then the product, then the sum. pq is QuantizeProbsI8's output (row stride
// I8ProbStride(n), padding zero, every quant in [0, 127]: the AVX2 body's VPMADDUBSW
// pair sums and the AVX-512 body, which multiplies them as signed bytes, need both);
// the row scales d_0[j] are in it, so scales is only checked for shape here.
func AttnValuesI8(o []float32, pq []byte, ps []float32, tiles []byte, scales []float32, m, n, dv, w, split int) {
	CheckAttnValuesI8("AttnValuesI8", len(o), len(pq), len(ps), len(tiles), len(scales), m, n, dv, w, split)
	ld := I8ProbStride(n)
	for h := range m {
		for d := range dv {
			var a int32
			for j := range n {
				a += int32(pq[h*ld+j]) * int32(int8(tiles[i8At(j, d, w)]^0x80))
			}
			o[h*dv+d] += float32(float32(a) * ps[h])
		}
	}
}
