package mlasimd

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/internal/spec"
	"github.com/stretchr/testify/require"
)

// goType spells a spec signature as reflect does: parameter types only, byte as
// its alias uint8.
func goType(r spec.Routine) string {
	types := make([]string, len(r.Args))
	for i, a := range r.Args {
		types[i] = strings.ReplaceAll(a.Type, "byte", "uint8")
	}
	s := "func(" + strings.Join(types, ", ") + ")"
	if r.Result != "" {
		s += " " + r.Result
	}
	return s
}

// TestPrimitivesMatchSpec: the primitives struct has one field per spec routine, of
// the spec's type.
func TestPrimitivesMatchSpec(t *testing.T) {
	typ := reflect.TypeFor[primitives]()
	require.Equal(t, len(spec.Routines), typ.NumField(), "one primitives field per spec routine")
	for i, r := range spec.Routines {
		f := typ.Field(i)
		require.Equal(t, r.Name, f.Name, "field %d", i)
		require.Equal(t, goType(r), f.Type.String(), "type of %s", r.Name)
	}
}

// levelOf returns the dispatch Level that runs isa.
func levelOf(t *testing.T, isa spec.ISA) dispatch.Level {
	l, err := dispatch.Parse(strings.ToLower(isa.Name))
	require.NoError(t, err, "spec ISA %s is no dispatch Level", isa.Name)
	return l
}

// TestLevelTablesMatchSpec: every registered assembly Level has exactly the routines
// the spec gives its ISA (the others nil), and every ISA of this architecture is
// registered unless the build has no assembly at all.
func TestLevelTablesMatchSpec(t *testing.T) {
	var registered, missing []string
	for _, isa := range spec.ISAs {
		k, ok := implemented[levelOf(t, isa)]
		if !ok {
			if isa.Arch == runtime.GOARCH {
				missing = append(missing, isa.Name)
			}
			continue
		}
		require.Equal(t, runtime.GOARCH, isa.Arch, "%s registered on %s", isa.Name, runtime.GOARCH)
		registered = append(registered, isa.Name)
		v := reflect.ValueOf(k.p)
		for i, r := range spec.Routines {
			require.Equal(t, r.Has(isa), !v.Field(i).IsNil(), "%s: %s registered, want spec's %v", isa.Name, r.Name, r.Has(isa))
		}
	}
	if len(registered) > 0 {
		require.Empty(t, missing, "ISAs of %s without a registered Level", runtime.GOARCH)
	}
}

// TestFallbacksFillEveryRoutine: after withFallbacks a Level lacks no routine but
// gemmNTAdd, which only splitDeepK uses.
func TestFallbacksFillEveryRoutine(t *testing.T) {
	for l, k := range implemented {
		if l == dispatch.Generic {
			continue
		}
		lv := k.p.withFallbacks()
		require.Equal(t, k.p.gemmNTAdd != nil, lv.splitDeepK, "%s", l)
		v := reflect.ValueOf(lv.primitives)
		for i, r := range spec.Routines {
			if r.Name == "gemmNTAdd" && !lv.splitDeepK {
				continue
			}
			require.False(t, v.Field(i).IsNil(), "%s: %s has no fallback", l, r.Name)
		}
	}
}
