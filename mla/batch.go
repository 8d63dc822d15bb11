package mla

import (
	"fmt"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/checked"
)

// batchState is the scratch of DecodeBatch, sized for the largest batch seen: it
// grows with the batch, never with the sequences' lengths.
type batchState struct {
	b       int           // tokens the buffers hold
	pos     []int         // B: each token's position
	n0      []int         // B: each sequence's rows before the step
	qa      queries       // B x H x (d_c+d_r): absorbed queries, token-major
	ol      []float32     // H x B x d_c: merged latent outputs, head-major
	o       []float32     // B x H·d_v: per-head outputs, token-major (o_proj's input)
	segs    []attnSeg     // the step's row ranges, ordered by part and by sequence
	states  []onlineState // one per segment
	partSeg []int         // part i folds segs[partSeg[i]:partSeg[i+1]]
	seqSeg  []int         // sequence b's segments are segs[seqSeg[b]:seqSeg[b+1]]
	scratch [][]float32   // per worker: widened kv_b rows (unless F32), then B x max(d_c, d_v)
	seqs    []*Sequence   // the step's sequences, only during the step

	absorb batchAbsorbTask
	attend batchAttendTask
	merge  batchMergeTask
	out    linearTask
}

// attnSeg is rows [r0, r1) of the step's sequence seq, folded by one part.
type attnSeg struct{ seq, r0, r1 int }

// DecodeBatch runs one new token for each of B sequences: x holds B rows of D (the
// input_layernorm outputs), token i at position seqs[i].Next(); it appends each
// token's latent row to its sequence and writes B rows of attention output to out.
// The sequences may have any lengths (0 included) and must all live in one
// PagedCache made for this layer's geometry; a sequence may appear only once.
//
// Each projection runs once over the B tokens (every weight row is read once per
// step, in every weight format); the absorbed attention then runs per sequence over
// its pages, each cached row read once for all heads as in Decode, with the rows of
// all sequences split evenly among the workers so that one long sequence does not
// leave them idle; the parts merge by their softmax maxima. It allocates nothing
// once the batch size and the sequences' page tables have been seen (Sequence.Reserve).
//
// The Config must be Absorbable. An input or projected row that is not finite, a
// pool without the pages the step needs (ErrCacheFull) and every other error leave
// every sequence as it was.
func (l *Layer) DecodeBatch(out, x []float32, seqs []*Sequence) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	B, D := len(seqs), l.cfg.Hidden
	if n, ok := checked.Mul(B, D); B == 0 || !ok || len(x) != n || len(out) != n {
		return fmt.Errorf("mla: DecodeBatch: %d sequences, len(x) = %d and len(out) = %d: want at least one sequence and %d x hidden size %d values each: %w", B, len(x), len(out), B, D, ErrShape)
	}
	if !l.cfg.Absorbable() {
		return fmt.Errorf("mla: DecodeBatch: config %q applies RoPE after the up-projection, which has no absorbed decode; use Decode per sequence: %w", l.cfg.Name, ErrConfig)
	}
	pc, err := l.holdSequences("DecodeBatch", seqs)
	if err != nil {
		return err
	}
	defer pc.leave()
	return l.decodeBatch(out, x, pc, seqs)
}

// holdSequences checks that the sequences are live, distinct and in one pool of this
// layer's geometry, and holds that pool; the caller must release it. op names the
// caller in errors.
func (l *Layer) holdSequences(op string, seqs []*Sequence) (*PagedCache, error) {
	for i, s := range seqs {
		if s == nil {
			return nil, fmt.Errorf("mla: %s: sequence %d is nil: %w", op, i, ErrShape)
		}
	}
	pc := seqs[0].pc
	if err := pc.enter(); err != nil {
		return nil, err
	}
	if err := l.checkPaged(pc); err != nil {
		pc.leave()
		return nil, fmt.Errorf("mla: %s: %w", op, err)
	}
	pc.step++
	for i, s := range seqs {
		var err error
		switch {
		case s.pc != pc:
			err = fmt.Errorf("mla: %s: sequence %d is in another PagedCache than sequence 0: %w", op, i, ErrShape)
		case s.freed:
			err = fmt.Errorf("mla: %s: sequence %d: %w", op, i, errSeqFreed)
		case s.mark == pc.step:
			err = fmt.Errorf("mla: %s: sequence %d appears twice: %w", op, i, ErrShape)
		}
		if err != nil {
			pc.leave()
			return nil, err
		}
		s.mark = pc.step
	}
	return pc, nil
}

// decodeBatch is DecodeBatch on checked arguments, with the Layer and pool held.
func (l *Layer) decodeBatch(out, x []float32, pc *PagedCache, seqs []*Sequence) error {
	c := &l.cfg
	B, D, rw := len(seqs), c.Hidden, c.CacheRowWidth()
	bs, err := l.batchFor(B)
	if err != nil {
		return err
	}
	need := 0
	for i, s := range seqs {
		if s.Next() >= MaxCachePositions {
			return fmt.Errorf("mla: DecodeBatch: sequence %d is at position %d, the last MaxCachePositions allows: %w", i, s.Next(), ErrCacheFull)
		}
		need += s.newPages(1)
		bs.pos[i], bs.n0[i] = s.Next(), s.n
	}
	if need > len(pc.free) {
		return fmt.Errorf("mla: DecodeBatch: the step needs %d pages, %d of %d are free: %w", need, len(pc.free), pc.pages, ErrCacheFull)
	}
	if i := firstNonFinite(x, B, D); i >= 0 {
		return fmt.Errorf("mla: DecodeBatch: input of sequence %d (position %d) is not finite: %w", i, bs.pos[i], ErrNonFinite)
	}
	if err := l.project(&l.proj, x, B, 0, bs.pos[:B]); err != nil {
		return err
	}
	rows := l.proj.rows[:B*rw]
	if i := firstNonFinite(rows, B, rw); i >= 0 {
		return fmt.Errorf("mla: DecodeBatch: cache row of sequence %d (position %d) is not finite; check the weights: %w", i, bs.pos[i], ErrNonFinite)
	}
	for i, s := range seqs {
		_ = s.append(rows[i*rw : (i+1)*rw]) // fits: the pages were counted above
	}
	bs.seqs = seqs
	err = l.attendBatch(out, pc, bs)
	bs.seqs = nil
	if err != nil {
		for i, s := range seqs {
			_ = s.truncate(bs.n0[i])
		}
	}
	return err
}

// batchFor returns the batch scratch, grown for B tokens.
func (l *Layer) batchFor(B int) (*batchState, error) {
	c := &l.cfg
	if err := l.proj.alloc(*c, B); err != nil {
		return nil, err
	}
	if l.bat == nil {
		l.bat = &batchState{}
		l.bat.absorb.l, l.bat.attend.l, l.bat.merge.l = l, l, l
	}
	bs := l.bat
	if B <= bs.b {
		return bs, nil
	}
	H, dn, dc, dv, rw := c.Heads, c.QKNopeHeadDim, c.KVLoRARank, c.VHeadDim, c.CacheRowWidth()
	workers := l.pool.Workers()
	_, err1 := allocSize("DecodeBatch queries", B, H, rw)
	nol, err2 := allocSize("DecodeBatch latent outputs", H, B, dc)
	no, err3 := allocSize("DecodeBatch outputs", B, H, dv)
	nprod, err4 := allocSize("DecodeBatch head products", B, max(dc, dv))
	nsegs, err5 := allocSize("DecodeBatch segments", B+workers)
	_, err6 := allocSize("DecodeBatch softmax states", B+workers, H, dc+2)
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err != nil {
			return nil, err
		}
	}
	nw := 0 // widened rows of one head's W_UK or W_UV
	if l.w.KVBProj.Format() != FormatF32 {
		nw = max(dn, dv) * dc // within kv_b's checked size
	}
	bs.pos, bs.n0 = make([]int, B), make([]int, B)
	bs.qa, bs.ol, bs.o = newQueries(B, H, rw), make([]float32, nol), make([]float32, no)
	bs.segs, bs.partSeg, bs.seqSeg = make([]attnSeg, 0, nsegs), make([]int, 0, workers+1), make([]int, B+1)
	for len(bs.states) < nsegs {
		bs.states = append(bs.states, newOnlineState(H, dc))
	}
	bs.scratch = make([][]float32, workers)
	for i := range bs.scratch {
		bs.scratch[i] = make([]float32, nw+nprod)
	}
	bs.b = B
	return bs, nil
}

// attendBatch is the absorbed attention of the step's B tokens, whose rows their
// sequences end with, and the output projection.
func (l *Layer) attendBatch(out []float32, pc *PagedCache, bs *batchState) error {
	c := &l.cfg
	B, H, dn, dc, dv := len(bs.seqs), c.Heads, c.QKNopeHeadDim, c.KVLoRARank, c.VHeadDim
	workers := l.pool.Workers()
	if err := l.pool.run(&bs.absorb, partsFor(B*H*dn*dc, l.minWork, workers)); err != nil {
		return err
	}
	if err := l.roundQueries(&bs.qa, pc.dtype, B); err != nil {
		return err
	}
	total := 0
	for _, s := range bs.seqs {
		total += s.n // at most the pool's rows: the sum fits
	}
	// Each part gets at least two tiles' worth of rows, from any sequences.
	rowWork := H * (2*dc + c.QKRopeHeadDim)
	parts := min(partsFor(total*rowWork, l.minWork, workers), max(1, total/(2*l.tile)), workers)
	bs.plan(parts, total, l.tile)
	bs.attend.pc = pc
	if err := l.pool.run(&bs.attend, parts); err != nil {
		return err
	}
	if err := l.pool.run(&bs.merge, partsFor(B*H*dv*dc, l.minWork, workers)); err != nil {
		return err
	}
	bs.out.reset()
	bs.out.add(out, bs.o, l.w.OProj, B, c.Hidden, H*dv)
	return l.pool.run(&bs.out, bs.out.split(l.minWork, workers))
}

// plan splits the total rows of the step's sequences, taken one after another, into
// parts contiguous ranges, and cuts each range at the sequences' ends into segments.
func (bs *batchState) plan(parts, total, tile int) {
	seqs := bs.seqs
	bs.segs, bs.partSeg = bs.segs[:0], bs.partSeg[:0]
	b, off := 0, 0 // sequence b's rows start at off
	for p := range parts {
		lo, hi := span(total, p, parts, tile)
		bs.partSeg = append(bs.partSeg, len(bs.segs))
		for lo < hi {
			for off+seqs[b].n <= lo {
				off += seqs[b].n
				b++
			}
			e := min(hi, off+seqs[b].n)
			bs.segs = append(bs.segs, attnSeg{seq: b, r0: lo - off, r1: e - off})
			lo = e
		}
	}
	bs.partSeg = append(bs.partSeg, len(bs.segs))
	// Segments are in sequence order; every sequence has a row, so at least one.
	k := 0
	for b := range seqs {
		bs.seqSeg[b] = k
		for k < len(bs.segs) && bs.segs[k].seq == b {
			k++
		}
	}
	bs.seqSeg[len(seqs)] = k
}

// headRows returns rows [r0, r0+n) of kv_b_proj as float32: a view of F32 weights,
// or the rows widened into scratch.
func (l *Layer) headRows(r0, n int, scratch []float32) []float32 {
	w, dc := l.w.KVBProj, l.cfg.KVLoRARank
	if w.Format() == FormatF32 {
		return w.f32[r0*dc : (r0+n)*dc]
	}
	w.widenRows(scratch[:n*dc], r0, r0+n)
	return scratch[:n*dc]
}

// batchAbsorbTask forms every token's absorbed queries Qa[b][h] = [W_UK(h)ᵀ qn[b][h] |
// qr[b][h]]: per head one GemmNN of the B tokens' qn against the head's d_n x d_c
// block, which is read (or widened) once for the batch.
type batchAbsorbTask struct{ l *Layer }

func (t *batchAbsorbTask) run(part, parts int) {
	l := t.l
	c := &l.cfg
	bs := l.bat
	B, H, dqk, dn, dc, rw := len(bs.seqs), c.Heads, c.QKHeadDim(), c.QKNopeHeadDim, c.KVLoRARank, c.CacheRowWidth()
	sc := bs.scratch[part]
	prod := sc[len(sc)-B*dc:]
	h0, h1 := span(H, part, parts, 1)
	for h := h0; h < h1; h++ {
		if B == 1 { // a GEMV, summed row by row as Decode's absorbTask does
			qa := bs.qa.f32[h*rw : (h+1)*rw]
			l.w.KVBProj.gemvT(qa[:dc], l.proj.q[h*dqk:h*dqk+dn], keyUpRow(*c, h), sc)
			copy(qa[dc:], l.proj.q[h*dqk+dn:(h+1)*dqk])
			continue
		}
		wk := l.headRows(keyUpRow(*c, h), dn, sc)
		mlasimd.GemmNN(prod, l.proj.q[h*dqk:], wk, B, dc, dn, H*dqk, dc)
		for b := range B {
			qa := bs.qa.f32[(b*H+h)*rw : (b*H+h+1)*rw]
			copy(qa[:dc], prod[b*dc:(b+1)*dc])
			copy(qa[dc:], l.proj.q[b*H*dqk+h*dqk+dn:b*H*dqk+(h+1)*dqk])
		}
	}
}

// batchAttendTask folds each part's segments of cached rows, tile by tile within a
// page, into the segment's online-softmax state.
type batchAttendTask struct {
	l  *Layer
	pc *PagedCache
}

func (t *batchAttendTask) run(part, parts int) {
	l, pc := t.l, t.pc
	c := &l.cfg
	bs := l.bat
	H, rw := c.Heads, c.CacheRowWidth()
	p := &l.dec.parts[part]
	for k := bs.partSeg[part]; k < bs.partSeg[part+1]; k++ {
		sg := bs.segs[k]
		s, st := bs.seqs[sg.seq], &bs.states[k]
		qa := bs.qa.token(sg.seq, H, rw)
		st.reset()
		for j0 := sg.r0; j0 < sg.r1; {
			j1 := min(j0+l.tile, sg.r1, s.pageEnd(j0))
			lo, hi := s.elems(j0, j1)
			var next []float32 // the following tile streams in while this one is scored
			if j1 < sg.r1 {
				nlo, nhi := s.elems(j1, min(j1+l.tile, sg.r1, s.pageEnd(j1)))
				next = pc.raw(nlo, nhi)
			}
			l.foldTile(st, p, qa, &pc.rowStore, lo, hi, next)
			j0 = j1
		}
	}
}

// batchMergeTask merges, per head, each sequence's segment states into its latent
// output, then applies the value up-projection to all B tokens at once: one GemmNT
// of the head's d_v x d_c block of kv_b_proj, read once for the batch.
type batchMergeTask struct{ l *Layer }

func (t *batchMergeTask) run(part, parts int) {
	l := t.l
	c := &l.cfg
	bs := l.bat
	B, H, dc, dv := len(bs.seqs), c.Heads, c.KVLoRARank, c.VHeadDim
	sc := bs.scratch[part]
	prod := sc[len(sc)-B*dv:]
	h0, h1 := span(H, part, parts, 1)
	for h := h0; h < h1; h++ {
		ol := bs.ol[h*B*dc : (h+1)*B*dc]
		for b := range B {
			mergeHead(ol[b*dc:(b+1)*dc], bs.states[bs.seqSeg[b]:bs.seqSeg[b+1]], h, dc)
		}
		if B == 1 { // one Dot per row, as Decode's mergeTask
			l.w.KVBProj.dotRows(bs.o[h*dv:(h+1)*dv], ol, valueUpRow(*c, h), sc)
			continue
		}
		// The block on the left, as linearTask's few-token path multiplies (faster for
		// a few tokens): prod (d_v x B) = W_UV(h)·olᵀ, then transposed into o.
		wv := l.headRows(valueUpRow(*c, h), dv, sc)
		mlasimd.GemmNT(prod[:dv*B], wv, ol, dv, B, dc, dc, dc)
		for b := range B {
			o := bs.o[(b*H+h)*dv : (b*H+h+1)*dv]
			for i := range o {
				o[i] = prod[i*B+b]
			}
		}
	}
}
