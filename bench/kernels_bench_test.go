package bench_test

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench"
)

// benchKernel runs every Case of one kernel at every available Level (and gonum, where
// the Case has it) as sub-benchmarks ISA=<level>/<shape>, reporting GB/s (through
// SetBytes) and GFLOP/s. Kernel "Gemv" runs the GEMVs of every weight format (the
// Cases with a DType) as ISA=<level>/dtype=<dtype>/<shape>, and each GEMV also reports
// GB/s of its weight bytes. -short leaves out the DRAM-sized shapes.
// A kernel with no Case fails rather than reporting nothing, so that a misspelt name
// cannot pass for a benchmark.
func benchKernel(b *testing.B, kernel string) {
	found := false
	for _, c := range bench.Cases(!testing.Short()) {
		if c.Kernel != kernel && (kernel != "Gemv" || c.DType == "") {
			continue
		}
		found = true
		name := c.Shape
		if c.DType != "" {
			name = "dtype=" + c.DType + "/" + name
		}
		var call func(k *mlasimd.Kernels)
		for _, l := range mlasimd.Available() {
			k, _ := mlasimd.Impl(l)
			b.Run("ISA="+l.String()+"/"+name, func(b *testing.B) {
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
			b.Run("ISA=gonum/"+name, func(b *testing.B) {
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
	if c.WBytes > 0 {
		b.ReportMetric(c.WBytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	}
}

// BenchmarkRead is the DRAM read reference for the reduced-precision GEMVs: at every
// Level, it reads a buffer laid out and filled as BenchmarkGemv's
// dtype=bf16/shape=8192x8192 W (128 MiB, far past the caches; f16's W has the same
// size), viewed as float32, with kernels that do one multiply-add per 4 bytes, far
// below the FMA peak of the assembly Levels, so that their time is the time to stream
// every cache line of it once: via=gemv is Gemv over the buffer as an 8192x4096
// float32 matrix (the same rows of 16 KiB, prefetched rows ahead as GemvBF16's are),
// via=dot is Dot of its two halves (two sequential streams and the hardware
// prefetchers alone). Both report GB/s of the buffer's bytes; the faster is the bar
// (bench.ReadGBs takes the faster of the same two). -short skips it.
func BenchmarkRead(b *testing.B) {
	if testing.Short() {
		b.Skip("128 MiB buffer; -short leaves out the DRAM-sized shapes")
	}
	const m, n = 8192, 8192
	var f, x, y []float32
	setup := func() {
		if f != nil {
			return
		}
		w := make([]uint16, m*n)
		mlasimd.F32ToBF16(w, bench.RandVec(m*n))
		// The same memory as float32: pairs of bfloat16 values of [-1, 1) read as
		// finite float32s (their high halves have exponents of at most 127).
		f = unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(w))), m*n/2)
		x, y = bench.RandVec(n/2), make([]float32, m)
	}
	bytes := float64(2 * m * n)
	for _, l := range mlasimd.Available() {
		k, _ := mlasimd.Impl(l)
		for _, via := range []struct {
			name string
			call func()
		}{
			{"gemv", func() { k.Gemv(y, f, x) }},
			{"dot", func() { k.Dot(f[:len(f)/2], f[len(f)/2:]) }},
		} {
			b.Run(fmt.Sprintf("ISA=%s/dtype=bf16/shape=%dx%d/via=%s", l, m, n, via.name), func(b *testing.B) {
				setup()
				for b.Loop() {
					via.call()
				}
				b.SetBytes(int64(bytes))
				b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}

func BenchmarkDot(b *testing.B)  { benchKernel(b, "Dot") }
func BenchmarkAxpy(b *testing.B) { benchKernel(b, "Axpy") }
func BenchmarkGemv(b *testing.B) { benchKernel(b, "Gemv") }

// BenchmarkGemvBF16, BenchmarkGemvF16, BenchmarkGemvQ8_0 and BenchmarkGemvE4M3 run
// one weight format of BenchmarkGemv each, under the same names; the root package's
// TestFamilies requires a BenchmarkX for every kernel X.
func BenchmarkGemvBF16(b *testing.B) { benchKernel(b, "GemvBF16") }
func BenchmarkGemvF16(b *testing.B)  { benchKernel(b, "GemvF16") }
func BenchmarkGemvQ8_0(b *testing.B) { benchKernel(b, "GemvQ8_0") }
func BenchmarkGemvE4M3(b *testing.B) { benchKernel(b, "GemvE4M3") }

// BenchmarkGemvE4M3Finite is BenchmarkGemv's dtype=fp8finite.
func BenchmarkGemvE4M3Finite(b *testing.B) { benchKernel(b, "GemvE4M3Finite") }

// BenchmarkGemvQ8_0Q8 is BenchmarkGemv's dtype=q8_0q8: Q8_0 weights times x
// quantized to int8 (QuantizeQ8Vector included in the time).
func BenchmarkGemvQ8_0Q8(b *testing.B) { benchKernel(b, "GemvQ8_0Q8") }

func BenchmarkGemvT(b *testing.B)          { benchKernel(b, "GemvT") }
func BenchmarkGemvTBF16(b *testing.B)      { benchKernel(b, "GemvTBF16") }
func BenchmarkGemvTF16(b *testing.B)       { benchKernel(b, "GemvTF16") }
func BenchmarkGemvTQ8_0(b *testing.B)      { benchKernel(b, "GemvTQ8_0") }
func BenchmarkGemvTE4M3(b *testing.B)      { benchKernel(b, "GemvTE4M3") }
func BenchmarkDownUp(b *testing.B)         { benchKernel(b, "DownUp") }
func BenchmarkGemmNT(b *testing.B)         { benchKernel(b, "GemmNT") }
func BenchmarkGemmNTPrefetch(b *testing.B) { benchKernel(b, "GemmNTPrefetch") }
func BenchmarkGemmNN(b *testing.B)         { benchKernel(b, "GemmNN") }
func BenchmarkGemmNNAdd(b *testing.B)      { benchKernel(b, "GemmNNAdd") }

// BenchmarkGemmNTBF16 and BenchmarkGemmNNAddBF16 are MLA decode's attention products
// per tile of cache rows in bfloat16; BenchmarkGemmNT and BenchmarkGemmNNAdd run the
// same shapes in float32.
func BenchmarkGemmNTBF16(b *testing.B)    { benchKernel(b, "GemmNTBF16") }
func BenchmarkGemmNNAddBF16(b *testing.B) { benchKernel(b, "GemmNNAddBF16") }

// BenchmarkGemmNTBF16E4M3 and BenchmarkGemmNNAddBF16E4M3 are the same products over
// an FP8 E4M3 cache (bench.bf16AttnCases).
func BenchmarkGemmNTBF16E4M3(b *testing.B)    { benchKernel(b, "GemmNTBF16E4M3") }
func BenchmarkGemmNNAddBF16E4M3(b *testing.B) { benchKernel(b, "GemmNNAddBF16E4M3") }

// The int8 attention of MLA decode next to float32 at the same shapes (bench.AttnI8Rows).
func BenchmarkAttnScoresI8(b *testing.B)    { benchKernel(b, "AttnScoresI8") }
func BenchmarkQuantizeProbsI8(b *testing.B) { benchKernel(b, "QuantizeProbsI8") }
func BenchmarkAttnValuesI8(b *testing.B)    { benchKernel(b, "AttnValuesI8") }

// BenchmarkAttnPipeline runs MLA decode's attention over n rows as the int8 calls
// (dtype=i8: AttnScoresI8, QuantizeProbsI8, AttnValuesI8) and the float32 ones
// (dtype=f32: GemmNT, GemmNNAdd) in a row, as ISA=<level>/dtype=<dtype>/shape=16x<n>x576,
// both reporting the float32 products' GFLOP/s, so their ratio is the speed-up.
func BenchmarkAttnPipeline(b *testing.B) {
	for _, n := range bench.AttnI8Rows {
		for _, l := range mlasimd.Available() {
			k, _ := mlasimd.Impl(l)
			for _, dtype := range []string{"i8", "f32"} {
				flops, setup := bench.AttnPipeline(dtype, n)
				b.Run(fmt.Sprintf("ISA=%s/dtype=%s/shape=16x%dx576", l, dtype, n), func(b *testing.B) {
					call := setup()
					for b.Loop() {
						call(k)
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
func BenchmarkExp(b *testing.B)           { benchKernel(b, "Exp") }
func BenchmarkSoftmax(b *testing.B)       { benchKernel(b, "Softmax") }
func BenchmarkSoftmaxStats(b *testing.B)  { benchKernel(b, "SoftmaxStats") }
func BenchmarkOnlineSoftmax(b *testing.B) { benchKernel(b, "OnlineSoftmax") }
func BenchmarkRoPE(b *testing.B)          { benchKernel(b, "RoPE") }
func BenchmarkRoPEHalf(b *testing.B)      { benchKernel(b, "RoPEHalf") }
func BenchmarkRMSNorm(b *testing.B)       { benchKernel(b, "RMSNorm") }
func BenchmarkLayerNorm(b *testing.B)     { benchKernel(b, "LayerNorm") }
func BenchmarkF16ToF32(b *testing.B)      { benchKernel(b, "F16ToF32") }
func BenchmarkBF16ToF32(b *testing.B)     { benchKernel(b, "BF16ToF32") }
func BenchmarkF32ToBF16DAZ(b *testing.B)  { benchKernel(b, "F32ToBF16DAZ") }
func BenchmarkF32ToF16(b *testing.B)      { benchKernel(b, "F32ToF16") }
func BenchmarkF32ToBF16(b *testing.B)     { benchKernel(b, "F32ToBF16") }
