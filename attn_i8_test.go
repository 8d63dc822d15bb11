package mlasimd_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
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
	for _, n := range []int{0, 1, 5, 15, 16, 17, 33, 64, 128} {
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

// TestAttnI8Exact runs the three int8 attention kernels on every Level over i8Shapes,
// each operand on fenced pages at every placement, and requires the reference's bits
// (kernels/attn_i8.go makes the result part of the contract). On an AVX-512 CPU with
// AVX512_VNNI the AVX-512 Level runs the VPDPBUSD bodies, the AVX2 Level the
// fallback that one without it runs.
func TestAttnI8Exact(t *testing.T) {
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

				s := rs.F32(len(wantS), pl, nil)
				k.AttnScoresI8(s, rq.Bytes(len(q), pl, q), rqs.Copy(pl, qs), tt, sc, sh.m, sh.n, sh.w, sh.split)
				requireBits(t, wantS, s, "AttnScoresI8 %+v", sh)
				require.True(t, rs.UntouchedF32(s), "AttnScoresI8 wrote outside s (%+v)", sh)

				gq, gs := rq.Bytes(len(pq), pl, nil), rps.F32(sh.m, pl, nil)
				k.QuantizeProbsI8(gq, gs, ro.Copy(pl, p), sc, sh.m, sh.n)
				require.True(t, bytes.Equal(wantPQ, gq), "QuantizeProbsI8 quants %+v", sh)
				requireBits(t, wantPS, gs, "QuantizeProbsI8 scales %+v", sh)
				require.True(t, rq.UntouchedBytes(gq), "QuantizeProbsI8 wrote outside pq (%+v)", sh)
				require.True(t, rps.UntouchedF32(gs), "QuantizeProbsI8 wrote outside ps (%+v)", sh)

				got := ro.Copy(pl, o)
				k.AttnValuesI8(got, rq.Bytes(len(pq), pl, pq), rps.Copy(pl, ps), tt, sc, sh.m, sh.n, sh.dv, sh.w, sh.split)
				requireBits(t, wantO, got, "AttnValuesI8 %+v", sh)
				require.True(t, ro.UntouchedF32(got), "AttnValuesI8 wrote outside o (%+v)", sh)
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
