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
	q := q8Input{buf: scratch}
	q.gemv(y, m, x, r0)
}

// q8Input is a part's input quantized to a Q8 vector in buf, with the x it holds, so
// that the GEMVs of one x (a step's query and KV down-projections; the gate and up
// maps of every expert a token chose) quantize it once. Whoever reuses one across
// calls clears x (forget) whenever an x's values may have changed in place.
type q8Input struct {
	buf []float32 // the Q8 vector's floats (see q8Vector)
	x   []float32 // the input buf holds, or nil
}

// forget marks buf as holding no input.
func (q *q8Input) forget() { q.x = nil }

// grow makes buf room for a Q8 vector of n values (at warm-up only: the sizes come
// from the shapes).
func (q *q8Input) grow(n int) {
	if per := n/4 + n/mlasimd.Q8_0Block; len(q.buf) < per {
		q.buf, q.x = make([]float32, per), nil
	}
}

// gemv computes y = rows [r0, r0+len(y)) of the Q8_0 matrix m times x, with x's Q8
// vector (quantized here unless buf already holds this x), or with GemvQ8_0 when buf
// is too small or x is not finite.
func (q *q8Input) gemv(y []float32, m Matrix, x []float32, r0 int) {
	rb, _ := mlasimd.Q8_0Bytes(m.cols)
	w := m.q8[r0*rb : (r0+len(y))*rb]
	x = x[:m.cols]
	xq, xd, ok := q8Vector(q.buf, m.cols)
	if ok && (len(q.x) == 0 || &q.x[0] != &x[0] || len(q.x) != len(x)) {
		q.x = nil
		if ok = mlasimd.QuantizeQ8Vector(xq, xd, x) == nil; ok {
			q.x = x
		}
	}
	if !ok {
		mlasimd.GemvQ8_0(y, w, x)
		return
	}
	mlasimd.GemvQ8_0Q8(y, w, xq, xd)
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
