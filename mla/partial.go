package mla

import (
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd"
)

// AttnState is one part of a decode step's attention, over some of a sequence's
// cached rows (context parallelism: the rows split over cores, sockets or machines).
// For each head h: M[h], the largest scaled score over the part's rows; L[h] =
// Σ_j e^{s_j - M[h]}; and the unnormalized latent output O[h·d_c:(h+1)·d_c] =
// Σ_j e^{s_j - M[h]}·c_j over the rows' latents c_j. A part without rows has M = -Inf,
// L = 0 and O = 0. Parts from anywhere merge exactly as the softmax's parts do
// (MergeAttnStates), and FinishAttention turns the merged state into the layer's
// output; the three values per head are all an engine needs to send.
type AttnState struct {
	M, L, O []float32
}

// NewAttnState returns a state sized for l's heads and latent width.
func (l *Layer) NewAttnState() *AttnState {
	H, dc := l.cfg.Heads, l.cfg.KVLoRARank
	return &AttnState{M: make([]float32, H), L: make([]float32, H), O: make([]float32, H*dc)}
}

func (l *Layer) checkState(st *AttnState) error {
	H, dc := l.cfg.Heads, l.cfg.KVLoRARank
	if st == nil || len(st.M) != H || len(st.L) != H || len(st.O) != H*dc {
		return fmt.Errorf("mla: AttnState sized for another layer, want %d heads of %d latent values: %w", H, dc, ErrShape)
	}
	return nil
}

// AttendPart runs the query of the token x at position pos over every row of c, one
// part of the sequence's cache (any range of positions before pos; c.Start() is its
// first), and writes the part's state to st. The part that holds the sequence's tail
// (c.Next() == pos) first appends the token's own row, as Decode does; the others
// leave c unchanged. On any error c keeps the rows it had. The layer must be
// Absorbable.
func (l *Layer) AttendPart(st *AttnState, x []float32, pos int, c *Cache) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	if err := l.checkState(st); err != nil {
		return err
	}
	if !l.cfg.Absorbable() {
		return fmt.Errorf("mla: AttendPart: config %q is not absorbable (RoPE after the up-projection): %w", l.cfg.Name, ErrConfig)
	}
	if len(x) != l.cfg.Hidden {
		return fmt.Errorf("mla: AttendPart: len(x) = %d, want hidden size %d: %w", len(x), l.cfg.Hidden, ErrShape)
	}
	if err := l.checkCache(c); err != nil {
		return err
	}
	if err := c.enter(); err != nil {
		return err
	}
	defer c.leave()
	if pos < c.Next() || pos >= MaxCachePositions {
		return fmt.Errorf("mla: AttendPart: position %d, want one from the part's end %d up to MaxCachePositions: %w", pos, c.Next(), ErrShape)
	}
	tail := pos == c.Next()
	if i := firstNonFinite(x, 1, l.cfg.Hidden); i >= 0 {
		return fmt.Errorf("mla: AttendPart: input (position %d) is not finite: %w", pos, ErrNonFinite)
	}
	if err := l.project(&l.proj, x, 1, pos, nil); err != nil {
		return err
	}
	n0 := c.Len()
	if tail {
		row := l.proj.rows[:l.cfg.CacheRowWidth()]
		if err := l.checkRows(row, 1, c); err != nil {
			return err
		}
		if err := c.append(row); err != nil {
			return err
		}
	}
	if err := l.attendPart(st, c); err != nil {
		_ = c.truncate(n0)
		return err
	}
	return nil
}

// attendPart is the absorbed attention over c's rows, its workers' parts merged
// into st.
func (l *Layer) attendPart(st *AttnState, c *Cache) error {
	d := l.dec
	workers := l.pool.Workers()
	H, dc := l.cfg.Heads, l.cfg.KVLoRARank
	for h := range H {
		st.M[h], st.L[h] = float32(math.Inf(-1)), 0
	}
	clear(st.O)
	s := c.Len()
	if s == 0 {
		return nil
	}
	if err := l.absorbQueries(c); err != nil {
		return err
	}
	d.attend.cache = c
	d.attend.parts = min(partsFor(s*H*(2*dc+l.cfg.QKRopeHeadDim), l.minWork, workers), max(1, s/(2*l.tile)))
	if err := l.pool.run(&d.attend, d.attend.parts); err != nil {
		return err
	}
	for _, s := range d.states[:d.attend.parts] {
		mergeInto(st, s.m, s.l, s.ol, dc)
	}
	return nil
}

// mergeInto adds the state (m, l, o) into st, rescaling whichever has the lower max.
func mergeInto(st *AttnState, m, l, o []float32, dc int) {
	for h := range st.M {
		if l[h] == 0 {
			continue
		}
		if st.L[h] == 0 {
			st.M[h], st.L[h] = m[h], l[h]
			copy(st.O[h*dc:(h+1)*dc], o[h*dc:(h+1)*dc])
			continue
		}
		top := max(st.M[h], m[h])
		a, b := float32(math.Exp(float64(st.M[h]-top))), float32(math.Exp(float64(m[h]-top)))
		st.M[h], st.L[h] = top, a*st.L[h]+b*l[h]
		so := st.O[h*dc : (h+1)*dc]
		if a != 1 {
			scaleVec(so, a)
		}
		mlasimd.Axpy(b, o[h*dc:(h+1)*dc], so)
	}
}

// MergeAttnStates writes to dst the state of all the parts' rows together: per head
// the largest M, and the others' L and O rescaled by e^{M_i - M} and summed (parts
// without rows count for nothing). dst may be one of the parts; no part may be given
// twice. It allocates nothing.
func MergeAttnStates(dst *AttnState, parts ...*AttnState) error {
	if dst == nil || len(dst.M) == 0 || len(dst.L) != len(dst.M) || len(dst.O)%len(dst.M) != 0 {
		return fmt.Errorf("mla: MergeAttnStates: destination not made by NewAttnState: %w", ErrShape)
	}
	H := len(dst.M)
	dc := len(dst.O) / H
	inParts := false
	for i, p := range parts {
		if p == nil || len(p.M) != H || len(p.L) != H || len(p.O) != H*dc {
			return fmt.Errorf("mla: MergeAttnStates: part %d is not sized like the destination (%d heads of %d): %w", i, H, dc, ErrShape)
		}
		for _, q := range parts[:i] {
			if p == q {
				return fmt.Errorf("mla: MergeAttnStates: part %d is given twice: %w", i, ErrShape)
			}
		}
		inParts = inParts || p == dst
	}
	if !inParts { // else dst already holds its own part
		for h := range H {
			dst.M[h], dst.L[h] = float32(math.Inf(-1)), 0
		}
		clear(dst.O)
	}
	for _, p := range parts {
		if p != dst {
			mergeInto(dst, p.M, p.L, p.O, dc)
		}
	}
	return nil
}

// FinishAttention writes the layer's output for the merged state st of all a
// token's rows: per head the latent output O/L, its value up-projection W_UV, then
// o_proj. A head without rows (L = 0) is an error.
func (l *Layer) FinishAttention(out []float32, st *AttnState) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	if err := l.checkState(st); err != nil {
		return err
	}
	if len(out) != l.cfg.Hidden {
		return fmt.Errorf("mla: FinishAttention: len(out) = %d, want hidden size %d: %w", len(out), l.cfg.Hidden, ErrShape)
	}
	c, d := &l.cfg, l.dec
	H, dc, dv := c.Heads, c.KVLoRARank, c.VHeadDim
	for h := range H {
		if !(st.L[h] > 0) || math.IsInf(float64(st.L[h]), 0) {
			return fmt.Errorf("mla: FinishAttention: head %d has normalizer %v: no rows attended, or a state not from AttendPart: %w", h, st.L[h], ErrShape)
		}
	}
	for h := range H {
		ol := d.ol[h*dc : (h+1)*dc]
		copy(ol, st.O[h*dc:(h+1)*dc])
		scaleVec(ol, 1/st.L[h])
		l.w.KVBProj.dotRows(d.o[h*dv:(h+1)*dv], ol, valueUpRow(*c, h), d.parts[0].rows)
	}
	d.out.reset()
	d.out.add(out, d.o, l.w.OProj, 1, c.Hidden, H*dv)
	return l.pool.run(&d.out, d.out.split(l.minWork, l.pool.Workers()))
}
