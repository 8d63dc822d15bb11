//go:build linux || darwin

package testutil

import (
	"syscall"
	"testing"
)

// GuardPages reports whether regions are fenced by PROT_NONE pages on this OS.
const GuardPages = true

// mapFenced maps size bytes (a multiple of the page size) with one inaccessible page
// before and after them, so that any access outside faults at once.
func mapFenced(tb testing.TB, size int) []byte {
	page := syscall.Getpagesize()
	all, err := syscall.Mmap(-1, 0, size+2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		tb.Fatalf("mmap: %v", err)
	}
	if err := syscall.Mprotect(all[:page], syscall.PROT_NONE); err != nil {
		tb.Fatalf("mprotect: %v", err)
	}
	if err := syscall.Mprotect(all[page+size:], syscall.PROT_NONE); err != nil {
		tb.Fatalf("mprotect: %v", err)
	}
	tb.Cleanup(func() { _ = syscall.Munmap(all) })
	return all[page : page+size : page+size]
}

func pageSize() int { return syscall.Getpagesize() }
