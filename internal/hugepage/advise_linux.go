package hugepage

import "golang.org/x/sys/unix"

// advise marks b (page aligned) for transparent huge pages. An error (a kernel
// without them) leaves the memory as it was, which is all a hint can do.
func advise(b []byte) { _ = unix.Madvise(b, unix.MADV_HUGEPAGE) }
