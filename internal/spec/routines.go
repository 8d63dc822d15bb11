package spec

import "strings"

// neon is what every NEON body needs: baseline Advanced SIMD, which every arm64
// core has (the emitter uses nothing beyond ARMv8.0).
var neon = []string{"ASIMD"}

// Routines is every assembly routine, in the order the files present them.
var Routines = []Routine{
	{Name: "dot", Doc: "dot returns sum(a[i]*b[i]); len(b) >= len(a).", Result: "float32",
		Args:  args("a []float32: the first vector", "b []float32: the second, at least as long"),
		Needs: map[ISA][]string{AVX2: {"AVX", "FMA3", "SSE"}, AVX512: {"AVX", "AVX512F", "AVX512VL", "SSE"}, NEON: neon}},
	{Name: "sum", Doc: "sum returns sum(x[i]).", Result: "float32",
		Args:  args("x []float32: the values"),
		Needs: map[ISA][]string{AVX2: {"AVX", "SSE"}, AVX512: {"AVX", "AVX512F", "AVX512VL", "SSE"}, NEON: neon}},
	{Name: "sumSqDiff", Doc: "sumSqDiff returns sum((x[i]-mean)^2).", Result: "float32",
		Args:  args("x []float32: the values", "mean float32: subtracted from each"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "FMA3", "SSE"}, AVX512: {"AVX", "AVX512F", "AVX512VL", "SSE"}, NEON: neon}},
	{Name: "axpy", Doc: "axpy computes y += alpha*x; len(y) >= len(x).",
		Args:  args("alpha float32: the scale of x", "x []float32: the addend", "y []float32: accumulated in place"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "FMA3", "SSE"}, AVX512: {"AVX", "AVX512F", "SSE"}, NEON: neon}},
	{Name: "scale", Doc: "scale computes x *= s.",
		Args:  args("x []float32: scaled in place", "s float32: the factor"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "SSE"}, AVX512: {"AVX", "AVX512F", "SSE"}, NEON: neon}},
	{Name: "scaleMul", Doc: "scaleMul computes dst = (x*r)*w, the second pass of RMSNorm; dst and w are at least as long as x.",
		Args:  args("dst []float32: the result", "x []float32: the input", "w []float32: the weight", "r float32: the reciprocal RMS"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "SSE"}, AVX512: {"AVX", "AVX512F", "SSE"}, NEON: neon}},
	{Name: "affine", Doc: "affine computes dst = ((x-mean)*r)*w + b, the second pass of LayerNorm; an empty b means no bias.",
		Args: args("dst []float32: the result", "x []float32: the input", "w []float32: the weight",
			"b []float32: the bias, or empty", "mean float32: the mean of x", "r float32: the reciprocal standard deviation"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "FMA3", "SSE"}, AVX512: {"AVX", "AVX512F", "SSE"}, NEON: neon}},
	{Name: "gemv", Doc: "gemv computes y = W x; W is len(y) x len(x), row-major.",
		Args:  args("y []float32: the result, one per row of W", "w []float32: the matrix, row-major", "x []float32: the vector, one per column"),
		Needs: map[ISA][]string{AVX2: {"AVX", "FMA3"}, AVX512: {"AVX", "AVX512F", "AVX512VL"}, NEON: neon}},
	{Name: "gemvStream", Doc: "gemvStream computes y = W x like gemv for a W streamed from DRAM, prefetching the next rows of W and then next.",
		Args: args("y []float32: the result, one per row of W", "w []float32: the matrix, row-major", "x []float32: the vector, one per column",
			"next []float32: what the last block of rows prefetches, at least four rows long (a hint, never read)"),
		Needs: map[ISA][]string{AVX2: {"AVX", "CMOV", "FMA3", "MMX+"}, AVX512: {"AVX", "AVX512F", "AVX512VL", "CMOV", "MMX+"}}},
	{Name: "gemvT", Doc: "gemvT computes y = Wᵀ x; W is len(x) x len(y), row-major.",
		Args:  args("y []float32: the result, one per column of W", "w []float32: the matrix, row-major", "x []float32: the vector, one per row"),
		Needs: map[ISA][]string{AVX2: {"AVX", "FMA3"}, AVX512: {"AVX", "AVX512F"}, NEON: neon}},
	{Name: "gemvTStream", Doc: "gemvTStream accumulates y += Wᵀ x row by row (W is len(x) x len(y)) for a W streamed from DRAM, prefetching the rows ahead and then next.",
		Args: args("y []float32: accumulated in place, one per column of W", "w []float32: the matrix, row-major", "x []float32: the vector, one per row",
			"next []float32: what the last block of rows prefetches, at least four rows long (a hint, never read)"),
		Needs: map[ISA][]string{AVX2: {"AVX", "CMOV", "FMA3", "MMX+"}, AVX512: {"AVX", "AVX512F", "CMOV", "MMX+"}}},
	{Name: "downUp", Doc: "downUp computes latent = Down x, then y = Up latent (see kernels.DownUp).",
		Args: args("y []float32: the result, one per row of Up", "latent []float32: the intermediate, one per row of Down",
			"down []float32: Down, len(latent) x len(x)", "up []float32: Up, len(y) x len(latent)", "x []float32: the input"),
		Needs: map[ISA][]string{AVX2: {"AVX", "FMA3"}, AVX512: {"AVX", "AVX512F", "AVX512VL"}, NEON: neon}},
	{Name: "downUpStream", Doc: "downUpStream computes latent = Down x, then y = Up latent, for matrices streamed from DRAM, prefetching rows ahead like gemvStream.",
		Args: args("y []float32: the result, one per row of Up", "latent []float32: the intermediate, one per row of Down",
			"down []float32: Down, len(latent) x len(x)", "up []float32: Up, len(y) x len(latent)", "x []float32: the input"),
		Needs: map[ISA][]string{AVX2: {"AVX", "CMOV", "FMA3", "MMX+"}, AVX512: {"AVX", "AVX512F", "AVX512VL", "CMOV", "MMX+"}}},
	{Name: "gemmNT", Doc: "gemmNT computes c = A Bᵀ (see mlasimd.GemmNT); c has row stride ldc; next is a prefetch hint.",
		Args:  gemmArgs(true),
		Needs: map[ISA][]string{AVX2: {"AVX", "CMOV", "FMA3", "MMX+"}, AVX512: {"AVX", "AVX512F", "AVX512VL", "CMOV", "MMX+"}, NEON: neon}},
	{Name: "gemmNTAdd", Doc: "gemmNTAdd computes c += A Bᵀ; c has row stride ldc; next is a prefetch hint.",
		Args:  gemmArgs(true),
		Needs: map[ISA][]string{AVX512: {"AVX", "AVX512F", "AVX512VL", "CMOV", "MMX+"}}},
	{Name: "gemmNNAdd", Doc: "gemmNNAdd computes c += A B (see mlasimd.GemmNNAdd); c has row stride ldc.",
		Args:  gemmArgs(false),
		Needs: map[ISA][]string{AVX2: {"AVX", "FMA3"}, AVX512: {"AVX", "AVX512F"}, NEON: neon}},
	{Name: "exp", Doc: "exp computes dst = e^x (see kernels.Exp); len(dst) >= len(x).",
		Args:  args("dst []float32: the result", "x []float32: the exponents"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "FMA3"}, AVX512: {"AVX", "AVX512F"}, NEON: neon}},
	{Name: "maxScaled", Doc: "maxScaled returns max(x[i]*s), or -Inf for an empty x.", Result: "float32",
		Args:  args("x []float32: the scores", "s float32: the scale"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "SSE"}, AVX512: {"AVX", "AVX512F", "AVX512VL", "SSE"}, NEON: neon}},
	{Name: "expSum", Doc: "expSum computes x = e^(x*s - m) and returns the sum of the results.", Result: "float32",
		Args:  args("x []float32: the scores, replaced in place", "s float32: the scale", "m float32: the maximum of x*s"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "FMA3", "SSE"}, AVX512: {"AVX", "AVX512F", "AVX512VL", "SSE"}, NEON: neon}},
	{Name: "rope", Doc: "rope rotates the interleaved pairs (x[2i], x[2i+1]) in place.",
		Args:  args("x []float32: the pairs, rotated in place", "cos []float32: cos of each pair's angle", "sin []float32: sin of each pair's angle"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "FMA3"}, AVX512: {"AVX", "AVX512F", "AVX512VL"}, NEON: neon}},
	{Name: "ropeHalf", Doc: "ropeHalf rotates the half-split pairs (x[i], x[i+len(cos)]) in place.",
		Args:  args("x []float32: the pairs, rotated in place", "cos []float32: cos of each pair's angle", "sin []float32: sin of each pair's angle"),
		Needs: map[ISA][]string{AVX2: {"AVX", "FMA3"}, AVX512: {"AVX", "AVX512F"}, NEON: neon}},
	{Name: "f16ToF32", Doc: "f16ToF32 widens IEEE half bits to float32; len(dst) >= len(src).",
		Args:  args("dst []float32: the result", "src []uint16: IEEE binary16 bits"),
		Needs: map[ISA][]string{AVX2: {"AVX", "F16C"}, AVX512: {"AVX", "AVX512BW", "AVX512F", "AVX512VL"}, NEON: neon}},
	{Name: "f32ToBF16DAZ", Doc: "f32ToBF16DAZ narrows float32 to bfloat16 bits, rounding to nearest even, NaNs quieted and subnormal results flushed to a signed zero (see kernels.F32ToBF16DAZ); len(dst) >= len(src).",
		Args:  args("dst []uint16: the bfloat16 bits, one per value", "src []float32: the values"),
		Needs: map[ISA][]string{AVX512: {"AVX", "AVX512F"}, NEON: neon}},
	{Name: "bf16ToF32", Doc: "bf16ToF32 widens bfloat16 bits to float32; len(dst) >= len(src).",
		Args:  args("dst []float32: the result", "src []uint16: bfloat16 bits"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2"}, AVX512: {"AVX", "AVX512BW", "AVX512F", "AVX512VL"}, NEON: neon}},
	// The reduced-precision GEMVs come last so that adding them left every other
	// routine's generated code (its label numbers) unchanged.
	{Name: "gemvBF16", Doc: "gemvBF16 computes y = W x for W in bfloat16 bits, widened exactly; W is len(y) x len(x), row-major. Each block of rows prefetches the next.",
		Args:  args("y []float32: the result, one per row of W", "w []uint16: the matrix, bfloat16 bits, row-major", "x []float32: the vector, one per column"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "CMOV", "FMA3", "MMX+"}, AVX512: {"AVX", "AVX512BW", "AVX512F", "AVX512VL", "CMOV", "MMX+"}, NEON: neon}},
	{Name: "gemvF16", Doc: "gemvF16 computes y = W x for W in IEEE half bits, widened exactly; W is len(y) x len(x), row-major. Each block of rows prefetches the next.",
		Args:  args("y []float32: the result, one per row of W", "w []uint16: the matrix, IEEE binary16 bits, row-major", "x []float32: the vector, one per column"),
		Needs: map[ISA][]string{AVX2: {"AVX", "CMOV", "F16C", "FMA3", "MMX+"}, AVX512: {"AVX", "AVX512BW", "AVX512F", "AVX512VL", "CMOV", "MMX+"}, NEON: neon}},
	{Name: "gemvQ8_0", Doc: "gemvQ8_0 computes y = W x for W in Q8_0 blocks (see kernels.Q8_0Block); len(x) is a multiple of 32 and W is len(y) rows of len(x)/32 blocks.",
		Args:  args("y []float32: the result, one per row of W", "w []byte: the matrix, rows of 34-byte Q8_0 blocks (half scale, 32 int8)", "x []float32: the vector, one per column"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "F16C", "FMA3"}, AVX512: {"AVX", "AVX2", "AVX512F", "AVX512VL"}, NEON: neon}},
	// The transposed reduced-precision GEMVs (the "axpy form"): they accumulate, so
	// that compose can clear y once and split a long W into calls of whole rows.
	{Name: "gemvTBF16", Doc: "gemvTBF16 accumulates y += Wᵀ x row by row for W in bfloat16 bits, widened exactly; W is len(x) x len(y), row-major.",
		Args:  args("y []float32: accumulated in place, one per column of W", "w []uint16: the matrix, bfloat16 bits, row-major", "x []float32: the vector, one per row"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "FMA3"}, AVX512: {"AVX", "AVX512BW", "AVX512F", "AVX512VL"}, NEON: neon}},
	{Name: "gemvTF16", Doc: "gemvTF16 accumulates y += Wᵀ x row by row for W in IEEE half bits, widened exactly; W is len(x) x len(y), row-major.",
		Args:  args("y []float32: accumulated in place, one per column of W", "w []uint16: the matrix, IEEE binary16 bits, row-major", "x []float32: the vector, one per row"),
		Needs: map[ISA][]string{AVX2: {"AVX", "F16C", "FMA3"}, AVX512: {"AVX", "AVX512BW", "AVX512F", "AVX512VL"}, NEON: neon}},
	{Name: "gemvTQ8_0", Doc: "gemvTQ8_0 accumulates y += Wᵀ x row by row for W in Q8_0 blocks (see kernels.AxpyQ8_0); len(y) is a multiple of 32 and W is len(x) rows of len(y)/32 blocks.",
		Args:  args("y []float32: accumulated in place, one per column of W", "w []byte: the matrix, rows of 34-byte Q8_0 blocks (half scale, 32 int8)", "x []float32: the vector, one per row"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "F16C", "FMA3"}, AVX512: {"AVX", "AVX2", "AVX512F"}, NEON: neon}},
	// The FP8 E4M3 GEMVs widen each byte b to the half ((b&0x7f)<<7)|((b&0x80)<<8),
	// which is exactly e4m3(b)·2^-8 (subnormals included), and fold the 2^8 back in
	// exactly: gemvE4M3 multiplies each row's sum by 256, gemvTE4M3 each x[i] (compose
	// gives the rows whose x[i]·256 would overflow to the reference). A NaN byte
	// (b&0x7f == 0x7f) is made a NaN half.
	{Name: "gemvE4M3", Doc: "gemvE4M3 computes y = W x for W in FP8 E4M3 bytes, widened exactly (to 2^-8 times their value, each row's sum then times 256); W is len(y) x len(x), row-major. Each block of rows prefetches the next.",
		Args:  args("y []float32: the result, one per row of W", "w []byte: the matrix, FP8 E4M3 bytes, row-major", "x []float32: the vector, one per column"),
		Needs: map[ISA][]string{AVX2: {"AVX", "CMOV", "F16C", "FMA3", "MMX+"}, AVX512: {"AVX", "AVX2", "AVX512BW", "AVX512F", "AVX512VL", "CMOV", "MMX+"}, NEON: neon}},
	{Name: "gemvTE4M3", Doc: "gemvTE4M3 accumulates y += Wᵀ x row by row for W in FP8 E4M3 bytes, widened exactly (to 2^-8 times their value, each x[i] taken times 256); W is len(x) x len(y), row-major.",
		Args:  args("y []float32: accumulated in place, one per column of W", "w []byte: the matrix, FP8 E4M3 bytes, row-major", "x []float32: the vector, one per row"),
		Needs: map[ISA][]string{AVX2: {"AVX", "F16C", "FMA3"}, AVX512: {"AVX", "AVX2", "AVX512BW", "AVX512F", "AVX512VL"}, NEON: neon}},
	// gemvE4M3 for a W known to hold no NaN byte (mla's FP8 matrices are checked when
	// made): the three instructions per chunk that make NaN bytes NaN halves go.
	{Name: "gemvE4M3Finite", Doc: "gemvE4M3Finite is gemvE4M3 for a W without NaN bytes (0x7f, 0xff), which it widens as finite values instead of NaN.",
		Args:  args("y []float32: the result, one per row of W", "w []byte: the matrix, FP8 E4M3 bytes, row-major, no NaN", "x []float32: the vector, one per column"),
		Needs: map[ISA][]string{AVX2: {"AVX", "CMOV", "F16C", "FMA3", "MMX+"}, AVX512: {"AVX", "AVX2", "AVX512BW", "AVX512F", "AVX512VL", "CMOV", "MMX+"}}},
	// The integer-product GEMV: Q8_0 weights times activations quantized to int8 with
	// one float32 scale per 32 (kernels.QuantizeQ8Vector), each block's products summed
	// exactly in int32. Its AVX-512 body needs AVX512_VNNI, an extension that the
	// AVX-512 Level does not imply: on an AVX-512 CPU without it the AVX2 body runs.
	// The NEON body needs only baseline Advanced SIMD (widening multiplies and
	// pairwise adds, not SDOT, which is an ARMv8.2 extension).
	{Name: "gemvQ8_0Q8", Doc: "gemvQ8_0Q8 computes y = W x for W in Q8_0 blocks and x quantized to int8 blocks (see kernels.GemvQ8_0Q8); len(xq) is a multiple of 32 and W is len(y) rows of len(xq)/32 blocks.",
		Args: args("y []float32: the result, one per row of W", "w []byte: the matrix, rows of 34-byte Q8_0 blocks (half scale, 32 int8)",
			"xq []byte: the vector's int8 quants, each in [-127, 127]", "xd []float32: the vector's scales, one per 32 quants"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "F16C", "FMA3", "MMX+"}, AVX512: {"AVX", "AVX2", "AVX512BW", "AVX512F", "AVX512VL", "AVX512VNNI", "F16C", "MMX+"}, NEON: neon}},
	// gemmNT for a B of few rows (a batched decode step's tokens, A its weight rows):
	// compose runs it for n <= fewRows. A Level without it runs gemmNT.
	{Name: "gemmNTFew", Doc: "gemmNTFew computes c = A Bᵀ like gemmNT, in tiles made for a B of up to 8 rows; c has row stride ldc; next is a prefetch hint.",
		Args:  gemmArgs(true),
		Needs: map[ISA][]string{AVX512: {"AVX", "AVX512F", "AVX512VL", "CMOV", "MMX+"}}},
	// The bfloat16 GEMMs of the narrow-type attention (kernels.GemmNTBF16,
	// GemmNNAddBF16): products exact in float32, float32 sums. The AVX-512 bodies need
	// AVX512_BF16 (VDPBF16PS, written as bytes: neither the Go assembler nor Avo knows
	// it); on an AVX-512 CPU without it the AVX2 bodies, which widen and FMA, run.
	{Name: "gemmNTBF16", Doc: "gemmNTBF16 computes c = A Bᵀ for A and B in bfloat16 bits (see kernels.GemmNTBF16); c has row stride ldc.",
		Args:  bf16GemmArgs(),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "FMA3"}, AVX512: {"AVX", "AVX512BF16", "AVX512BW", "AVX512F", "AVX512VL", "CMOV", "MMX+"}, NEON: neon}},
	{Name: "gemmNNAddBF16", Doc: "gemmNNAddBF16 computes c += A B for A and B in bfloat16 bits (see kernels.GemmNNAddBF16); c has row stride ldc.",
		Args:  bf16GemmArgs(),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "FMA3"}, AVX512: {"AVX", "AVX512BF16", "AVX512BW", "AVX512F", "CMOV"}, NEON: neon}},
	// The same products for a B of FP8 E4M3 bytes (kernels.GemmNTBF16E4M3,
	// GemmNNAddBF16E4M3). The AVX-512 bodies widen each block of B exactly to
	// bfloat16 once, into the scratch w, for every band of rows of A to use; the AVX2
	// bodies widen to float32 in registers (and leave w alone). Rest as above.
	{Name: "gemmNTBF16E4M3", Doc: "gemmNTBF16E4M3 computes c = A Bᵀ for A in bfloat16 bits and B in FP8 E4M3 bytes (see kernels.GemmNTBF16E4M3); c has row stride ldc.",
		Args:  bf16E4M3GemmArgs("256·⌈k/64⌉ words"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "F16C", "FMA3"}, AVX512: {"AVX", "AVX512BF16", "AVX512BW", "AVX512F", "AVX512VL", "CMOV", "MMX+"}}},
	{Name: "gemmNNAddBF16E4M3", Doc: "gemmNNAddBF16E4M3 computes c += A B for A in bfloat16 bits and B in FP8 E4M3 bytes (see kernels.GemmNNAddBF16E4M3); c has row stride ldc.",
		Args:  bf16E4M3GemmArgs("32·(k+k%2) words"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "F16C", "FMA3"}, AVX512: {"AVX", "AVX512BF16", "AVX512BW", "AVX512F", "AVX512VL", "CMOV"}}},
	// The int8 attention over an I8 row store (kernels/attn_i8.go: tiles of 16 rows,
	// 4-byte column groups, bytes biased by 128, a scale per row segment), bit-exact
	// with the references on every Level. The AVX-512 bodies of the two products need
	// AVX512_VNNI; on an AVX-512 CPU without it the AVX2 bodies run. The NEON bodies
	// need only baseline Advanced SIMD (widening multiplies and pairwise adds, no SDOT).
	{Name: "attnScoresI8", Doc: "attnScoresI8 computes the scores of m int8 queries against n rows of an I8 store (see kernels.AttnScoresI8), every tile read whole.",
		Args: args("s []float32: the m x n scores", "q []byte: the m x w query quants, each in [-127, 127]", "qs []float32: the queries' two segment scales each",
			"tiles []byte: the I8 store's tiles, whole", "scales []float32: the store's row scales, whole tiles", "m int: the queries", "n int: the rows",
			"w int: the row width, a multiple of 4", "split int: the segment boundary, a multiple of 4 inside the row"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "CMOV"}, AVX512: {"AVX", "AVX512F", "AVX512VNNI", "CMOV", "MMX+"}, NEON: neon}},
	{Name: "quantizeProbsI8", Doc: "quantizeProbsI8 rounds m rows of n probabilities times their rows' latent scales to unsigned quants, rows I8ProbStride(n) apart, the padding zero (see kernels.QuantizeProbsI8).",
		Args: args("pq []byte: the m quant rows", "ps []float32: the rows' scales", "p []float32: the m x n probabilities",
			"scales []float32: the I8 store's row scales, whole tiles", "m int: the rows", "n int: the probabilities per row"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2", "CMOV"}, AVX512: {"AVX", "AVX512F", "AVX512VL", "CMOV"}, NEON: neon}},
	{Name: "attnValuesI8", Doc: "attnValuesI8 adds the quantized probabilities times the first dv values of n rows of an I8 store to o (see kernels.AttnValuesI8), every tile read whole.",
		Args: args("o []float32: the m x dv sums, accumulated", "pq []byte: the m quant rows, I8ProbStride(n) apart, each in [0, 127], the padding zero", "ps []float32: their scales",
			"tiles []byte: the I8 store's tiles, whole", "scales []float32: the store's row scales (unused)", "m int: the rows of o", "n int: the rows of the store",
			"dv int: the values per row, a multiple of 16 within segment 0", "w int: the row width", "split int: the segment boundary"),
		Needs: map[ISA][]string{AVX2: {"AVX", "AVX2"}, AVX512: {"AVX", "AVX512BW", "AVX512F", "AVX512VNNI"}, NEON: neon}},
}

// Extensions are the CPU features a body may need beyond what its Level
// guarantees (dispatch.Features.Has checks them at run time). A routine whose body
// needs one falls back, on a CPU without it, to its body at the next ISA of the same
// architecture that has the routine without extensions (or to the reference).
var Extensions = []string{"AVX512VNNI", "AVX512BF16"}

// Extension returns the extension r's body for isa needs, or "".
func (r Routine) Extension(isa ISA) string {
	for _, f := range r.Needs[isa] {
		for _, e := range Extensions {
			if f == e {
				return e
			}
		}
	}
	return ""
}

// gemmArgs are the GEMMs' arguments, with next for the ones that prefetch.
func gemmArgs(next bool) []Arg {
	list := []string{"c []float32: the m x n result, rows ldc apart", "a []float32: A, m rows lda apart", "b []float32: B, rows ldb apart"}
	if next {
		list = append(list, "next []float32: the memory to prefetch meanwhile, not empty (a hint, never read)")
	}
	return args(append(list, "m int: rows of A and c", "n int: columns of c", "k int: the depth of each product",
		"lda int: A's row stride", "ldb int: B's row stride", "ldc int: c's row stride")...)
}

// bf16GemmArgs are the bfloat16 GEMMs' arguments.
func bf16GemmArgs() []Arg {
	return args("c []float32: the m x n result, rows ldc apart", "a []uint16: A, bfloat16 bits, m rows lda apart",
		"b []uint16: B, bfloat16 bits, rows ldb apart", "m int: rows of A and c", "n int: columns of c",
		"k int: the depth of each product", "lda int: A's row stride", "ldb int: B's row stride", "ldc int: c's row stride")
}

// bf16E4M3GemmArgs are bf16GemmArgs with B in bytes and a scratch w for B widened to
// bfloat16 (its size is given per routine).
func bf16E4M3GemmArgs(w string) []Arg {
	return args("c []float32: the m x n result, rows ldc apart", "a []uint16: A, bfloat16 bits, m rows lda apart",
		"b []byte: B, FP8 E4M3 bytes, rows ldb apart", "w []uint16: scratch for B widened, "+w, "m int: rows of A and c", "n int: columns of c",
		"k int: the depth of each product", "lda int: A's row stride", "ldb int: B's row stride", "ldc int: c's row stride")
}

// args parses "name type: meaning" items.
func args(items ...string) []Arg {
	out := make([]Arg, len(items))
	for i, it := range items {
		decl, meaning, ok := strings.Cut(it, ": ")
		name, typ, ok2 := strings.Cut(decl, " ")
		if !ok || !ok2 {
			panic("spec: bad argument " + it)
		}
		out[i] = Arg{Name: name, Type: typ, Meaning: meaning}
	}
	return out
}
