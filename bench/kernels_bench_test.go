package bench_test

import (
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench"
)

// benchKernel runs every Case of one kernel at every available Level (and gonum, where
// the Case has it) as sub-benchmarks ISA=<level>/<shape>, reporting GB/s (through
// SetBytes) and GFLOP/s. -short leaves out the DRAM-sized shapes.
// A kernel with no Case fails rather than reporting nothing, so that a misspelt name
// cannot pass for a benchmark.
func benchKernel(b *testing.B, kernel string) {
	found := false
	for _, c := range bench.Cases(!testing.Short()) {
		if c.Kernel != kernel {
			continue
		}
		found = true
		var call func(k *mlasimd.Kernels)
		for _, l := range mlasimd.Available() {
			k, _ := mlasimd.Impl(l)
			b.Run("ISA="+l.String()+"/"+c.Shape, func(b *testing.B) {
				if call == nil {
					call = c.Setup()
				}
				for b.Loop() {
					call(k)
				}
				report(b, c)
			})
		}
		if c.Gonum != nil {
			b.Run("ISA=gonum/"+c.Shape, func(b *testing.B) {
				run := c.Gonum()
				for b.Loop() {
					run()
				}
				report(b, c)
			})
		}
	}
	if !found {
		b.Fatalf("no bench.Case for kernel %q", kernel)
	}
}

func report(b *testing.B, c bench.Case) {
	b.SetBytes(int64(c.Bytes))
	b.ReportMetric(c.Flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkDot(b *testing.B)            { benchKernel(b, "Dot") }
func BenchmarkAxpy(b *testing.B)           { benchKernel(b, "Axpy") }
func BenchmarkGemv(b *testing.B)           { benchKernel(b, "Gemv") }
func BenchmarkGemvBF16(b *testing.B)       { benchKernel(b, "GemvBF16") }
func BenchmarkGemvF16(b *testing.B)        { benchKernel(b, "GemvF16") }
func BenchmarkGemvQ8_0(b *testing.B)       { benchKernel(b, "GemvQ8_0") }
func BenchmarkGemvT(b *testing.B)          { benchKernel(b, "GemvT") }
func BenchmarkDownUp(b *testing.B)         { benchKernel(b, "DownUp") }
func BenchmarkGemmNT(b *testing.B)         { benchKernel(b, "GemmNT") }
func BenchmarkGemmNTPrefetch(b *testing.B) { benchKernel(b, "GemmNTPrefetch") }
func BenchmarkGemmNN(b *testing.B)         { benchKernel(b, "GemmNN") }
func BenchmarkGemmNNAdd(b *testing.B)      { benchKernel(b, "GemmNNAdd") }
func BenchmarkExp(b *testing.B)            { benchKernel(b, "Exp") }
func BenchmarkSoftmax(b *testing.B)        { benchKernel(b, "Softmax") }
func BenchmarkSoftmaxStats(b *testing.B)   { benchKernel(b, "SoftmaxStats") }
func BenchmarkOnlineSoftmax(b *testing.B)  { benchKernel(b, "OnlineSoftmax") }
func BenchmarkRoPE(b *testing.B)           { benchKernel(b, "RoPE") }
func BenchmarkRoPEHalf(b *testing.B)       { benchKernel(b, "RoPEHalf") }
func BenchmarkRMSNorm(b *testing.B)        { benchKernel(b, "RMSNorm") }
func BenchmarkLayerNorm(b *testing.B)      { benchKernel(b, "LayerNorm") }
func BenchmarkF16ToF32(b *testing.B)       { benchKernel(b, "F16ToF32") }
func BenchmarkBF16ToF32(b *testing.B)      { benchKernel(b, "BF16ToF32") }
func BenchmarkF32ToF16(b *testing.B)       { benchKernel(b, "F32ToF16") }
func BenchmarkF32ToBF16(b *testing.B)      { benchKernel(b, "F32ToBF16") }
