package dispatch

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/cpu"
)

// Features is the subset of CPU facts the tiers are built from, separated from
// x/sys/cpu so that the tier logic can be tested with any combination.
type Features struct {
	Arch                        string
	AVX, AVX2, FMA, F16C        bool // AVX and AVX2 imply the OS saves YMM state
	AVX512F, AVX512VL, AVX512BW bool // AVX512F implies the OS saves ZMM and opmask state
	AVX512DQ                    bool
	ASIMD                       bool
	// Extensions that no Level implies; a routine whose body needs one checks it
	// with Has (see internal/spec.Extensions).
	AVX512VNNI bool
	AVX512BF16 bool
}

// HostFeatures reads this machine's features.
func HostFeatures() Features {
	return Features{
		Arch: runtime.GOARCH,
		AVX:  cpu.X86.HasAVX, AVX2: cpu.X86.HasAVX2, FMA: cpu.X86.HasFMA, F16C: cpu.X86.HasF16C,
		AVX512F: cpu.X86.HasAVX512F, AVX512VL: cpu.X86.HasAVX512VL,
		AVX512BW: cpu.X86.HasAVX512BW, AVX512DQ: cpu.X86.HasAVX512DQ,
		ASIMD:      cpu.ARM64.HasASIMD,
		AVX512VNNI: cpu.X86.HasAVX512VNNI && !disabled("AVX512VNNI"),
		AVX512BF16: cpu.X86.HasAVX512BF16 && !disabled("AVX512BF16"),
	}
}

// EnvNoExtensions names extensions to ignore even where the CPU has them, comma
// separated (MLASIMD_NO_EXTENSIONS=avx512vnni,avx512bf16), so that the fallbacks can be run and
// measured on any machine.
const EnvNoExtensions = "MLASIMD_NO_EXTENSIONS"

func disabled(feature string) bool {
	for _, f := range strings.Split(os.Getenv(EnvNoExtensions), ",") {
		if strings.EqualFold(strings.TrimSpace(f), feature) {
			return true
		}
	}
	return false
}

// Has reports whether the CPU has the extension feature, named as
// internal/spec.Extensions names it; false for a name it does not know.
func (f Features) Has(feature string) bool {
	switch feature {
	case "AVX512VNNI":
		return f.AVX512F && f.AVX512VNNI
	case "AVX512BF16":
		return f.AVX512F && f.AVX512BW && f.AVX512BF16
	}
	return false
}

// Supports reports whether a CPU with features f can run level l's routines.
// x/sys/cpu's HasFMA is not gated on the OS enabling AVX, so it is ANDed with AVX.
func (f Features) Supports(l Level) bool {
	switch l {
	case Generic:
		return true
	case NEON:
		return f.Arch == "arm64" && f.ASIMD
	case AVX2:
		return f.Arch == "amd64" && f.AVX && f.AVX2 && f.FMA && f.F16C
	case AVX512:
		return f.Supports(AVX2) && f.AVX512F && f.AVX512VL && f.AVX512BW && f.AVX512DQ
	}
	return false
}

// Supported lists the Levels this CPU can run, best first.
func (f Features) Supported() []Level {
	var out []Level
	for i := len(All) - 1; i >= 0; i-- {
		if f.Supports(All[i]) {
			out = append(out, All[i])
		}
	}
	return out
}

// Choose picks the best Level among those implemented (by the build) and supported
// (by the CPU), capped by the request (the value of MLASIMD_ISA; empty means no cap).
// A request that is unknown, or that this CPU or build cannot run, is an error that
// names it and lists what would work; the returned Level is then the best available,
// so a caller may warn and go on.
func (f Features) Choose(implemented []Level, request string) (Level, error) {
	var usable []Level
	for _, l := range f.Supported() {
		for _, m := range implemented {
			if l == m {
				usable = append(usable, l)
			}
		}
	}
	best := Generic
	if len(usable) > 0 {
		best = usable[0]
	}
	if strings.TrimSpace(request) == "" {
		return best, nil
	}
	want, err := Parse(request)
	if err != nil {
		return best, fmt.Errorf("MLASIMD_ISA=%s: %v; this CPU supports %s", request, err, joinLevels(usable))
	}
	for _, l := range usable {
		if l == want {
			return want, nil
		}
	}
	return best, fmt.Errorf("MLASIMD_ISA=%s: this CPU (or a purego build) cannot run it; it supports %s", request, joinLevels(usable))
}

func joinLevels(ls []Level) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = l.String()
	}
	return strings.Join(s, ", ")
}

// EnvISA and EnvRequireISA are the environment variables this package reads.
const (
	EnvISA        = "MLASIMD_ISA"
	EnvRequireISA = "MLASIMD_REQUIRE_ISA"
)

// Detect returns the Level to use on this machine given the implemented Levels and
// the MLASIMD_ISA environment variable (see Choose).
func Detect(implemented []Level) (Level, error) {
	return HostFeatures().Choose(implemented, os.Getenv(EnvISA))
}

// CheckRequired returns an error when MLASIMD_REQUIRE_ISA names a Level other than
// the selected one. Tests call it so that a run meant for one ISA cannot pass on a
// silent fallback to another.
func CheckRequired(selected Level) error {
	req := os.Getenv(EnvRequireISA)
	if req == "" {
		return nil
	}
	want, err := Parse(req)
	if err != nil {
		return fmt.Errorf("%s: %v", EnvRequireISA, err)
	}
	if want != selected {
		return fmt.Errorf("%s=%s but the selected level is %s (CPU supports %s)", EnvRequireISA, req, selected, joinLevels(HostFeatures().Supported()))
	}
	return nil
}
