package mla

import "github.com/mlasimd/mlasimd"

// linearOp is out = x·Wᵀ for t tokens: x is t x k, W is n x k (nn.Linear's [out, in]),
// out is t x n.
type linearOp struct {
	out, x, w []float32
	t, n, k   int
}

// linearTask runs up to three linear maps of the same tokens as one parallel task, so
// that, say, the query and KV down-projections of a step share one dispatch.
//
// With fewer tokens than parts (decode: one token) the parts split the weight rows of
// all maps together and run Gemv per token on their block, so every weight row is
// read by one goroutine. With more tokens the parts split the tokens and run GemmNT,
// which reuses each weight row across a part's tokens.
type linearTask struct {
	ops  [3]linearOp
	nops int
}

func (lt *linearTask) reset() { lt.nops = 0 }

func (lt *linearTask) add(out, x, w []float32, t, n, k int) {
	lt.ops[lt.nops] = linearOp{out: out[:t*n], x: x[:t*k], w: w[:n*k], t: t, n: n, k: k}
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

func (lt *linearTask) run(part, parts int) {
	ops := lt.ops[:lt.nops]
	if ops[0].t >= parts && ops[0].t > 1 {
		for _, op := range ops {
			t0, t1 := span(op.t, part, parts, 1)
			if t1 > t0 {
				mlasimd.GemmNT(op.out[t0*op.n:t1*op.n], op.x[t0*op.k:t1*op.k], op.w, t1-t0, op.n, op.k, op.k, op.k)
			}
		}
		return
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
		if r1 <= r0 {
			continue
		}
		w := op.w[r0*op.k : r1*op.k]
		for t := range op.t {
			mlasimd.Gemv(op.out[t*op.n+r0:t*op.n+r1], w, op.x[t*op.k:(t+1)*op.k])
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
