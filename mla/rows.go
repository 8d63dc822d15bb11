package mla

import (
	"unsafe"

	"github.com/mlasimd/mlasimd"
)

// latentRows is one sequence's cached rows as a layer reads and extends them: a Cache,
// or a Sequence of a PagedCache. Its methods are the unchecked ones that run with
// the value held.
type latentRows interface {
	Len() int
	Start() int
	Next() int
	room(t int) error                         // an error unless t more rows fit
	append(rows []float32) error              // whole rows; changes nothing on an error
	truncate(n int) error                     // keeps the first n rows
	rows(j0, j1 int, dst []float32) []float32 // rows [j0, j1) as float32, a view or in dst
}

// rowStore holds cache rows [c | kr] in a cache DType: float32 values in f32, or the
// raw bits of BF16 or F16 in u16. Cache and PagedCache keep their rows in one, so
// rows are rounded and widened the same way in both. Offsets count elements.
type rowStore struct {
	dtype DType
	f32   []float32 // rows when dtype is F32
	u16   []uint16  // rows when dtype is BF16 or F16
}

// put writes src, rounded to the store's dtype, at elements [lo, lo+len(src)).
func (s *rowStore) put(lo int, src []float32) {
	hi := lo + len(src)
	switch s.dtype {
	case F32:
		copy(s.f32[lo:hi], src)
	case BF16:
		mlasimd.F32ToBF16(s.u16[lo:hi], src)
	case F16:
		mlasimd.F32ToF16(s.u16[lo:hi], src)
	}
}

// get returns elements [lo, hi) as float32: a view of an F32 store (not to be
// modified), or the 16-bit values widened into dst, which must hold hi-lo values.
func (s *rowStore) get(lo, hi int, dst []float32) []float32 {
	switch s.dtype {
	case BF16:
		mlasimd.BF16ToF32(dst[:hi-lo], s.u16[lo:hi])
		return dst[:hi-lo]
	case F16:
		mlasimd.F16ToF32(dst[:hi-lo], s.u16[lo:hi])
		return dst[:hi-lo]
	}
	return s.f32[lo:hi:hi]
}

// move copies elements [src, src+n) to [dst, dst+n) without converting them.
func (s *rowStore) move(dst, src, n int) {
	if s.dtype == F32 {
		copy(s.f32[dst:dst+n], s.f32[src:src+n])
		return
	}
	copy(s.u16[dst:dst+n], s.u16[src:src+n])
}

// raw returns the memory that holds elements [lo, hi) as float32s, for
// GemmNTPrefetch to prefetch: the values themselves in an F32 store; in a 16-bit
// one its raw elements, two to a float32, never to be read as numbers. It is nil
// when lo >= hi.
func (s *rowStore) raw(lo, hi int) []float32 {
	if lo >= hi {
		return nil
	}
	if s.dtype == F32 {
		return s.f32[lo:hi]
	}
	bits := s.u16[lo&^1 : hi] // from an even element: 4-byte aligned
	if len(bits) < 2 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&bits[0])), len(bits)/2)
}
