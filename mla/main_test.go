package mla

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestMain fails the run when MLASIMD_REQUIRE_ISA names a Level that was not selected.
func TestMain(m *testing.M) { testutil.Main(m) }

// TestRequireISAHonoured runs this test binary again with MLASIMD_REQUIRE_ISA set
// to a level that cannot be selected: it must fail before running any test.
func TestRequireISAHonoured(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), dispatch.EnvRequireISA+"=no-such-isa")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Skipf("cannot rerun the test binary here: %v", err)
	}
	require.Error(t, err, "the run passed:\n%s", out)
	require.Contains(t, string(out), "FAIL: "+dispatch.EnvRequireISA)
}
