package dispatch

import (
	"fmt"
	"strings"
)

// Level is one tier of instruction-set support, ordered from least to most capable
// within an architecture.
type Level int

const (
	Generic Level = iota // portable Go, every machine
	NEON                 // arm64 Advanced SIMD
	AVX2                 // x86-64 AVX2 + FMA + F16C
	AVX512               // x86-64 AVX-512 F/VL/BW/DQ on top of AVX2
)

// All lists every Level, in ascending order.
var All = []Level{Generic, NEON, AVX2, AVX512}

var names = map[Level]string{Generic: "generic", NEON: "neon", AVX2: "avx2", AVX512: "avx512"}

func (l Level) String() string {
	if s, ok := names[l]; ok {
		return s
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Parse returns the Level with the given name (case-insensitive).
func Parse(name string) (Level, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for l, s := range names {
		if s == n {
			return l, nil
		}
	}
	return Generic, fmt.Errorf("unknown ISA level %q (known: generic, avx2, avx512, neon)", name)
}
