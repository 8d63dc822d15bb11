package fuzz_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/internal/tuning"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// input decodes a fuzzer's bytes into structured parameters; past the end it reads
// zeros, so every input is valid.
type input struct {
	b []byte
	i int
}

func (in *input) byte() byte {
	if in.i >= len(in.b) {
		return 0
	}
	v := in.b[in.i]
	in.i++
	return v
}

// intn returns a number in [0, n) from two bytes.
func (in *input) intn(n int) int {
	return int(uint16(in.byte())|uint16(in.byte())<<8) % n
}

// place is where every operand of one input lies: flush against the upper guard page
// (half the inputs), against the lower one (a quarter), or 1..15 floats after it.
func (in *input) place() testutil.Place {
	b := in.byte()
	switch {
	case b&1 == 0:
		return testutil.Tail
	case b&2 == 0:
		return testutil.Head
	}
	return testutil.Place{Offset: 4 * (1 + int(b>>2)%15)}
}

// scale returns a moderate scale factor of either sign, or 1.
func (in *input) scale() float32 {
	b := in.byte()
	if b == 0 {
		return 1
	}
	return float32(int8(b)) / 32
}

// values returns n values: Normal, with the classes of a mask byte mixed in at a
// rate byte, from a generator seeded by the next eight bytes.
func (in *input) values(n int) []float32 {
	mask, rate := in.byte(), float64(in.byte())/512
	var classes []testutil.Class
	for c := range testutil.AllClasses() {
		if mask>>c&1 == 1 {
			classes = append(classes, testutil.Class(c))
		}
	}
	var seed uint64
	for range 8 {
		seed = seed<<8 | uint64(in.byte())
	}
	return testutil.Mixed(rand.New(rand.NewPCG(seed, 1)), n, rate, classes...)
}

// impl is one implementation under test: a Level's table, or the reference.
type impl struct {
	name string
	k    *mlasimd.Kernels
	low  bool // run with the size thresholds of internal/tuning at their lowest
}

// impls lists the table of every Level a test runs (testutil.Levels; the generic
// Level is package kernels itself), named as their subtests are.
func impls(t testing.TB) []impl {
	var out []impl
	for _, k := range testutil.Kernels(t) {
		out = append(out, impl{name: testutil.SubtestName(k.Level()), k: k})
	}
	return out
}

// matrixImpls is impls twice over: as users get them, and with the thresholds of
// internal/tuning lowered (the prefetching Gemv, GemvT and DownUp routines from any
// size; GemmNT split over k in slices of 13 from k = 14), so that small fuzz inputs
// reach those routines too.
func matrixImpls(t testing.TB) []impl {
	var out []impl
	for _, im := range impls(t) {
		out = append(out, im, impl{name: im.name + "/low-thresholds", k: im.k, low: true})
	}
	return out
}

// use applies im's thresholds and returns the function that restores them.
func (im impl) use() (restore func()) {
	if !im.low {
		return func() {}
	}
	stream, deep := tuning.SetStreamFloats(0), tuning.SetDeepK(13)
	return func() { deep(); stream() }
}

// seedLengths reach every tail of every loop width: around 4, 8, 16, 32 and 64.
var seedLengths = []int{0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 575, 576, 577}

// sameBits reports whether a and b hold the same float32 bit patterns.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
