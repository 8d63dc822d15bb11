package hugepage

import "unsafe"

// Size is the huge page size that Advise aligns to.
const Size = 2 << 20

// MinBytes is the smallest buffer Advise asks huge pages for: below it, the aligned
// interior is at most one page and not worth the call.
const MinBytes = 2 * Size

// Make returns a zeroed slice of n values whose whole 2 MiB pages the operating
// system is asked to back with huge pages.
func Make[T any](n int) []T {
	s := make([]T, n)
	Advise(s)
	return s
}

// Advise asks for huge pages on the whole 2 MiB pages inside s's capacity. It is a
// hint: on other systems, with huge pages disabled, or for a small s, it does
// nothing, and it never changes s's contents. Call it before s is first written, so
// that the pages are huge from their first touch.
func Advise[T any](s []T) {
	var zero T
	size := uintptr(cap(s)) * unsafe.Sizeof(zero)
	if size < MinBytes {
		return
	}
	base := unsafe.Pointer(unsafe.SliceData(s[:cap(s)]))
	start := uintptr(base)
	lo := (start + Size - 1) &^ (Size - 1)
	hi := (start + size) &^ (Size - 1)
	if hi <= lo {
		return
	}
	advise(unsafe.Slice((*byte)(unsafe.Add(base, lo-start)), hi-lo))
}
