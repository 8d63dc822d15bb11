package mlasimd_test

import (
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/stretchr/testify/require"
)

// TestBF16Native: the portable Level has no bfloat16 GEMM bodies; every amd64 Level
// here has them (AVX-512's with VDPBF16PS or its AVX2 fallback), and NEON has them
// (widening with SHLL, baseline Advanced SIMD).
func TestBF16Native(t *testing.T) {
	for _, l := range mlasimd.Available() {
		restore, err := mlasimd.Use(l)
		require.NoError(t, err)
		want := l == dispatch.AVX2 || l == dispatch.AVX512 || l == dispatch.NEON
		require.Equal(t, want, mlasimd.BF16Native(), "Level %s", l)
		restore()
	}
}
