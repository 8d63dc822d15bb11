// Package testutil is the shared harness of mlasimd's tests and fuzz targets, so that
// the root package's tests, the fuzz targets in fuzz/ and package mla's tests hold
// every Level to one contract:
//
//   - Levels and their tables: ForEachLevel runs a test body once per Level available
//     here as subtests named ISA=<level> (the benchmarks' names), UseEachLevel does
//     the same with the Level made active for code that calls the package-level API,
//     and Kernels gives the list to fuzz targets. Under MLASIMD_REQUIRE_ISA only the
//     required Level runs, and Main fails the run if it was not selected.
//   - Fenced operands: a Region cuts each operand from its own mapping between
//     inaccessible pages, flush against either fence or misaligned, and checks the
//     sentinels around outputs, so an out-of-bounds read faults and a write shows.
//   - Values: generators with the special classes (±0, subnormals, ±Inf, NaN).
//   - Error bounds: each kernel's check against a float64 oracle, with a bound derived
//     from the operation (Higham's γ(n) for sums of products), never a fixed epsilon.
package testutil
