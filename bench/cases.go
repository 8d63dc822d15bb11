package bench

import (
	"fmt"
	"math/rand/v2"

	"github.com/mlasimd/mlasimd"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Case is one kernel at one shape: what it moves and computes per call, and how to
// run it. The benchmarks and the report share this list, so they measure the same.
type Case struct {
	Kernel string  // Gemv, Softmax, ...
	Shape  string  // "shape=512x2048" or "n=4096"
	Bytes  float64 // bytes the kernel must read and write per call
	Flops  float64 // floating-point operations per call (a multiply-add is 2)
	// DType is the format of W for the GEMVs by weight format (Gemv "f32", GemvBF16
	// "bf16", GemvF16 "f16", GemvQ8_0 "q8_0", GemvQ8_0Q8 "q8_0q8", GemvE4M3 "fp8"), which BenchmarkGemv
	// runs side by side as ISA=<level>/dtype=<dtype>/shape=<MxK>; empty for every
	// other kernel.
	DType string
	// WBytes is the bytes of W in its format (the GEMVs' weight traffic, which they
	// report as GB/s); 0 for the kernels without a weight matrix.
	WBytes float64
	// Setup allocates the operands and returns the call; it runs once per Case, so
	// the large shapes cost memory only when they run.
	Setup func() func(k *mlasimd.Kernels)
	// Gonum, when set, is the same operation in gonum's BLAS, a baseline.
	Gonum func() func()
}

// GemvShapes are rows x cols (M x K) of W: one that fits in L2 (256x512, 512 KiB),
// DeepSeek-V2-Lite's MLA projections (3072x2048 q_proj, 576x2048 kv_a_proj_with_mqa,
// 4096x512 kv_b_proj, 2048x2048 o_proj), 512x2048, and the DRAM-sized 24576x1536 and
// 8192x8192.
var GemvShapes = [][2]int{{256, 512}, {512, 2048}, {2048, 2048}, {3072, 2048}, {4096, 512}, {576, 2048}, {24576, 1536}, {8192, 8192}}

// E4M3Shapes are the shapes of GemvShapes that GemvE4M3 runs at: the MLA
// projections and 8192x8192 from DRAM.
var E4M3Shapes = map[[2]int]bool{{2048, 2048}: true, {3072, 2048}: true, {576, 2048}: true, {4096, 512}: true, {8192, 8192}: true}

// RandE4M3 returns n deterministic FP8 E4M3 bytes spread over the format's whole
// range (every byte but the two NaNs, which move to ±448).
func RandE4M3(n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(n), 8))
	w := make([]byte, n)
	for i := range w {
		w[i] = byte(rng.Uint32())
		if w[i]&0x7f == 0x7f {
			w[i]--
		}
	}
	return w
}

// VectorLens are the lengths of the vector kernels.
var VectorLens = []int{64, 576, 4096, 65536}

// RandVec returns n deterministic values in [-1, 1).
func RandVec(n int) []float32 {
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.Float64()*2 - 1)
	}
	return v
}

func shape(m, n int) string { return fmt.Sprintf("shape=%dx%d", m, n) }

// Cases lists every kernel at every benchmark shape. big includes the DRAM-sized
// GEMV shapes (hundreds of MB).
func Cases(big bool) []Case {
	var cs []Case
	for _, s := range GemvShapes {
		m, n := s[0], s[1]
		if !big && m*n > 1<<22 {
			continue
		}
		bytes, flops := 4*float64(m*n+m+n), 2*float64(m*n)
		var w, x, y []float32
		alloc := func() {
			if w == nil {
				w, x, y = RandVec(m*n), RandVec(n), make([]float32, m)
			}
		}
		cs = append(cs, Case{Kernel: "Gemv", Shape: shape(m, n), Bytes: bytes, Flops: flops,
			DType: "f32", WBytes: 4 * float64(m*n),
			Setup: func() func(k *mlasimd.Kernels) {
				alloc()
				return func(k *mlasimd.Kernels) { k.Gemv(y, w, x) }
			},
			Gonum: func() func() {
				alloc()
				a := blas32.General{Rows: m, Cols: n, Stride: n, Data: w}
				vx, vy := blas32.Vector{N: n, Inc: 1, Data: x}, blas32.Vector{N: m, Inc: 1, Data: y}
				return func() { blas32.Gemv(blas.NoTrans, 1, a, vx, 0, vy) }
			}})
		// The reduced-precision GEMVs move half of Gemv's bytes of W.
		halfBytes := float64(2*m*n + 4*(m+n))
		cs = append(cs,
			Case{Kernel: "GemvBF16", Shape: shape(m, n), Bytes: halfBytes, Flops: flops,
				DType: "bf16", WBytes: 2 * float64(m*n),
				Setup: halfSetup(m, n, mlasimd.F32ToBF16, (*mlasimd.Kernels).GemvBF16)},
			Case{Kernel: "GemvF16", Shape: shape(m, n), Bytes: halfBytes, Flops: flops,
				DType: "f16", WBytes: 2 * float64(m*n),
				Setup: halfSetup(m, n, mlasimd.F32ToF16, (*mlasimd.Kernels).GemvF16)})
		// Q8_0 moves 34 bytes per 32 weights, 27% of Gemv's bytes of W.
		q8W := float64(m * n / mlasimd.Q8_0Block * mlasimd.Q8_0BlockBytes)
		cs = append(cs, Case{Kernel: "GemvQ8_0", Shape: shape(m, n), Bytes: q8W + 4*float64(m+n), Flops: flops,
			DType: "q8_0", WBytes: q8W,
			Setup: func() func(k *mlasimd.Kernels) {
				w, x, y := make([]byte, m*n/mlasimd.Q8_0Block*mlasimd.Q8_0BlockBytes), RandVec(n), make([]float32, m)
				if err := mlasimd.QuantizeQ8_0(w, RandVec(m*n)); err != nil {
					panic(err)
				}
				return func(k *mlasimd.Kernels) { k.GemvQ8_0(y, w, x) }
			}})
		// Q8_0 weights times x quantized to a Q8 vector (dtype q8_0q8): the time
		// includes QuantizeQ8Vector, as ggml's q8_0 GEMV includes quantizing x.
		cs = append(cs, Case{Kernel: "GemvQ8_0Q8", Shape: shape(m, n), Bytes: q8W + 4*float64(m+n), Flops: flops,
			DType: "q8_0q8", WBytes: q8W,
			Setup: func() func(k *mlasimd.Kernels) {
				w, x, y := make([]byte, m*n/mlasimd.Q8_0Block*mlasimd.Q8_0BlockBytes), RandVec(n), make([]float32, m)
				if err := mlasimd.QuantizeQ8_0(w, RandVec(m*n)); err != nil {
					panic(err)
				}
				xq, xd := make([]byte, n), make([]float32, n/mlasimd.Q8_0Block)
				return func(k *mlasimd.Kernels) {
					if err := mlasimd.QuantizeQ8Vector(xq, xd, x); err != nil {
						panic(err)
					}
					k.GemvQ8_0Q8(y, w, xq, xd)
				}
			}})
		// FP8 E4M3 moves a byte per weight, a quarter of Gemv's bytes of W.
		if E4M3Shapes[s] {
			cs = append(cs, Case{Kernel: "GemvE4M3", Shape: shape(m, n), Bytes: float64(m*n + 4*(m+n)), Flops: flops,
				DType: "fp8", WBytes: float64(m * n),
				Setup: func() func(k *mlasimd.Kernels) {
					w, x, y := RandE4M3(m*n), RandVec(n), make([]float32, m)
					return func(k *mlasimd.Kernels) { k.GemvE4M3(y, w, x) }
				}},
				// dtype fp8finite: the same W (RandE4M3 has no NaN bytes) without the
				// NaN search, as mla runs its checked FP8 matrices.
				Case{Kernel: "GemvE4M3Finite", Shape: shape(m, n), Bytes: float64(m*n + 4*(m+n)), Flops: flops,
					DType: "fp8finite", WBytes: float64(m * n),
					Setup: func() func(k *mlasimd.Kernels) {
						w, x, y := RandE4M3(m*n), RandVec(n), make([]float32, m)
						return func(k *mlasimd.Kernels) { k.GemvE4M3Finite(y, w, x) }
					}})
		}
		if m*n <= 1<<22 {
			cs = append(cs, Case{Kernel: "GemvT", Shape: shape(m, n), Bytes: bytes, Flops: flops,
				Setup: func() func(k *mlasimd.Kernels) {
					w, x, y := RandVec(m*n), RandVec(m), make([]float32, n)
					return func(k *mlasimd.Kernels) { k.GemvT(y, w, x) }
				}})
		}
	}
	cs = append(cs, gemvTCases()...)
	for _, s := range [][2]int{{2048, 512}, {7168, 1536}} {
		d, r := s[0], s[1]
		cs = append(cs, Case{Kernel: "DownUp", Shape: shape(d, r), Bytes: 4 * float64(2*r*d+2*d+r), Flops: 4 * float64(r*d),
			Setup: func() func(k *mlasimd.Kernels) {
				down, up, x := RandVec(r*d), RandVec(d*r), RandVec(d)
				y, lat := make([]float32, d), make([]float32, r)
				return func(k *mlasimd.Kernels) { k.DownUp(y, lat, down, up, x) }
			}})
	}
	// The two attention products of MLA decode: 16 heads' 576-wide absorbed queries
	// against S cache rows (NT), and their weights over the 512-wide latents (NN).
	const heads, width, latent = 16, 576, 512
	for _, s := range []int{1024, 4096} {
		cs = append(cs,
			Case{Kernel: "GemmNT", Shape: fmt.Sprintf("shape=%dx%dx%d", heads, s, width),
				Bytes: 4 * float64(s*width+heads*width+heads*s), Flops: 2 * float64(heads*s*width),
				Setup: func() func(k *mlasimd.Kernels) {
					q, cache, scores := RandVec(heads*width), RandVec(s*width), make([]float32, heads*s)
					return func(k *mlasimd.Kernels) { k.GemmNT(scores, q, cache, heads, s, width, width, width) }
				}},
			// As the decode calls it: the cache rows of the next tile stream in
			// meanwhile, so the bytes count them too.
			Case{Kernel: "GemmNTPrefetch", Shape: fmt.Sprintf("shape=%dx%dx%d", heads, s, width),
				Bytes: 4 * float64(2*s*width+heads*width+heads*s), Flops: 2 * float64(heads*s*width),
				Setup: func() func(k *mlasimd.Kernels) {
					q, cache, next, scores := RandVec(heads*width), RandVec(s*width), RandVec(s*width), make([]float32, heads*s)
					return func(k *mlasimd.Kernels) { k.GemmNTPrefetch(scores, q, cache, next, heads, s, width, width, width) }
				}},
			Case{Kernel: "GemmNN", Shape: fmt.Sprintf("shape=%dx%dx%d", heads, latent, s),
				Bytes: 4 * float64(s*latent+heads*s+heads*latent), Flops: 2 * float64(heads*s*latent),
				Setup: func() func(k *mlasimd.Kernels) {
					p, cache, out := RandVec(heads*s), RandVec(s*width), make([]float32, heads*latent)
					return func(k *mlasimd.Kernels) { k.GemmNN(out, p, cache, heads, latent, s, s, width) }
				}})
	}
	// One tile of the decode's online softmax: the tile's scores folded into the heads'
	// running states (a copy of them, then the max and exp passes), and its weighted
	// latents added to the running output.
	const tile = 64
	cs = append(cs,
		Case{Kernel: "OnlineSoftmax", Shape: fmt.Sprintf("shape=%dx%d", heads, tile),
			Bytes: 20 * float64(heads*tile), Flops: 24 * float64(heads*tile),
			Setup: func() func(k *mlasimd.Kernels) {
				x, s := RandVec(heads*tile), make([]float32, heads*tile)
				m, l, carry := make([]float32, heads), make([]float32, heads), make([]float32, heads)
				return func(k *mlasimd.Kernels) { copy(s, x); k.OnlineSoftmax(s, 0.07, m, l, carry) }
			}},
		Case{Kernel: "GemmNNAdd", Shape: fmt.Sprintf("shape=%dx%dx%d", heads, latent, tile),
			Bytes: 4 * float64(tile*latent+heads*tile+2*heads*latent), Flops: 2 * float64(heads*tile*latent),
			Setup: func() func(k *mlasimd.Kernels) {
				p, rows, out := RandVec(heads*tile), RandVec(tile*width), make([]float32, heads*latent)
				return func(k *mlasimd.Kernels) { k.GemmNNAdd(out, p, rows, heads, latent, tile, tile, width) }
			}})
	cs = append(cs, bf16AttnCases()...)
	cs = append(cs, attnI8Cases()...)
	for _, n := range VectorLens {
		cs = append(cs, vectorCases(n)...)
	}
	return cs
}

// BF16TileRows are the tiles of cache rows that the bfloat16 attention products run
// at (MLA decode's default tile is 64 rows).
var BF16TileRows = []int{64, 128, 256}

// bf16AttnCases are MLA decode's two attention products per tile of n cache rows
// with the query, the probabilities and the rows in bfloat16 (GemmNTBF16,
// GemmNNAddBF16), next to the float32 GemmNT and GemmNNAdd at the same shapes
// (shape=16x<n>x576 for the scores, 16x512x<n> for the values), and with the rows in
// FP8 E4M3 (GemmNTBF16E4M3, GemmNNAddBF16E4M3).
func bf16AttnCases() []Case {
	const heads, width, latent = 16, 576, 512
	bf16 := func(x []float32) []uint16 {
		h := make([]uint16, len(x))
		mlasimd.F32ToBF16DAZ(h, x)
		return h
	}
	var cs []Case
	for _, n := range BF16TileRows {
		nt := fmt.Sprintf("shape=%dx%dx%d", heads, n, width)
		nn := fmt.Sprintf("shape=%dx%dx%d", heads, latent, n)
		ntFlops, nnFlops := 2*float64(heads*n*width), 2*float64(heads*n*latent)
		cs = append(cs,
			Case{Kernel: "GemmNTBF16", Shape: nt, Bytes: 2*float64(n*width+heads*width) + 4*float64(heads*n), Flops: ntFlops,
				Setup: func() func(k *mlasimd.Kernels) {
					q, rows, scores := bf16(RandVec(heads*width)), bf16(RandVec(n*width)), make([]float32, heads*n)
					return func(k *mlasimd.Kernels) { k.GemmNTBF16(scores, q, rows, heads, n, width, width, width) }
				}},
			Case{Kernel: "GemmNNAddBF16", Shape: nn, Bytes: 2*float64(n*latent+heads*n) + 8*float64(heads*latent), Flops: nnFlops,
				Setup: func() func(k *mlasimd.Kernels) {
					p, rows, out := bf16(RandVec(heads*n)), bf16(RandVec(n*width)), make([]float32, heads*latent)
					return func(k *mlasimd.Kernels) { k.GemmNNAddBF16(out, p, rows, heads, latent, n, n, width) }
				}})
		cs = append(cs,
			Case{Kernel: "GemmNTBF16E4M3", Shape: nt, Bytes: float64(n*width) + 2*float64(heads*width) + 4*float64(heads*n), Flops: ntFlops,
				Setup: func() func(k *mlasimd.Kernels) {
					q, rows, scores := bf16(RandVec(heads*width)), RandE4M3(n*width), make([]float32, heads*n)
					return func(k *mlasimd.Kernels) { k.GemmNTBF16E4M3(scores, q, rows, heads, n, width, width, width) }
				}},
			Case{Kernel: "GemmNNAddBF16E4M3", Shape: nn, Bytes: float64(n*latent) + 2*float64(heads*n) + 8*float64(heads*latent), Flops: nnFlops,
				Setup: func() func(k *mlasimd.Kernels) {
					p, rows, out := bf16(RandVec(heads*n)), RandE4M3(n*width), make([]float32, heads*latent)
					return func(k *mlasimd.Kernels) { k.GemmNNAddBF16E4M3(out, p, rows, heads, latent, n, n, width) }
				}})
		if n == 64 {
			continue // GemmNNAdd has this shape already (its tile)
		}
		cs = append(cs,
			Case{Kernel: "GemmNNAdd", Shape: nn, Bytes: 4 * float64(n*latent+heads*n+2*heads*latent), Flops: nnFlops,
				Setup: func() func(k *mlasimd.Kernels) {
					p, rows, out := RandVec(heads*n), RandVec(n*width), make([]float32, heads*latent)
					return func(k *mlasimd.Kernels) { k.GemmNNAdd(out, p, rows, heads, latent, n, n, width) }
				}})
	}
	for _, n := range BF16TileRows {
		cs = append(cs, Case{Kernel: "GemmNT", Shape: fmt.Sprintf("shape=%dx%dx%d", heads, n, width),
			Bytes: 4 * float64(n*width+heads*width+heads*n), Flops: 2 * float64(heads*n*width),
			Setup: func() func(k *mlasimd.Kernels) {
				q, rows, scores := RandVec(heads*width), RandVec(n*width), make([]float32, heads*n)
				return func(k *mlasimd.Kernels) { k.GemmNT(scores, q, rows, heads, n, width, width, width) }
			}})
	}
	return cs
}

// AttnI8Rows are the cache rows per call of the int8 attention cases: MLA decode's
// tile of 64 rows, and 128 and 256.
var AttnI8Rows = []int{64, 128, 256}

// attnI8Cases are MLA decode's attention over n cache rows (16 heads, rows of 576,
// 512 latent values) in int8 (AttnScoresI8, QuantizeProbsI8, AttnValuesI8) next to
// float32 (GemmNT for the scores, GemmNNAdd for the values: bf16AttnCases has them) at the same shapes. The
// products report GFLOP/s of the float32 products they stand for (2·16·n·576 and
// 2·16·n·512); QuantizeProbsI8 counts two per probability. AttnPipeline runs each
// side's calls in a row.
func attnI8Cases() []Case {
	const heads, width, latent = 16, 576, 512
	var cs []Case
	for _, n := range AttnI8Rows {
		scoresFlops, valuesFlops := 2*float64(heads*n*width), 2*float64(heads*n*latent)
		i8 := func() (q []byte, qs []float32, tiles []byte, scales []float32, s, p []float32, pq []byte, ps, o []float32) {
			return attnI8Operands(n)
		}
		cs = append(cs,
			Case{Kernel: "AttnScoresI8", Shape: fmt.Sprintf("shape=%dx%dx%d", heads, n, width),
				Bytes: float64(n*width + heads*width + 4*heads*n), Flops: scoresFlops,
				Setup: func() func(k *mlasimd.Kernels) {
					q, qs, tiles, scales, s, _, _, _, _ := i8()
					return func(k *mlasimd.Kernels) { k.AttnScoresI8(s, q, qs, tiles, scales, heads, n, width, latent) }
				}},
			Case{Kernel: "QuantizeProbsI8", Shape: fmt.Sprintf("shape=%dx%d", heads, n),
				Bytes: float64(5 * heads * n), Flops: 2 * float64(heads*n),
				Setup: func() func(k *mlasimd.Kernels) {
					_, _, _, scales, _, p, pq, ps, _ := i8()
					return func(k *mlasimd.Kernels) { k.QuantizeProbsI8(pq, ps, p, scales, heads, n) }
				}},
			Case{Kernel: "AttnValuesI8", Shape: fmt.Sprintf("shape=%dx%dx%d", heads, n, latent),
				Bytes: float64(n*latent + heads*n + 8*heads*latent), Flops: valuesFlops,
				Setup: func() func(k *mlasimd.Kernels) {
					_, _, tiles, scales, _, p, pq, ps, o := i8()
					mlasimd.QuantizeProbsI8(pq, ps, p, scales, heads, n)
					return func(k *mlasimd.Kernels) { k.AttnValuesI8(o, pq, ps, tiles, scales, heads, n, latent, width, latent) }
				}})
	}
	return cs
}

// GemvTShapes are rows x cols (len(x) x len(y)) of W for the transposed
// reduced-precision GEMVs: MLA decode's W_UK block of one head (128x512, the
// absorbed query's W_UK(h)ᵀ·q) and 2048x2048.
var GemvTShapes = [][2]int{{128, 512}, {2048, 2048}}

// gemvTCases are GemvTBF16, GemvTF16, GemvTQ8_0 and GemvTE4M3 at GemvTShapes, and,
// at the shapes GemvShapes lacks (128x512), GemvT, GemvBF16 and GemvQ8_0 on the same
// W to compare with. The transposed cases have no DType (BenchmarkGemv's dtype names
// are Gemv's), but report GB/s of their W's bytes.
func gemvTCases() []Case {
	inGemv := map[[2]int]bool{}
	for _, s := range GemvShapes {
		inGemv[s] = true
	}
	var cs []Case
	for _, s := range GemvTShapes {
		m, n := s[0], s[1] // W is m x n: len(x) = m, len(y) = n
		flops := 2 * float64(m*n)
		halfBytes, q8W := float64(2*m*n+4*(m+n)), float64(m*n/mlasimd.Q8_0Block*mlasimd.Q8_0BlockBytes)
		cs = append(cs,
			Case{Kernel: "GemvTBF16", Shape: shape(m, n), Bytes: halfBytes, Flops: flops, WBytes: 2 * float64(m*n),
				Setup: halfTSetup(m, n, mlasimd.F32ToBF16, (*mlasimd.Kernels).GemvTBF16)},
			Case{Kernel: "GemvTF16", Shape: shape(m, n), Bytes: halfBytes, Flops: flops, WBytes: 2 * float64(m*n),
				Setup: halfTSetup(m, n, mlasimd.F32ToF16, (*mlasimd.Kernels).GemvTF16)},
			Case{Kernel: "GemvTQ8_0", Shape: shape(m, n), Bytes: q8W + 4*float64(m+n), Flops: flops, WBytes: q8W,
				Setup: func() func(k *mlasimd.Kernels) {
					w, x, y := make([]byte, int(q8W)), RandVec(m), make([]float32, n)
					if err := mlasimd.QuantizeQ8_0(w, RandVec(m*n)); err != nil {
						panic(err)
					}
					return func(k *mlasimd.Kernels) { k.GemvTQ8_0(y, w, x) }
				}},
			Case{Kernel: "GemvTE4M3", Shape: shape(m, n), Bytes: float64(m*n + 4*(m+n)), Flops: flops, WBytes: float64(m * n),
				Setup: func() func(k *mlasimd.Kernels) {
					w, x, y := RandE4M3(m*n), RandVec(m), make([]float32, n)
					return func(k *mlasimd.Kernels) { k.GemvTE4M3(y, w, x) }
				}})
		if inGemv[s] {
			continue
		}
		cs = append(cs,
			Case{Kernel: "GemvT", Shape: shape(m, n), Bytes: 4 * float64(m*n+m+n), Flops: flops,
				Setup: func() func(k *mlasimd.Kernels) {
					w, x, y := RandVec(m*n), RandVec(m), make([]float32, n)
					return func(k *mlasimd.Kernels) { k.GemvT(y, w, x) }
				}},
			Case{Kernel: "GemvBF16", Shape: shape(m, n), Bytes: halfBytes, Flops: flops,
				DType: "bf16", WBytes: 2 * float64(m*n),
				Setup: halfSetup(m, n, mlasimd.F32ToBF16, (*mlasimd.Kernels).GemvBF16)},
			Case{Kernel: "GemvQ8_0", Shape: shape(m, n), Bytes: q8W + 4*float64(m+n), Flops: flops,
				DType: "q8_0", WBytes: q8W,
				Setup: func() func(k *mlasimd.Kernels) {
					w, x, y := make([]byte, int(q8W)), RandVec(n), make([]float32, m)
					if err := mlasimd.QuantizeQ8_0(w, RandVec(m*n)); err != nil {
						panic(err)
					}
					return func(k *mlasimd.Kernels) { k.GemvQ8_0(y, w, x) }
				}})
	}
	return cs
}

// halfTSetup is the Setup of a transposed reduced-precision GEMV at m x n (len(x) x
// len(y)), its W RandVec narrowed.
func halfTSetup(m, n int, narrow func([]uint16, []float32),
	gemvT func(k *mlasimd.Kernels, y []float32, w []uint16, x []float32)) func() func(k *mlasimd.Kernels) {
	return func() func(k *mlasimd.Kernels) {
		w, x, y := make([]uint16, m*n), RandVec(m), make([]float32, n)
		narrow(w, RandVec(m*n))
		return func(k *mlasimd.Kernels) { gemvT(k, y, w, x) }
	}
}

// halfSetup is the Setup of a reduced-precision GEMV at m x n, its W RandVec narrowed.
func halfSetup(m, n int, narrow func([]uint16, []float32),
	gemv func(k *mlasimd.Kernels, y []float32, w []uint16, x []float32)) func() func(k *mlasimd.Kernels) {
	return func() func(k *mlasimd.Kernels) {
		w, x, y := make([]uint16, m*n), RandVec(n), make([]float32, m)
		narrow(w, RandVec(m*n))
		return func(k *mlasimd.Kernels) { gemv(k, y, w, x) }
	}
}

// vectorCases are the elementwise and reduction kernels at length n. Exp and Softmax
// count the polynomial's ~20 operations per element as flops.
func vectorCases(n int) []Case {
	name := fmt.Sprintf("n=%d", n)
	vec := func(kernel string, bytesPer, flopsPer float64, run func(k *mlasimd.Kernels, x, y, w []float32)) Case {
		return Case{Kernel: kernel, Shape: name, Bytes: bytesPer * float64(n), Flops: flopsPer * float64(n),
			Setup: func() func(k *mlasimd.Kernels) {
				x, y, w := RandVec(n), RandVec(n), RandVec(n)
				return func(k *mlasimd.Kernels) { run(k, x, y, w) }
			}}
	}
	half, narrow := make([]uint16, n), make([]uint16, n)
	for i := range half {
		half[i] = uint16(i)&0x3fff | 0x3000
	}
	return []Case{
		vec("Dot", 8, 2, func(k *mlasimd.Kernels, x, y, _ []float32) { k.Dot(x, y) }),
		vec("Axpy", 12, 2, func(k *mlasimd.Kernels, x, y, _ []float32) { k.Axpy(1e-9, x, y) }),
		vec("Exp", 8, 20, func(k *mlasimd.Kernels, x, y, _ []float32) { k.Exp(y, x) }),
		// Softmax runs in place over a copy of its input: 8 bytes for the copy, 16
		// for the kernel's passes.
		vec("Softmax", 24, 24, func(k *mlasimd.Kernels, x, y, _ []float32) { copy(y, x); k.Softmax(y, 0.125) }),
		vec("SoftmaxStats", 24, 24, func(k *mlasimd.Kernels, x, y, _ []float32) { copy(y, x); k.SoftmaxStats(y, 0.125) }),
		vec("RoPE", 12, 3, func(k *mlasimd.Kernels, x, y, _ []float32) { k.RoPE(y, x[:n/2], x[n/2:]) }),
		vec("RoPEHalf", 12, 3, func(k *mlasimd.Kernels, x, y, _ []float32) { k.RoPEHalf(y, x[:n/2], x[n/2:]) }),
		vec("RMSNorm", 16, 4, func(k *mlasimd.Kernels, x, y, w []float32) { k.RMSNorm(y, x, w, 1e-6) }),
		vec("LayerNorm", 24, 7, func(k *mlasimd.Kernels, x, y, w []float32) { k.LayerNorm(y, x, w, w, 1e-6) }),
		vec("F16ToF32", 6, 0, func(k *mlasimd.Kernels, _, y, _ []float32) { k.F16ToF32(y, half) }),
		vec("BF16ToF32", 6, 0, func(k *mlasimd.Kernels, _, y, _ []float32) { k.BF16ToF32(y, half) }),
		vec("F32ToF16", 6, 0, func(k *mlasimd.Kernels, x, _, _ []float32) { k.F32ToF16(narrow, x) }),
		vec("F32ToBF16", 6, 0, func(k *mlasimd.Kernels, x, _, _ []float32) { k.F32ToBF16(narrow, x) }),
		vec("F32ToBF16DAZ", 6, 0, func(k *mlasimd.Kernels, x, _, _ []float32) { k.F32ToBF16DAZ(narrow, x) }),
	}
}

// attnI8Operands are the int8 operands of MLA decode's attention over n rows.
func attnI8Operands(n int) (q []byte, qs []float32, tiles []byte, scales []float32, s, p []float32, pq []byte, ps, o []float32) {
	const heads, width, latent = 16, 576, 512
	t := (n + 15) / 16
	tiles, scales = make([]byte, t*16*width), make([]float32, t*32)
	if err := mlasimd.QuantizeI8Rows(tiles, scales, RandVec(n*width), 0, width, latent); err != nil {
		panic(err)
	}
	q, qs = make([]byte, heads*width), make([]float32, 2*heads)
	if err := mlasimd.QuantizeI8Query(q, qs, RandVec(heads*width), heads, width, latent); err != nil {
		panic(err)
	}
	p = RandVec(heads * n)
	for i := range p {
		p[i] = p[i]*p[i] + 0.01
	}
	return q, qs, tiles, scales, make([]float32, heads*n), p, make([]byte, heads*mlasimd.I8ProbStride(n)), make([]float32, heads), make([]float32, heads*latent)
}

// AttnPipeline returns the GFLOP count and the setup of MLA decode's attention over
// n rows (16 heads, rows of 576, 512 latent values) in a row of calls: dtype "i8" is
// AttnScoresI8, QuantizeProbsI8 and AttnValuesI8, "f32" GemmNT and GemmNNAdd; both
// count the float32 products' flops, so their GFLOP/s ratio is the speed-up.
func AttnPipeline(dtype string, n int) (flops float64, setup func() func(k *mlasimd.Kernels)) {
	const heads, width, latent = 16, 576, 512
	flops = 2 * float64(heads*n*(width+latent))
	if dtype == "i8" {
		return flops, func() func(k *mlasimd.Kernels) {
			q, qs, tiles, scales, s, p, pq, ps, o := attnI8Operands(n)
			return func(k *mlasimd.Kernels) {
				k.AttnScoresI8(s, q, qs, tiles, scales, heads, n, width, latent)
				k.QuantizeProbsI8(pq, ps, p, scales, heads, n)
				k.AttnValuesI8(o, pq, ps, tiles, scales, heads, n, latent, width, latent)
			}
		}
	}
	return flops, func() func(k *mlasimd.Kernels) {
		q, rows, s, o := RandVec(heads*width), RandVec(n*width), make([]float32, heads*n), make([]float32, heads*latent)
		return func(k *mlasimd.Kernels) {
			k.GemmNT(s, q, rows, heads, n, width, width, width)
			k.GemmNNAdd(o, s, rows, heads, latent, n, n, width)
		}
	}
}
