package mla

import (
	"fmt"
	"unsafe"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/hugepage"
)

// CacheOptions configures a new Cache.
type CacheOptions struct {
	DType    DType // F32 (the zero value), BF16 or F16: the seed's mixed-precision cache
	Capacity int   // rows to allocate up front; appending past it grows geometrically
	Start    int   // absolute position of the first row (a cache may start anywhere)
}

// Cache is one sequence's latent cache for one layer: per token one contiguous row
// [c (d_c, post-norm) | kr (d_r, post-RoPE)], nothing else. Rows are stored in the
// chosen DType and widened to float32 a tile at a time when attended.
//
// Appending reuses the capacity; when it runs out the storage doubles, so a step never
// copies the whole cache (amortized O(1) per row). A Cache is not safe for concurrent
// use.
type Cache struct {
	width       int // values per row
	mhaPerToken int // MHA-equivalent values per token, for the comparisons
	kvPerGroup  int // one GQA group's key+value values per token
	dtype       DType
	start       int
	n           int
	f32         []float32 // rows when dtype is F32 (len = n·width, cap = capacity·width)
	u16         []uint16  // rows when dtype is BF16 or F16
}

// NewCache returns an empty cache for layers of Config c.
func NewCache(c Config, o CacheOptions) (*Cache, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !o.DType.isCacheType() {
		return nil, fmt.Errorf("mla: cache dtype %s is not supported; use F32, BF16 or F16", o.DType)
	}
	if o.Capacity < 0 || o.Start < 0 {
		return nil, fmt.Errorf("mla: cache capacity %d and start %d must not be negative", o.Capacity, o.Start)
	}
	k := &Cache{width: c.CacheRowWidth(), mhaPerToken: c.MHACacheElemsPerToken(),
		kvPerGroup: c.QKHeadDim() + c.VHeadDim, dtype: o.DType, start: o.Start}
	k.Reserve(o.Capacity)
	return k, nil
}

// Len is the number of cached rows.
func (k *Cache) Len() int { return k.n }

// Start is the absolute position of row 0.
func (k *Cache) Start() int { return k.start }

// Next is the absolute position the next appended row gets.
func (k *Cache) Next() int { return k.start + k.n }

// Width is the number of values per row, d_c + d_r.
func (k *Cache) Width() int { return k.width }

// DType is the storage type of the rows.
func (k *Cache) DType() DType { return k.dtype }

// Capacity is the number of rows that fit before the storage grows.
func (k *Cache) Capacity() int {
	if k.dtype == F32 {
		return cap(k.f32) / k.width
	}
	return cap(k.u16) / k.width
}

// Bytes is the size of the cached rows.
func (k *Cache) Bytes() int64 { return int64(k.n) * int64(k.width) * int64(k.dtype.Size()) }

// MHABytes is what a decompressed multi-head cache (every head's key and value) of the
// same length and dtype would take.
func (k *Cache) MHABytes() int64 {
	return int64(k.n) * int64(k.mhaPerToken) * int64(k.dtype.Size())
}

// GQABytes is what a grouped-query cache with the given number of KV groups would take.
func (k *Cache) GQABytes(groups int) int64 {
	return int64(k.n) * int64(groups) * int64(k.kvPerGroup) * int64(k.dtype.Size())
}

// Reserve makes room for at least rows rows in total without further allocation.
func (k *Cache) Reserve(rows int) {
	need := rows * k.width
	if k.dtype == F32 {
		if need > cap(k.f32) {
			k.f32 = append(hugepage.Make[float32](need)[:0], k.f32...)
		}
		return
	}
	if need > cap(k.u16) {
		k.u16 = append(hugepage.Make[uint16](need)[:0], k.u16...)
	}
}

// grow makes room for extra more rows, at least doubling the capacity.
func (k *Cache) grow(extra int) {
	if k.n+extra > k.Capacity() {
		k.Reserve(max(k.n+extra, 2*k.Capacity(), 16))
	}
}

// Append adds len(rows)/Width rows, rounding them to the cache's DType.
func (k *Cache) Append(rows []float32) error {
	if len(rows)%k.width != 0 {
		return fmt.Errorf("mla: Cache.Append: %d values is not a whole number of %d-value rows", len(rows), k.width)
	}
	t := len(rows) / k.width
	k.grow(t)
	lo, hi := k.n*k.width, (k.n+t)*k.width
	switch k.dtype {
	case F32:
		k.f32 = k.f32[:hi]
		copy(k.f32[lo:hi], rows)
	case BF16:
		k.u16 = k.u16[:hi]
		mlasimd.F32ToBF16(k.u16[lo:hi], rows)
	case F16:
		k.u16 = k.u16[:hi]
		mlasimd.F32ToF16(k.u16[lo:hi], rows)
	}
	k.n += t
	return nil
}

// Truncate keeps the first n rows (to roll back a speculative step, say).
func (k *Cache) Truncate(n int) error {
	if n < 0 || n > k.n {
		return fmt.Errorf("mla: Cache.Truncate(%d) outside [0, %d]", n, k.n)
	}
	k.n = n
	if k.dtype == F32 {
		k.f32 = k.f32[:n*k.width]
	} else {
		k.u16 = k.u16[:n*k.width]
	}
	return nil
}

// Reset empties the cache, keeping its storage and start position.
func (k *Cache) Reset() { _ = k.Truncate(0) }

// SetStart moves the absolute position of row 0; the cache must be empty.
func (k *Cache) SetStart(pos int) error {
	if k.n != 0 || pos < 0 {
		return fmt.Errorf("mla: Cache.SetStart(%d): the cache must be empty (has %d rows) and pos >= 0", pos, k.n)
	}
	k.start = pos
	return nil
}

// Rows returns rows [j0, j1) as float32, Width values each. For an F32 cache it is a
// view of the storage (do not modify it); otherwise the rows are widened into dst,
// or into a new slice when dst is too short.
func (k *Cache) Rows(j0, j1 int, dst []float32) []float32 {
	lo, hi := j0*k.width, j1*k.width
	if k.dtype != F32 && len(dst) < hi-lo {
		dst = make([]float32, hi-lo)
	}
	switch k.dtype {
	case BF16:
		mlasimd.BF16ToF32(dst[:hi-lo], k.u16[lo:hi])
		return dst[:hi-lo]
	case F16:
		mlasimd.F16ToF32(dst[:hi-lo], k.u16[lo:hi])
		return dst[:hi-lo]
	}
	return k.f32[lo:hi:hi]
}

// storage returns the memory that holds rows [j0, j1) as float32s, for GemmNTPrefetch
// to prefetch: the rows themselves in an F32 cache; in a 16-bit one its raw elements,
// two to a float32, never to be read as numbers. It is nil when j0 >= j1.
func (k *Cache) storage(j0, j1 int) []float32 {
	if j0 >= j1 {
		return nil
	}
	if k.dtype == F32 {
		return k.f32[j0*k.width : j1*k.width]
	}
	raw := k.u16[j0*k.width&^1 : j1*k.width] // from an even element: 4-byte aligned
	return unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), len(raw)/2)
}
