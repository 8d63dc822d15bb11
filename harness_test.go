package mlasimd_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
)

func TestMain(m *testing.M) { testutil.Main(m) }

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
