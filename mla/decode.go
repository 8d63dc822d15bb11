package mla

import (
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd"
)

// decodeState is the scratch of one absorbed decode step, allocated once per Layer:
// nothing in it depends on the context length, so Decode never allocates.
type decodeState struct {
	qa  queries   // H x (d_c+d_r): absorbed queries [W_UK(h)ᵀ qn[h] | qr[h]]
	ol  []float32 // H x d_c: attention output in the latent space, merged over parts
	o   []float32 // H x d_v: per-head outputs after W_UV
	out linearTask

	parts  []attnPart    // one per worker: split-K over the cached rows
	states []onlineState // one per worker: its share's softmax state
	absorb absorbTask
	attend attendTask
	merge  mergeTask
}

// onlineState is the online softmax of all heads' queries over some cached rows.
type onlineState struct {
	m, l []float32 // H: running max and normalizer per head
	ol   []float32 // H x d_c: running Σ_j e^{s_j - m} c_j
}

func newOnlineState(heads, dc int) onlineState {
	return onlineState{m: make([]float32, heads), l: make([]float32, heads), ol: make([]float32, heads*dc)}
}

// reset empties the state: no rows seen.
func (s *onlineState) reset() {
	for h := range s.m {
		s.m[h], s.l[h] = float32(math.Inf(-1)), 0
	}
	clear(s.ol)
}

func newDecodeState(l *Layer) *decodeState {
	c := l.cfg
	H, dc, rw := c.Heads, c.KVLoRARank, c.CacheRowWidth()
	d := &decodeState{qa: newQueries(1, H, rw), ol: make([]float32, H*dc), o: make([]float32, H*c.VHeadDim)}
	d.parts = make([]attnPart, l.pool.Workers())
	for i := range d.parts {
		d.states = append(d.states, newOnlineState(H, dc))
		d.parts[i] = newAttnPart(H, l.tile, rw)
	}
	d.absorb.l, d.attend.l, d.merge.l = l, l, l
	return d
}

// checkStep validates one token's input and output against the layer.
func (l *Layer) checkStep(out, x []float32, c *Cache) error {
	if len(x) != l.cfg.Hidden || len(out) != l.cfg.Hidden {
		return fmt.Errorf("mla: decode: len(x) = %d and len(out) = %d, want hidden size %d: %w", len(x), len(out), l.cfg.Hidden, ErrShape)
	}
	return l.checkCache(c)
}

// Decode runs one new token x (the input_layernorm output, D values) at position
// c.Next() through the attention with weight absorption, appends its row to c, and
// writes the attention output (before the residual add) to out.
//
// Per step: the projections; ql[h] = W_UK(h)ᵀ qn[h] per head; then, over tiles of
// cached rows split among the workers, scores = Qa·Rowsᵀ (GemmNT, each row read once
// for all heads), an online softmax (OnlineSoftmax), and ol += Σ p·c (GemmNNAdd on the
// latent part of the same rows); the parts merge by their maxima; o[h] = W_UV(h)·ol[h]; out = W_O·o. The cache
// is never up-projected.
//
// When the Config is not Absorbable (RoPE after the up-projection) Decode runs
// DecodeNaive. It allocates nothing unless the cache must grow (give it Capacity).
// An x or a cache row that is not finite is an error; on any error c keeps the rows
// it had.
func (l *Layer) Decode(out, x []float32, c *Cache) error {
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
	return l.decode(out, x, c)
}

// decode is Decode on a checked step, with the Layer and c held by the caller.
func (l *Layer) decode(out, x []float32, c *Cache) error {
	if !l.cfg.Absorbable() {
		return l.prefill(out, x, c)
	}
	if err := l.checkInput(x, 1, c); err != nil {
		return err
	}
	if err := l.project(&l.proj, x, 1, c.Next(), nil); err != nil {
		return err
	}
	row := l.proj.rows[:l.cfg.CacheRowWidth()]
	if err := l.checkRows(row, 1, c); err != nil {
		return err
	}
	n0 := c.Len()
	if err := c.append(row); err != nil {
		return err
	}
	if err := l.attendAbsorbed(out, c); err != nil {
		_ = c.truncate(n0)
		return err
	}
	return nil
}

// checkInput returns an error when t tokens x do not fit c or one is not finite:
// one NaN would reach every later output through the cache.
func (l *Layer) checkInput(x []float32, t int, c latentRows) error {
	if err := c.room(t); err != nil {
		return err
	}
	if i := firstNonFinite(x, t, l.cfg.Hidden); i >= 0 {
		return fmt.Errorf("mla: input of token %d (position %d) is not finite: %w", i, c.Next()+i, ErrNonFinite)
	}
	return nil
}

// checkRows refuses t projected cache rows when one is not finite (finite inputs can
// give one through weights that are not, or overflow).
func (l *Layer) checkRows(rows []float32, t int, c latentRows) error {
	if i := firstNonFinite(rows, t, l.cfg.CacheRowWidth()); i >= 0 {
		return fmt.Errorf("mla: cache row of token %d (position %d) is not finite; check the weights: %w", i, c.Next()+i, ErrNonFinite)
	}
	return nil
}

// attendAbsorbed is the attention of the token whose row c ends with; it writes the
// output projection to out.
func (l *Layer) attendAbsorbed(out []float32, c *Cache) error {
	d := l.dec
	workers := l.pool.Workers()
	H, dc := l.cfg.Heads, l.cfg.KVLoRARank
	if err := l.absorbQueries(c); err != nil {
		return err
	}

	// Split the rows so that each part gets at least two tiles' worth of work.
	s := c.Len()
	rowWork := H * (2*dc + l.cfg.QKRopeHeadDim)
	d.attend.cache = c
	d.attend.parts = min(partsFor(s*rowWork, l.minWork, workers), max(1, s/(2*l.tile)))
	if err := l.pool.run(&d.attend, d.attend.parts); err != nil {
		return err
	}
	if err := l.pool.run(&d.merge, partsFor(H*l.cfg.VHeadDim*dc, l.minWork, workers)); err != nil {
		return err
	}
	d.out.reset()
	d.out.add(out, d.o, l.w.OProj, 1, l.cfg.Hidden, H*l.cfg.VHeadDim)
	return l.pool.run(&d.out, d.out.split(l.minWork, workers))
}

// absorbTask maps each head's non-rotary query into the latent space: ql[h] =
// W_UK(h)ᵀ qn[h] over the head's contiguous d_n x d_c block of kv_b_proj, and places
// the rotated rope query after it, forming Qa[h] = [ql[h] | qr[h]].
//
// The block comes from DRAM every step. It is summed row by row (an Axpy per row),
// one sequential stream that the hardware prefetchers follow, which reads these
// blocks faster than GemvT's column strips do (README, Results); other formats run
// their GemvT kernels, which sum the rows in the same order.
type absorbTask struct{ l *Layer }

func (t *absorbTask) run(part, parts int) {
	l := t.l
	c := &l.cfg
	dqk, dn, dc, rw := c.QKHeadDim(), c.QKNopeHeadDim, c.KVLoRARank, c.CacheRowWidth()
	q, qa := l.proj.q, l.dec.qa.f32
	h0, h1 := span(c.Heads, part, parts, 1)
	for h := h0; h < h1; h++ {
		// The attention parts' row tiles are free until the attention runs.
		l.w.KVBProj.gemvT(qa[h*rw:h*rw+dc], q[h*dqk:h*dqk+dn], keyUpRow(*c, h), l.dec.parts[part].rows)
		copy(qa[h*rw+dc:(h+1)*rw], q[h*dqk+dn:(h+1)*dqk])
	}
}

// absorbQueries forms the step's absorbed queries and rounds them to c's arithmetic.
func (l *Layer) absorbQueries(c *Cache) error {
	H, dn, dc := l.cfg.Heads, l.cfg.QKNopeHeadDim, l.cfg.KVLoRARank
	if err := l.pool.run(&l.dec.absorb, partsFor(H*dn*dc, l.minWork, l.pool.Workers())); err != nil {
		return err
	}
	return l.roundQueries(&l.dec.qa, c.dtype, 1)
}

// attendTask is the split-K attention over the latent cache: part i takes a
// contiguous range of rows and keeps its own online-softmax state.
type attendTask struct {
	l     *Layer
	cache *Cache
	parts int
}

func (t *attendTask) run(part, parts int) {
	l, k := t.l, t.cache
	p, s := &l.dec.parts[part], &l.dec.states[part]
	s.reset()
	r0, r1 := span(k.Len(), part, parts, l.tile)
	for j0 := r0; j0 < r1; j0 += l.tile {
		j1 := min(j0+l.tile, r1)
		// The next tile's storage streams in while this one is scored.
		l.foldTile(s, p, l.dec.qa, &k.rowStore, j0*k.width, j1*k.width, k.storage(j1, min(j1+l.tile, r1)))
	}
}

// mergeTask combines the parts' states per head (weights e^{m_i - M}/L), then applies
// the value up-projection: o[h] = W_UV(h)·ol[h], d_v dot products over d_c, one Dot
// per row so that the block streams in order (see absorbTask).
type mergeTask struct{ l *Layer }

func (t *mergeTask) run(part, parts int) {
	l := t.l
	c := &l.cfg
	d := l.dec
	dc, dv := c.KVLoRARank, c.VHeadDim
	h0, h1 := span(c.Heads, part, parts, 1)
	for h := h0; h < h1; h++ {
		ol := d.ol[h*dc : (h+1)*dc]
		mergeHead(ol, d.states[:d.attend.parts], h, dc)
		l.w.KVBProj.dotRows(d.o[h*dv:(h+1)*dv], ol, valueUpRow(*c, h), d.parts[part].rows)
	}
}

// mergeHead writes to ol head h's output of the states merged: their ol weighted
// by e^{m_i - M}/L (M the largest max, L the merged normalizer).
func mergeHead(ol []float32, states []onlineState, h, dc int) {
	m := float32(math.Inf(-1))
	for i := range states {
		m = max(m, states[i].m[h])
	}
	var sum float64
	for i := range states {
		sum += float64(states[i].l[h]) * math.Exp(float64(states[i].m[h]-m))
	}
	clear(ol)
	for i := range states {
		wgt := float32(math.Exp(float64(states[i].m[h]-m)) / sum)
		mlasimd.Axpy(wgt, states[i].ol[h*dc:(h+1)*dc], ol)
	}
}

// scaleVec multiplies x by f: an output row (d_c or d_v values per query) when its
// running max rises, or at the end by 1/l; never a cached row.
func scaleVec(x []float32, f float32) {
	for i := range x {
		x[i] *= f
	}
}
