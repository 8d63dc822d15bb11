package mla

import (
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd"
)

// queries are the absorbed queries Qa of some tokens (H rows of d_c+d_r each per
// token), and the same rounded once per step to the arithmetic of a narrow cache:
// bfloat16 for a BF16 cache (VDPBF16PS), int8 with a scale per head for c and for kr
// for an I8 cache (VPDPBUSD). An F32 or F16 cache attends the float32 queries.
type queries struct {
	f32  []float32
	bf16 []uint16  // subnormals flushed, so every Level multiplies them exactly
	i8   []byte    // int8 quants, as bytes
	i8s  []float32 // 2 scales per head
}

func newQueries(tokens, heads, rw int) queries {
	n := tokens * heads * rw
	return queries{f32: make([]float32, n), bf16: make([]uint16, n), i8: make([]byte, n), i8s: make([]float32, 2*tokens*heads)}
}

// token returns token b's queries (views).
func (q *queries) token(b, heads, rw int) queries {
	n := heads * rw
	return queries{f32: q.f32[b*n : (b+1)*n], bf16: q.bf16[b*n : (b+1)*n], i8: q.i8[b*n : (b+1)*n], i8s: q.i8s[2*b*heads : 2*(b+1)*heads]}
}

// round forms the queries of the first tokens tokens in the arithmetic of dtype,
// their rows (token-major, heads per token) split among l's workers: an I8 query's
// quantization (float64 quotients) is the one per-step pass over it that is not
// negligible, 0.1 ms for V2-Lite's 16 x 576.
func (l *Layer) roundQueries(q *queries, dtype DType, tokens int) error {
	c := &l.cfg
	rows, rw := tokens*c.Heads, c.CacheRowWidth()
	if dtype != BF16 && dtype != FP8 && dtype != I8 {
		return nil
	}
	if i := firstNonFinite(q.f32, rows, rw); i >= 0 {
		return fmt.Errorf("mla: the absorbed query of head %d is not finite: %w", i%c.Heads, ErrNonFinite)
	}
	l.rounder = queryRounder{q: q, dtype: dtype, rw: rw, dc: c.KVLoRARank, rows: rows}
	return l.pool.run(&l.rounder, partsFor(rows*rw*8, l.minWork, l.pool.Workers()))
}

// queryRounder rounds rows of queries (a task of the pool).
type queryRounder struct {
	q      *queries
	dtype  DType
	rw, dc int
	rows   int
}

func (t *queryRounder) run(part, parts int) {
	r0, r1 := span(t.rows, part, parts, 1)
	q, lo, hi := t.q, r0*t.rw, r1*t.rw
	switch t.dtype {
	case BF16, FP8:
		// f32 keeps the rounded values too, for a Level that widens (foldTile).
		mlasimd.F32ToBF16DAZ(q.bf16[lo:hi], q.f32[lo:hi])
		mlasimd.BF16ToF32(q.f32[lo:hi], q.bf16[lo:hi])
	case I8:
		// Finite (checked by roundQueries), so this cannot fail.
		_ = mlasimd.QuantizeI8Query(q.i8[lo:hi], q.i8s[2*r0:2*r1], q.f32[lo:hi], r1-r0, t.rw, t.dc)
	}
}

// i8Pad is the most rows before a tile that an I8 tile scores with it: the int8
// attention starts on a multiple of mlasimd.I8TileRows, and those rows get no weight.
const i8Pad = mlasimd.I8TileRows - 1

// attnPart is one worker's scratch for one tile.
type attnPart struct {
	carry  []float32 // H: the current tile's rescaling of ol (see mlasimd.OnlineSoftmax)
	scores []float32 // H x (tile + i8Pad)
	rows   []float32 // tile x (d_c+d_r): widened rows of an F16 cache (or, briefly, of W_UK)
	p16    []uint16  // H x tile: a BF16 cache's probabilities in bfloat16
	pq     []byte    // H x I8ProbStride(tile + i8Pad): an I8 cache's quantized probabilities
	ps     []float32 // H: their scales
}

func newAttnPart(heads, tile, rw int) attnPart {
	return attnPart{carry: make([]float32, heads), scores: make([]float32, heads*(tile+i8Pad)), rows: make([]float32, tile*rw),
		p16: make([]uint16, heads*tile), pq: make([]byte, heads*mlasimd.I8ProbStride(tile+i8Pad)), ps: make([]float32, heads)}
}

// foldTile adds cached rows [j0, j1) (elements [lo, hi) of st) to the state s of
// queries q: scores = Qa·Rowsᵀ (each row read once for all heads), an online
// softmax, and ol += P·c over the latent part of the same rows. A BF16 or I8 cache is
// multiplied in its own type (the queries and the tile's probabilities rounded to
// it); an F16 cache, and a BF16 one on a Level without bfloat16 GEMMs, is widened a
// tile at a time (with the same rounded queries and probabilities). next is
// prefetched for the following tile.
func (l *Layer) foldTile(s *onlineState, p *attnPart, q queries, st *rowStore, lo, hi int, next []float32) {
	c := &l.cfg
	H, dc, rw := c.Heads, c.KVLoRARank, c.CacheRowWidth()
	n := (hi - lo) / rw
	switch {
	case (st.dtype == BF16 && !mlasimd.BF16Native()) || (st.dtype == FP8 && !mlasimd.E4M3Native()):
		// Widened rows (an FP8 row times its scale) and float32 GEMMs, the query and
		// the probabilities rounded to bfloat16 all the same.
		rows := st.get(lo, hi, p.rows)
		scores := p.scores[:H*n]
		mlasimd.GemmNTPrefetch(scores, q.f32, rows, next, H, n, rw, rw, rw)
		l.softmaxTile(s, p, scores)
		mlasimd.F32ToBF16DAZ(p.p16[:H*n], scores)
		mlasimd.BF16ToF32(scores, p.p16[:H*n])
		mlasimd.GemmNNAdd(s.ol, scores, rows, H, dc, n, n, rw)
	case st.dtype == BF16:
		rows := st.u16[lo:hi]
		scores := p.scores[:H*n]
		mlasimd.GemmNTBF16(scores, q.bf16, rows, H, n, rw, rw, rw)
		l.softmaxTile(s, p, scores)
		p16 := p.p16[:H*n]
		mlasimd.F32ToBF16DAZ(p16, scores)
		mlasimd.GemmNNAddBF16(s.ol, p16, rows, H, dc, n, n, rw)
	case st.dtype == FP8 && mlasimd.E4M3Native():
		// The rows' scales multiply the scores, and the probabilities before they
		// are rounded: Σ_j p_j·(d_j·e_j) = Σ_j (p_j·d_j)·e_j.
		rows, sc := st.f8[lo:hi], st.f8s[lo/rw:hi/rw]
		scores := p.scores[:H*n]
		mlasimd.GemmNTBF16E4M3(scores, q.bf16, rows, H, n, rw, rw, rw)
		scaleColumns(scores, sc)
		l.softmaxTile(s, p, scores)
		scaleColumns(scores, sc)
		p16 := p.p16[:H*n]
		mlasimd.F32ToBF16DAZ(p16, scores)
		mlasimd.GemmNNAddBF16E4M3(s.ol, p16, rows, H, dc, n, n, rw)
	case st.dtype == I8:
		// From the tile's first row on, the rows before j0 scored -Inf.
		j0 := lo / rw
		pad := j0 % mlasimd.I8TileRows
		tiles8, scales := st.i8View(j0-pad, j0+n)
		m := n + pad
		scores := p.scores[:H*m]
		mlasimd.AttnScoresI8(scores, q.i8, q.i8s, tiles8, scales, H, m, rw, dc)
		if pad > 0 {
			for h := range H {
				for j := range pad {
					scores[h*m+j] = float32(math.Inf(-1))
				}
			}
		}
		l.softmaxTile(s, p, scores)
		pq := p.pq[:H*mlasimd.I8ProbStride(m)]
		mlasimd.QuantizeProbsI8(pq, p.ps, scores, scales, H, m)
		mlasimd.AttnValuesI8(s.ol, pq, p.ps, tiles8, scales, H, m, dc, rw, dc)
	default:
		rows := st.get(lo, hi, p.rows)
		scores := p.scores[:H*n]
		mlasimd.GemmNTPrefetch(scores, q.f32, rows, next, H, n, rw, rw, rw)
		l.softmaxTile(s, p, scores)
		// ol += P (H x n) times the latent part of the rows (n x d_c, row stride d_c+d_r).
		mlasimd.GemmNNAdd(s.ol, scores, rows, H, dc, n, n, rw)
	}
}

// softmaxTile turns a tile's scores into weights against each head's running max
// (flash-style), rescaling ol where that max rose.
func (l *Layer) softmaxTile(s *onlineState, p *attnPart, scores []float32) {
	dc := l.cfg.KVLoRARank
	mlasimd.OnlineSoftmax(scores, l.scale, s.m, s.l, p.carry)
	for h, f := range p.carry {
		if f != 1 {
			scaleVec(s.ol[h*dc:(h+1)*dc], f)
		}
	}
}

// scaleColumns multiplies column j of the rows of x (len(x)/len(d) rows) by d[j].
func scaleColumns(x, d []float32) {
	n := len(d)
	for i := 0; i+n <= len(x); i += n {
		row := x[i : i+n]
		for j, v := range d {
			row[j] *= v
		}
	}
}
