package mlasimd

import "github.com/mlasimd/mlasimd/kernels"

// The checked entry points of a Level's table. Each validates the shapes with the
// same checks as package kernels (so every Level panics with the same message), then
// calls the Level's routine; the size-dependent choices are compose's. The
// package-level functions in mlasimd.go document the semantics.

func (k *Kernels) Dot(a, b []float32) float32 {
	kernels.CheckSameLen("Dot", len(a), len(b))
	return k.rt().dot(a, b)
}

func (k *Kernels) Axpy(alpha float32, x, y []float32) {
	kernels.CheckSameLen("Axpy", len(x), len(y))
	k.rt().axpy(alpha, x, y)
}

func (k *Kernels) Gemv(y, w, x []float32) {
	kernels.CheckGemv("Gemv", len(w), len(y), len(x))
	k.rt().gemv(y, w, x)
}

func (k *Kernels) GemvBF16(y []float32, w []uint16, x []float32) {
	kernels.CheckGemv("GemvBF16", len(w), len(y), len(x))
	k.rt().gemvBF16(y, w, x)
}

func (k *Kernels) GemvF16(y []float32, w []uint16, x []float32) {
	kernels.CheckGemv("GemvF16", len(w), len(y), len(x))
	k.rt().gemvF16(y, w, x)
}

func (k *Kernels) GemvQ8_0(y []float32, w []byte, x []float32) {
	kernels.CheckGemvQ8_0("GemvQ8_0", len(w), len(y), len(x))
	k.rt().gemvQ8_0(y, w, x)
}

func (k *Kernels) GemvE4M3Finite(y []float32, w []byte, x []float32) {
	kernels.CheckGemv("GemvE4M3Finite", len(w), len(y), len(x))
	k.rt().gemvE4M3Finite(y, w, x)
}

func (k *Kernels) GemvQ8_0Q8(y []float32, w []byte, xq []byte, xd []float32) {
	kernels.CheckGemvQ8_0Q8("GemvQ8_0Q8", len(w), len(y), len(xq), len(xd))
	kernels.CheckQ8Quants("GemvQ8_0Q8", xq)
	k.rt().gemvQ8_0Q8(y, w, xq, xd)
}

func (k *Kernels) GemvTBF16(y []float32, w []uint16, x []float32) {
	kernels.CheckGemv("GemvTBF16", len(w), len(x), len(y))
	k.rt().gemvTBF16(y, w, x)
}

func (k *Kernels) GemvTF16(y []float32, w []uint16, x []float32) {
	kernels.CheckGemv("GemvTF16", len(w), len(x), len(y))
	k.rt().gemvTF16(y, w, x)
}

func (k *Kernels) GemvTQ8_0(y []float32, w []byte, x []float32) {
	kernels.CheckGemvTQ8_0("GemvTQ8_0", len(w), len(x), len(y))
	k.rt().gemvTQ8_0(y, w, x)
}

func (k *Kernels) GemvE4M3(y []float32, w []byte, x []float32) {
	kernels.CheckGemv("GemvE4M3", len(w), len(y), len(x))
	k.rt().gemvE4M3(y, w, x)
}

func (k *Kernels) GemvTE4M3(y []float32, w []byte, x []float32) {
	kernels.CheckGemv("GemvTE4M3", len(w), len(x), len(y))
	k.rt().gemvTE4M3(y, w, x)
}

func (k *Kernels) GemvT(y, w, x []float32) {
	kernels.CheckGemv("GemvT", len(w), len(x), len(y))
	k.rt().gemvT(y, w, x)
}

func (k *Kernels) DownUp(y, latent, down, up, x []float32) {
	kernels.CheckDownUp(len(y), len(latent), len(down), len(up), len(x))
	k.rt().downUp(y, latent, down, up, x)
}

func (k *Kernels) GemmNT(c, a, b []float32, m, n, kk, lda, ldb int) {
	kernels.CheckGemm("GemmNT", len(c), len(a), len(b), m, n, kk, lda, ldb, n, kk)
	k.rt().gemmNT(c, a, b, m, n, kk, lda, ldb)
}

func (k *Kernels) GemmNTPrefetch(c, a, b, next []float32, m, n, kk, lda, ldb int) {
	kernels.CheckGemm("GemmNTPrefetch", len(c), len(a), len(b), m, n, kk, lda, ldb, n, kk)
	k.rt().gemmNTPrefetch(c, a, b, next, m, n, kk, lda, ldb)
}

func (k *Kernels) GemmNN(c, a, b []float32, m, n, kk, lda, ldb int) {
	kernels.CheckGemm("GemmNN", len(c), len(a), len(b), m, n, kk, lda, ldb, kk, n)
	k.rt().gemmNN(c, a, b, m, n, kk, lda, ldb)
}

func (k *Kernels) GemmNNAdd(c, a, b []float32, m, n, kk, lda, ldb int) {
	kernels.CheckGemm("GemmNNAdd", len(c), len(a), len(b), m, n, kk, lda, ldb, kk, n)
	k.rt().gemmNNAdd(c, a, b, m, n, kk, lda, ldb)
}

func (k *Kernels) Exp(dst, x []float32) {
	kernels.CheckSameLen("Exp", len(dst), len(x))
	k.rt().exp(dst, x)
}

func (k *Kernels) Softmax(x []float32, scale float32) { k.rt().softmax(x, scale) }

func (k *Kernels) SoftmaxStats(x []float32, scale float32) (max, sum float32) {
	return k.rt().softmax(x, scale)
}

func (k *Kernels) OnlineSoftmax(s []float32, scale float32, m, l, carry []float32) {
	kernels.CheckOnlineSoftmax(len(s), len(m), len(l), len(carry))
	k.rt().onlineSoftmax(s, scale, m, l, carry)
}

func (k *Kernels) RoPE(x, cos, sin []float32) {
	kernels.CheckRoPE("RoPE", len(x), len(cos), len(sin))
	k.rt().rope(x, cos, sin)
}

func (k *Kernels) RoPEHalf(x, cos, sin []float32) {
	kernels.CheckRoPE("RoPEHalf", len(x), len(cos), len(sin))
	k.rt().ropeHalf(x, cos, sin)
}

func (k *Kernels) RMSNorm(dst, x, weight []float32, eps float32) {
	kernels.CheckNorm("RMSNorm", len(dst), len(x), len(weight), 0, false)
	k.rt().rmsNorm(dst, x, weight, eps)
}

func (k *Kernels) LayerNorm(dst, x, weight, bias []float32, eps float32) {
	kernels.CheckNorm("LayerNorm", len(dst), len(x), len(weight), len(bias), bias != nil)
	k.rt().layerNorm(dst, x, weight, bias, eps)
}

func (k *Kernels) F16ToF32(dst []float32, src []uint16) {
	kernels.CheckSameLen("F16ToF32", len(dst), len(src))
	k.rt().f16ToF32(dst, src)
}

func (k *Kernels) BF16ToF32(dst []float32, src []uint16) {
	kernels.CheckSameLen("BF16ToF32", len(dst), len(src))
	k.rt().bf16ToF32(dst, src)
}

func (k *Kernels) F32ToF16(dst []uint16, src []float32) {
	kernels.CheckSameLen("F32ToF16", len(dst), len(src))
	k.rt().f32ToF16(dst, src)
}

func (k *Kernels) F32ToBF16(dst []uint16, src []float32) {
	kernels.CheckSameLen("F32ToBF16", len(dst), len(src))
	k.rt().f32ToBF16(dst, src)
}
