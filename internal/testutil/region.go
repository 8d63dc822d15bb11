package testutil

import (
	"testing"
	"unsafe"
)

// Sentinel fills every element of a region outside the slice under test: a NaN with
// a payload no kernel produces, so that a stray read poisons a result and a stray
// write is visible.
const Sentinel uint32 = 0x7fa5a5a5

// Region is a buffer fenced by inaccessible pages. Slices handed to a kernel are cut
// from it either flush against the upper fence (an over-read or over-write faults) or
// at a chosen offset from the lower fence (an under-read faults; the offset varies
// the alignment).
type Region struct {
	mem   []byte
	words []uint32
}

// NewRegion returns a fenced region of at least bytes bytes, plus room for the
// largest offset placement.
func NewRegion(tb testing.TB, bytes int) *Region {
	page := pageSize()
	size := (bytes + maxOffset + page - 1) / page * page
	mem := mapFenced(tb, size)
	return &Region{mem: mem, words: unsafe.Slice((*uint32)(unsafe.Pointer(&mem[0])), size/4)}
}

// Place says where in its region a slice is cut.
type Place struct {
	Tail   bool // flush against the upper fence
	Offset int  // otherwise, this many bytes (a multiple of the element size) after the lower fence
}

// maxOffset is the largest Offset a Place may have.
const maxOffset = 64

// Places are the placements every test runs: both fences, and misaligned starts.
var Places = []Place{{Tail: true}, {Offset: 0}, {Offset: 4}, {Offset: 12}, {Offset: 36}}

func (r *Region) reset() {
	for i := range r.words {
		r.words[i] = Sentinel
	}
}

func (r *Region) cut(bytes, elem int, p Place) unsafe.Pointer {
	if bytes+p.Offset > len(r.mem) || p.Offset > maxOffset {
		panic("testutil: region too small")
	}
	r.reset()
	start := p.Offset
	if p.Tail {
		start = len(r.mem) - bytes
	}
	return unsafe.Pointer(unsafe.SliceData(r.mem[start:]))
}

// F32 cuts a slice of n float32 at p, copies vals into it (if given), and sets every
// other word of the region to the sentinel.
func (r *Region) F32(n int, p Place, vals []float32) []float32 {
	s := unsafe.Slice((*float32)(r.cut(4*n, 4, p)), n)
	copy(s, vals)
	return s[:n:n]
}

// U16 cuts a slice of n uint16 like F32.
func (r *Region) U16(n int, p Place, vals []uint16) []uint16 {
	s := unsafe.Slice((*uint16)(r.cut(2*n, 2, p)), n)
	copy(s, vals)
	return s[:n:n]
}

// Untouched reports whether every byte of the region outside [s, s+sbytes) still
// holds the sentinel: nothing was written out of bounds.
func (r *Region) Untouched(s unsafe.Pointer, sbytes int) bool {
	start := int(uintptr(s) - uintptr(unsafe.Pointer(&r.mem[0])))
	want := make([]byte, 4)
	*(*uint32)(unsafe.Pointer(&want[0])) = Sentinel
	for i, b := range r.mem {
		if i >= start && i < start+sbytes {
			continue
		}
		if b != want[i%4] {
			return false
		}
	}
	return true
}

// UntouchedF32 is Untouched for a float32 slice cut from r.
func (r *Region) UntouchedF32(s []float32) bool {
	return r.Untouched(unsafe.Pointer(unsafe.SliceData(s)), 4*len(s))
}

// UntouchedU16 is Untouched for a uint16 slice cut from r.
func (r *Region) UntouchedU16(s []uint16) bool {
	return r.Untouched(unsafe.Pointer(unsafe.SliceData(s)), 2*len(s))
}
