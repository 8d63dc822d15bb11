package mla

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func newTestPaged(t testing.TB, c Config, dt DType, pages, pageRows int) *PagedCache {
	t.Helper()
	pc, err := NewPagedCache(c, PagedCacheOptions{DType: dt, Pages: pages, PageRows: pageRows})
	require.NoError(t, err)
	return pc
}

func mustSeqRows(t testing.TB, s *Sequence) []float32 {
	t.Helper()
	rows, err := s.Rows(0, s.Len(), nil)
	require.NoError(t, err)
	return rows
}

// TestPagedRowsMatchCache: rows appended in chunks that cross pages read back as a
// Cache holding the same appends reads them (the same rounding), in every dtype,
// after truncations too.
func TestPagedRowsMatchCache(t *testing.T) {
	c := tinyConfig()
	w := c.CacheRowWidth()
	for _, dt := range []DType{F32, BF16, F16, I8, FP8} {
		t.Run(dt.String(), func(t *testing.T) {
			pageRows := 3
			if dt == I8 {
				pageRows = 16 // an I8 page is whole tiles
			}
			pc := newTestPaged(t, c, dt, 8, pageRows)
			s, err := pc.NewSequence(5)
			require.NoError(t, err)
			k := newTestCache(t, c, dt, 5)
			for i, n := range []int{1, 4, 0, 2, 6} {
				rows := randomInputs(n, w, uint64(i))
				require.NoError(t, s.Append(rows))
				require.NoError(t, k.Append(rows))
				require.Equal(t, mustRows(t, k, 0, k.Len(), nil), mustSeqRows(t, s))
				require.Equal(t, k.Next(), s.Next())
			}
			if dt != I8 {
				require.Equal(t, 5, s.Pages())
				require.Equal(t, 3, pc.FreePages())
			}
			require.NoError(t, s.Truncate(7))
			require.NoError(t, k.Truncate(7))
			if dt != I8 {
				require.Equal(t, 5, pc.FreePages(), "13 rows -> 7 rows frees two pages of 3")
			}
			mid, err := s.Rows(2, 5, nil)
			require.NoError(t, err)
			require.Equal(t, mustRows(t, k, 2, 5, nil), mid)
			require.NoError(t, s.Append(randomInputs(2, w, 9)))
			require.NoError(t, k.Append(randomInputs(2, w, 9)))
			require.Equal(t, mustRows(t, k, 0, k.Len(), nil), mustSeqRows(t, s))
		})
	}
}

// TestPagedFork: a fork shares every page; the first append of either side to the
// shared half-full last page copies it for that side only; full pages stay shared
// until both are freed.
func TestPagedFork(t *testing.T) {
	c := tinyLiteConfig()
	w := c.CacheRowWidth()
	pc := newTestPaged(t, c, BF16, 6, 4)
	parent, err := pc.NewSequence(0)
	require.NoError(t, err)
	require.NoError(t, parent.Append(randomInputs(6, w, 1)))
	prompt := mustSeqRows(t, parent)
	require.Equal(t, 4, pc.FreePages())

	child, err := parent.Fork()
	require.NoError(t, err)
	require.Equal(t, 4, pc.FreePages(), "a fork takes no page")
	require.Equal(t, prompt, mustSeqRows(t, child))

	require.NoError(t, child.Append(randomInputs(1, w, 2)))
	require.Equal(t, 3, pc.FreePages(), "the child copied the shared half page")
	require.Equal(t, prompt, mustSeqRows(t, parent), "the parent is unchanged")
	require.NoError(t, parent.Append(randomInputs(1, w, 3)))
	require.Equal(t, 3, pc.FreePages(), "the parent owns its page alone now: written in place")
	pr, cr := mustSeqRows(t, parent), mustSeqRows(t, child)
	require.Equal(t, prompt, pr[:6*w])
	require.Equal(t, prompt, cr[:6*w])
	require.NotEqual(t, pr[6*w:], cr[6*w:])

	// A fork at a page boundary shares only full pages: no copy on append.
	require.NoError(t, parent.Append(randomInputs(1, w, 4)))
	twin, err := parent.Fork()
	require.NoError(t, err)
	require.NoError(t, twin.Append(randomInputs(1, w, 5)))
	require.Equal(t, 2, pc.FreePages(), "a new page, no copy")

	// Truncating into a shared page and appending copies it.
	require.NoError(t, twin.Truncate(2))
	require.Equal(t, 3, pc.FreePages())
	require.NoError(t, twin.Append(randomInputs(1, w, 6)))
	require.Equal(t, 2, pc.FreePages())
	require.Equal(t, prompt[:2*w], mustSeqRows(t, twin)[:2*w])
	require.Equal(t, prompt, mustSeqRows(t, parent)[:6*w])

	// Freeing the parent keeps the pages the others still hold.
	require.NoError(t, parent.Free())
	require.Equal(t, prompt, mustSeqRows(t, child)[:6*w])
	require.NoError(t, child.Free())
	require.NoError(t, twin.Free())
	require.Equal(t, pc.Pages(), pc.FreePages(), "every page is back")
}

// TestPagedExhaustion: an append or a copy-on-write that needs more pages than are
// free is an error wrapping ErrCacheFull and changes nothing; freeing pages makes
// room again.
func TestPagedExhaustion(t *testing.T) {
	c := tinyConfig()
	w := c.CacheRowWidth()
	pc := newTestPaged(t, c, F32, 3, 2)
	a, err := pc.NewSequence(0)
	require.NoError(t, err)
	require.ErrorIs(t, a.Append(randomInputs(7, w, 1)), ErrCacheFull)
	require.Equal(t, 0, a.Len())
	require.Equal(t, 3, pc.FreePages())
	require.NoError(t, a.Append(randomInputs(5, w, 1)))
	require.Equal(t, 0, pc.FreePages())
	b, err := a.Fork()
	require.NoError(t, err)
	err = b.Append(randomInputs(1, w, 2))
	require.ErrorIs(t, err, ErrCacheFull, "copying the shared half page needs a page")
	require.ErrorContains(t, err, "1 more rows need 1 pages, 0 of 3 are free")
	require.Equal(t, 5, b.Len())
	require.NoError(t, b.Truncate(4))
	require.NoError(t, a.Truncate(4))
	require.Equal(t, 1, pc.FreePages())
	require.NoError(t, b.Append(randomInputs(1, w, 2)))
	require.Equal(t, 0, pc.FreePages())
	require.Equal(t, mustSeqRows(t, a), mustSeqRows(t, b)[:4*w])
}

// TestPagedMisuse: bad options and calls are errors, never panics.
func TestPagedMisuse(t *testing.T) {
	c := tinyConfig()
	w := c.CacheRowWidth()
	for _, o := range []PagedCacheOptions{
		{Pages: 0}, {Pages: -1}, {Pages: 1, PageRows: -2}, {Pages: 1, PageRows: 1 << 20},
		{Pages: 1 << 40, PageRows: 1 << 16}, {Pages: math.MaxInt, PageRows: 3}, {Pages: 1, DType: 99},
	} {
		_, err := NewPagedCache(c, o)
		require.Error(t, err, "%+v", o)
	}
	bad := c
	bad.Heads = 0
	_, err := NewPagedCache(bad, PagedCacheOptions{Pages: 1})
	require.Error(t, err)

	pc := newTestPaged(t, c, F32, 2, 0)
	require.Equal(t, DefaultPageRows, pc.PageRows())
	require.Equal(t, int64(2*DefaultPageRows*w*4), pc.Bytes())
	for _, start := range []int{-1, MaxCachePositions + 1} {
		_, err := pc.NewSequence(start)
		require.Error(t, err)
	}
	s, err := pc.NewSequence(MaxCachePositions - 1)
	require.NoError(t, err)
	require.ErrorContains(t, s.Append(make([]float32, w+1)), "whole number")
	nan := make([]float32, w)
	nan[2] = float32(math.Inf(1))
	require.ErrorContains(t, s.Append(nan), "not finite")
	require.NoError(t, s.Append(make([]float32, w)))
	require.ErrorContains(t, s.Append(make([]float32, w)), "MaxCachePositions")
	for _, r := range [][2]int{{-1, 0}, {1, 0}, {0, 2}} {
		_, err := s.Rows(r[0], r[1], nil)
		require.Error(t, err)
	}
	require.Error(t, s.Truncate(2))
	require.Error(t, s.Truncate(-1))
	require.Error(t, s.Reserve(-1))
	require.Error(t, s.Reserve(MaxCachePositions+1))

	// Busy: a second user of the pool is refused.
	require.True(t, pc.use.enter())
	require.ErrorIs(t, s.Append(make([]float32, w)), ErrBusy)
	pc.use.leave()

	require.NoError(t, s.Free())
	require.ErrorIs(t, s.Free(), errSeqFreed)
	require.ErrorIs(t, s.Append(make([]float32, w)), errSeqFreed)
	_, err = s.Fork()
	require.ErrorIs(t, err, errSeqFreed)
	_, err = s.Rows(0, 0, nil)
	require.ErrorIs(t, err, errSeqFreed)

	var nilSeq *Sequence
	require.Error(t, nilSeq.Append(nil))
	require.Zero(t, nilSeq.Len())
	var zero PagedCache
	_, err = zero.NewSequence(0)
	require.Error(t, err)
	var nilPool *PagedCache
	require.Zero(t, nilPool.Pages()+nilPool.PageRows()+nilPool.Width()+nilPool.FreePages())
	require.Zero(t, nilPool.Bytes())
	require.Zero(t, zero.Bytes())
}

// TestPagedRandomOps runs random creates, appends, forks, truncates and frees
// against a plain model of each sequence's rows, checking after every operation
// that the rows read back, that each page's count is the number of tables holding
// it, that free pages are exactly the unheld ones, and that the pool's memory never
// changes: a pool of N pages never holds more than N pages.
func TestPagedRandomOps(t *testing.T) {
	c := tinyLiteConfig()
	w := c.CacheRowWidth()
	pc := newTestPaged(t, c, F16, 12, 3)
	mem := len(pc.u16)
	r := rand.New(rand.NewPCG(5, 6))
	type tracked struct {
		s    *Sequence
		rows []float32
	}
	var live []tracked
	for op := range 3000 {
		what := ""
		switch k := r.IntN(10); {
		case k == 0 || len(live) == 0:
			what = "new"
			s, err := pc.NewSequence(r.IntN(100))
			require.NoError(t, err)
			live = append(live, tracked{s: s})
		case k <= 4:
			i, n := r.IntN(len(live)), r.IntN(5)
			what = fmt.Sprintf("append %d to %d", n, i)
			rows := randomInputs(n, w, uint64(op))
			// What the pool will read back: the rows rounded to F16.
			k := newTestCache(t, c, F16, 0)
			require.NoError(t, k.Append(rows))
			err := live[i].s.Append(rows)
			if err != nil {
				require.ErrorIs(t, err, ErrCacheFull)
			} else {
				live[i].rows = append(live[i].rows, mustRows(t, k, 0, n, nil)...)
			}
		case k == 5:
			i := r.IntN(len(live))
			what = fmt.Sprintf("fork %d", i)
			f, err := live[i].s.Fork()
			require.NoError(t, err)
			live = append(live, tracked{f, append([]float32(nil), live[i].rows...)})
		case k <= 7:
			i := r.IntN(len(live))
			n := r.IntN(live[i].s.Len() + 1)
			what = fmt.Sprintf("truncate %d to %d", i, n)
			require.NoError(t, live[i].s.Truncate(n))
			live[i].rows = live[i].rows[:n*w]
		default:
			i := r.IntN(len(live))
			what = fmt.Sprintf("free %d", i)
			require.NoError(t, live[i].s.Free())
			live = append(live[:i], live[i+1:]...)
		}
		held := make([]int, pc.Pages())
		for i, tr := range live {
			require.Equal(t, len(tr.rows)/w, tr.s.Len(), "op %d (%s): sequence %d", op, what, i)
			require.Equal(t, pc.pagesFor(tr.s.Len()), tr.s.Pages())
			for _, p := range tr.s.table {
				held[p]++
			}
			if len(tr.rows) > 0 {
				require.Equal(t, tr.rows, mustSeqRows(t, tr.s), "op %d (%s): sequence %d", op, what, i)
			}
		}
		free := 0
		for p, n := range held {
			require.Equal(t, n, pc.refs[p], "op %d (%s): page %d", op, what, p)
			if n == 0 {
				free++
			}
		}
		require.Equal(t, free, pc.FreePages())
		require.Equal(t, mem, len(pc.u16))
		require.Equal(t, mem, cap(pc.u16))
	}
}
