// Package dispatch decides which instruction set mlasimd's kernels run on.
//
// It reads the CPU's features with golang.org/x/sys/cpu and groups them into
// conjunctive tiers (Levels), so a Level is reported only when every feature its
// routines use is present and, on x86, enabled by the operating system:
//
//	AVX2   = AVX && AVX2 && FMA && F16C (OS saves YMM state)
//	AVX512 = AVX2 tier && AVX-512 F, VL, BW, DQ (OS saves ZMM and opmask state)
//	NEON   = ASIMD (always present on arm64)
//
// The environment variable MLASIMD_ISA=generic|avx2|avx512|neon caps the choice;
// naming a Level this CPU cannot run is an error, never an illegal instruction.
// MLASIMD_REQUIRE_ISA names the Level that tests must find selected, so that a silent
// fallback fails loudly. GODEBUG=cpu.avx512f=off and friends also work, because
// x/sys/cpu honors them.
//
// Data flows one way: dispatch decides a Level (Detect, honouring the variables), the
// root package mlasimd binds that Level's table of routines (Kernels) and offers every
// available one side by side (Available, Impl) for tests, fuzz targets and
// benchmarks, and package mla calls only mlasimd's API. Package dispatch imports
// nothing of mlasimd's.
package dispatch
