//go:build unix

package fileopen

import (
	"os"
	"syscall"
)

// openFlags opens non-blocking, so that a FIFO swapped in after the stat check cannot
// block the open; for the regular file that is then required it changes nothing.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
