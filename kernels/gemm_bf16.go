package kernels

import "math"

// GemmNTBF16 computes c = A Bᵀ like GemmNT for A (m x k, row stride lda) and B (n x k,
// row stride ldb) both stored as bfloat16 bits: c[i*n+j] = Σ_p a[i][p]·b[j][p].
//
// The product of two bfloat16 values is exact in float32 (8+8 significant bits), so
// the only rounding is the float32 sum; this reference sums in index order, an
// assembly body in any order (VDPBF16PS adds products pairwise). The bound is that of
// an f32 dot product: |ĉ-c| ≤ γ_k Σ_p |a||b|, plus, because VDPBF16PS treats
// subnormal inputs and results as zero, Σ|a||b| over the terms with a subnormal
// factor and k·2⁻¹²⁶. Callers that round to bfloat16 themselves flush subnormals
// (F32ToBF16DAZ) and lose nothing.
func GemmNTBF16(c []float32, a, b []uint16, m, n, k, lda, ldb int) {
	CheckGemm("GemmNTBF16", len(c), len(a), len(b), m, n, k, lda, ldb, n, k)
	for i := range m {
		ai := a[i*lda : i*lda+k]
		for j := range n {
			bj := b[j*ldb : j*ldb+k]
			var s float32
			for p, v := range ai {
				s += bf16(v) * bf16(bj[p]) // exact product
			}
			c[i*n+j] = s
		}
	}
}

// GemmNNAddBF16 computes c += A B like GemmNNAdd for A (m x k, row stride lda) and B
// (k x n, row stride ldb) both stored as bfloat16 bits: c[i*n+q] += Σ_p a[i][p]·b[p][q].
// This reference adds the terms to c in p order; an assembly body sums them in any
// order before or while adding (VDPBF16PS pairs rows p and p+1), with the bound of
// GemmNTBF16 over the k terms and c itself.
func GemmNNAddBF16(c []float32, a, b []uint16, m, n, k, lda, ldb int) {
	CheckGemm("GemmNNAddBF16", len(c), len(a), len(b), m, n, k, lda, ldb, k, n)
	for i := range m {
		ci := c[i*n : i*n+n]
		for p := range k {
			av := bf16(a[i*lda+p])
			bp := b[p*ldb : p*ldb+n]
			for q := range ci {
				ci[q] += av * bf16(bp[q]) // exact product
			}
		}
	}
}

func bf16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16DAZ is F32ToBF16 with results that are subnormal (or round to a
// subnormal) written as zero of the same sign: the operands GemmNTBF16 and
// GemmNNAddBF16 multiply exactly on every Level, VDPBF16PS included.
func F32ToBF16DAZ(dst []uint16, src []float32) {
	F32ToBF16(dst, src)
	for i, h := range dst[:len(src)] {
		if h&0x7f80 == 0 {
			dst[i] = h & 0x8000
		}
	}
}
