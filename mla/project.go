package mla

import "github.com/mlasimd/mlasimd"

// projection holds the per-token outputs of the projections for up to cap tokens.
type projection struct {
	qlat []float32 // t x d_q, the query latent (q LoRA only)
	q    []float32 // t x H·d_qk, queries after RoPE
	rows []float32 // t x (d_c+d_r), the new cache rows [c | kr]
	cos  []float32 // one position's cos table
	sin  []float32
	lin  linearTask
	cap  int
}

// alloc makes room for t tokens, or returns an error when a buffer for them would be
// too large.
func (p *projection) alloc(c Config, t int) error {
	if t <= p.cap {
		return nil
	}
	nq, err := allocSize("projection: queries", t, c.Heads, c.QKHeadDim())
	if err != nil {
		return err
	}
	nlat, err := allocSize("projection: query latents", t, c.QLoRARank)
	if err != nil {
		return err
	}
	nrows, err := allocSize("projection: cache rows", t, c.CacheRowWidth())
	if err != nil {
		return err
	}
	p.qlat = make([]float32, nlat)
	p.q = make([]float32, nq)
	p.rows = make([]float32, nrows)
	p.cos = make([]float32, max(c.ropeDim()/2, 1))
	p.sin = make([]float32, max(c.ropeDim()/2, 1))
	p.cap = t
	return nil
}

// project computes, for t tokens x at absolute positions pos0…, the queries (RoPE
// applied where the mode allows it before attention) and the cache rows: the
// normalized latent and the rotated shared rope key. A batch of
// tokens from different sequences gives their positions in pos instead (pos0 is then
// unused). It fails only when the pool is closed.
func (l *Layer) project(p *projection, x []float32, t, pos0 int, pos []int) error {
	c, w := &l.cfg, l.w
	D, H, dqk, dn, dc := c.Hidden, c.Heads, c.QKHeadDim(), c.QKNopeHeadDim, c.KVLoRARank
	rw := c.CacheRowWidth()
	q, rows := p.q[:t*H*dqk], p.rows[:t*rw]

	p.lin.reset()
	if c.QLoRARank > 0 {
		p.lin.add(p.qlat, x, w.QAProj, t, c.QLoRARank, D)
	} else {
		p.lin.add(q, x, w.QProj, t, H*dqk, D)
	}
	p.lin.add(rows, x, w.KVAProj, t, rw, D)
	if err := l.pool.run(&p.lin, p.lin.split(l.minWork, l.pool.Workers())); err != nil {
		return err
	}

	for i := range t {
		lat := rows[i*rw : i*rw+dc]
		if c.LatentNorm == LayerNormKind {
			mlasimd.LayerNorm(lat, lat, w.KVANorm, w.KVANormBias, l.eps)
		} else {
			mlasimd.RMSNorm(lat, lat, w.KVANorm, l.eps)
		}
	}
	if c.QLoRARank > 0 {
		for i := range t {
			ql := p.qlat[i*c.QLoRARank : (i+1)*c.QLoRARank]
			mlasimd.RMSNorm(ql, ql, w.QANorm, l.eps)
		}
		p.lin.reset()
		p.lin.add(q, p.qlat, w.QBProj, t, H*dqk, c.QLoRARank)
		if err := l.pool.run(&p.lin, p.lin.split(l.minWork, l.pool.Workers())); err != nil {
			return err
		}
	}

	if l.rot == nil {
		return nil
	}
	for i := range t {
		if pos != nil {
			l.rot.cosSin(pos[i], p.cos, p.sin)
		} else {
			l.rot.cosSin(pos0+i, p.cos, p.sin)
		}
		qi := q[i*H*dqk : (i+1)*H*dqk]
		switch c.RoPE {
		case RoPEDecoupled:
			l.rot.apply(rows[i*rw+dc:(i+1)*rw], p.cos, p.sin)
			for h := range H {
				l.rot.apply(qi[h*dqk+dn:(h+1)*dqk], p.cos, p.sin)
			}
		case RoPEAfterUp: // keys are rotated when decompressed
			for h := range H {
				l.rot.apply(qi[h*dqk:h*dqk+dn], p.cos, p.sin)
			}
		}
	}
	return nil
}
