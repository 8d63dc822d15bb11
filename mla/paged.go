package mla

import (
	"errors"
	"fmt"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/checked"
)

// DefaultPageRows is the rows per page of a PagedCache unless PagedCacheOptions say
// otherwise: four of Decode's default tiles, so that tiles never straddle pages.
const DefaultPageRows = 4 * defaultTileRows

// PagedCacheOptions configures NewPagedCache.
type PagedCacheOptions struct {
	DType    DType // F32 (the zero value), BF16 or F16
	Pages    int   // pages in the pool, fixed for its life; must be positive
	PageRows int   // rows per page (0: DefaultPageRows), at most 65536
}

// PagedCache is a pool of fixed-size pages of latent cache rows [c | kr] for one
// layer, shared by many Sequences, each of which maps its rows onto pages through
// its own page table. All pages are allocated up front: a sequence that needs a page
// when none is free gets an error wrapping ErrCacheFull, and the pool never grows.
// Freed and truncated rows return their pages to the pool.
//
// Fork shares a sequence's pages copy-on-write: pages are reference counted, and a
// shared, partially filled last page is copied when either side first appends to it.
//
// A PagedCache and its Sequences must be used by one goroutine at a time: a call on
// any of them (or a DecodeBatch over them) that starts while another goroutine is in
// one returns an error wrapping ErrBusy.
type PagedCache struct {
	width, dc, dr int
	pageRows      int
	pages         int
	rowStore            // pages x pageRows x width elements
	refs          []int // per page: the page tables that hold it (0: free)
	free          []int // the free pages, a stack
	step          uint64
	use           inUse
}

// Sequence is one sequence's rows in a PagedCache: a page table and a length. Row j
// sits in page table[j/PageRows] at row j%PageRows. Its methods hold the PagedCache
// (see there); after Free they return errors.
type Sequence struct {
	pc       *PagedCache
	table    []int
	start, n int
	freed    bool
	mark     uint64 // the batch step that holds it, against duplicates
}

var (
	errPagedBusy = busyError("PagedCache")
	errSeqFreed  = errors.New("mla: Sequence used after Free")
)

// NewPagedCache allocates a pool of o.Pages pages for layers of Config c.
func NewPagedCache(c Config, o PagedCacheOptions) (*PagedCache, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkWeightSizes(c); err != nil {
		return nil, err
	}
	if err := checkCacheType(c, o.DType); err != nil {
		return nil, err
	}
	if o.PageRows == 0 {
		o.PageRows = DefaultPageRows
	}
	if o.Pages <= 0 || o.PageRows < 0 || o.PageRows > maxOptionRows {
		return nil, fmt.Errorf("mla: paged cache of %d pages of %d rows: want a positive number of pages of 1 to %d rows: %w", o.Pages, o.PageRows, maxOptionRows, ErrShape)
	}
	width := c.CacheRowWidth()
	if o.DType == I8 && o.PageRows%mlasimd.I8TileRows != 0 {
		return nil, fmt.Errorf("mla: an I8 paged cache needs pages of a multiple of %d rows, not %d: %w", mlasimd.I8TileRows, o.PageRows, ErrShape)
	}
	rows, err := allocSize("paged cache", o.Pages, o.PageRows)
	if err != nil {
		return nil, err
	}
	pc := &PagedCache{width: width, dc: c.KVLoRARank, dr: c.QKRopeHeadDim, pageRows: o.PageRows, pages: o.Pages,
		rowStore: newRowStore(o.DType, width, c.KVLoRARank), refs: make([]int, o.Pages), free: make([]int, o.Pages)}
	if err := pc.reserveRows("paged cache", rows); err != nil {
		return nil, err
	}
	pc.setRows(rows)
	for i := range pc.free { // page 0 on top
		pc.free[i] = o.Pages - 1 - i
	}
	return pc, nil
}

// enter marks the pool in use; leave must follow when it returns nil.
func (pc *PagedCache) enter() error {
	if pc == nil || pc.width == 0 {
		return errors.New("mla: PagedCache not made by NewPagedCache")
	}
	if !pc.use.enter() {
		return errPagedBusy
	}
	return nil
}

func (pc *PagedCache) leave() { pc.use.leave() }

// Pages is the number of pages in the pool.
func (pc *PagedCache) Pages() int {
	if pc == nil {
		return 0
	}
	return pc.pages
}

// PageRows is the number of rows a page holds.
func (pc *PagedCache) PageRows() int {
	if pc == nil {
		return 0
	}
	return pc.pageRows
}

// Width is the number of values per row, d_c + d_r.
func (pc *PagedCache) Width() int {
	if pc == nil {
		return 0
	}
	return pc.width
}

// DType is the storage type of the rows.
func (pc *PagedCache) DType() DType {
	if pc == nil {
		return F32
	}
	return pc.dtype
}

// FreePages is the number of pages no sequence holds.
func (pc *PagedCache) FreePages() int {
	if pc == nil {
		return 0
	}
	return len(pc.free)
}

// Bytes is the memory of the pages, all allocated by NewPagedCache: it never changes.
func (pc *PagedCache) Bytes() int64 {
	if pc == nil || pc.width == 0 {
		return 0
	}
	return int64(pc.pages) * int64(pc.pageRows) * pc.bytesPerRow()
}

// NewSequence returns an empty sequence whose first row will be at absolute
// position start.
func (pc *PagedCache) NewSequence(start int) (*Sequence, error) {
	if err := pc.enter(); err != nil {
		return nil, err
	}
	defer pc.leave()
	if start < 0 || start > MaxCachePositions {
		return nil, fmt.Errorf("mla: NewSequence(%d): want 0 <= start <= MaxCachePositions (%d): %w", start, MaxCachePositions, ErrShape)
	}
	return &Sequence{pc: pc, start: start}, nil
}

// take removes a free page from the pool for a new owner; the caller has checked
// that one is free.
func (pc *PagedCache) take() int {
	p := pc.free[len(pc.free)-1]
	pc.free = pc.free[:len(pc.free)-1]
	pc.refs[p] = 1
	return p
}

// release drops one owner of page p; the last one returns it to the pool.
func (pc *PagedCache) release(p int) {
	pc.refs[p]--
	if pc.refs[p] == 0 {
		pc.free = append(pc.free, p) // within the capacity of all pages
	}
}

// pagesFor is the number of pages n rows occupy.
func (pc *PagedCache) pagesFor(n int) int { return (n + pc.pageRows - 1) / pc.pageRows }

// enter holds s's pool and checks that s is live.
func (s *Sequence) enter() error {
	if s == nil {
		return errors.New("mla: nil Sequence")
	}
	if err := s.pc.enter(); err != nil {
		return err
	}
	if s.freed {
		s.pc.leave()
		return errSeqFreed
	}
	return nil
}

func (s *Sequence) leave() { s.pc.leave() }

// Len is the number of rows.
func (s *Sequence) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

// Start is the absolute position of row 0.
func (s *Sequence) Start() int {
	if s == nil {
		return 0
	}
	return s.start
}

// Next is the absolute position the next appended row gets.
func (s *Sequence) Next() int { return s.Start() + s.Len() }

// Pages is the number of pages the sequence's table holds (shared ones included).
func (s *Sequence) Pages() int {
	if s == nil {
		return 0
	}
	return len(s.table)
}

// Cache returns the pool the sequence's rows live in.
func (s *Sequence) Cache() *PagedCache {
	if s == nil {
		return nil
	}
	return s.pc
}

// Reserve makes the page table hold rows rows in total (at most the pool's pages)
// without allocating; it takes no pages from the pool. Appends past it grow the
// table geometrically.
func (s *Sequence) Reserve(rows int) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if rows < 0 || rows > MaxCachePositions {
		return fmt.Errorf("mla: Sequence.Reserve(%d) outside [0, MaxCachePositions (%d)]: %w", rows, MaxCachePositions, ErrShape)
	}
	if need := min(s.pc.pagesFor(rows), s.pc.pages); need > cap(s.table) {
		s.table = append(make([]int, 0, need), s.table...)
	}
	return nil
}

// room returns an error unless t more rows fit: below MaxCachePositions, and with
// enough free pages for them (see newPages).
func (s *Sequence) room(t int) error {
	if end, ok := checked.Add(s.Next(), t); !ok || end > MaxCachePositions {
		return fmt.Errorf("mla: sequence of %d rows from position %d: %d more would pass MaxCachePositions (%d): %w", s.n, s.start, t, MaxCachePositions, ErrCacheFull)
	}
	if need := s.newPages(t); need > len(s.pc.free) {
		return fmt.Errorf("mla: paged cache: %d more rows need %d pages, %d of %d are free: %w", t, need, len(s.pc.free), s.pc.pages, ErrCacheFull)
	}
	return nil
}

// newPages is the number of pages t more rows take from the pool: the pages past the
// last one, and a copy of the last one when it is shared and partly filled.
func (s *Sequence) newPages(t int) int {
	if t == 0 {
		return 0
	}
	n := s.pc.pagesFor(s.n+t) - len(s.table)
	if s.n%s.pc.pageRows != 0 && s.pc.refs[s.table[len(s.table)-1]] > 1 {
		n++
	}
	return n
}

// Append adds len(rows)/Width rows, rounding them to the pool's DType. Rows holding a
// NaN or an infinity are refused, as Cache.Append refuses them. When the pool lacks
// pages for them the error wraps ErrCacheFull and nothing changes.
func (s *Sequence) Append(rows []float32) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	w := s.pc.width
	if len(rows)%w != 0 {
		return fmt.Errorf("mla: Sequence.Append: %d values is not a whole number of %d-value rows: %w", len(rows), w, ErrShape)
	}
	if i := firstNonFinite(rows, len(rows)/w, w); i >= 0 {
		return fmt.Errorf("mla: Sequence.Append: row %d (position %d) is not finite: %w", i, s.Next()+i, ErrNonFinite)
	}
	return s.append(rows)
}

// append adds whole rows, or returns an error, changing nothing, when they do not fit
// (see room).
func (s *Sequence) append(rows []float32) error {
	pc := s.pc
	if err := s.room(len(rows) / pc.width); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil // no write: a shared page stays shared
	}
	s.unshareLast()
	for len(rows) > 0 {
		r := s.n % pc.pageRows
		if r == 0 {
			s.table = append(s.table, pc.take())
		}
		t := min(pc.pageRows-r, len(rows)/pc.width)
		lo := (s.table[len(s.table)-1]*pc.pageRows + r) * pc.width
		if err := pc.put(lo, rows[:t*pc.width]); err != nil {
			return err // not reached: the callers refuse rows that are not finite
		}
		rows = rows[t*pc.width:]
		s.n += t
	}
	return nil
}

// unshareLast gives s its own copy of a shared, partly filled last page, so that
// writing its next row leaves the other holders' rows as they are.
func (s *Sequence) unshareLast() {
	pc := s.pc
	r := s.n % pc.pageRows
	if r == 0 {
		return
	}
	last := len(s.table) - 1
	p := s.table[last]
	if pc.refs[p] == 1 {
		return
	}
	q := pc.take()
	pc.move(q*pc.pageRows*pc.width, p*pc.pageRows*pc.width, r*pc.width)
	pc.release(p)
	s.table[last] = q
}

// Truncate keeps the first n rows, returning the pages past them to the pool (a
// shared page only loses this holder).
func (s *Sequence) Truncate(n int) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.truncate(n)
}

func (s *Sequence) truncate(n int) error {
	if n < 0 || n > s.n {
		return fmt.Errorf("mla: Sequence.Truncate(%d) outside [0, %d]: %w", n, s.n, ErrShape)
	}
	keep := s.pc.pagesFor(n)
	for _, p := range s.table[keep:] {
		s.pc.release(p)
	}
	s.table = s.table[:keep]
	s.n = n
	return nil
}

// Free returns the sequence's pages to the pool; every later call on s returns an
// error. Freeing twice is an error.
func (s *Sequence) Free() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	_ = s.truncate(0)
	s.table, s.freed = nil, true
	return nil
}

// Fork returns a new sequence holding the same rows, sharing s's pages: no row is
// copied and no page taken until one side appends to a shared, partly filled page.
func (s *Sequence) Fork() (*Sequence, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	f := &Sequence{pc: s.pc, start: s.start, n: s.n, table: append(make([]int, 0, cap(s.table)), s.table...)}
	for _, p := range f.table {
		s.pc.refs[p]++
	}
	return f, nil
}

// Rows copies rows [j0, j1) as float32, Width values each, into dst (a new slice when
// dst is too short) and returns them, or an error unless 0 <= j0 <= j1 <= Len.
func (s *Sequence) Rows(j0, j1 int, dst []float32) ([]float32, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if j0 < 0 || j0 > j1 || j1 > s.n {
		return nil, fmt.Errorf("mla: Sequence.Rows(%d, %d) outside [0, %d]: %w", j0, j1, s.n, ErrShape)
	}
	w := s.pc.width
	if len(dst) < (j1-j0)*w {
		dst = make([]float32, (j1-j0)*w)
	}
	out := s.rows(j0, j1, dst)
	if s.pc.dtype == F32 && j1 > j0 && &out[0] != &dst[0] {
		copy(dst, out) // a view of one page: Rows returns a copy
	}
	return dst[:(j1-j0)*w], nil
}

// rows returns rows [j0, j1), which the caller has checked, as float32: a view of
// the storage when they lie in one page of an F32 pool, otherwise copied or widened
// into dst, which must hold them.
func (s *Sequence) rows(j0, j1 int, dst []float32) []float32 {
	pc, w := s.pc, s.pc.width
	if j1 <= j0 {
		return dst[:0]
	}
	if j1 <= s.pageEnd(j0) {
		lo, hi := s.elems(j0, j1)
		return pc.get(lo, hi, dst)
	}
	dst = dst[:(j1-j0)*w]
	for j := j0; j < j1; {
		e := min(j1, s.pageEnd(j))
		lo, hi := s.elems(j, e)
		if v := pc.get(lo, hi, dst[(j-j0)*w:]); pc.dtype == F32 {
			copy(dst[(j-j0)*w:], v)
		}
		j = e
	}
	return dst
}

// pageEnd is the row after the last one of the page that holds row j.
func (s *Sequence) pageEnd(j int) int { return (j/s.pc.pageRows + 1) * s.pc.pageRows }

// elems returns the storage elements [lo, hi) of rows [j0, j1), which lie in one page.
func (s *Sequence) elems(j0, j1 int) (lo, hi int) {
	pr, w := s.pc.pageRows, s.pc.width
	base := s.table[j0/pr] * pr
	return (base + j0%pr) * w, (base + (j1-1)%pr + 1) * w
}
