// Package fileopen opens the files a loader reads (safetensors files, config.json,
// shard indexes) only when they are regular files, so that a FIFO, a device or a
// directory put in their place is an error rather than a hang or an endless read.
// Its errors carry no package prefix: the caller adds its own.
package fileopen

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Regular opens path for reading if it is a regular file (symbolic links are
// followed: the Hugging Face cache links every file of a snapshot to its blob). A
// FIFO would block the open or the read forever, a device can be endless, and a
// directory is no file, so each is refused by its stat before it is opened; the file
// is opened non-blocking and checked again, in case it was replaced in between.
func Regular(path string) (*os.File, fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if err := Check(path, st); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err = f.Stat()
	if err == nil {
		err = Check(path, st)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// Check refuses st, the stat of path, unless it is a regular file, naming what it is.
func Check(path string, st fs.FileInfo) error {
	m := st.Mode()
	if m.IsRegular() {
		return nil
	}
	kind := "not a regular file"
	switch {
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	}
	return fmt.Errorf("%s is %s, not a regular file", path, kind)
}

// ReadSmall reads the regular file at path, refusing one over limit bytes (what
// names the limit in the error).
func ReadSmall(path string, limit int64, what string) ([]byte, error) {
	f, st, err := Regular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f, st, path, limit, what)
}

// ReadSmallFS is ReadSmall for the file name in fsys.
func ReadSmallFS(fsys fs.FS, name string, limit int64, what string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err == nil {
		err = Check(name, st)
	}
	if err != nil {
		return nil, err
	}
	return readLimited(f, st, name, limit, what)
}

// readLimited reads the regular file f (stat st) of at most limit bytes.
func readLimited(f io.Reader, st fs.FileInfo, path string, limit int64, what string) ([]byte, error) {
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit for %s", path, st.Size(), limit, what)
	}
	// Room for the whole file as its stat says, so that reading it allocates once;
	// it may have grown since, so read at most one byte past the limit.
	var buf bytes.Buffer
	buf.Grow(int(st.Size()) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	data := buf.Bytes()
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is over the %d-byte limit for %s", path, limit, what)
	}
	return data, nil
}
