package dispatch

import (
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	zen3    = Features{Arch: "amd64", AVX: true, AVX2: true, FMA: true, F16C: true}
	skylake = Features{Arch: "amd64", AVX: true, AVX2: true, FMA: true, F16C: true, AVX512F: true, AVX512VL: true, AVX512BW: true, AVX512DQ: true}
	arm     = Features{Arch: "arm64", ASIMD: true}
	all     = []Level{Generic, NEON, AVX2, AVX512}
)

func TestTiersAreConjunctive(t *testing.T) {
	require.Equal(t, []Level{AVX2, Generic}, zen3.Supported())
	require.Equal(t, []Level{AVX512, AVX2, Generic}, skylake.Supported())
	require.Equal(t, []Level{NEON, Generic}, arm.Supported())

	// x/sys/cpu reports FMA even when the OS has not enabled AVX: no AVX, no tier.
	noOSAVX := zen3
	noOSAVX.AVX, noOSAVX.AVX2 = false, false
	require.Equal(t, []Level{Generic}, noOSAVX.Supported())
	noF16C := zen3
	noF16C.F16C = false
	require.Equal(t, []Level{Generic}, noF16C.Supported())
	for _, missing := range []func(*Features){
		func(f *Features) { f.AVX512VL = false }, func(f *Features) { f.AVX512BW = false },
		func(f *Features) { f.AVX512DQ = false }, func(f *Features) { f.AVX512F = false },
		func(f *Features) { f.FMA = false },
	} {
		f := skylake
		missing(&f)
		require.False(t, f.Supports(AVX512), "%+v", f)
	}
	require.False(t, Features{Arch: "amd64", ASIMD: true}.Supports(NEON))
}

func TestChoose(t *testing.T) {
	l, err := skylake.Choose(all, "")
	require.NoError(t, err)
	require.Equal(t, AVX512, l)

	l, err = skylake.Choose(all, "avx2")
	require.NoError(t, err)
	require.Equal(t, AVX2, l, "users can stay off AVX-512")

	l, err = skylake.Choose([]Level{Generic}, "")
	require.NoError(t, err)
	require.Equal(t, Generic, l, "a purego build has only generic")

	l, err = zen3.Choose(all, "avx512")
	require.ErrorContains(t, err, "MLASIMD_ISA=avx512")
	require.ErrorContains(t, err, "supports avx2, generic")
	require.Equal(t, AVX2, l, "the fallback is the best available")

	_, err = zen3.Choose(all, "sse9")
	require.ErrorContains(t, err, `unknown ISA level "sse9"`)

	l, err = arm.Choose(all, "NEON")
	require.NoError(t, err)
	require.Equal(t, NEON, l)
	l, err = arm.Choose(all, "generic")
	require.NoError(t, err)
	require.Equal(t, Generic, l)
}

func TestParseRoundTrip(t *testing.T) {
	for _, l := range All {
		p, err := Parse(l.String())
		require.NoError(t, err)
		require.Equal(t, l, p)
	}
	require.Equal(t, "Level(9)", Level(9).String())
}

func TestCheckRequired(t *testing.T) {
	t.Setenv(EnvRequireISA, "")
	require.NoError(t, CheckRequired(Generic))
	t.Setenv(EnvRequireISA, "avx512")
	require.ErrorContains(t, CheckRequired(AVX2), "MLASIMD_REQUIRE_ISA=avx512 but the selected level is avx2")
	require.NoError(t, CheckRequired(AVX512))
	t.Setenv(EnvRequireISA, "bogus")
	require.Error(t, CheckRequired(AVX2))
}

func TestDetectReadsEnv(t *testing.T) {
	t.Setenv(EnvISA, "generic")
	l, err := Detect(all)
	require.NoError(t, err)
	require.Equal(t, Generic, l)
	t.Setenv(EnvISA, "nonsense")
	_, err = Detect(all)
	require.ErrorContains(t, err, "nonsense")
}
