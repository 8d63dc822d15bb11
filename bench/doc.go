// Package bench holds mlasimd's benchmarks: every kernel at every Level available on
// the machine, side by side in one process, with gonum and the generic kernels as
// baselines, and the MLA decode step. It is a module of its own, so that gonum and
// its plotting stay out of mlasimd's dependencies. Run them with
//
//	go test -run '^$' -bench . .
//
// Cases is the one list of what is measured, each Case named after its kernel (the
// method of mlasimd.Kernels); BenchmarkX runs the Cases of kernel X and fails if there
// are none, so a misspelt name cannot pass for a benchmark, and the root package's
// TestFamilies checks that every kernel has both. Sub-benchmarks are named
// ISA=<level>/shape=<MxN> or ISA=<level>/n=<len>, as the tests name their per-Level
// subtests, so benchstat can compare Levels or runs. Each reports MB/s (bytes the
// kernel must move) and GFLOP/s. BenchmarkGemv runs every weight format side by side,
// ISA=<level>/dtype=<f32|bf16|f16|q8_0>/shape=<MxK> (gonum's as ISA=gonum/dtype=f32),
// and also reports GB/s of W's bytes in its format; BenchmarkGemvBF16, BenchmarkGemvF16
// and BenchmarkGemvQ8_0 run one format each under the same names. BenchmarkRead is the
// read bandwidth those GB/s are measured against: a buffer of bf16 8192x8192's bytes
// streamed once, ISA=<level>/dtype=bf16/shape=8192x8192/via=<gemv|dot>. The report command (bench/report) runs the same
// Cases and prints them as tables next to the machine's measured limits; the demo
// command (bench/demo) is what `make run` starts.
//
// # Worker counts
//
// BenchmarkDecode (and package mla's BenchmarkAttention) run the MLA layer on a pool
// of worker goroutines, and name the count in every sub-benchmark:
// ISA=<level>/model=<name>/weights=<format>/cache=<dtype>/S=<n>/workers=<w>, e.g.
// BenchmarkDecode/ISA=avx512/model=V2-Lite/weights=bf16/cache=f32/S=1024/workers=1. Each builds
// its layer with mla.WithWorkers(w), for w = 1 and 2, or the comma-separated list in
// $MLASIMD_BENCH_WORKERS:
//
//	MLASIMD_BENCH_WORKERS=1,2,4 go test -run '^$' -bench 'Decode/.*/S=1024/' .
//
// -cpu sets GOMAXPROCS only (the -N suffix go test appends to each name), not the
// worker count; workers beyond GOMAXPROCS take turns on fewer threads and are slow,
// so run workers=2 with GOMAXPROCS of at least 2 (-cpu 2, or the default on a
// machine with 2 cores or more). The workers= element keeps the names benchstat
// keys: benchstat -col /workers compares the counts.
package bench
