// Package hugepage backs mlasimd's large, long-lived buffers (model weights, the MLA
// latent cache) with 2 MiB pages where the operating system allows it.
//
// Decode streams tens of megabytes per step: with 4 KiB pages that is one TLB miss
// and page walk per 4 KiB read, and Linux gives huge pages to a process's anonymous
// memory only where it asked for them (the common transparent_hugepage=madvise
// setting). Make allocates a slice and Advise asks for huge pages on the whole 2 MiB
// pages inside it (madvise(MADV_HUGEPAGE) on Linux, nothing elsewhere). It is a hint:
// where it is refused, or transparent huge pages are off, the memory is the same, only
// served by small pages. Package mla allocates its weights and latent caches through
// it; the kernels never see the difference.
package hugepage
