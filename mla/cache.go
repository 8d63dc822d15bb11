package mla

import (
	"fmt"

	"github.com/mlasimd/mlasimd/internal/checked"
)

// CacheOptions configures a new Cache.
type CacheOptions struct {
	// DType is F32 (the zero value), BF16 or F16 (the seed's mixed-precision cache),
	// I8 (int8, a scale per row for c and one for kr) or FP8 (E4M3, a scale per row).
	// Over BF16, I8 and FP8 the absorbed decode multiplies in the narrow type, with
	// the query and each tile's probabilities rounded to it (README, Cache formats).
	DType    DType
	Capacity int // rows to allocate up front; appending past it grows geometrically
	Start    int // absolute position of the first row (a cache may start anywhere)
}

// Cache is one sequence's latent cache for one layer: per token one contiguous row
// [c (d_c, post-norm) | kr (d_r, post-RoPE)], nothing else. Rows are stored in the
// chosen DType; Rows and the prefill widen them to float32. A Cache holds
// at most MaxCachePositions - Start rows.
//
// Appending reuses the capacity; when it runs out the storage doubles, so a step never
// copies the whole cache (amortized O(1) per row).
//
// A Cache must be used by one goroutine at a time: a Layer or Model step, Append,
// Reserve, Truncate, Reset, SetStart or Rows that starts while another goroutine is
// in one of them returns an error wrapping ErrBusy. The zero Cache is unusable: its
// methods return errors or zeros.
type Cache struct {
	width       int // values per row, dc + dr
	dc, dr      int // the geometry a layer must match: 512+64 and 544+32 share a width
	mhaPerToken int // MHA-equivalent values per token, for the comparisons
	kvPerGroup  int // one GQA group's key+value values per token
	start       int
	n           int
	rowStore    // len = n·width, cap = capacity·width
	use         inUse
}

// NewCache returns an empty cache for layers of Config c.
func NewCache(c Config, o CacheOptions) (*Cache, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkWeightSizes(c); err != nil {
		return nil, err
	}
	if err := checkCacheType(c, o.DType); err != nil {
		return nil, err
	}
	if o.Capacity < 0 || o.Start < 0 {
		return nil, fmt.Errorf("mla: cache capacity %d and start %d must not be negative: %w", o.Capacity, o.Start, ErrShape)
	}
	if end, ok := checked.Add(o.Start, o.Capacity); !ok || end > MaxCachePositions {
		return nil, fmt.Errorf("mla: cache start %d + capacity %d exceeds MaxCachePositions (%d): %w", o.Start, o.Capacity, MaxCachePositions, ErrShape)
	}
	k := &Cache{width: c.CacheRowWidth(), dc: c.KVLoRARank, dr: c.QKRopeHeadDim, mhaPerToken: c.MHACacheElemsPerToken(),
		kvPerGroup: c.QKHeadDim() + c.VHeadDim, rowStore: newRowStore(o.DType, c.CacheRowWidth(), c.KVLoRARank), start: o.Start}
	if err := k.reserve(o.Capacity); err != nil {
		return nil, err
	}
	return k, nil
}

// enter marks the cache in use; leave must follow when it returns nil.
func (k *Cache) enter() error {
	if k == nil {
		return fmt.Errorf("mla: nil cache")
	}
	if k.width == 0 {
		return errCacheZero
	}
	if !k.use.enter() {
		return errCacheBusy
	}
	return nil
}

func (k *Cache) leave() { k.use.leave() }

// Len is the number of cached rows.
func (k *Cache) Len() int {
	if k == nil {
		return 0
	}
	return k.n
}

// Start is the absolute position of row 0.
func (k *Cache) Start() int {
	if k == nil {
		return 0
	}
	return k.start
}

// Next is the absolute position the next appended row gets.
func (k *Cache) Next() int { return k.Start() + k.Len() }

// Width is the number of values per row, d_c + d_r.
func (k *Cache) Width() int {
	if k == nil {
		return 0
	}
	return k.width
}

// DType is the storage type of the rows.
func (k *Cache) DType() DType {
	if k == nil {
		return F32
	}
	return k.dtype
}

// Capacity is the number of rows that fit before the storage grows.
func (k *Cache) Capacity() int {
	if k == nil || k.width == 0 {
		return 0
	}
	return k.capRows()
}

// Bytes is the size of the cached rows.
func (k *Cache) Bytes() int64 {
	if k == nil {
		return 0
	}
	return int64(k.n) * k.bytesPerRow()
}

// MHABytes is what a decompressed multi-head cache (every head's key and value) of the
// same length and dtype would take.
func (k *Cache) MHABytes() int64 {
	if k == nil {
		return 0
	}
	return int64(k.n) * int64(k.mhaPerToken) * int64(k.dtype.Size())
}

// GQABytes is what a grouped-query cache with the given number of KV groups would take.
func (k *Cache) GQABytes(groups int) int64 {
	if k == nil {
		return 0
	}
	return int64(k.n) * int64(groups) * int64(k.kvPerGroup) * int64(k.dtype.Size())
}

// Reserve makes room for at least rows rows in total without further allocation. It
// returns an error, allocating nothing, when Start + rows exceeds MaxCachePositions.
func (k *Cache) Reserve(rows int) error {
	if err := k.enter(); err != nil {
		return err
	}
	defer k.leave()
	return k.reserve(rows)
}

func (k *Cache) reserve(rows int) error {
	if end, ok := checked.Add(k.start, rows); !ok || end > MaxCachePositions {
		return fmt.Errorf("mla: Cache.Reserve(%d): start %d + %d rows exceeds MaxCachePositions (%d): %w", rows, k.start, rows, MaxCachePositions, ErrCacheFull)
	}
	return k.reserveRows("cache storage", rows)
}

// room returns an error unless t more rows keep the cache within MaxCachePositions.
func (k *Cache) room(t int) error {
	if end, ok := checked.Add(k.Next(), t); !ok || end > MaxCachePositions {
		return fmt.Errorf("mla: cache of %d rows from position %d: %d more would pass MaxCachePositions (%d): %w", k.n, k.start, t, MaxCachePositions, ErrCacheFull)
	}
	return nil
}

// grow makes room for extra more rows, at least doubling the capacity (up to the
// position limit).
func (k *Cache) grow(extra int) error {
	if err := k.room(extra); err != nil {
		return err
	}
	if c := k.Capacity(); k.n+extra > c {
		return k.reserve(min(max(k.n+extra, 2*c, 16), MaxCachePositions-k.start))
	}
	return nil
}

// Append adds len(rows)/Width rows, rounding them to the cache's DType. Rows holding
// a NaN or an infinity are refused: one would turn every later attention output
// over the cache into NaN.
func (k *Cache) Append(rows []float32) error {
	if err := k.enter(); err != nil {
		return err
	}
	defer k.leave()
	if len(rows)%k.width != 0 {
		return fmt.Errorf("mla: Cache.Append: %d values is not a whole number of %d-value rows: %w", len(rows), k.width, ErrShape)
	}
	if i := firstNonFinite(rows, len(rows)/k.width, k.width); i >= 0 {
		return fmt.Errorf("mla: Cache.Append: row %d (position %d) is not finite: %w", i, k.Next()+i, ErrNonFinite)
	}
	return k.append(rows)
}

// append adds whole rows (the caller has checked their shape).
func (k *Cache) append(rows []float32) error {
	t := len(rows) / k.width
	if err := k.grow(t); err != nil {
		return err
	}
	k.setRows(k.n + t)
	if err := k.put(k.n*k.width, rows); err != nil {
		k.setRows(k.n)
		return err
	}
	k.n += t
	return nil
}

// Truncate keeps the first n rows (to roll back a speculative step, say).
func (k *Cache) Truncate(n int) error {
	if err := k.enter(); err != nil {
		return err
	}
	defer k.leave()
	return k.truncate(n)
}

func (k *Cache) truncate(n int) error {
	if n < 0 || n > k.n {
		return fmt.Errorf("mla: Cache.Truncate(%d) outside [0, %d]: %w", n, k.n, ErrShape)
	}
	k.n = n
	k.setRows(n)
	return nil
}

// Reset empties the cache, keeping its storage and start position.
func (k *Cache) Reset() error { return k.Truncate(0) }

// SetStart moves the absolute position of row 0; the cache must be empty.
func (k *Cache) SetStart(pos int) error {
	if err := k.enter(); err != nil {
		return err
	}
	defer k.leave()
	if k.n != 0 || pos < 0 || pos > MaxCachePositions {
		return fmt.Errorf("mla: Cache.SetStart(%d): the cache must be empty (has %d rows) and 0 <= pos <= MaxCachePositions (%d): %w", pos, k.n, MaxCachePositions, ErrShape)
	}
	k.start = pos
	return nil
}

// Rows returns rows [j0, j1) as float32, Width values each, or an error unless
// 0 <= j0 <= j1 <= Len. For an F32 cache it is a view of the storage (do not modify
// it); otherwise the rows are widened into dst, or into a new slice when dst is too
// short.
func (k *Cache) Rows(j0, j1 int, dst []float32) ([]float32, error) {
	if err := k.enter(); err != nil {
		return nil, err
	}
	defer k.leave()
	if j0 < 0 || j0 > j1 || j1 > k.n {
		return nil, fmt.Errorf("mla: Cache.Rows(%d, %d) outside [0, %d]: %w", j0, j1, k.n, ErrShape)
	}
	return k.rows(j0, j1, dst), nil
}

// rows is Rows for a range the caller has checked.
func (k *Cache) rows(j0, j1 int, dst []float32) []float32 {
	lo, hi := j0*k.width, j1*k.width
	if k.dtype != F32 && len(dst) < hi-lo {
		dst = make([]float32, hi-lo)
	}
	return k.get(lo, hi, dst)
}

// storage returns the memory that holds rows [j0, j1) as float32s, for GemmNTPrefetch
// to prefetch: the rows themselves in an F32 cache; in a 16-bit one its raw elements,
// two to a float32, never to be read as numbers. It is nil when j0 >= j1.
func (k *Cache) storage(j0, j1 int) []float32 { return k.raw(j0*k.width, j1*k.width) }
