//go:build unix

package mla

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// noHang runs load and returns its error, failing the test if load blocks: opening a
// FIFO for reading waits for a writer that never comes.
func noHang(t *testing.T, load func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- load() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the loader blocked on a file that is not a regular file")
		return nil
	}
}

// TestLoadersRefuseNonRegularFiles: a FIFO, a directory or a device in place of
// config.json, the index, model.safetensors or a shard is an error naming the file,
// never a hang or an endless read.
func TestLoadersRefuseNonRegularFiles(t *testing.T) {
	c := tinyConfig()
	fifo := func(t *testing.T, path string) {
		require.NoError(t, syscall.Mkfifo(path, 0o600))
	}
	model := func(t *testing.T) string {
		dir := t.TempDir()
		writeConfigJSON(t, dir, c)
		return dir
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) // dir holds a valid config.json
		want  string
	}{
		{"config.json FIFO", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, "config.json")))
			fifo(t, filepath.Join(dir, "config.json"))
		}, "config.json is a named pipe (FIFO), not a regular file"},
		{"config.json directory", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, "config.json")))
			require.NoError(t, os.Mkdir(filepath.Join(dir, "config.json"), 0o755))
		}, "config.json is a directory, not a regular file"},
		{"model.safetensors FIFO", func(t *testing.T, dir string) {
			fifo(t, filepath.Join(dir, "model.safetensors"))
		}, "model.safetensors is a named pipe (FIFO), not a regular file"},
		{"model.safetensors device", func(t *testing.T, dir string) {
			if _, err := os.Stat("/dev/zero"); err != nil {
				t.Skip("no /dev/zero")
			}
			require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dir, "model.safetensors")))
		}, "model.safetensors is a device, not a regular file"},
		{"index FIFO", func(t *testing.T, dir string) {
			fifo(t, filepath.Join(dir, "model.safetensors.index.json"))
		}, "model.safetensors.index.json is a named pipe (FIFO), not a regular file"},
		{"index directory", func(t *testing.T, dir string) {
			require.NoError(t, os.Mkdir(filepath.Join(dir, "model.safetensors.index.json"), 0o755))
		}, "model.safetensors.index.json is a directory"},
		{"shard FIFO", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"),
				[]byte(`{"weight_map":{"model.norm.weight":"a.safetensors"}}`), 0o644))
			fifo(t, filepath.Join(dir, "a.safetensors"))
		}, "a.safetensors is a named pipe (FIFO), not a regular file (listed in "},
		{"shard directory", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"),
				[]byte(`{"weight_map":{"model.norm.weight":"a.safetensors"}}`), 0o644))
			require.NoError(t, os.Mkdir(filepath.Join(dir, "a.safetensors"), 0o755))
		}, "a.safetensors is a directory, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := model(t)
			tc.setup(t, dir)
			err := noHang(t, func() error { _, err := OpenCheckpoint(dir); return err })
			require.ErrorContains(t, err, tc.want)
		})
	}

	dir := t.TempDir()
	p := filepath.Join(dir, "x")
	fifo(t, p)
	require.ErrorContains(t, noHang(t, func() error { _, err := ReadHFConfig(p); return err }), "x is a named pipe (FIFO)")
	require.ErrorContains(t, noHang(t, func() error { _, err := OpenCheckpointFile(p, c); return err }), "x is a named pipe (FIFO)")

	// A config.json over its size limit is refused unread.
	dir = model(t)
	big := make([]byte, maxConfigBytes+1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), big, 0o644))
	_, err := OpenCheckpoint(dir)
	require.ErrorContains(t, err, "config.json is 4194305 bytes, over the 4194304-byte limit for config.json")
}
