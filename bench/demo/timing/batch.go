package timing

import (
	"fmt"

	"github.com/mlasimd/mlasimd/mla"
)

// BatchRow is one batched decode step's median: B sequences of S cached rows each
// (the new token's included), one DecodeBatch.
type BatchRow struct {
	S, B int
	Ms   float64 // median ms per step, for all B tokens
}

// TokensPerSec is the batch's tokens per second.
func (r BatchRow) TokensPerSec() float64 { return float64(r.B) * 1e3 / r.Ms }

// MeasureBatch times DecodeBatch on l (one PagedCache in dtype, each sequence its own
// random rows, so that none stays in the CPU's caches for another) for every context
// length and batch size, steps steps each after a warm-up; progress, if not nil, is
// called before each.
func MeasureBatch(l *mla.Layer, dt mla.DType, contexts, batches []int, steps int, progress func(s, b int)) ([]BatchRow, error) {
	c := l.Config()
	var out []BatchRow
	for _, s := range contexts {
		maxB := 0
		for _, b := range batches {
			maxB = max(maxB, b)
		}
		pc, err := mla.NewPagedCache(c, mla.PagedCacheOptions{DType: dt, Pages: maxB * (s/mla.DefaultPageRows + 1)})
		if err != nil {
			return nil, err
		}
		seqs := make([]*mla.Sequence, maxB)
		for i := range seqs {
			if seqs[i], err = pc.NewSequence(0); err != nil {
				return nil, err
			}
			if err := seqs[i].Append(RandomRows(s-1, c.CacheRowWidth(), uint64(1000*s+i))); err != nil {
				return nil, err
			}
		}
		x := RandomRows(maxB, c.Hidden, 7)
		y := make([]float32, len(x))
		for _, b := range batches {
			if b < 1 {
				return nil, fmt.Errorf("timing: batch size %d, want >= 1", b)
			}
			if progress != nil {
				progress(s, b)
			}
			ms, _, err := median(steps, true, DefaultBudget, func() error {
				for _, sq := range seqs[:b] {
					if err := sq.Truncate(s - 1); err != nil {
						return err
					}
				}
				return l.DecodeBatch(y[:b*c.Hidden], x[:b*c.Hidden], seqs[:b])
			})
			if err != nil {
				return nil, err
			}
			out = append(out, BatchRow{S: s, B: b, Ms: ms})
		}
	}
	return out, nil
}
