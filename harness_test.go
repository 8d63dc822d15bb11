package mlasimd_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

// forEachLevel runs f once per Level available here, as a subtest named after it.
// A run with MLASIMD_REQUIRE_ISA set (the emulated arm64 and AVX-512 runs) tests only
// that Level: the others are tested natively, and emulators are slow.
func forEachLevel(t *testing.T, f func(t *testing.T, k *mlasimd.Kernels)) {
	for _, l := range testutil.Levels() {
		k, ok := mlasimd.Impl(l)
		if !ok {
			t.Fatalf("Available lists %s but Impl does not give it", l)
		}
		t.Run(l.String(), func(t *testing.T) { f(t, k) })
	}
}

// maxLen is the longest vector tested: every length up to it runs, so every unrolled
// loop, single-vector loop and tail of every width meets every remainder.
const maxLen = 1100

// lengths lists the vector lengths to test: all of 0..maxLen, or in -short mode (used
// under slow emulators) every length up to 3 vectors of the widest ISA plus a few long
// ones, which still gives every tail of every loop.
func lengths() []int {
	n := maxLen
	if testing.Short() {
		n = 100
	}
	out := make([]int, 0, n+4)
	for i := 0; i <= n; i++ {
		out = append(out, i)
	}
	if testing.Short() {
		out = append(out, 255, 256, 257, 1031)
	}
	return out
}

func newRNG(t *testing.T) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(len(t.Name())), 0x6d6c6173696d64))
}

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}
