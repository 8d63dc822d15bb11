package mlasimd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/internal/tuning"
	"github.com/mlasimd/mlasimd/kernels"
	"github.com/stretchr/testify/require"
)

// budgeted returns primitives in portable Go, summing in the order of the
// references, that fail t when one call does more work than compose's chunking
// allows: chunkFloats of a matrix for the matrix-vector routines (gemvT on a W in
// cache: less than the streaming threshold), chunkMACs
// multiply-adds for a GEMM beyond its minimum block of rows.
func budgeted(t *testing.T) primitives {
	vec := func(name string, floats int) {
		if floats > chunkFloats {
			t.Errorf("%s read %d floats of a matrix in one call", name, floats)
		}
	}
	gemm := func(name string, m, n, k int) {
		if m > gemmRowBlock && m*n*k > chunkMACs {
			t.Errorf("%s did %d x %d x %d multiply-adds in one call", name, m, n, k)
		}
	}
	gemmNT := func(add bool) func(c, a, b, _ []float32, m, n, k, lda, ldb, ldc int) {
		return func(c, a, b, _ []float32, m, n, k, lda, ldb, ldc int) {
			gemm("gemmNT", m, n, k)
			for i := range m {
				for j := range n {
					d := kernels.Dot(a[i*lda:i*lda+k], b[j*ldb:j*ldb+k])
					if add {
						d += c[i*ldc+j]
					}
					c[i*ldc+j] = d
				}
			}
		}
	}
	p := primitives{
		dot: kernels.Dot, axpy: func(alpha float32, x, y []float32) { kernels.Axpy(alpha, x, y[:len(x)]) },
		gemv: func(y, w, x []float32) { vec("gemv", len(w)); kernels.Gemv(y, w, x) },
		gemvStream: func(y, w, x, _ []float32) {
			vec("gemvStream", len(w))
			kernels.Gemv(y, w, x)
		},
		gemvT: func(y, w, x []float32) {
			if isStream(len(w)) { // in cache, one call reads less than the streaming threshold
				vec("gemvT", len(w))
			}
			kernels.GemvT(y, w, x)
		},
		gemvTStream: func(y, w, x, _ []float32) {
			vec("gemvTStream", len(w))
			n := len(y)
			for i, xi := range x {
				kernels.Axpy(xi, w[i*n:(i+1)*n], y)
			}
		},
		downUp: func(y, latent, down, up, x []float32) {
			vec("downUp", len(down)+len(up))
			kernels.DownUp(y, latent, down, up, x)
		},
		gemvQ8_0: func(y []float32, w []byte, x []float32) {
			// Bytes as floats' worth: the same 256 KiB as gemv's chunks.
			if len(y) > gemvRowBlock && len(w) > 4*chunkFloats {
				t.Errorf("gemvQ8_0 read %d bytes of a matrix in one call", len(w))
			}
			kernels.GemvQ8_0(y, w, x)
		},
		gemvTBF16: func(y []float32, w []uint16, x []float32) {
			// Two bytes a weight: the same 256 KiB as gemv's chunks.
			if len(x) > gemvRowBlock && len(w) > 2*chunkFloats {
				t.Errorf("gemvTBF16 read %d weights of a matrix in one call", len(w))
			}
			axpyRowsOf(kernels.AxpyBF16, sameLen)(y, w, x)
		},
		gemvTQ8_0: func(y []float32, w []byte, x []float32) {
			if len(x) > gemvRowBlock && len(w) > 4*chunkFloats {
				t.Errorf("gemvTQ8_0 read %d bytes of a matrix in one call", len(w))
			}
			axpyRowsOf(kernels.AxpyQ8_0, q8RowBytes)(y, w, x)
		},
		gemvE4M3: func(y []float32, w []byte, x []float32) {
			// A byte a weight: the same 256 KiB as gemv's chunks.
			if len(y) > gemvRowBlock && len(w) > 4*chunkFloats {
				t.Errorf("gemvE4M3 read %d bytes of a matrix in one call", len(w))
			}
			kernels.GemvE4M3(y, w, x)
		},
		gemvTE4M3: func(y []float32, w []byte, x []float32) {
			if len(x) > gemvRowBlock && len(w) > 4*chunkFloats {
				t.Errorf("gemvTE4M3 read %d bytes of a matrix in one call", len(w))
			}
			for _, xi := range x {
				if math.Abs(float64(xi)) > maxE4M3X && !math.IsInf(float64(xi), 0) {
					t.Errorf("gemvTE4M3 was given x[i] = %v, whose x[i]·256 overflows", xi)
				}
			}
			axpyRowsOf(kernels.AxpyE4M3, sameLen)(y, w, x)
		},
		gemmNT: gemmNT(false), gemmNTAdd: gemmNT(true),
		gemmNNAdd: func(c, a, b []float32, m, n, k, lda, ldb, ldc int) {
			gemm("gemmNNAdd", m, n, k)
			for i := range m {
				for p := range k {
					kernels.Axpy(a[i*lda+p], b[p*ldb:p*ldb+n], c[i*ldc:i*ldc+n])
				}
			}
		},
	}
	return p
}

func bitsOf(v []float32) []uint32 {
	b := make([]uint32, len(v))
	for i, f := range v {
		b[i] = math.Float32bits(f)
	}
	return b
}

func randFloats(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// TestComposeChunksLongCalls runs the composed kernels on shapes beyond a chunk,
// with and without streaming and deep splitting, and requires every call within
// budget and the references' results bit for bit (the chunks are whole rows, so
// each output is summed in the same order).
func TestComposeChunksLongCalls(t *testing.T) {
	if os.Getenv(dispatch.EnvRequireISA) != "" {
		t.Skip("portable Go primitives, independent of the Level: runs natively")
	}
	for _, stream := range []bool{false, true} {
		for _, split := range []bool{false, true} {
			t.Run(fmt.Sprintf("stream=%v/split=%v", stream, split), func(t *testing.T) {
				p := budgeted(t)
				if !split {
					p.gemmNTAdd = nil
				}
				threshold := 1 << 40 // every matrix in cache
				if stream {
					threshold = 0
				}
				defer tuning.SetStreamFloats(threshold)()
				k := p.compose()
				r := rand.New(rand.NewPCG(1, 2))

				m, n := 333, 1000 // W of 333,000 floats: six chunks
				w, x := randFloats(r, m*n), randFloats(r, n)
				got, want := make([]float32, m), make([]float32, m)
				k.gemv(got, w, x)
				kernels.Gemv(want, w, x)
				require.Equal(t, want, got, "Gemv")

				// 333 rows of 1024 in Q8_0 (1088 bytes a row): two chunks.
				q8 := make([]byte, m*1024/kernels.Q8_0Block*kernels.Q8_0BlockBytes)
				require.NoError(t, kernels.QuantizeQ8_0(q8, randFloats(r, m*1024)))
				x8 := randFloats(r, 1024)
				k.gemvQ8_0(got, q8, x8)
				kernels.GemvQ8_0(want, q8, x8)
				require.Equal(t, want, got, "GemvQ8_0")

				// The transposed ones, W of 333 rows: 1000 bf16 columns (three calls)
				// and 1024 in Q8_0 (two), on a y of garbage that they must clear.
				xt := randFloats(r, m)
				hw := make([]uint16, m*n)
				kernels.F32ToBF16(hw, w)
				gotH, wantH := randFloats(r, n), make([]float32, n)
				k.gemvTBF16(gotH, hw, xt)
				kernels.GemvTBF16(wantH, hw, xt)
				require.Equal(t, wantH, gotH, "GemvTBF16")
				got8, want8 := randFloats(r, 1024), make([]float32, 1024)
				k.gemvTQ8_0(got8, q8, xt)
				kernels.GemvTQ8_0(want8, q8, xt)
				require.Equal(t, want8, got8, "GemvTQ8_0")

				// FP8: W of 333 rows of 1000 bytes (two calls, and 333 x 1000 for the
				// transposed one); x of the transposed one has entries whose x·256
				// overflows (finite, infinite) and a NaN, in and between the blocks.
				fp8 := make([]byte, m*n)
				for i := range fp8 {
					fp8[i] = byte(r.IntN(256)) &^ 0x01 // no NaN byte (b&0x7f == 0x7f)
				}
				k.gemvE4M3(got, fp8, x)
				kernels.GemvE4M3(want, fp8, x)
				require.Equal(t, want, got, "GemvE4M3")
				xh := append([]float32(nil), xt...)
				for _, i := range []int{0, 5, 6, 7, 100, 257, 332} {
					xh[i] = math.MaxFloat32 / 200
				}
				xh[9], xh[11], xh[12] = -math.MaxFloat32, float32(math.Inf(1)), float32(math.NaN())
				for _, xv := range [][]float32{xt, xh} {
					gotE, wantE := randFloats(r, n), make([]float32, n)
					k.gemvTE4M3(gotE, fp8, xv)
					kernels.GemvTE4M3(wantE, fp8, xv)
					require.Equal(t, bitsOf(wantE), bitsOf(gotE), "GemvTE4M3") // NaNs too
				}

				gotT, wantT := make([]float32, n), make([]float32, n)
				k.gemvT(gotT, w, xt)
				kernels.GemvT(wantT, w, xt)
				require.Equal(t, wantT, gotT, "GemvT")

				up := randFloats(r, 700*m)
				lat, latW, y, yW := make([]float32, m), make([]float32, m), make([]float32, 700), make([]float32, 700)
				k.downUp(y, lat, w, up, x)
				kernels.DownUp(yW, latW, w, up, x)
				require.Equal(t, latW, lat, "DownUp latent")
				require.Equal(t, yW, y, "DownUp")

				// 300 rows of A: beyond one chunk for one block of B (26 rows of 1500).
				gm, gn, gk := 300, 30, 1500
				a, b := randFloats(r, gm*gk), randFloats(r, gn*gk)
				c, cW := make([]float32, gm*gn), make([]float32, gm*gn)
				k.gemmNT(c, a, b, gm, gn, gk, gk, gk)
				kernels.GemmNT(cW, a, b, gm, gn, gk, gk, gk)
				if p.gemmNTAdd == nil {
					require.Equal(t, cW, c, "GemmNT")
				} else {
					for i := range c { // split over k: summed in slices
						require.InDelta(t, cW[i], c[i], 1e-3, "GemmNT %d", i)
					}
				}

				// 300 x 600 x 64 per slice of k: beyond one chunk.
				nm, nn, nk := 300, 600, 100
				an, bn := randFloats(r, nm*nk), randFloats(r, nk*nn)
				c2, c2W := randFloats(r, nm*nn), make([]float32, nm*nn)
				copy(c2W, c2)
				k.gemmNNAdd(c2, an, bn, nm, nn, nk, nk, nn)
				kernels.GemmNNAdd(c2W, an, bn, nm, nn, nk, nk, nn)
				require.Equal(t, c2W, c2, "GemmNNAdd")
			})
		}
	}
}
