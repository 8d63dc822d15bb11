//go:build !linux

package hugepage

// advise does nothing: only Linux has transparent huge pages to ask for.
func advise([]byte) {}
