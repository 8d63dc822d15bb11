package mla

import (
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd"
)

// prefillState is the scratch of Prefill and DecodeNaive; it grows with the number
// of new tokens, never with the context.
type prefillState struct {
	o     []float32 // T x H·d_v, unnormalized per-head outputs
	m, l  []float32 // H x T online-softmax state, head-major: a head's tokens are contiguous
	out   linearTask
	parts []naivePart
	task  naiveTask
	t     int // tokens the per-token buffers hold
}

// naivePart is one worker's scratch: it owns a set of heads and decompresses their
// keys and values chunk by chunk.
type naivePart struct {
	kv       []float32 // chunk x nh·(d_n+d_v): decompressed [k_nope | v] of the part's nh heads
	wkv      []float32 // (d_n+d_v) x d_c: one head's kv_b_proj rows widened, unless F32
	rows     []float32 // chunk x (d_c+d_r): widened rows of a 16-bit cache
	sc, sc2  []float32 // qBlock x chunk scores
	tmp      []float32 // qBlock x d_v
	carry    []float32 // qBlock: see mlasimd.OnlineSoftmax
	cos, sin []float32 // rope tables for RoPE after the up-projection
}

// preparePrefill sizes the scratch for t new tokens, or returns an error when it
// would be too large.
func (l *Layer) preparePrefill(t int) (*prefillState, error) {
	c := l.cfg
	H, dv := c.Heads, c.VHeadDim
	ps := &l.pre
	if err := l.proj.alloc(c, t); err != nil {
		return nil, err
	}
	if t > ps.t {
		no, err := allocSize("prefill outputs", t, H, dv)
		if err != nil {
			return nil, err
		}
		ps.o = make([]float32, no)
		ps.m = make([]float32, t*H) // t·H <= t·H·d_v
		ps.l = make([]float32, t*H)
		ps.t = t
	}
	if ps.parts == nil { // sizes checked by NewLayer
		ps.parts = make([]naivePart, l.pool.Workers())
		for i := range ps.parts {
			ps.parts[i] = naivePart{
				rows: make([]float32, l.chunk*c.CacheRowWidth()),
				sc:   make([]float32, l.qBlock*l.chunk), sc2: make([]float32, l.qBlock*l.chunk),
				tmp: make([]float32, l.qBlock*dv), carry: make([]float32, l.qBlock),
				cos: make([]float32, max(c.ropeDim()/2, 1)), sin: make([]float32, max(c.ropeDim()/2, 1)),
			}
		}
		ps.task.l = l
	}
	return ps, nil
}

// Prefill runs T = len(x)/D new tokens (rows of x, input_layernorm outputs) at
// positions c.Next(), c.Next()+1, … causally: it appends their rows to c, then token t
// attends to every earlier cached row and to new rows 0…t (the mask is aligned to
// the bottom right, so a cache that already holds P rows gives chunked prefill).
// out receives T rows of D.
//
// It uses the decompressed algorithm (cheaper than absorption when many tokens come
// at once: each cached row is decompressed once for all of them), over chunks of cached rows so that the decompressed keys and
// values never exceed chunk x H x (d_n+d_v) values; heads are split among workers.
// An x or a cache row that is not finite is an error; on any error c keeps the rows
// it had.
func (l *Layer) Prefill(out, x []float32, c *Cache) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	D := l.cfg.Hidden
	if len(x) == 0 || len(x)%D != 0 || len(out) != len(x) {
		return fmt.Errorf("mla: prefill: len(x) = %d and len(out) = %d, want the same positive multiple of hidden size %d: %w", len(x), len(out), D, ErrShape)
	}
	if err := l.checkCache(c); err != nil {
		return err
	}
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	return l.prefill(out, x, c)
}

// prefill is Prefill on checked shapes, with the Layer and c held by the caller.
func (l *Layer) prefill(out, x []float32, c latentRows) error {
	D, rw := l.cfg.Hidden, l.cfg.CacheRowWidth()
	t := len(x) / D
	if err := l.checkInput(x, t, c); err != nil {
		return err
	}
	ps, err := l.preparePrefill(t)
	if err != nil {
		return err
	}
	if err := l.project(&l.proj, x, t, c.Next(), nil); err != nil {
		return err
	}
	rows := l.proj.rows[:t*rw]
	if err := l.checkRows(rows, t, c); err != nil {
		return err
	}
	p0 := c.Len()
	if err := c.append(rows); err != nil {
		return err
	}
	if err := l.attendDecompressed(ps, c, p0, t); err != nil {
		_ = c.truncate(p0)
		return err
	}
	ps.out.reset()
	ps.out.add(out, ps.o, l.w.OProj, t, D, l.cfg.Heads*l.cfg.VHeadDim)
	if err := l.pool.run(&ps.out, ps.out.split(l.minWork, l.pool.Workers())); err != nil {
		_ = c.truncate(p0)
		return err
	}
	return nil
}

// DecodeNaive is the reference decode: one token through Prefill's decompressed
// path, which up-projects every cached latent for every head each step (cost ∝ S·H·
// d_c·(d_n+d_v)). Decode must agree with it to rounding.
func (l *Layer) DecodeNaive(out, x []float32, c *Cache) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	if err := l.checkStep(out, x, c); err != nil {
		return err
	}
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	return l.prefill(out, x, c)
}

// attendDecompressed fills ps.o with the normalized attention outputs of the t new
// tokens, whose rows start at cache index p0.
func (l *Layer) attendDecompressed(ps *prefillState, c latentRows, p0, t int) error {
	H, dv := l.cfg.Heads, l.cfg.VHeadDim
	o := ps.o[:t*H*dv]
	clear(o)
	for i := range t * H {
		ps.m[i], ps.l[i] = float32(math.Inf(-1)), 0
	}
	ps.task.cache, ps.task.p0, ps.task.t = c, p0, t
	work := c.Len() * H * l.cfg.KVLoRARank * (l.cfg.QKNopeHeadDim + dv)
	if err := l.pool.run(&ps.task, min(H, partsFor(work, l.minWork, l.pool.Workers()))); err != nil {
		return err
	}
	for tok := range t {
		for h := range H {
			i := tok*H + h
			scaleVec(o[i*dv:(i+1)*dv], 1/ps.l[h*t+tok])
		}
	}
	return nil
}

// naiveTask: part i owns heads span(H, i, parts) and walks all chunks of cached rows.
type naiveTask struct {
	l     *Layer
	cache latentRows
	p0, t int
}

func (nt *naiveTask) run(part, parts int) {
	l, k := nt.l, nt.cache
	c := &l.cfg
	dc, kvw := c.KVLoRARank, c.QKNopeHeadDim+c.VHeadDim
	p := &l.pre.parts[part]
	h0, h1 := span(c.Heads, part, parts, 1)
	nh := h1 - h0
	if nh == 0 {
		return
	}
	// One GemmNT decompresses a group of heads. Float32 kv_b rows are used in place,
	// all the part's heads at once; other formats are widened one head at a time
	// (d_n+d_v rows, 512 KiB for V2/V3) for every chunk, which costs about 1/nc of
	// the GEMM and keeps no float32 copy of kv_b.
	group := nh
	if l.w.KVBProj.Format() != FormatF32 {
		group = 1
		if len(p.wkv) < kvw*dc {
			p.wkv = make([]float32, kvw*dc)
		}
	}
	if len(p.kv) < l.chunk*nh*kvw { // sized for this split; kept for the next call
		p.kv = make([]float32, l.chunk*nh*kvw)
	}
	s := k.Len()
	for j0 := 0; j0 < s; j0 += l.chunk {
		j1 := min(j0+l.chunk, s)
		nc := j1 - j0
		tFirst := max(0, j0-nt.p0) // the first new token that sees key j0
		rows := k.rows(j0, j1, p.rows)
		for g0 := h0; g0 < h1; g0 += group {
			g1 := min(g0+group, h1)
			nt.decompress(p, rows, g0, g1, j0, nc)
			nt.attendHeads(p, rows, g0, g1, j0, j1, tFirst)
		}
	}
}

// decompress writes, for heads [g0, g1) and the nc cached rows starting at j0, the
// keys and values [k_nope | v] = kv_b·c to p.kv (nc x (g1-g0)·(d_n+d_v)), with RoPE
// applied to the keys when the layout rotates after the up-projection.
func (nt *naiveTask) decompress(p *naivePart, rows []float32, g0, g1, j0, nc int) {
	l, k := nt.l, nt.cache
	c := &l.cfg
	dn, dc, rw, kvw := c.QKNopeHeadDim, c.KVLoRARank, c.CacheRowWidth(), c.QKNopeHeadDim+c.VHeadDim
	ng := g1 - g0
	wkv := l.w.KVBProj.f32
	if l.w.KVBProj.Format() == FormatF32 {
		wkv = wkv[g0*kvw*dc : g1*kvw*dc]
	} else {
		wkv = p.wkv[:ng*kvw*dc]
		l.w.KVBProj.widenRows(wkv, g0*kvw, g1*kvw)
	}
	kv := p.kv[:nc*ng*kvw]
	mlasimd.GemmNT(kv, rows, wkv, nc, ng*kvw, dc, rw, dc)
	if c.RoPE == RoPEAfterUp {
		for r := range nc {
			l.rot.cosSin(k.Start()+j0+r, p.cos, p.sin)
			for hh := range ng {
				off := r*ng*kvw + hh*kvw
				l.rot.apply(kv[off:off+dn], p.cos, p.sin)
			}
		}
	}
}

// attendHeads runs heads [g0, g1) of the new tokens over the chunk of cached rows
// [j0, j1) that decompress left in p.kv: scores, causal mask, online softmax and
// the weighted sum of the values.
func (nt *naiveTask) attendHeads(p *naivePart, rows []float32, g0, g1, j0, j1, tFirst int) {
	l := nt.l
	c := &l.cfg
	H, dn, dr, dv, dc := c.Heads, c.QKNopeHeadDim, c.QKRopeHeadDim, c.VHeadDim, c.KVLoRARank
	dqk, rw, kvw := c.QKHeadDim(), c.CacheRowWidth(), dn+dv
	qs := H * dqk // query row stride
	ps := &l.pre
	q := l.proj.q
	nc, ld := j1-j0, (g1-g0)*kvw
	kv := p.kv[:nc*ld]
	for h := g0; h < g1; h++ {
		hh := h - g0
		for t0 := tFirst; t0 < nt.t; t0 += l.qBlock {
			t1 := min(t0+l.qBlock, nt.t)
			nq := t1 - t0
			sc := p.sc[:nq*nc]
			qh := q[t0*qs+h*dqk:]
			mlasimd.GemmNT(sc, qh, kv[hh*kvw:], nq, nc, dn, qs, ld)
			if dr > 0 { // the shared rope key: same rows for every head
				sc2 := p.sc2[:nq*nc]
				mlasimd.GemmNT(sc2, qh[dn:], rows[dc:], nq, nc, dr, qs, rw)
				mlasimd.Axpy(1, sc2, sc)
			}
			for i := range nq {
				// New token t0+i is cache row p0+t0+i and sees keys up to it.
				last := nt.p0 + t0 + i
				if last < j1-1 {
					row := sc[i*nc : (i+1)*nc]
					for j := last + 1 - j0; j < nc; j++ {
						row[j] = float32(math.Inf(-1))
					}
				}
			}
			// The states of head h are contiguous over the new tokens.
			st := h*nt.t + t0
			carry := p.carry[:nq]
			mlasimd.OnlineSoftmax(sc, l.scale, ps.m[st:st+nq], ps.l[st:st+nq], carry)
			tmp := p.tmp[:nq*dv]
			mlasimd.GemmNN(tmp, sc, kv[hh*kvw+dn:], nq, dv, nc, nc, ld)
			for i := range nq {
				o := ps.o[((t0+i)*H+h)*dv:][:dv]
				if carry[i] != 1 {
					scaleVec(o, carry[i])
				}
				mlasimd.Axpy(1, tmp[i*dv:(i+1)*dv], o)
			}
		}
	}
}
