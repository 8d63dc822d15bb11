//go:build gc && !purego

package mlasimd_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/internal/spec"
	"github.com/stretchr/testify/require"
)

// featureFlags maps avo's names for CPU features to the dispatch.Features fields that
// report them. SSE, SSE2, CMOV and MMX+ (which has PREFETCHT0) are part of every
// amd64 CPU.
var featureFlags = map[string]func(*dispatch.Features){
	"SSE": func(*dispatch.Features) {}, "SSE2": func(*dispatch.Features) {}, "MMX+": func(*dispatch.Features) {},
	"CMOV": func(*dispatch.Features) {},
	"AVX":  func(f *dispatch.Features) { f.AVX = false }, "AVX2": func(f *dispatch.Features) { f.AVX2 = false },
	"FMA3": func(f *dispatch.Features) { f.FMA = false }, "F16C": func(f *dispatch.Features) { f.F16C = false },
	"AVX512F":  func(f *dispatch.Features) { f.AVX512F = false },
	"AVX512VL": func(f *dispatch.Features) { f.AVX512VL = false },
	"AVX512BW": func(f *dispatch.Features) { f.AVX512BW = false },
	"AVX512DQ": func(f *dispatch.Features) { f.AVX512DQ = false },
}

// extensionFlags are the extensions (spec.Extensions) that dispatch.Features.Has
// checks per routine, with the field that reports each.
var extensionFlags = map[string]func(*dispatch.Features){
	"AVX512VNNI": func(f *dispatch.Features) { f.AVX512VNNI = false },
	"AVX512BF16": func(f *dispatch.Features) { f.AVX512BF16 = false },
}

// TestRoutinesNeedOnlyTheirTier reads avo's per-function "// Requires:" lines in the
// generated assembly and fails if a routine uses a CPU feature that its dispatch tier
// does not check: for each feature, a CPU that lacks it must not be given the tier.
// An extension is checked per routine instead: Features.Has must report it, and the
// routine must be registered through withExtension on it.
func TestRoutinesNeedOnlyTheirTier(t *testing.T) {
	src, err := os.ReadFile("kernels_amd64.s")
	require.NoError(t, err)
	impl, err := os.ReadFile("impl_amd64.go")
	require.NoError(t, err)
	all := dispatch.Features{Arch: "amd64", AVX: true, AVX2: true, FMA: true, F16C: true,
		AVX512F: true, AVX512VL: true, AVX512BW: true, AVX512DQ: true, AVX512VNNI: true, AVX512BF16: true}
	fn := regexp.MustCompile(`(?m)^// func (\w+)\(.*\n// Requires: (.*)\n`)
	matches := fn.FindAllStringSubmatch(string(src), -1)
	require.Equal(t, strings.Count(string(src), "\nTEXT "), len(matches), "every TEXT needs a Requires line")
	for _, m := range matches {
		name, features := m[1], strings.Split(m[2], ", ")
		var tier dispatch.Level // a routine without a tier suffix serves every Level
		switch {
		case strings.HasSuffix(name, "AVX512"):
			tier = dispatch.AVX512
		case strings.HasSuffix(name, "AVX2"):
			tier = dispatch.AVX2
		}
		for _, feat := range features {
			if clear, ok := extensionFlags[feat]; ok {
				f := all
				clear(&f)
				require.True(t, all.Has(feat) && !f.Has(feat), "Features.Has(%q) does not follow its flag", feat)
				require.Contains(t, string(impl), "withExtension(\""+feat+"\", "+name+",", "%s needs %s but is not registered through withExtension", name, feat)
				continue
			}
			clear, ok := featureFlags[feat]
			require.True(t, ok, "%s requires %s, which no dispatch tier checks", name, feat)
			f := all
			clear(&f)
			if f != all {
				require.NotEqual(t, dispatch.Generic, tier, "%s has no tier suffix but requires %s", name, feat)
				require.False(t, f.Supports(tier), "%s requires %s but tier %s does not check it", name, feat, tier)
			}
		}
	}
}

// TestRequiresMatchSpec: each TEXT block's "// Requires:" line is the feature set the
// spec gives the routine at its ISA, and every amd64 routine of the spec has one.
func TestRequiresMatchSpec(t *testing.T) {
	src, err := os.ReadFile("kernels_amd64.s")
	require.NoError(t, err)
	fn := regexp.MustCompile(`(?m)^// func (\w+)\(.*\n// Requires: (.*)\n`)
	got := map[string]string{}
	for _, m := range fn.FindAllStringSubmatch(string(src), -1) {
		got[m[1]] = m[2]
	}
	want := map[string]string{}
	for _, isa := range []spec.ISA{spec.AVX2, spec.AVX512} {
		for _, r := range spec.ForISA(isa) {
			want[r.Name+isa.Name] = strings.Join(r.Needs[isa], ", ")
		}
	}
	require.Equal(t, want, got)
}
