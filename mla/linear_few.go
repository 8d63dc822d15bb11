package mla

import (
	"unsafe"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/tuning"
)

// A linear op over a few tokens (a batched decode step) reads every weight row once
// and uses it for all the tokens while it is in cache, in one of two ways:
//   - float32 weights, and 9 to maxFewTokens tokens of other formats: with the
//     weights as the left operand, out_tᵀ = W·xᵀ (GemmNT), a tile of rows at a time,
//     so that each weight row meets every token while in L1 (for 8 tokens against
//     V2-Lite's q_proj about 1.5x faster on Zen 4 than x·Wᵀ, which streams the
//     weights past the tokens in slices);
//   - other formats, up to 8 tokens: the format's GEMV per token over a tile of rows
//     that stays in L2 after the first token brings it in; the kernels widen in
//     registers, which beats widening the tile to float32 for a GEMM (2 to 3x for 2
//     to 4 tokens of bf16, even at 8).
const (
	maxFewTokens  = 16
	maxGemvTokens = 8
	gemvTileBytes = 256 << 10 // a tile of stored weight rows that stays in L2
	fewPad        = 16        // a cache line between weightsLeftRows's token rows
	fewAhead      = 4         // how many tiles ahead weightsLeftRows prefetches
)

// fewTokens runs part's share of the rows of every op of a task of 2 to
// maxFewTokens tokens as described above. It reports false, doing nothing, for
// other token counts.
func (lt *linearTask) fewTokens(part, parts int) bool {
	ops := lt.ops[:lt.nops]
	if t := ops[0].t; t < 2 || t > maxFewTokens {
		return false
	}
	rows := 0
	for _, op := range ops {
		rows += op.n
	}
	lo, hi := span(rows, part, parts, gemvRowAlign)
	base := 0
	for _, op := range ops {
		r0, r1 := max(lo-base, 0), min(hi-base, op.n)
		base += op.n
		switch {
		case r1 <= r0:
		case op.w.Format() != FormatF32 && op.t <= maxGemvTokens:
			lt.gemvTileRows(part, op, r0, r1)
		default:
			lt.weightsLeftRows(part, op, r0, r1)
		}
	}
	return true
}

// gemvTileRows computes rows [r0, r1) of op for all its tokens with the format's
// GEMV, a tile of rows for all tokens before the next tile.
func (lt *linearTask) gemvTileRows(part int, op linearOp, r0, r1 int) {
	rb, _ := op.w.Format().rowBytes(op.k) // checked when the weights were made
	tile := max(gemvRowAlign, gemvTileBytes/max(rb, 1)/gemvRowAlign*gemvRowAlign)
	if op.w.Format() == FormatQ8_0 && lt.q8Tiles(part, op, r0, r1, tile) {
		return
	}
	var scratch []float32
	if f := op.w.Format(); f == FormatFP8 || f == FormatQ8_0 {
		scratch = lt.part(part, op.k) // x scaled per band of rows, or quantized
	}
	for a := r0; a < r1; a += tile {
		b := min(a+tile, r1)
		for t := range op.t {
			op.w.gemv(op.out[t*op.n+a:t*op.n+b], op.x[t*op.k:(t+1)*op.k], a, scratch)
		}
	}
}

// weightsLeftRows computes rows [r0, r1) of op for all its tokens. The depth is cut
// into pieces of at most tuning.DeepK columns, for which GemmNTPrefetch streams the
// stored rows of the tile fewAhead tiles on into the cache while it computes, each
// piece its share of them: the tiles are then read as one stream, as a GEMV reads
// them. (The next tile was too close: for 8 tokens against V2-Lite's f32
// projections on Zen 4, prefetching 4 tiles ahead was about 15% faster.) The tokens are copied to rows fewPad floats
// longer than op.k: the models' widths are multiples of 4 KiB, and rows that far
// apart fall in the same L1 sets, more of them (the tokens and a band of weight rows)
// than L1 has ways.
func (lt *linearTask) weightsLeftRows(part int, op linearOp, r0, r1 int) {
	tile := min(max(gemvRowAlign, tileFloats/max(op.k, 1)/gemvRowAlign*gemvRowAlign), r1-r0)
	pieces := (op.k + tuning.DeepK() - 1) / max(tuning.DeepK(), 1)
	depth := (op.k + pieces - 1) / pieces
	f32 := op.w.Format() == FormatF32
	wide := 0
	if !f32 {
		wide = tile * op.k
	}
	ldx := op.k + fewPad
	sc := lt.part(part, wide+2*tile*op.t+op.t*ldx)
	prod, tmp := sc[wide:wide+tile*op.t], sc[wide+tile*op.t:wide+2*tile*op.t]
	x := sc[wide+2*tile*op.t:]
	for t := range op.t {
		copy(x[t*ldx:t*ldx+op.k], op.x[t*op.k:(t+1)*op.k])
	}
	for a := r0; a < r1; a += tile {
		b := min(a+tile, r1)
		nb, nt := b-a, op.t
		var w []float32
		if f32 {
			w = op.w.f32[a*op.k : b*op.k]
		} else {
			w = sc[:nb*op.k]
			op.w.widenRows(w, a, b)
		}
		ahead := min(a+fewAhead*tile, r1)
		next := op.w.stored(ahead, min(ahead+tile, r1))
		for p, q := 0, 0; q < op.k; p, q = p+1, q+depth {
			kq := min(depth, op.k-q)
			dst := prod[:nb*nt]
			if q > 0 {
				dst = tmp[:nb*nt]
			}
			share := next[len(next)*p/pieces : len(next)*(p+1)/pieces]
			mlasimd.GemmNTPrefetch(dst, w[q:], x[q:], share, nb, nt, kq, op.k, ldx)
			if q > 0 {
				mlasimd.Axpy(1, dst, prod[:nb*nt])
			}
		}
		for i := range nb {
			for t := range nt {
				op.out[t*op.n+a+i] = prod[i*nt+t]
			}
		}
	}
}

// stored returns the memory that holds rows [r0, r1) of m in its format, as float32s
// for GemmNTPrefetch to prefetch (never to be read as numbers); nil when r0 >= r1.
func (m Matrix) stored(r0, r1 int) []float32 {
	if r0 >= r1 {
		return nil
	}
	var p unsafe.Pointer
	var n int // bytes
	switch m.Format() {
	case FormatF32:
		return m.f32[r0*m.cols : r1*m.cols]
	case FormatBF16, FormatF16:
		h := m.half[r0*m.cols : r1*m.cols]
		p, n = unsafe.Pointer(unsafe.SliceData(h)), 2*len(h)
	case FormatQ8_0:
		rb, _ := mlasimd.Q8_0Bytes(m.cols)
		q := m.q8[r0*rb : r1*rb]
		p, n = unsafe.Pointer(unsafe.SliceData(q)), len(q)
	case FormatFP8:
		q := m.fp8[r0*m.cols : r1*m.cols]
		p, n = unsafe.Pointer(unsafe.SliceData(q)), len(q)
	}
	// From the first 4-byte boundary: a *float32 must be aligned.
	skip := int((4 - uintptr(p)%4) % 4)
	if n-skip < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Add(p, skip)), (n-skip)/4)
}

// q8Tiles is the tiled GEMVs of a Q8_0 op's rows [r0, r1) for its tokens, each
// token's activations quantized once (as the one-token GEMV quantizes them) instead
// of once per tile; false when they cannot be quantized (not finite), and the
// caller's GEMVs fall back as theirs do.
func (lt *linearTask) q8Tiles(part int, op linearOp, r0, r1, tile int) bool {
	per := op.k/4 + op.k/mlasimd.Q8_0Block // a Q8 vector's floats (see q8Vector)
	sc := lt.part(part, op.t*per)
	for t := range op.t {
		xq, xd, ok := q8Vector(sc[t*per:(t+1)*per], op.k)
		if !ok || mlasimd.QuantizeQ8Vector(xq, xd, op.x[t*op.k:(t+1)*op.k]) != nil {
			return false
		}
	}
	rb, _ := mlasimd.Q8_0Bytes(op.k)
	for a := r0; a < r1; a += tile {
		b := min(a+tile, r1)
		w := op.w.q8[a*rb : b*rb]
		for t := range op.t {
			xq, xd, _ := q8Vector(sc[t*per:(t+1)*per], op.k)
			mlasimd.GemvQ8_0Q8(op.out[t*op.n+a:t*op.n+b], w, xq, xd)
		}
	}
	return true
}
