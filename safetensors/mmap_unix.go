//go:build unix

package safetensors

import (
	"os"
	"syscall"
)

// mapFile maps the size bytes of f read-only and shared (a file of 0 bytes, which
// no valid safetensors file is, is not mapped).
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size <= 0 || int64(int(size)) != size {
		return nil, errNoMap
	}
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmap(data []byte) { _ = syscall.Munmap(data) }
