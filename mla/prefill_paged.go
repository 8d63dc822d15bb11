package mla

import "fmt"

// PrefillSequence is Prefill for a sequence of a PagedCache: T = len(x)/D tokens at
// positions s.Next(), … are appended to s and attend causally to its rows. After a
// Fork the shared prompt is read in place from the shared pages; only the new rows
// (and a copy of a shared, partly filled last page) take pages. When the pool lacks
// pages for the T rows the error wraps ErrCacheFull; on any error s keeps the rows
// it had.
func (l *Layer) PrefillSequence(out, x []float32, s *Sequence) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	D := l.cfg.Hidden
	if len(x) == 0 || len(x)%D != 0 || len(out) != len(x) {
		return fmt.Errorf("mla: PrefillSequence: len(x) = %d and len(out) = %d, want the same positive multiple of hidden size %d: %w", len(x), len(out), D, ErrShape)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := l.checkPaged(s.pc); err != nil {
		return err
	}
	return l.prefill(out, x, s)
}

// PrefillBatch prefills several prompts, prompt i (xs[i], whole tokens of D values)
// into seqs[i], writing its outputs to outs[i]. Each prompt's projections run over
// all its tokens at once, as Prefill's do. On any error every sequence keeps the
// rows it had.
func (l *Layer) PrefillBatch(outs, xs [][]float32, seqs []*Sequence) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	if len(outs) != len(seqs) || len(xs) != len(seqs) {
		return fmt.Errorf("mla: PrefillBatch: %d outputs and %d inputs for %d sequences: %w", len(outs), len(xs), len(seqs), ErrShape)
	}
	if len(seqs) == 0 {
		return nil
	}
	D := l.cfg.Hidden
	for i, x := range xs {
		if len(x) == 0 || len(x)%D != 0 || len(outs[i]) != len(x) {
			return fmt.Errorf("mla: PrefillBatch: prompt %d: len(x) = %d and len(out) = %d, want the same positive multiple of hidden size %d: %w", i, len(x), len(outs[i]), D, ErrShape)
		}
	}
	pc, err := l.holdSequences("PrefillBatch", seqs)
	if err != nil {
		return err
	}
	defer pc.leave()
	// All the prompts' pages must be there before the first is written.
	need := 0
	for i, s := range seqs {
		if err := s.room(len(xs[i]) / D); err != nil {
			return fmt.Errorf("mla: PrefillBatch: prompt %d: %w", i, err)
		}
		if need += s.newPages(len(xs[i]) / D); need > len(pc.free) {
			return fmt.Errorf("mla: PrefillBatch: the prompts need more than the %d free pages: %w", len(pc.free), ErrCacheFull)
		}
	}
	n0 := make([]int, len(seqs)) // per call: a prompt is not the per-token path
	for i, s := range seqs {
		n0[i] = s.n
		if err := l.prefill(outs[i], xs[i], s); err != nil {
			for j := range i {
				_ = seqs[j].truncate(n0[j])
			}
			return fmt.Errorf("mla: PrefillBatch: prompt %d: %w", i, err)
		}
	}
	return nil
}

// checkPaged refuses a pool made for another geometry.
func (l *Layer) checkPaged(pc *PagedCache) error {
	if pc.dc != l.cfg.KVLoRARank || pc.dr != l.cfg.QKRopeHeadDim {
		return fmt.Errorf("mla: paged cache rows have d_c %d + d_r %d values, this layer caches d_c %d + d_r %d: %w",
			pc.dc, pc.dr, l.cfg.KVLoRARank, l.cfg.QKRopeHeadDim, ErrShape)
	}
	return nil
}
