package mla

import (
	"unsafe"

	"github.com/mlasimd/mlasimd"
)

// gemvQ8_0 is gemv for Q8_0 weights: x is quantized to a Q8 vector in scratch and
// multiplied in integers (mlasimd.GemvQ8_0Q8), as ggml and llama.cpp run Q8_0; the
// quantization adds at most Σ_b |d_w,b|·Σ_j|q_w[j]|·d_x,b/2 per output, d_x,b =
// max|x over block b|/127 (see mlasimd.GemvQ8_0Q8), about 0.4% of the block's
// largest |x| per weight. An x with a NaN or an infinity, which QuantizeQ8Vector
// refuses, or a call without scratch, runs the float32 GemvQ8_0 instead, so
// non-finite values propagate as they would in float32.
func (m Matrix) gemvQ8_0(y, x []float32, r0 int, scratch []float32) {
	rb, _ := mlasimd.Q8_0Bytes(m.cols)
	w := m.q8[r0*rb : (r0+len(y))*rb]
	if xq, xd, ok := q8Vector(scratch, m.cols); ok && mlasimd.QuantizeQ8Vector(xq, xd, x[:m.cols]) == nil {
		mlasimd.GemvQ8_0Q8(y, w, xq, xd)
		return
	}
	mlasimd.GemvQ8_0(y, w, x)
}

// q8Vector views float32 scratch as a Q8 vector of n values (n a multiple of 32):
// the n quants' bytes in its first n/4 floats, the n/32 scales after them; false when
// scratch is shorter than that.
func q8Vector(scratch []float32, n int) (xq []byte, xd []float32, ok bool) {
	nq := n / 4
	if n == 0 || len(scratch) < nq+n/mlasimd.Q8_0Block {
		return nil, nil, false
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(scratch))), n), scratch[nq : nq+n/mlasimd.Q8_0Block], true
}
