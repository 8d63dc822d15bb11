package bench_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// gemvShapes are rows x cols of W: MLA's projections (576x2048 is DeepSeek-V2-Lite's
// kv_a_proj_with_mqa), square ones, and a DRAM-sized 8192x8192.
var gemvShapes = [][2]int{{512, 2048}, {2048, 2048}, {3072, 2048}, {4096, 512}, {576, 2048}, {24576, 1536}, {8192, 8192}}

var vectorLens = []int{64, 576, 4096, 65536}

func randVec(n int) []float32 {
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.Float64()*2 - 1)
	}
	return v
}

// forLevels runs body once per available Level, as the sub-benchmark
// ISA=<level>/<name>.
func forLevels(b *testing.B, name string, body func(b *testing.B, k *mlasimd.Kernels)) {
	for _, l := range mlasimd.Available() {
		k, _ := mlasimd.Impl(l)
		b.Run("ISA="+l.String()+"/"+name, func(b *testing.B) { body(b, k) })
	}
}

// report sets the bytes moved per operation and adds GFLOP/s.
func report(b *testing.B, bytes, flops float64) {
	b.SetBytes(int64(bytes))
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func shapeName(m, n int) string { return fmt.Sprintf("shape=%dx%d", m, n) }

func BenchmarkGemv(b *testing.B) {
	for _, s := range gemvShapes {
		m, n := s[0], s[1]
		if testing.Short() && m*n > 1<<22 {
			continue
		}
		w, x, y := randVec(m*n), randVec(n), make([]float32, m)
		bytes, flops := 4*float64(m*n+m+n), 2*float64(m*n)
		forLevels(b, shapeName(m, n), func(b *testing.B, k *mlasimd.Kernels) {
			for b.Loop() {
				k.Gemv(y, w, x)
			}
			report(b, bytes, flops)
		})
		b.Run("ISA=gonum/"+shapeName(m, n), func(b *testing.B) {
			a := blas32.General{Rows: m, Cols: n, Stride: n, Data: w}
			vx, vy := blas32.Vector{N: n, Inc: 1, Data: x}, blas32.Vector{N: m, Inc: 1, Data: y}
			for b.Loop() {
				blas32.Gemv(blas.NoTrans, 1, a, vx, 0, vy)
			}
			report(b, bytes, flops)
		})
	}
}

func BenchmarkGemvT(b *testing.B) {
	for _, s := range gemvShapes[:5] {
		m, n := s[0], s[1]
		w, x, y := randVec(m*n), randVec(m), make([]float32, n)
		forLevels(b, shapeName(m, n), func(b *testing.B, k *mlasimd.Kernels) {
			for b.Loop() {
				k.GemvT(y, w, x)
			}
			report(b, 4*float64(m*n+m+n), 2*float64(m*n))
		})
	}
}

// BenchmarkDownUp is a low-rank projection d -> r -> d, as in MLA's latent path.
func BenchmarkDownUp(b *testing.B) {
	for _, s := range [][2]int{{2048, 512}, {7168, 1536}} {
		d, r := s[0], s[1]
		down, up, x := randVec(r*d), randVec(d*r), randVec(d)
		y, lat := make([]float32, d), make([]float32, r)
		forLevels(b, shapeName(d, r), func(b *testing.B, k *mlasimd.Kernels) {
			for b.Loop() {
				k.DownUp(y, lat, down, up, x)
			}
			report(b, 4*float64(2*r*d+2*d+r), 4*float64(r*d))
		})
	}
}

// BenchmarkGemm measures the two attention products of MLA decode: 16 heads' 576-wide
// queries against S cache rows (NT), and their weights over the 512-wide latents (NN).
func BenchmarkGemm(b *testing.B) {
	const heads, width, latent = 16, 576, 512
	for _, s := range []int{1024, 4096} {
		q, cache, scores, out := randVec(heads*width), randVec(s*width), make([]float32, heads*s), make([]float32, heads*latent)
		forLevels(b, fmt.Sprintf("op=NT/shape=%dx%dx%d", heads, s, width), func(b *testing.B, k *mlasimd.Kernels) {
			for b.Loop() {
				k.GemmNT(scores, q, cache, heads, s, width, width, width)
			}
			report(b, 4*float64(s*width+heads*width+heads*s), 2*float64(heads*s*width))
		})
		forLevels(b, fmt.Sprintf("op=NN/shape=%dx%dx%d", heads, latent, s), func(b *testing.B, k *mlasimd.Kernels) {
			for b.Loop() {
				k.GemmNN(out, scores, cache, heads, latent, s, s, width)
			}
			report(b, 4*float64(s*latent+heads*s+heads*latent), 2*float64(heads*s*latent))
		})
	}
}

// vectorBench benchmarks a kernel over each of vectorLens; bytes and flops are per
// element.
func vectorBench(b *testing.B, bytesPer, flopsPer float64, run func(k *mlasimd.Kernels, x, y []float32)) {
	for _, n := range vectorLens {
		x, y := randVec(n), randVec(n)
		forLevels(b, fmt.Sprintf("n=%d", n), func(b *testing.B, k *mlasimd.Kernels) {
			for b.Loop() {
				run(k, x, y)
			}
			report(b, bytesPer*float64(n), flopsPer*float64(n))
		})
	}
}

func BenchmarkDot(b *testing.B) {
	vectorBench(b, 8, 2, func(k *mlasimd.Kernels, x, y []float32) { k.Dot(x, y) })
}

func BenchmarkAxpy(b *testing.B) {
	vectorBench(b, 12, 2, func(k *mlasimd.Kernels, x, y []float32) { k.Axpy(1e-9, x, y) })
}

// Exp and Softmax count the polynomial's ~20 operations per element as flops.
func BenchmarkExp(b *testing.B) {
	vectorBench(b, 8, 20, func(k *mlasimd.Kernels, x, y []float32) { k.Exp(y, x) })
}

func BenchmarkSoftmax(b *testing.B) {
	// Softmax works in place: the input is restored by copy each time, which the
	// bytes count includes (8 bytes) besides the kernel's three passes (16 bytes).
	vectorBench(b, 24, 24, func(k *mlasimd.Kernels, x, y []float32) {
		copy(y, x)
		k.Softmax(y, 0.125)
	})
}

func BenchmarkRoPE(b *testing.B) {
	vectorBench(b, 12, 3, func(k *mlasimd.Kernels, x, y []float32) {
		k.RoPE(y, x[:len(x)/2], x[len(x)/2:])
	})
}

func BenchmarkRoPEHalf(b *testing.B) {
	vectorBench(b, 12, 3, func(k *mlasimd.Kernels, x, y []float32) {
		k.RoPEHalf(y, x[:len(x)/2], x[len(x)/2:])
	})
}

func BenchmarkRMSNorm(b *testing.B) {
	w := randVec(65536)
	vectorBench(b, 16, 4, func(k *mlasimd.Kernels, x, y []float32) { k.RMSNorm(y, x, w[:len(x)], 1e-6) })
}

func BenchmarkLayerNorm(b *testing.B) {
	w, bias := randVec(65536), randVec(65536)
	vectorBench(b, 24, 7, func(k *mlasimd.Kernels, x, y []float32) {
		k.LayerNorm(y, x, w[:len(x)], bias[:len(x)], 1e-6)
	})
}

func BenchmarkF16ToF32(b *testing.B) {
	src := make([]uint16, 65536)
	for i := range src {
		src[i] = uint16(i)&0x3fff | 0x3000
	}
	vectorBench(b, 6, 0, func(k *mlasimd.Kernels, x, y []float32) { k.F16ToF32(y, src[:len(y)]) })
}

func BenchmarkBF16ToF32(b *testing.B) {
	src := make([]uint16, 65536)
	for i := range src {
		src[i] = uint16(i)
	}
	vectorBench(b, 6, 0, func(k *mlasimd.Kernels, x, y []float32) { k.BF16ToF32(y, src[:len(y)]) })
}
