package mlasimd_test

import (
	"os"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/stretchr/testify/require"
)

func TestAvailableLevels(t *testing.T) {
	avail := mlasimd.Available()
	require.NotEmpty(t, avail)
	require.Equal(t, dispatch.Generic, avail[len(avail)-1], "generic is always available, last")
	require.Contains(t, avail, mlasimd.Active())
	for _, l := range dispatch.All {
		k, ok := mlasimd.Impl(l)
		require.Equal(t, ok, contains(avail, l), "Impl(%s) and Available disagree", l)
		if ok {
			require.Equal(t, l, k.Level())
		}
	}
	if os.Getenv(dispatch.EnvISA) == "" {
		require.Equal(t, avail[0], mlasimd.Active(), "with no valid MLASIMD_ISA the best Level is active")
	}
}

func TestUseRestores(t *testing.T) {
	before := mlasimd.Active()
	for _, l := range mlasimd.Available() {
		restore, err := mlasimd.Use(l)
		require.NoError(t, err)
		require.Equal(t, l, mlasimd.Active())
		restore()
		require.Equal(t, before, mlasimd.Active())
	}
	for _, l := range dispatch.All {
		if !contains(mlasimd.Available(), l) {
			_, err := mlasimd.Use(l)
			require.ErrorContains(t, err, l.String())
		}
	}
}

func contains(ls []dispatch.Level, l dispatch.Level) bool {
	for _, m := range ls {
		if m == l {
			return true
		}
	}
	return false
}
