package mlasimd_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
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

// halfFormat is a 16-bit weight format of the reduced-precision GEMVs.
type halfFormat struct {
	name   string
	gemv   func(k *mlasimd.Kernels, y []float32, w []uint16, x []float32)
	widen  func(dst []float32, src []uint16)
	narrow func(dst []uint16, src []float32)
	// specials are the patterns mixed into W: zeros, infinities, quiet and signaling
	// NaNs, the largest finite value (its products overflow) and subnormals.
	specials []uint16
}

var (
	bf16Format = halfFormat{"GemvBF16", (*mlasimd.Kernels).GemvBF16, kernels.BF16ToF32, kernels.F32ToBF16,
		[]uint16{0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f81, 0x7f7f, 0x0001, 0x807f}}
	f16Format = halfFormat{"GemvF16", (*mlasimd.Kernels).GemvF16, kernels.F16ToF32, kernels.F32ToF16,
		[]uint16{0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe01, 0x7c01, 0x7bff, 0x0001, 0x03ff, 0x8200}}
)

func TestGemvBF16(t *testing.T) { testGemvHalf(t, bf16Format) }
func TestGemvF16(t *testing.T)  { testGemvHalf(t, f16Format) }

// testGemvHalf runs a reduced-precision GEMV over gemvShapes with y, w and x at every
// placement (and w also 2 bytes off the alignment of x and y), on weights rounded
// from normals; every third shape has special patterns in about half its rows.
// Widening is exact, so each y[i] must meet CheckDot's bound for the widened row.
func testGemvHalf(t *testing.T, f halfFormat) {
	shapes := append(gemvShapes(), [2]int{1031, 255}) // several chunks of 256 KiB
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for si, s := range shapes {
			rows, cols := s[0], s[1]
			wv, xv := make([]uint16, rows*cols), testutil.Normals(rng, cols)
			f.narrow(wv, testutil.Normals(rng, rows*cols))
			if si%3 == 0 && len(wv) > 0 {
				for range max(1, rows/2) {
					wv[rng.IntN(len(wv))] = f.specials[rng.IntN(len(f.specials))]
				}
			}
			wide := make([]float32, len(wv))
			f.widen(wide, wv)
			places := testutil.PlacesFor(si)
			for i, p := range append(places, testutil.Head) {
				wp := p
				if i == len(places) {
					wp = testutil.Place{Offset: 2 + 4*(si%8)}
				}
				y := ry.F32(rows, p, nil)
				f.gemv(k, y, rw.U16(len(wv), wp, wv), rx.Copy(p, xv))
				checkMatVec(t, f.name, y, func(i int) ([]float32, []float32) { return wide[i*cols : (i+1)*cols], xv })
				require.True(t, ry.UntouchedF32(y), "%s wrote outside y (%dx%d)", f.name, rows, cols)
			}
		}
	})
}

// q8Shapes are gemvShapes with the columns rounded up to whole Q8_0 blocks, plus a
// W of several 256 KiB chunks.
func q8Shapes() [][2]int {
	seen := map[[2]int]bool{}
	var s [][2]int
	for _, sh := range append(gemvShapes(), [2]int{131, 4096}) {
		sh[1] = (sh[1] + 31) / 32 * 32
		if !seen[sh] {
			seen[sh] = true
			s = append(s, sh)
		}
	}
	return s
}

// q8Matrix returns a rows x cols W in Q8_0, quantized from normals scaled per block
// by 2^-30 to 2^20 (so that scales run from subnormal halves up), the wide values
// with it. With raw, about half the rows also get raw blocks: random quants
// (-128 too, which the quantizer never writes) under one of the special scales.
func q8Matrix(t *testing.T, rng *rand.Rand, rows, cols int, raw bool) []byte {
	vals := testutil.Normals(rng, rows*cols)
	for b := 0; b < len(vals); b += kernels.Q8_0Block {
		s := float32(math.Ldexp(1, rng.IntN(51)-30))
		for j := b; j < b+kernels.Q8_0Block; j++ {
			vals[j] *= s
		}
	}
	w := make([]byte, rows*cols/kernels.Q8_0Block*kernels.Q8_0BlockBytes)
	require.NoError(t, kernels.QuantizeQ8_0(w, vals))
	if raw && len(w) > 0 {
		specials := []uint16{0x0000, 0x8000, 0x0001, 0x03ff, 0xbc00, 0x7bff, 0x7c00, 0xfc00, 0x7e00}
		for range max(1, rows/2) {
			b := rng.IntN(len(w)/kernels.Q8_0BlockBytes) * kernels.Q8_0BlockBytes
			h := specials[rng.IntN(len(specials))]
			w[b], w[b+1] = byte(h), byte(h>>8)
			for j := b + 2; j < b+kernels.Q8_0BlockBytes; j++ {
				w[j] = byte(rng.Uint32())
			}
		}
	}
	return w
}

// TestGemvQ8_0 runs GemvQ8_0 over q8Shapes with y, w and x at every placement, and
// w also at an odd byte offset (Q8_0's 34-byte blocks put rows at any offset); every
// third shape has raw blocks with special scales and every fourth an Inf or NaN in x.
// Each y[i] must meet CheckGemvQ8_0's bound.
func TestGemvQ8_0(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for si, s := range q8Shapes() {
			rows, cols := s[0], s[1]
			wv, xv := q8Matrix(t, rng, rows, cols, si%3 == 0), testutil.Normals(rng, cols)
			if si%4 == 1 && cols > 0 {
				xv[rng.IntN(cols)] = []float32{float32(math.Inf(1)), float32(math.NaN())}[si/4%2]
			}
			rowBytes := cols / kernels.Q8_0Block * kernels.Q8_0BlockBytes
			places := testutil.PlacesFor(si)
			for i, p := range append(places, testutil.Head) {
				wp := p
				if i == len(places) {
					wp = testutil.Place{Offset: 1 + 2*(si%16)}
				}
				y := ry.F32(rows, p, nil)
				k.GemvQ8_0(y, rw.Bytes(len(wv), wp, wv), rx.Copy(p, xv))
				for r := range y {
					if err := testutil.CheckGemvQ8_0(y[r], wv[r*rowBytes:(r+1)*rowBytes], xv); err != nil {
						require.Failf(t, "GemvQ8_0", "%dx%d y[%d]: %v", rows, cols, r, err)
					}
				}
				require.True(t, ry.UntouchedF32(y), "GemvQ8_0 wrote outside y (%dx%d)", rows, cols)
			}
		}
	})
}

// gemvTShapes are the transposed reduced-precision GEMVs' shapes, rows of W (len(x))
// by columns (len(y)): every remainder of the four-row blocks (0, 1, 3, 4, 5, 17
// rows) at every column count up to 70 (each tail of either vector width, after
// unrolled and single vectors or alone), MLA decode's W_UK block of one head
// (128x512), and W of several 256 KiB calls (1031x255: two of 512 rows, then 7).
func gemvTShapes() [][2]int {
	var s [][2]int
	for _, rows := range []int{0, 1, 3, 4, 5, 17} {
		for cols := 0; cols <= 70; cols++ {
			s = append(s, [2]int{rows, cols})
		}
	}
	return append(s, [2]int{128, 512}, [2]int{37, 1100}, [2]int{9, 255}, [2]int{1031, 255})
}

func TestGemvTBF16(t *testing.T) {
	f := bf16Format
	f.name, f.gemv = "GemvTBF16", (*mlasimd.Kernels).GemvTBF16
	testGemvTHalf(t, f)
}

func TestGemvTF16(t *testing.T) {
	f := f16Format
	f.name, f.gemv = "GemvTF16", (*mlasimd.Kernels).GemvTF16
	testGemvTHalf(t, f)
}

// testGemvTHalf runs a transposed reduced-precision GEMV over gemvTShapes with y, w
// and x at every placement (and w also 2 bytes off the alignment of x and y), on
// weights rounded from normals; every third shape has special patterns in about half
// its rows, every fourth an Inf or NaN in x. y starts as the sentinel NaNs, which the
// kernel must clear. Widening is exact, so each y[j] must meet CheckDot's bound for
// the widened column of W with x (GemvTBF16's γ(rows) bound is tighter still).
func testGemvTHalf(t *testing.T, f halfFormat) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for si, s := range gemvTShapes() {
			rows, cols := s[0], s[1] // W is len(x) x len(y)
			wv, xv := make([]uint16, rows*cols), testutil.Normals(rng, rows)
			f.narrow(wv, testutil.Normals(rng, rows*cols))
			if si%3 == 0 && len(wv) > 0 {
				for range max(1, rows/2) {
					wv[rng.IntN(len(wv))] = f.specials[rng.IntN(len(f.specials))]
				}
			}
			if si%4 == 1 && rows > 0 {
				xv[rng.IntN(rows)] = []float32{float32(math.Inf(-1)), float32(math.NaN())}[si/4%2]
			}
			wide := make([]float32, len(wv))
			f.widen(wide, wv)
			places := testutil.PlacesFor(si)
			for i, p := range append(places, testutil.Head) {
				wp := p
				if i == len(places) {
					wp = testutil.Place{Offset: 2 + 4*(si%8)}
				}
				y := ry.F32(cols, p, nil)
				f.gemv(k, y, rw.U16(len(wv), wp, wv), rx.Copy(p, xv))
				checkMatVec(t, f.name, y, func(j int) ([]float32, []float32) { return column(wide, cols, j), xv })
				require.True(t, ry.UntouchedF32(y), "%s wrote outside y (%dx%d)", f.name, rows, cols)
			}
		}
	})
}

// q8TShapes are the transposed Q8_0 GEMV's shapes, rows of W by columns (whole
// blocks): every remainder of the four-row blocks at one to four blocks and at 512
// columns, the decode's 128x512, and W of two (600x512) and three (131x4096) 256 KiB
// calls.
func q8TShapes() [][2]int {
	var s [][2]int
	for _, rows := range []int{0, 1, 3, 4, 5, 17} {
		for _, cols := range []int{0, 32, 64, 96, 128, 512} {
			s = append(s, [2]int{rows, cols})
		}
	}
	return append(s, [2]int{128, 512}, [2]int{600, 512}, [2]int{131, 4096})
}

// TestGemvTQ8_0 runs GemvTQ8_0 over q8TShapes with y, w and x at every placement,
// and w also at an odd byte offset; every third shape has raw blocks with special
// scales and every fourth an Inf or NaN in x. Each y[j] must meet CheckGemvTQ8_0's
// bound for its column.
func TestGemvTQ8_0(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for si, s := range q8TShapes() {
			rows, cols := s[0], s[1] // W is len(x) x len(y)
			wv, xv := q8Matrix(t, rng, rows, cols, si%3 == 0), testutil.Normals(rng, rows)
			if si%4 == 1 && rows > 0 {
				xv[rng.IntN(rows)] = []float32{float32(math.Inf(1)), float32(math.NaN())}[si/4%2]
			}
			places := testutil.PlacesFor(si)
			for i, p := range append(places, testutil.Head) {
				wp := p
				if i == len(places) {
					wp = testutil.Place{Offset: 1 + 2*(si%16)}
				}
				y := ry.F32(cols, p, nil)
				k.GemvTQ8_0(y, rw.Bytes(len(wv), wp, wv), rx.Copy(p, xv))
				for j := range y {
					scales, quants := q8Column(wv, rows, cols, j)
					if err := testutil.CheckGemvTQ8_0(y[j], xv, scales, quants); err != nil {
						require.Failf(t, "GemvTQ8_0", "%dx%d y[%d]: %v", rows, cols, j, err)
					}
				}
				require.True(t, ry.UntouchedF32(y), "GemvTQ8_0 wrote outside y (%dx%d)", rows, cols)
			}
		}
	})
}

// q8Column returns column j of a rows x cols W in Q8_0: per row, the scale bits of
// the block that holds it and its quant.
func q8Column(w []byte, rows, cols, j int) ([]uint16, []int8) {
	rowBytes := cols / kernels.Q8_0Block * kernels.Q8_0BlockBytes
	scales, quants := make([]uint16, rows), make([]int8, rows)
	for i := range rows {
		blk := w[i*rowBytes+j/kernels.Q8_0Block*kernels.Q8_0BlockBytes:]
		scales[i] = uint16(blk[0]) | uint16(blk[1])<<8
		quants[i] = int8(blk[2+j%kernels.Q8_0Block])
	}
	return scales, quants
}

// e4m3Specials are the FP8 E4M3 bytes mixed into W: both zeros, the NaNs
// (S.1111.111), the largest finite values (±448), the smallest and largest subnormals
// (±2^-9, ±7·2^-9) and the smallest normals (±2^-6).
var e4m3Specials = []byte{0x00, 0x80, 0x7f, 0xff, 0x7e, 0xfe, 0x01, 0x81, 0x07, 0x87, 0x08, 0x88}

// e4m3Shapes are the FP8 GEMVs' shapes, rows by columns of W: every remainder of the
// four-row blocks (0, 1, 3, 4, 5, 17 rows) at every column count up to 70 (each tail
// of either vector width, after unrolled and single vectors or alone) and at 128,
// 512 and 2048 columns, MLA decode's 128x512, and W of several 256 KiB calls
// (1031x255: two calls).
func e4m3Shapes() [][2]int {
	var s [][2]int
	for _, rows := range []int{0, 1, 3, 4, 5, 17} {
		for cols := 0; cols <= 70; cols++ {
			s = append(s, [2]int{rows, cols})
		}
		for _, cols := range []int{128, 512, 2048} {
			s = append(s, [2]int{rows, cols})
		}
	}
	return append(s, [2]int{128, 512}, [2]int{37, 1100}, [2]int{1031, 255})
}

// e4m3Operands returns the W (n bytes) and x (nx values) of shape number si: W of
// finite E4M3 bytes of every magnitude (random bytes, the NaN ones moved to ±448),
// with e4m3Specials in about half its rows (rows of cols bytes) every third shape; x
// normal, with an Inf or a NaN every fourth shape and subnormals and values near
// 2^-140 every fifth (their products with the small weights underflow).
func e4m3Operands(rng *rand.Rand, si, n, nx, rows int) ([]byte, []float32) {
	w := make([]byte, n)
	for i := range w {
		w[i] = byte(rng.IntN(256))
		if w[i]&0x7f == 0x7f {
			w[i]--
		}
	}
	if si%3 == 0 && n > 0 {
		for range max(1, rows/2) {
			w[rng.IntN(n)] = e4m3Specials[rng.IntN(len(e4m3Specials))]
		}
	}
	x := testutil.Normals(rng, nx)
	if si%4 == 1 && nx > 0 {
		x[rng.IntN(nx)] = []float32{float32(math.Inf(-1)), float32(math.NaN())}[si/4%2]
	}
	if si%5 == 2 {
		for i := range x {
			if rng.IntN(3) == 0 {
				x[i] = testutil.Value(rng, testutil.Subnormal)
			} else if rng.IntN(3) == 0 {
				x[i] *= 0x1p-140
			}
		}
	}
	return w, x
}

// TestGemvE4M3 runs GemvE4M3 over e4m3Shapes with y, w and x at every placement,
// and w also at an odd byte offset. Each y[i] must meet CheckE4M3Dot's bound with
// the underflow term of E4M3Tiny (the assembly's products are scaled by 2^-8).
func TestGemvE4M3(t *testing.T) { testGemvE4M3(t, "GemvE4M3", (*mlasimd.Kernels).GemvE4M3, false) }

// testGemvE4M3 runs one of the FP8 GEMVs over e4m3Shapes, each W at every placement
// and at an odd byte offset, each y[i] within CheckE4M3Dot's bound; with finite, W's
// NaN bytes are made the largest finite ones first.
func testGemvE4M3(t *testing.T, name string, gemv func(*mlasimd.Kernels, []float32, []byte, []float32), finite bool) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for si, s := range e4m3Shapes() {
			rows, cols := s[0], s[1]
			wv, xv := e4m3Operands(rng, si, rows*cols, cols, rows)
			for i, b := range wv {
				if finite && b&0x7f == 0x7f {
					wv[i]--
				}
			}
			places := testutil.PlacesFor(si)
			for i, p := range append(places, testutil.Head) {
				wp := p
				if i == len(places) {
					wp = testutil.Place{Offset: 1 + 2*(si%16)}
				}
				y := ry.F32(rows, p, nil)
				gemv(k, y, rw.Bytes(len(wv), wp, wv), rx.Copy(p, xv))
				for r := range y {
					if err := testutil.CheckE4M3Dot(y[r], wv[r*cols:(r+1)*cols], xv, testutil.E4M3Tiny); err != nil {
						require.Failf(t, name, "%dx%d y[%d]: %v", rows, cols, r, err)
					}
				}
				require.True(t, ry.UntouchedF32(y), "%s wrote outside y (%dx%d)", name, rows, cols)
			}
		}
	})
}

// TestGemvE4M3Finite runs GemvE4M3Finite as TestGemvE4M3 runs GemvE4M3, on W without
// NaN bytes, to the same bound; then, on a W of NaN bytes, it must give NaN (a Level
// that runs GemvE4M3) or the sum of their ±480.
func TestGemvE4M3Finite(t *testing.T) {
	testGemvE4M3(t, "GemvE4M3Finite", (*mlasimd.Kernels).GemvE4M3Finite, true)
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		w := []byte{0x7f, 0xff, 0x7f, 0x38}
		y := make([]float32, 1)
		k.GemvE4M3Finite(y, w, []float32{1, 1, 1, 1})
		require.True(t, math.IsNaN(float64(y[0])) || y[0] == 480+1, "got %v", y[0])
	})
}

// TestGemvTE4M3 runs GemvTE4M3 over e4m3Shapes (rows of W = len(x)) like
// TestGemvE4M3; y starts as the sentinel NaNs, which the kernel must clear. Every
// seventh shape has x entries beyond MaxFloat32/256 (whose x·256 would overflow, so
// compose gives their rows to the reference) and of ±MaxFloat32. x[i] is scaled by
// 256 exactly, so each y[j] must meet CheckE4M3Dot's bound with Tiny.
func TestGemvTE4M3(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for si, s := range e4m3Shapes() {
			rows, cols := s[0], s[1] // W is len(x) x len(y)
			wv, xv := e4m3Operands(rng, si, rows*cols, rows, rows)
			if si%7 == 3 {
				for range max(1, rows/3) {
					if rows > 0 {
						xv[rng.IntN(rows)] = []float32{0x1p121, -0x1p126, math.MaxFloat32, -math.MaxFloat32}[rng.IntN(4)]
					}
				}
			}
			col := make([]byte, rows)
			places := testutil.PlacesFor(si)
			for i, p := range append(places, testutil.Head) {
				wp := p
				if i == len(places) {
					wp = testutil.Place{Offset: 1 + 2*(si%16)}
				}
				y := ry.F32(cols, p, nil)
				k.GemvTE4M3(y, rw.Bytes(len(wv), wp, wv), rx.Copy(p, xv))
				for j := range y {
					for r := range col {
						col[r] = wv[r*cols+j]
					}
					if err := testutil.CheckE4M3Dot(y[j], col, xv, testutil.Tiny); err != nil {
						require.Failf(t, "GemvTE4M3", "%dx%d y[%d]: %v", rows, cols, j, err)
					}
				}
				require.True(t, ry.UntouchedF32(y), "GemvTE4M3 wrote outside y (%dx%d)", rows, cols)
			}
		}
	})
}

// TestE4M3Bytes checks the decoding of all 256 FP8 E4M3 bytes: kernels' table (the
// reference) against testutil's own decoder, bit for bit; the assembly's widening through halves, ((b&0x7f)<<7) |
// ((b&0x80)<<8) = e4m3(b)·2^-8 exactly for every non-NaN byte (subnormals included)
// and 1.875 for the NaN bytes, computed as the kernels compute it (sign-extended
// word shifted left by 7, bit 14 cleared) with their NaN tests (that word AND 0x3F80
// is 0x3F80 on amd64; shifted left by 2 more, it is 0xFE00 on arm64);
// and then every Level on every byte: GemvE4M3 on a W whose row b is all b, and
// GemvTE4M3 on a W whose column j holds every byte, j + 37i in row i.
func TestE4M3Bytes(t *testing.T) {
	for b := range 256 {
		v := kernels.E4M3Value(byte(b))
		nan := b&0x7f == 0x7f
		require.Equal(t, nan, math.IsNaN(float64(v)), "byte %#02x", b)
		if !nan {
			require.Equal(t, testutil.E4M3(byte(b)), float64(v), "byte %#02x", b)
		}
		h := uint16(b&0x7f)<<7 | uint16(b&0x80)<<8
		require.Equal(t, h, uint16(int16(int8(b))<<7)&0xbfff, "byte %#02x: the assembly's half bits", b)
		require.Equal(t, nan, uint16(int16(int8(b))<<7)&0x3f80 == 0x3f80, "byte %#02x: amd64's NaN test", b)
		require.Equal(t, nan, uint16(int16(int8(b))<<9) == 0xfe00, "byte %#02x: arm64's NaN test", b)
		want := float64(v) / 256
		if nan {
			want = math.Copysign(1.875, float64(kernels.E4M3Value(byte(b&0x80|0x7e)))) // what the kernels must mend
		}
		require.Equal(t, want, testutil.Half(h), "byte %#02x: half %#04x", b, h)
	}

	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		ry, rw, rx := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for _, cols := range []int{1, 19, 64} {
			w := make([]byte, 256*cols)
			for b := range 256 {
				for j := range cols {
					w[b*cols+j] = byte(b)
				}
			}
			xv := testutil.Normals(rng, cols)
			for _, p := range testutil.Fences {
				y := ry.F32(256, p, nil)
				k.GemvE4M3(y, rw.Bytes(len(w), p, w), rx.Copy(p, xv))
				for b := range y {
					if err := testutil.CheckE4M3Dot(y[b], w[b*cols:(b+1)*cols], xv, testutil.E4M3Tiny); err != nil {
						require.Failf(t, "GemvE4M3", "byte %#02x x %d: %v", b, cols, err)
					}
				}
			}
		}
		for _, rows := range []int{1, 2, 7} {
			w := make([]byte, rows*256)
			for i := range rows {
				for j := range 256 {
					w[i*256+j] = byte(j + 37*i)
				}
			}
			xv := testutil.Normals(rng, rows)
			col := make([]byte, rows)
			for _, p := range testutil.Fences {
				y := ry.F32(256, p, nil)
				k.GemvTE4M3(y, rw.Bytes(len(w), p, w), rx.Copy(p, xv))
				for j := range y {
					for i := range col {
						col[i] = w[i*256+j]
					}
					if err := testutil.CheckE4M3Dot(y[j], col, xv, testutil.Tiny); err != nil {
						require.Failf(t, "GemvTE4M3", "column %d of %d rows: %v", j, rows, err)
					}
				}
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
	// A few rows of B against many of A (a batched decode step's tokens against weight
	// rows, which compose gives to gemmNTFew), deep enough for its unrolled loop.
	cs = append(cs, gemmCase{16, 8, 576, 579, 0}, gemmCase{10, 16, 1024, 1024, 0}, gemmCase{7, 13, 1000, 1003, 0}, gemmCase{5, 2, 500, 500, 0})
	// Deep products, which GemmNT splits over k (tuning.DeepK): slices of 512 and a
	// partial last one, with every row-band and column tail.
	cs = append(cs, gemmCase{7, 70, 1100, 1103, 0}, gemmCase{17, 130, 2048, 2048, 2050}, gemmCase{1, 3, 1537, 1537, 0})
	if !short {
		return cs
	}
	// -short (the emulated AVX-512 leg, where checking a product costs 100x): the cases
	// of at most 200k multiply-adds, which still reach every tile, tail and k-slice.
	var small []gemmCase
	for _, c := range cs {
		if c.m*c.n*c.k <= 200_000 {
			small = append(small, c)
		}
	}
	return small
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

// TestGemmNTFewRowsSameBits checks that a product's bits do not depend on how many
// rows B has: compose gives a B of few rows to gemmNTFew, whose tiles and reductions
// differ from gemmNT's, and mla relies on a token's projections being the same in a
// batch of any size (DecodeBatch against Decode, PrefillBatch against Prefill).
func TestGemmNTFewRowsSameBits(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		const m, wide = 11, 20
		for _, kk := range []int{7, 16, 45, 576, 1000} {
			a := testutil.Normals(rng, m*kk)
			b := testutil.Normals(rng, wide*kk)
			all := make([]float32, m*wide)
			k.GemmNT(all, a, b, m, wide, kk, kk, kk)
			for n := 1; n <= 16; n++ {
				for j0 := 0; j0+n <= wide; j0 += 3 {
					c := make([]float32, m*n)
					k.GemmNT(c, a, b[j0*kk:], m, n, kk, kk, kk)
					for i := range m {
						for j := range n {
							require.Equal(t, math.Float32bits(all[i*wide+j0+j]), math.Float32bits(c[i*n+j]),
								"k=%d n=%d c[%d][%d]", kk, n, i, j0+j)
						}
					}
				}
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
