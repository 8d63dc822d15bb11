//go:build !(linux || darwin)

package testutil

import "testing"

// GuardPages reports whether regions are fenced by PROT_NONE pages on this OS; here
// they are not, and only the sentinel values around outputs catch stray writes.
const GuardPages = false

// mapFenced allocates one word more than asked, so that an empty slice at the tail
// still points into the allocation.
func mapFenced(tb testing.TB, size int) []byte { return make([]byte, size+4)[:size:size] }

func pageSize() int { return 4096 }
