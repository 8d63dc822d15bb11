//go:build purego

package mlasimd_test

import (
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/stretchr/testify/require"
)

// The purego build has no assembly: the generic Level is all there is.
func TestPuregoHasOnlyGeneric(t *testing.T) {
	require.Equal(t, []dispatch.Level{dispatch.Generic}, mlasimd.Available())
	require.Equal(t, dispatch.Generic, mlasimd.Active())
}
