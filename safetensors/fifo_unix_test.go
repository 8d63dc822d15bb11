//go:build unix

package safetensors

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOpenRefusesNonRegularFiles: a FIFO, a directory or a device is an error naming
// the file, never a hang (opening a FIFO for reading waits for a writer) or an
// endless read.
func TestOpenRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "x")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	cases := map[string]string{fifo: "x is a named pipe (FIFO), not a regular file", dir: "is a directory, not a regular file"}
	if _, err := os.Stat("/dev/zero"); err == nil {
		cases["/dev/zero"] = "/dev/zero is a device, not a regular file"
	}
	for path, want := range cases {
		done := make(chan error, 1)
		go func() { _, err := Open(path); done <- err }()
		select {
		case err := <-done:
			require.ErrorContains(t, err, "safetensors: ")
			require.ErrorContains(t, err, want)
		case <-time.After(30 * time.Second):
			t.Fatalf("Open(%s) blocked", path)
		}
	}
}
