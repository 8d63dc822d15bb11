package testutil

import (
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
