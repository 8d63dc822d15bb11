package mlasimd

import "github.com/mlasimd/mlasimd/kernels"

// The narrow-type attention: products of a query rounded once per step with cached
// rows kept in bfloat16 or int8, so that a long cache is attended in the narrow
// type's arithmetic (VDPBF16PS, VPDPBUSD) instead of being widened to float32 first.

// GemmNTBF16 computes c = A Bᵀ like GemmNT for A and B stored as bfloat16 bits. Each
// product is exact in float32; the sum is a float32 sum in an order of the Level's
// choosing, so |ĉ-c| <= γ_k Σ|a||b|, plus the terms with a subnormal factor, which
// may count as zero (VDPBF16PS treats subnormal inputs and results so; round with
// F32ToBF16DAZ to have none). See kernels.GemmNTBF16.
func GemmNTBF16(c []float32, a, b []uint16, m, n, k, lda, ldb int) {
	table().GemmNTBF16(c, a, b, m, n, k, lda, ldb)
}

// GemmNNAddBF16 computes c += A B like GemmNNAdd for A and B stored as bfloat16 bits,
// with GemmNTBF16's bound over the k terms and c. See kernels.GemmNNAddBF16.
func GemmNNAddBF16(c []float32, a, b []uint16, m, n, k, lda, ldb int) {
	table().GemmNNAddBF16(c, a, b, m, n, k, lda, ldb)
}

// GemmNTBF16E4M3 is GemmNTBF16 for a B of FP8 E4M3 bytes, widened exactly (every
// E4M3 value is a bfloat16): an FP8 cache's rows scored by bfloat16 queries. See
// kernels.GemmNTBF16E4M3.
func GemmNTBF16E4M3(c []float32, a []uint16, b []byte, m, n, k, lda, ldb int) {
	table().GemmNTBF16E4M3(c, a, b, m, n, k, lda, ldb)
}

// GemmNNAddBF16E4M3 is GemmNNAddBF16 for a B of FP8 E4M3 bytes: bfloat16
// probabilities times an FP8 cache's rows. See kernels.GemmNNAddBF16E4M3.
func GemmNNAddBF16E4M3(c []float32, a []uint16, b []byte, m, n, k, lda, ldb int) {
	table().GemmNNAddBF16E4M3(c, a, b, m, n, k, lda, ldb)
}

// BF16Native reports whether the active Level multiplies GemmNTBF16 and GemmNNAddBF16
// in its own assembly. Where it does not they run the Go reference, and a caller
// that has float32 rows at hand does better with GemmNT and GemmNNAdd on the values
// widened (the products are exact either way; only the order of the sums differs).
func BF16Native() bool {
	k := table()
	return k.p.gemmNTBF16 != nil && k.p.gemmNNAddBF16 != nil
}

// E4M3Native reports whether the active Level multiplies GemmNTBF16E4M3 and
// GemmNNAddBF16E4M3 in its own assembly (see BF16Native).
func E4M3Native() bool {
	k := table()
	return k.p.gemmNTBF16E4M3 != nil && k.p.gemmNNAddBF16E4M3 != nil
}

// F32ToBF16DAZ is F32ToBF16 with subnormal results flushed to zero (kernels.F32ToBF16DAZ):
// the rounding of the operands of GemmNTBF16 and GemmNNAddBF16 that every Level,
// VDPBF16PS included, multiplies exactly. AVX-512 and NEON narrow in registers.
func F32ToBF16DAZ(dst []uint16, src []float32) { table().F32ToBF16DAZ(dst, src) }

func (k *Kernels) F32ToBF16DAZ(dst []uint16, src []float32) {
	kernels.CheckSameLen("F32ToBF16DAZ", len(dst), len(src))
	k.rt().f32ToBF16DAZ(dst, src)
}

// I8TileRows is the rows in a tile of an I8 row store (kernels.I8TileRows describes
// the layout), I8MaxWidth the widest row it holds.
const (
	I8TileRows = kernels.I8TileRows
	I8MaxWidth = kernels.I8MaxWidth
)

// I8TileBytes is the bytes of one I8 tile of rows of width w.
func I8TileBytes(w int) int { return kernels.I8TileBytes(w) }

// I8ProbStride is the row stride of QuantizeProbsI8's quants for n rows.
func I8ProbStride(n int) int { return kernels.I8ProbStride(n) }

// QuantizeI8Rows writes rows of width w, split in two segments at split, to an I8
// store from row j0 on (kernels.QuantizeI8Rows).
func QuantizeI8Rows(tiles []byte, scales []float32, x []float32, j0, w, split int) error {
	return kernels.QuantizeI8Rows(tiles, scales, x, j0, w, split)
}

// DequantizeI8Rows writes rows [j0, j1) of an I8 store to dst as float32
// (kernels.DequantizeI8Rows).
func DequantizeI8Rows(dst []float32, tiles []byte, scales []float32, j0, j1, w, split int) {
	kernels.DequantizeI8Rows(dst, tiles, scales, j0, j1, w, split)
}

// QuantizeI8Query quantizes m query rows for AttnScoresI8 (kernels.QuantizeI8Query).
func QuantizeI8Query(q []byte, qs []float32, x []float32, m, w, split int) error {
	return kernels.QuantizeI8Query(q, qs, x, m, w, split)
}

// AttnScoresI8 computes s (m x n) = the int8 queries (q, qs) against rows [0, n) of
// an I8 store, each segment's products summed exactly in int32 and then scaled
// (kernels.AttnScoresI8 gives the order, which every Level keeps).
func AttnScoresI8(s []float32, q []byte, qs []float32, tiles []byte, scales []float32, m, n, w, split int) {
	table().AttnScoresI8(s, q, qs, tiles, scales, m, n, w, split)
}

// QuantizeProbsI8 rounds m rows of n probabilities, times their rows' latent scales,
// to unsigned quants for AttnValuesI8 (kernels.QuantizeProbsI8).
func QuantizeProbsI8(pq []byte, ps []float32, p []float32, scales []float32, m, n int) {
	table().QuantizeProbsI8(pq, ps, p, scales, m, n)
}

// AttnValuesI8 adds the quantized probabilities times the latent values (the first
// dv columns) of rows [0, n) of an I8 store to o (m x dv), summed exactly in int32
// per output (kernels.AttnValuesI8).
func AttnValuesI8(o []float32, pq []byte, ps []float32, tiles []byte, scales []float32, m, n, dv, w, split int) {
	table().AttnValuesI8(o, pq, ps, tiles, scales, m, n, dv, w, split)
}

func (k *Kernels) GemmNTBF16(c []float32, a, b []uint16, m, n, kk, lda, ldb int) {
	kernels.CheckGemm("GemmNTBF16", len(c), len(a), len(b), m, n, kk, lda, ldb, n, kk)
	k.rt().gemmNTBF16(c, a, b, m, n, kk, lda, ldb)
}

func (k *Kernels) GemmNNAddBF16(c []float32, a, b []uint16, m, n, kk, lda, ldb int) {
	kernels.CheckGemm("GemmNNAddBF16", len(c), len(a), len(b), m, n, kk, lda, ldb, kk, n)
	k.rt().gemmNNAddBF16(c, a, b, m, n, kk, lda, ldb)
}

func (k *Kernels) AttnScoresI8(s []float32, q []byte, qs []float32, tiles []byte, scales []float32, m, n, w, split int) {
	kernels.CheckAttnScoresI8("AttnScoresI8", len(s), len(q), len(qs), len(tiles), len(scales), m, n, w, split)
	k.rt().attnScoresI8(s, q, qs, tiles, scales, m, n, w, split)
}

func (k *Kernels) QuantizeProbsI8(pq []byte, ps []float32, p []float32, scales []float32, m, n int) {
	kernels.CheckQuantizeProbsI8("QuantizeProbsI8", len(pq), len(ps), len(p), len(scales), m, n)
	k.rt().quantizeProbsI8(pq, ps, p, scales, m, n)
}

func (k *Kernels) AttnValuesI8(o []float32, pq []byte, ps []float32, tiles []byte, scales []float32, m, n, dv, w, split int) {
	kernels.CheckAttnValuesI8("AttnValuesI8", len(o), len(pq), len(ps), len(tiles), len(scales), m, n, dv, w, split)
	k.rt().attnValuesI8(o, pq, ps, tiles, scales, m, n, dv, w, split)
}

func (k *Kernels) GemmNTBF16E4M3(c []float32, a []uint16, b []byte, m, n, kk, lda, ldb int) {
	kernels.CheckGemm("GemmNTBF16E4M3", len(c), len(a), len(b), m, n, kk, lda, ldb, n, kk)
	k.rt().gemmNTBF16E4M3(c, a, b, m, n, kk, lda, ldb)
}

func (k *Kernels) GemmNNAddBF16E4M3(c []float32, a []uint16, b []byte, m, n, kk, lda, ldb int) {
	kernels.CheckGemm("GemmNNAddBF16E4M3", len(c), len(a), len(b), m, n, kk, lda, ldb, kk, n)
	k.rt().gemmNNAddBF16E4M3(c, a, b, m, n, kk, lda, ldb)
}
