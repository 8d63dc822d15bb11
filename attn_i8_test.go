package mlasimd_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
	"github.com/stretchr/testify/require"
)

// i8Shape is one call of the int8 attention kernels: m queries (heads) against n
// rows of width w split at split, the first dv values of each row weighed.
type i8Shape struct{ m, n, w, split, dv int }

// i8Shapes: MLA decode (16 heads, rows of 512+64, 512 values) at every tile remainder
// that matters, then head counts off the blocks (1..25), narrow and wide rows, odd
// segment boundaries and dv = 0.
func i8Shapes() []i8Shape {
	var out []i8Shape
	tails := []int{0, 1, 5, 15, 16, 17, 33, 64, 128}
	if testing.Short() { // under emulation (Bochs runs -short)
		tails = []int{0, 5, 17}
	}
	for _, n := range tails {
		out = append(out, i8Shape{16, n, 576, 512, 512})
	}
	return append(out,
		i8Shape{0, 10, 576, 512, 512}, i8Shape{1, 3, 8, 4, 0}, i8Shape{3, 20, 68, 36, 32},
		i8Shape{5, 16, 100, 60, 48}, i8Shape{7, 31, 64, 4, 0}, i8Shape{9, 7, 132, 128, 128},
		i8Shape{15, 48, 40, 20, 16}, i8Shape{17, 40, 1024, 1020, 1008}, i8Shape{25, 19, 36, 32, 32},
		i8Shape{31, 50, 576, 512, 512}, i8Shape{2, 260, 24, 8, 0}, i8Shape{12, 1040, 132, 128, 128},
	)
}

// i8Store returns a store of n rows of width w with random bytes (every value,
// -128 included) and scales of several magnitudes, some 0 or subnormal.
func i8Store(rng *rand.Rand, n, w int) (tiles []byte, scales []float32) {
	t := (n + kernels.I8TileRows - 1) / kernels.I8TileRows
	tiles, scales = make([]byte, t*kernels.I8TileBytes(w)), make([]float32, t*2*kernels.I8TileRows)
	for i := range tiles {
		tiles[i] = byte(rng.IntN(256))
	}
	specials := []float32{0, 0x1p-140, 0x1p-20, 1, 0x1p30}
	for i := range scales {
		scales[i] = specials[rng.IntN(len(specials))] * float32(0.5+rng.Float64())
	}
	return tiles, scales
}

// i8Query returns m random query rows of quants in [-127, 127] and their scales.
func i8Query(rng *rand.Rand, m, w int) (q []byte, qs []float32) {
	q, qs = make([]byte, m*w), make([]float32, 2*m)
	for i := range q {
		q[i] = byte(int8(rng.IntN(255) - 127))
	}
	for i := range qs {
		qs[i] = float32(math.Ldexp(0.5+rng.Float64(), rng.IntN(40)-20))
	}
	return q, qs
}

// i8Probs returns m rows of n random probabilities, some rows all zero, one with a
// NaN, one so small that 127/M overflows and one with an infinite product.
func i8Probs(rng *rand.Rand, m, n int) []float32 {
	p := make([]float32, m*n)
	for h := range m {
		row := p[h*n : (h+1)*n]
		switch {
		case h%11 == 3:
		case h%11 == 5 && n > 0:
			row[rng.IntN(n)] = float32(math.NaN())
		case h%11 == 7:
			for j := range row {
				row[j] = 0x1p-140 * float32(rng.Float64())
			}
		case h%11 == 9 && n > 0:
			row[rng.IntN(n)] = math.MaxFloat32
		default:
			for j := range row {
				if rng.IntN(5) > 0 {
					row[j] = float32(rng.Float64())
				}
			}
		}
	}
	return p
}

// i8ProbQuants returns m rows of random quants in [0, 127] (padding zero) and scales.
func i8ProbQuants(rng *rand.Rand, m, n int) (pq []byte, ps []float32) {
	ld := kernels.I8ProbStride(n)
	pq, ps = make([]byte, m*ld), make([]float32, m)
	for h := range m {
		for j := range n {
			pq[h*ld+j] = byte(rng.IntN(128))
		}
		ps[h] = float32(math.Ldexp(0.5+rng.Float64(), rng.IntN(40)-20))
	}
	return pq, ps
}

// TestAttnScoresI8, TestQuantizeProbsI8 and TestAttnValuesI8 run the int8 attention kernels on every Level over i8Shapes,
// each operand on fenced pages at every placement, and requires the reference's bits
// (kernels/attn_i8.go makes the result part of the contract). On an AVX-512 CPU with
// AVX512_VNNI the AVX-512 Level runs the VPDPBUSD bodies, the AVX2 Level the
// fallback that one without it runs.
func TestAttnScoresI8(t *testing.T)    { attnI8Exact(t, "scores") }
func TestQuantizeProbsI8(t *testing.T) { attnI8Exact(t, "probs") }
func TestAttnValuesI8(t *testing.T)    { attnI8Exact(t, "values") }

func attnI8Exact(t *testing.T, kernel string) {
	testutil.ForEachLevel(t, func(t *testing.T, k *mlasimd.Kernels) {
		rng := newRNG(t)
		regions := make([]*testutil.Region, 7)
		for i := range regions {
			regions[i] = testutil.NewRegion(t, 0)
		}
		for si, sh := range i8Shapes() {
			tiles, scales := i8Store(rng, sh.n, sh.w)
			q, qs := i8Query(rng, sh.m, sh.w)
			p := i8Probs(rng, sh.m, sh.n)
			pq, ps := i8ProbQuants(rng, sh.m, sh.n)
			o := testutil.Normals(rng, sh.m*sh.dv)

			wantS := make([]float32, sh.m*sh.n)
			kernels.AttnScoresI8(wantS, q, qs, tiles, scales, sh.m, sh.n, sh.w, sh.split)
			wantPQ, wantPS := make([]byte, len(pq)), make([]float32, sh.m)
			kernels.QuantizeProbsI8(wantPQ, wantPS, p, scales, sh.m, sh.n)
			wantO := append([]float32(nil), o...)
			kernels.AttnValuesI8(wantO, pq, ps, tiles, scales, sh.m, sh.n, sh.dv, sh.w, sh.split)

			for _, pl := range testutil.PlacesFor(si) {
				rs, rq, rqs, rt, rsc, ro, rps := regions[0], regions[1], regions[2], regions[3], regions[4], regions[5], regions[6]
				tt, sc := rt.Bytes(len(tiles), pl, tiles), rsc.Copy(pl, scales)

				if kernel == "scores" {
					s := rs.F32(len(wantS), pl, nil)
					k.AttnScoresI8(s, rq.Bytes(len(q), pl, q), rqs.Copy(pl, qs), tt, sc, sh.m, sh.n, sh.w, sh.split)
					requireBits(t, wantS, s, "AttnScoresI8 %+v", sh)
					require.True(t, rs.UntouchedF32(s), "AttnScoresI8 wrote outside s (%+v)", sh)
				}
				if kernel == "probs" {

					gq, gs := rq.Bytes(len(pq), pl, nil), rps.F32(sh.m, pl, nil)
					k.QuantizeProbsI8(gq, gs, ro.Copy(pl, p), sc, sh.m, sh.n)
					require.True(t, bytes.Equal(wantPQ, gq), "QuantizeProbsI8 quants %+v", sh)
					requireBits(t, wantPS, gs, "QuantizeProbsI8 scales %+v", sh)
					require.True(t, rq.UntouchedBytes(gq), "QuantizeProbsI8 wrote outside pq (%+v)", sh)
					require.True(t, rps.UntouchedF32(gs), "QuantizeProbsI8 wrote outside ps (%+v)", sh)
				}
				if kernel == "values" {

					got := ro.Copy(pl, o)
					k.AttnValuesI8(got, rq.Bytes(len(pq), pl, pq), rps.Copy(pl, ps), tt, sc, sh.m, sh.n, sh.dv, sh.w, sh.split)
					requireBits(t, wantO, got, "AttnValuesI8 %+v", sh)
					require.True(t, ro.UntouchedF32(got), "AttnValuesI8 wrote outside o (%+v)", sh)
				}
			}
		}
	})
}

func requireBits(t *testing.T, want, got []float32, format string, args ...any) {
	t.Helper()
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			require.Failf(t, "bits differ", "%s: [%d] = %v (%#08x), want %v (%#08x)", fmt.Sprintf(format, args...), i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestAttnI8ReferenceBounds checks the references against float64 oracles on
// quantized float rows (MLA decode's shape and an odd one): each quantized value
// within d/2 of its source (QuantizeI8Rows, QuantizeI8Query), each probability within
// QuantizeProbsI8's stated bound, and the scores and values within the bounds that
// follow from those, derived here:
//
// Scores: with x̂ = d_x·v, ŷ = d_y·q, a segment's Σ y·x - Σ ŷ·x̂ = Σ y·(x-x̂) + (y-ŷ)·x̂,
// at most (d_x/2)·Σ|y| + (d_y/2)·Σ|x̂|; the integer sums are exact and the epilogue
// rounds three times on each term, so the result is within γ_3·(|t_0|+|t_1|) of
// t_0+t_1 (t_seg = I_seg·qs·d, exact).
//
// Values: o + Σ_j p_j·X_j against o + fl(fl(A)·ps), A = Σ pq_j·v_j (exact, so its
// conversion is too for n <= 1040): the quantized values add Σ p_j·d_0j/2, the
// products x_j = fl(p_j·d_0j) u·x_j each, the quantized probabilities
// (ps/2 + 2·2^-24·x_j)·|v_j| each, and the product and the sum u·|ps·A| and u·|ô|.
func TestAttnI8ReferenceBounds(t *testing.T) {
	const u = 0x1p-24
	rng := newRNG(t)
	for _, sh := range []i8Shape{{16, 64, 576, 512, 512}, {3, 37, 68, 36, 32}} {
		m, n, w, split, dv := sh.m, sh.n, sh.w, sh.split, sh.dv
		x := testutil.Normals(rng, n*w)
		for j := range n { // rows and segments of magnitudes 2^-20..2^20
			for seg, k0 := range [2]int{0, split} {
				k1 := w
				if seg == 0 {
					k1 = split
				}
				s := float32(math.Ldexp(1, rng.IntN(41)-20))
				for k := k0; k < k1; k++ {
					x[j*w+k] *= s
				}
			}
		}
		y := testutil.Normals(rng, m*w)
		tiles, scales := make([]byte, kernels.I8ProbStride(n)*w), make([]float32, kernels.I8ProbStride(n)*2)
		require.NoError(t, mlasimd.QuantizeI8Rows(tiles, scales, x, 0, w, split))
		q, qs := make([]byte, m*w), make([]float32, 2*m)
		require.NoError(t, mlasimd.QuantizeI8Query(q, qs, y, m, w, split))
		xh := make([]float32, n*w)
		mlasimd.DequantizeI8Rows(xh, tiles, scales, 0, n, w, split)
		seg := func(k int) int {
			if k < split {
				return 0
			}
			return 1
		}
		for j := range n {
			for k := range w {
				d := float64(scales[(j/16)*32+seg(k)*16+j%16])
				require.LessOrEqual(t, math.Abs(float64(x[j*w+k])-float64(xh[j*w+k])), d/2, "row %d col %d", j, k)
			}
		}
		for h := range m {
			for k := range w {
				d := float64(qs[2*h+seg(k)])
				require.LessOrEqual(t, math.Abs(float64(y[h*w+k])-d*float64(int8(q[h*w+k]))), d/2, "query %d col %d", h, k)
			}
		}

		s := make([]float32, m*n)
		kernels.AttnScoresI8(s, q, qs, tiles, scales, m, n, w, split)
		for h := range m {
			for j := range n {
				var exact, bound, terms float64
				var tseg [2]float64
				for sg := range 2 {
					k0, k1 := 0, split
					if sg == 1 {
						k0, k1 = split, w
					}
					dx, dy := float64(scales[(j/16)*32+sg*16+j%16]), float64(qs[2*h+sg])
					var sumY, sumX, isum float64
					for k := k0; k < k1; k++ {
						exact += float64(y[h*w+k]) * float64(x[j*w+k])
						sumY += math.Abs(float64(y[h*w+k]))
						sumX += math.Abs(float64(xh[j*w+k]))
						v := i8Value(tiles, j, k, w)
						isum += float64(int8(q[h*w+k])) * v
						terms += math.Abs(float64(y[h*w+k]) * float64(x[j*w+k]))
					}
					bound += dx/2*sumY + dy/2*sumX
					tseg[sg] = isum * dy * dx
				}
				bound += 3 * u / (1 - 3*u) * (math.Abs(tseg[0]) + math.Abs(tseg[1]))
				bound += 1e-12 * terms
				require.LessOrEqual(t, math.Abs(float64(s[h*n+j])-exact), bound, "score %d,%d", h, j)
			}
		}

		p := make([]float32, m*n)
		for i := range p {
			p[i] = float32(rng.Float64())
		}
		ld := kernels.I8ProbStride(n)
		pq, ps := make([]byte, m*ld), make([]float32, m)
		kernels.QuantizeProbsI8(pq, ps, p, scales, m, n)
		o0 := testutil.Normals(rng, m*dv)
		o := append([]float32(nil), o0...)
		kernels.AttnValuesI8(o, pq, ps, tiles, scales, m, n, dv, w, split)
		for h := range m {
			for j := range n {
				xj := float64(p[h*n+j] * scales[(j/16)*32+j%16])
				e := math.Abs(xj - float64(ps[h])*float64(pq[h*ld+j]))
				require.LessOrEqual(t, e, float64(ps[h])/2+2*u*xj, "probability %d,%d", h, j)
			}
			for d := range dv {
				exact := float64(o0[h*dv+d])
				var a, bound float64
				for j := range n {
					d0 := float64(scales[(j/16)*32+j%16])
					xj := float64(p[h*n+j] * scales[(j/16)*32+j%16])
					v := i8Value(tiles, j, d, w)
					exact += float64(p[h*n+j]) * float64(x[j*w+d])
					a += float64(pq[h*ld+j]) * v
					bound += float64(p[h*n+j])*d0/2 + (float64(ps[h])/2+3*u*xj)*math.Abs(v)
				}
				bound += u*math.Abs(a*float64(ps[h])) + u*math.Abs(float64(o[h*dv+d])) + 1e-12*math.Abs(exact)
				require.LessOrEqual(t, math.Abs(float64(o[h*dv+d])-exact), bound, "value %d,%d", h, d)
			}
		}
	}
}

// i8Value is the value of row j, column k of an I8 store of rows of width w.
func i8Value(tiles []byte, j, k, w int) float64 {
	return float64(int8(tiles[(j/16)*16*w+((k/4)*16+j%16)*4+k%4] ^ 0x80))
}

// exampleI8Store holds two cached rows of width 20: 16 latent values (segment 0)
// and 4 rope values (segment 1).
func exampleI8Store() (tiles []byte, scales []float32) {
	rows := make([]float32, 2*20)
	for k := range 16 {
		rows[k] = float32(k) / 4     // row 0: 0, 0.25, ..., 3.75
		rows[20+k] = float32(16 - k) // row 1: 16, 15, ..., 1
	}
	rows[16], rows[39] = 1, -2
	tiles, scales = make([]byte, mlasimd.I8TileBytes(20)), make([]float32, 2*mlasimd.I8TileRows)
	if err := mlasimd.QuantizeI8Rows(tiles, scales, rows, 0, 20, 16); err != nil {
		panic(err)
	}
	return tiles, scales
}

func ExampleAttnScoresI8() {
	tiles, scales := exampleI8Store()
	x := make([]float32, 20) // the query: 1 at column 4 (latent) and 19 (rope)
	x[4], x[19] = 1, 1
	q, qs := make([]byte, 20), make([]float32, 2)
	if err := mlasimd.QuantizeI8Query(q, qs, x, 1, 20, 16); err != nil {
		panic(err)
	}
	s := make([]float32, 2)
	mlasimd.AttnScoresI8(s, q, qs, tiles, scales, 1, 2, 20, 16)
	fmt.Printf("%.4f %.4f\n", s[0], s[1]) // unquantized: 1 + 0 and 12 - 2
	// Output: 1.0039 9.9685
}

func ExampleQuantizeProbsI8() {
	_, scales := exampleI8Store()
	pq, ps := make([]byte, mlasimd.I8ProbStride(2)), make([]float32, 1)
	mlasimd.QuantizeProbsI8(pq, ps, []float32{0.75, 0.25}, scales, 1, 2)
	// x_j = p_j·d_0j: 0.75·(3.75/127) and 0.25·(16/127); the largest, M = 4/127,
	// becomes 127; the row is padded to a whole tile.
	fmt.Println(pq[:2], ps[0]*127, len(pq))
	// Output: [89 127] 0.031496063 16
}

func ExampleAttnValuesI8() {
	tiles, scales := exampleI8Store()
	pq, ps := make([]byte, mlasimd.I8ProbStride(2)), make([]float32, 1)
	mlasimd.QuantizeProbsI8(pq, ps, []float32{0.75, 0.25}, scales, 1, 2)
	o := make([]float32, 16)
	mlasimd.AttnValuesI8(o, pq, ps, tiles, scales, 1, 2, 16, 20, 16)
	// Unquantized: 0.75·k/4 + 0.25·(16-k), 4 and 3.0625 for k = 0 and 15.
	fmt.Printf("%.3f %.3f\n", o[0], o[15])
	// Output: 4.000 3.055
}

// TestAttnI8HugeSizes: sizes whose products overflow an int are refused by the shape
// checks (a panic naming the kernel) before any memory is touched.
func TestAttnI8HugeSizes(t *testing.T) {
	const huge = math.MaxInt/2 + 1
	tiles, scales := make([]byte, 16*8), make([]float32, 32)
	for name, call := range map[string]func(){
		"AttnScoresI8":    func() { mlasimd.AttnScoresI8(nil, nil, nil, tiles, scales, 4, huge, 8, 4) },
		"AttnScoresI8 m":  func() { mlasimd.AttnScoresI8(nil, nil, nil, tiles, scales, huge, 1, 8, 4) },
		"QuantizeProbsI8": func() { mlasimd.QuantizeProbsI8(nil, nil, nil, scales, huge, 4) },
		"AttnValuesI8":    func() { mlasimd.AttnValuesI8(nil, nil, nil, tiles, scales, huge, 1, 0, 8, 4) },
		"QuantizeI8Rows":  func() { _ = mlasimd.QuantizeI8Rows(tiles, scales, make([]float32, 8), math.MaxInt, 8, 4) },
		"QuantizeI8Query": func() { _ = mlasimd.QuantizeI8Query(nil, nil, nil, huge, 8, 4) },
	} {
		kernel := strings.Fields(name)[0]
		func() {
			defer func() {
				msg, _ := recover().(string)
				require.True(t, strings.HasPrefix(msg, "mlasimd: "+kernel+": "), "%s: panic %q, want the shape check's", name, msg)
			}()
			call()
		}()
	}
}
