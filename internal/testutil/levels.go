package testutil

import (
	"fmt"
	"os"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
)

// Levels lists the Levels a test runs: every available one, or, when
// MLASIMD_REQUIRE_ISA is set (as in the emulated arm64 and AVX-512 runs), only the
// active one, which the test binary's TestMain has checked is the required one.
func Levels() []dispatch.Level {
	if os.Getenv(dispatch.EnvRequireISA) != "" {
		return []dispatch.Level{mlasimd.Active()}
	}
	return mlasimd.Available()
}

// Main is the TestMain of the packages that test kernels: it fails the whole run when
// MLASIMD_REQUIRE_ISA names a Level that was not selected, so that a run meant for one
// ISA cannot pass on a silent fallback, and otherwise runs the tests.
func Main(m interface{ Run() int }) {
	if err := dispatch.CheckRequired(mlasimd.Active()); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
