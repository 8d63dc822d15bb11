package fuzz_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
)

// i8Call decodes one call of the int8 attention kernels: m heads (up to 40), n rows
// (up to 300), a row width w (a multiple of 4 up to 1024) split at a multiple of 4
// inside it, dv (a multiple of 16 within segment 0), a placement, and the operands:
// a store of random bytes with the input's values as scales, query quants in
// [-127, 127] and probability quants in [0, 127] (their padding zero) from a
// generator seeded by the input, the input's values as query scales, probabilities,
// their scales and the accumulated output.
type i8Call struct {
	m, n, w, split, dv int
	p                  testutil.Place
	tiles, q, pq       []byte
	scales, qs, probs  []float32
	ps, o              []float32
}

func i8Input(in *input) i8Call {
	var c i8Call
	c.m, c.n = in.intn(41), in.intn(301)
	c.p = in.place()
	c.w = 4 * (1 + in.intn(kernels.I8MaxWidth/4))
	if c.w == 4 {
		c.w = 8
	}
	c.split = 4 * (1 + in.intn(c.w/4-1))
	c.dv = 16 * in.intn(c.split/16+1)
	var seed uint64
	for range 8 {
		seed = seed<<8 | uint64(in.byte())
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	tiles := (c.n + kernels.I8TileRows - 1) / kernels.I8TileRows
	c.tiles = make([]byte, tiles*kernels.I8TileBytes(c.w))
	for i := range c.tiles {
		c.tiles[i] = byte(rng.IntN(256))
	}
	c.q = make([]byte, c.m*c.w)
	for i := range c.q {
		c.q[i] = byte(int8(rng.IntN(255) - 127))
	}
	ld := kernels.I8ProbStride(c.n)
	c.pq = make([]byte, c.m*ld)
	for h := range c.m {
		for j := range c.n {
			c.pq[h*ld+j] = byte(rng.IntN(128))
		}
	}
	c.scales = in.values(tiles * 2 * kernels.I8TileRows)
	c.qs, c.probs = in.values(2*c.m), in.values(c.m*c.n)
	c.ps, c.o = in.values(c.m), in.values(c.m*c.dv)
	return c
}

// sameOrNaN reports whether a and b hold the same bits, or NaNs both (which NaN an
// operation with two NaN operands gives depends on their order).
func sameOrNaN(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

// FuzzAttnScoresI8 requires the reference's bits (NaNs as NaNs) on every Level.
func FuzzAttnScoresI8(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c := i8Input(&input{b: data})
		want := make([]float32, c.m*c.n)
		kernels.AttnScoresI8(want, c.q, c.qs, c.tiles, c.scales, c.m, c.n, c.w, c.split)
		rs, rq, rqs, rt, rsc := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for _, im := range impls(t) {
			s := rs.F32(len(want), c.p, nil)
			im.k.AttnScoresI8(s, rq.Bytes(len(c.q), c.p, c.q), rqs.Copy(c.p, c.qs), rt.Bytes(len(c.tiles), c.p, c.tiles), rsc.Copy(c.p, c.scales), c.m, c.n, c.w, c.split)
			if !sameOrNaN(want, s) {
				t.Fatalf("%s: AttnScoresI8 m=%d n=%d w=%d split=%d differs from the reference", im.name, c.m, c.n, c.w, c.split)
			}
			if !rs.UntouchedF32(s) {
				t.Fatalf("%s: AttnScoresI8 wrote outside s", im.name)
			}
		}
	})
}

// FuzzQuantizeProbsI8 requires the reference's quants and scales on every Level,
// for probabilities of every class (the contract's are finite and >= 0).
func FuzzQuantizeProbsI8(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c := i8Input(&input{b: data})
		wantQ, wantS := make([]byte, len(c.pq)), make([]float32, c.m)
		kernels.QuantizeProbsI8(wantQ, wantS, c.probs, c.scales, c.m, c.n)
		rq, rs, rp, rsc := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for _, im := range impls(t) {
			q, s := rq.Bytes(len(wantQ), c.p, nil), rs.F32(c.m, c.p, nil)
			im.k.QuantizeProbsI8(q, s, rp.Copy(c.p, c.probs), rsc.Copy(c.p, c.scales), c.m, c.n)
			if string(q) != string(wantQ) || !sameOrNaN(wantS, s) {
				t.Fatalf("%s: QuantizeProbsI8 m=%d n=%d differs from the reference", im.name, c.m, c.n)
			}
			if !rq.UntouchedBytes(q) || !rs.UntouchedF32(s) {
				t.Fatalf("%s: QuantizeProbsI8 wrote outside pq or ps", im.name)
			}
		}
	})
}

// FuzzAttnValuesI8 requires the reference's bits (NaNs as NaNs) on every Level.
func FuzzAttnValuesI8(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c := i8Input(&input{b: data})
		want := append([]float32(nil), c.o...)
		kernels.AttnValuesI8(want, c.pq, c.ps, c.tiles, c.scales, c.m, c.n, c.dv, c.w, c.split)
		ro, rq, rps, rt, rsc := testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0), testutil.NewRegion(t, 0)
		for _, im := range impls(t) {
			o := ro.Copy(c.p, c.o)
			im.k.AttnValuesI8(o, rq.Bytes(len(c.pq), c.p, c.pq), rps.Copy(c.p, c.ps), rt.Bytes(len(c.tiles), c.p, c.tiles), rsc.Copy(c.p, c.scales), c.m, c.n, c.dv, c.w, c.split)
			if !sameOrNaN(want, o) {
				t.Fatalf("%s: AttnValuesI8 m=%d n=%d dv=%d w=%d differs from the reference", im.name, c.m, c.n, c.dv, c.w)
			}
			if !ro.UntouchedF32(o) {
				t.Fatalf("%s: AttnValuesI8 wrote outside o", im.name)
			}
		}
	})
}
