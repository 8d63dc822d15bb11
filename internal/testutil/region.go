package testutil

import (
	"testing"
	"unsafe"
)

// Sentinel fills every element of a region outside the slice under test: a NaN with
// a payload no kernel produces, so that a stray read poisons a result and a stray
// write is visible.
const Sentinel uint32 = 0x7fa5a5a5

// Region is one operand's buffer fenced by inaccessible pages, reused from call to
// call. A slice handed to a kernel is cut from it either flush against the upper fence
// (an over-read or over-write faults) or at a chosen offset from the lower fence (at
// offset 0 an under-read faults; other offsets vary the alignment).
type Region struct {
	tb    testing.TB
	mem   []byte
	words []uint32
}

// NewRegion returns a fenced region with room for bytes bytes at any placement. A
// larger slice moves it to a larger mapping, so a test needs one region per operand,
// not one per call.
func NewRegion(tb testing.TB, bytes int) *Region {
	r := &Region{tb: tb}
	r.remap(bytes)
	return r
}

// remap maps a fresh region of room for bytes bytes; the old mapping stays until the
// test's cleanup.
func (r *Region) remap(bytes int) {
	page := pageSize()
	size := (bytes + maxOffset + page - 1) / page * page
	r.mem = mapFenced(r.tb, size)
	r.words = unsafe.Slice((*uint32)(unsafe.Pointer(&r.mem[0])), size/4)
}

// Place says where in its region a slice is cut.
type Place struct {
	Tail   bool // flush against the upper fence
	Offset int  // otherwise, this many bytes (a multiple of the element size) after the lower fence
}

// maxOffset is the largest Offset a Place may have.
const maxOffset = 64

// Tail and Head are the placements flush against the upper and the lower fence.
var (
	Tail = Place{Tail: true}
	Head = Place{Offset: 0}
)

// Places are the placements every test runs: both fences, and misaligned starts.
var Places = []Place{Tail, Head, {Offset: 4}, {Offset: 12}, {Offset: 36}}

// Fences are the two placements against a fence: a test that runs a kernel on fixed
// operands runs it at both.
var Fences = Places[:2:2]

// PlacesFor lists the placements to run at length n: both fences, then one of the
// misaligned starts, rotating with n.
func PlacesFor(n int) []Place {
	return []Place{Tail, Head, Places[2+n%(len(Places)-2)]}
}

func (r *Region) reset() {
	for i := range r.words {
		r.words[i] = Sentinel
	}
}

func (r *Region) cut(bytes, elem int, p Place) unsafe.Pointer {
	if p.Offset < 0 || p.Offset > maxOffset || p.Offset%elem != 0 {
		panic("testutil: bad placement")
	}
	if bytes+maxOffset > len(r.mem) {
		r.remap(max(bytes, 2*len(r.mem)))
	}
	r.reset()
	start := p.Offset
	if p.Tail {
		start = len(r.mem) - bytes
	}
	// Not &r.mem[start]: an empty slice at the tail must point at the fence itself.
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(r.mem)), start)
}

// F32 cuts a slice of n float32 at p, copies vals into it (if given), and sets every
// other word of the region to the sentinel. The slice's capacity is its length, so
// nothing that honors cap can reach past it either.
func (r *Region) F32(n int, p Place, vals []float32) []float32 {
	s := unsafe.Slice((*float32)(r.cut(4*n, 4, p)), n)
	copy(s, vals)
	return s
}

// U16 cuts a slice of n uint16 like F32.
func (r *Region) U16(n int, p Place, vals []uint16) []uint16 {
	s := unsafe.Slice((*uint16)(r.cut(2*n, 2, p)), n)
	copy(s, vals)
	return s
}

// Bytes cuts a slice of n bytes like F32; its Offset may be any number of bytes.
func (r *Region) Bytes(n int, p Place, vals []byte) []byte {
	s := unsafe.Slice((*byte)(r.cut(n, 1, p)), n)
	copy(s, vals)
	return s
}

// Copy is F32 with n = len(vals), except that nil stays nil (an absent operand, such
// as LayerNorm's bias).
func (r *Region) Copy(p Place, vals []float32) []float32 {
	if vals == nil {
		return nil
	}
	return r.F32(len(vals), p, vals)
}

// MatLen is the length to cut for a rows x cols matrix with leading dimension ld:
// exactly up to its last element, so that this element sits against the fence.
func MatLen(rows, cols, ld int) int { return max(0, (rows-1)*ld+cols) }

// Untouched reports whether every byte of the region outside [s, s+sbytes) still
// holds the sentinel: nothing was written out of bounds.
func (r *Region) Untouched(s unsafe.Pointer, sbytes int) bool {
	start := int(uintptr(s) - uintptr(unsafe.Pointer(unsafe.SliceData(r.mem))))
	end := start + sbytes
	var want [4]byte
	*(*uint32)(unsafe.Pointer(&want)) = Sentinel
	for i, w := range r.words {
		lo := 4 * i
		if lo+4 <= start || lo >= end {
			if w != Sentinel {
				return false
			}
			continue
		}
		for b := lo; b < lo+4; b++ { // a word the slice shares (16-bit elements)
			if (b < start || b >= end) && r.mem[b] != want[b-lo] {
				return false
			}
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

// UntouchedBytes is Untouched for a byte slice cut from r.
func (r *Region) UntouchedBytes(s []byte) bool {
	return r.Untouched(unsafe.Pointer(unsafe.SliceData(s)), len(s))
}
