//go:build !(linux || darwin)

package testutil

import "testing"

// GuardPages reports whether regions are fenced by PROT_NONE pages on this OS; here
// they are not, and only the sentinel values around outputs catch stray writes.
const GuardPages = false

func mapFenced(tb testing.TB, size int) []byte { return make([]byte, size) }

func pageSize() int { return 4096 }
