package mla

import "github.com/mlasimd/mlasimd"

// linearOp is out = x·Wᵀ for t tokens: x is t x k, W is n x k (nn.Linear's [out, in]),
// out is t x n.
type linearOp struct {
	out, x  []float32
	w       Matrix
	t, n, k int
}

// linearTask runs up to three linear maps of the same tokens as one parallel task, so
// that, say, the query and KV down-projections of a step share one dispatch.
//
// With fewer tokens than parts (decode: one token) the parts split the weight rows of
// all maps together and run the matrix's GEMV per token on their block, so every
// weight row is read by one goroutine. With more tokens, float32 maps are split by
// tokens and run GemmNT, which reuses each weight row across a part's tokens; other
// formats are split by rows, and each part widens its rows a tile at a time into
// scratch that stays in cache, then runs GemmNT of all tokens against the tile.
type linearTask struct {
	ops  [3]linearOp
	nops int
	// scratch[part] holds a widened tile of weight rows and its t x tile products.
	scratch [][]float32
	// q8[part] holds the part's input quantized for Q8_0 GEMVs, once for the ops
	// that share it (a decode step's query and KV down-projections).
	q8 []q8Input
}

func (lt *linearTask) reset() { lt.nops = 0 }

func (lt *linearTask) add(out, x []float32, w Matrix, t, n, k int) {
	lt.ops[lt.nops] = linearOp{out: out[:t*n], x: x[:t*k], w: w.rowView(0, n), t: t, n: n, k: k}
	lt.nops++
}

// work is the number of multiply-adds, for choosing how many parts are worth it.
func (lt *linearTask) work() int {
	w := 0
	for _, op := range lt.ops[:lt.nops] {
		w += op.t * op.n * op.k
	}
	return w
}

// gemvRowAlign keeps row blocks a multiple of a SIMD-friendly count.
const gemvRowAlign = 16

// split returns how many parts the task is worth (see partsFor) and makes room for
// that many parts' scratch.
func (lt *linearTask) split(minWork, workers int) int {
	parts := partsFor(lt.work(), minWork, workers)
	if len(lt.scratch) < parts {
		lt.scratch = append(lt.scratch, make([][]float32, parts-len(lt.scratch))...)
	}
	if len(lt.q8) < parts {
		lt.q8 = append(lt.q8, make([]q8Input, parts-len(lt.q8))...)
	}
	return parts
}

func (lt *linearTask) run(part, parts int) {
	if lt.fewTokens(part, parts) {
		return
	}
	ops := lt.ops[:lt.nops]
	byTokens := ops[0].t >= parts && ops[0].t > 1
	if byTokens && ops[0].w.Format() == FormatF32 {
		for _, op := range ops {
			t0, t1 := span(op.t, part, parts, 1)
			if t1 > t0 {
				mlasimd.GemmNT(op.out[t0*op.n:t1*op.n], op.x[t0*op.k:t1*op.k], op.w.f32, t1-t0, op.n, op.k, op.k, op.k)
			}
		}
		return
	}
	rows := 0
	for _, op := range ops {
		rows += op.n
	}
	lo, hi := span(rows, part, parts, gemvRowAlign)
	q := &lt.q8[part]
	q.forget() // the inputs' values are new each run
	base := 0
	for _, op := range ops {
		r0, r1 := max(lo-base, 0), min(hi-base, op.n)
		base += op.n
		if r1 <= r0 {
			continue
		}
		if op.t > 1 && op.w.Format() != FormatF32 {
			lt.tiled(part, op, r0, r1)
			continue
		}
		if op.w.Format() == FormatQ8_0 && op.t == 1 {
			q.grow(op.k)
			q.gemv(op.out[r0:r1], op.w, op.x, r0)
			continue
		}
		var scratch []float32
		if op.w.Format() == FormatFP8 {
			scratch = lt.part(part, op.k) // x scaled per band of rows
		}
		for t := range op.t {
			op.w.gemv(op.out[t*op.n+r0:t*op.n+r1], op.x[t*op.k:(t+1)*op.k], r0, scratch)
		}
	}
}

// part returns part's scratch, grown to at least n values (at warm-up only: the
// sizes depend on the shapes, never on the data).
func (lt *linearTask) part(part, n int) []float32 {
	if len(lt.scratch[part]) < n {
		lt.scratch[part] = make([]float32, n)
	}
	return lt.scratch[part]
}

// tileFloats is about how many widened weights a tile holds: 128 KiB of float32,
// within L2 next to the tokens it is multiplied with.
const tileFloats = 1 << 15

// tiled computes rows [r0, r1) of op for all its tokens: each tile of rows is widened
// once into the part's scratch, multiplied by every token with GemmNT, and its t x
// rows products copied into the output's columns.
func (lt *linearTask) tiled(part int, op linearOp, r0, r1 int) {
	tile := max(gemvRowAlign, tileFloats/max(op.k, 1)/gemvRowAlign*gemvRowAlign)
	tile = min(tile, r1-r0)
	sc := lt.part(part, tile*(op.k+op.t))
	w, prod := sc[:tile*op.k], sc[tile*op.k:]
	for a := r0; a < r1; a += tile {
		b := min(a+tile, r1)
		nb := b - a
		op.w.widenRows(w, a, b)
		mlasimd.GemmNT(prod[:op.t*nb], op.x, w[:nb*op.k], op.t, nb, op.k, op.k, op.k)
		for t := range op.t {
			copy(op.out[t*op.n+a:t*op.n+b], prod[t*nb:(t+1)*nb])
		}
	}
}

// partsFor returns how many parts a task of the given work (multiply-adds) is worth:
// at least minWork each, so that tiny tasks do not pay for waking workers.
func partsFor(work, minWork, workers int) int {
	if minWork <= 0 {
		return workers
	}
	return max(1, min(workers, work/minWork))
}
