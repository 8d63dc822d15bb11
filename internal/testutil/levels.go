package testutil

import (
	"fmt"
	"os"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
)

// Levels lists the Levels a test runs: every available one, or, when
// MLASIMD_REQUIRE_ISA is set (as in the emulated arm64 and AVX-512 runs), only the
// active one, which the test binary's TestMain has checked is the required one. The
// other Levels are tested natively, and emulators are slow.
func Levels() []dispatch.Level {
	if os.Getenv(dispatch.EnvRequireISA) != "" {
		return []dispatch.Level{mlasimd.Active()}
	}
	return mlasimd.Available()
}

// Kernels returns the table of each Level in Levels, in the same order.
func Kernels(tb testing.TB) []*mlasimd.Kernels {
	tb.Helper()
	var out []*mlasimd.Kernels
	for _, l := range Levels() {
		k, ok := mlasimd.Impl(l)
		if !ok {
			tb.Fatalf("Available lists %s but Impl does not give it", l)
		}
		out = append(out, k)
	}
	return out
}

// SubtestName is the name of a Level's subtest: ISA=<level>, as the benchmarks name
// theirs, so that one -run or -bench pattern selects a Level in either.
func SubtestName(l dispatch.Level) string { return "ISA=" + l.String() }

// ForEachLevel runs f once per Level of Levels, with that Level's table, as a subtest
// named SubtestName(level).
func ForEachLevel(t *testing.T, f func(t *testing.T, k *mlasimd.Kernels)) {
	t.Helper()
	for _, k := range Kernels(t) {
		t.Run(SubtestName(k.Level()), func(t *testing.T) { f(t, k) })
	}
}

// UseEachLevel is ForEachLevel for code that calls the package-level kernels (package
// mla): each subtest makes its Level the active one with mlasimd.Use and restores the
// previous one when it ends. The subtests must not be parallel, nor run beside other
// tests that depend on the active Level: it is process-wide.
func UseEachLevel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, k := range Kernels(t) {
		t.Run(SubtestName(k.Level()), func(t *testing.T) {
			restore, err := mlasimd.Use(k.Level())
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			f(t)
		})
	}
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

// NativeOnly skips a test that does not depend on the Level (pure Go, or reading the
// sources) in the emulated runs (MLASIMD_REQUIRE_ISA set): they exist to run one ISA's
// assembly, and the native run already covers the test at a hundredth of the cost.
func NativeOnly(tb testing.TB) {
	if os.Getenv(dispatch.EnvRequireISA) != "" {
		tb.Skip("independent of the Level: runs natively")
	}
}
