// Package bench holds mlasimd's benchmarks: every kernel at every Level available on
// the machine, side by side in one process, with gonum and the generic kernels as
// baselines, and the MLA decode step. Run them with
//
//	go test -run '^$' -bench . ./bench
//
// Sub-benchmarks are named ISA=<level>/shape=<MxN> or ISA=<level>/n=<len>, so
// benchstat can compare Levels or runs. Each reports GB/s (bytes the kernel must
// move) and GFLOP/s. The report command (bench/report) prints the same figures as
// tables next to the machine's measured limits.
package bench
