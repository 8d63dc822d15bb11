package safetensors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"

	"github.com/mlasimd/mlasimd/internal/fileopen"
)

// Mapping is a file's read-only memory map. The bytes View returns point into it:
// the map is released only once no Mapping value is reachable any more (a cleanup,
// not Close), so whoever keeps a View's bytes keeps its Mapping.
type Mapping struct {
	data []byte
}

// OpenMapped is Open with the file memory-mapped read-only where the system can (on
// Unix): ReadRaw and the other reads copy from the map instead of calling read, and
// View returns tensors in place, so weights used as stored cost page cache only. The
// file must not be truncated or rewritten while mapped (that is a fault in any mmap
// reader). Where the system cannot map it, OpenMapped is Open.
func OpenMapped(path string) (*File, error) {
	f, st, err := fileopen.Regular(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	data, err := mapFile(f, st.Size())
	if errors.Is(err, errNoMap) {
		sf, err := Read(f, st.Size(), path)
		if err != nil {
			f.Close()
			return nil, err
		}
		sf.closer = f
		return sf, nil
	}
	f.Close() // the map stays valid without the descriptor
	if err != nil {
		return nil, fmt.Errorf("safetensors: mapping %s: %w", path, err)
	}
	m := &Mapping{data: data}
	runtime.AddCleanup(m, unmap, data)
	sf, err := Read(bytes.NewReader(data), int64(len(data)), path)
	if err != nil {
		return nil, err
	}
	sf.mapping = m
	return sf, nil
}

// OpenFS opens and validates the safetensors file name in fsys, which must be a
// regular file. A file that implements io.ReaderAt (os.DirFS's, embed.FS's,
// fstest.MapFS's) is read in place; another is read into memory once, as many bytes
// as it gives up to its stat's size (which must match), so a stat that claims more
// than the file holds costs nothing.
func OpenFS(fsys fs.FS, name string) (*File, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		err = fileopen.Check(name, st)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	r, ok := f.(io.ReaderAt)
	if !ok {
		data, err := io.ReadAll(io.LimitReader(f, st.Size()+1))
		f.Close()
		if err == nil && int64(len(data)) != st.Size() {
			err = fmt.Errorf("%d bytes, but its stat says %d", len(data), st.Size())
		}
		if err != nil {
			return nil, fmt.Errorf("safetensors: reading %s: %w", name, err)
		}
		return Read(bytes.NewReader(data), int64(len(data)), name)
	}
	sf, err := Read(r, st.Size(), name)
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

// View returns the named tensor's bytes as stored, in place in the file's memory map,
// with the Mapping to keep while they are used; the bytes are read-only (writing them
// faults). For a file that is not mapped it returns ErrNotMapped; use ReadRaw.
func (sf *File) View(name string) ([]byte, *Mapping, error) {
	t, err := sf.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	if sf.mapping == nil {
		return nil, nil, fmt.Errorf("safetensors: %s: tensor %q: %w", sf.name, name, ErrNotMapped)
	}
	return sf.mapping.data[t.Offset : t.Offset+t.Size : t.Offset+t.Size], sf.mapping, nil
}

// Mapped reports whether the file is memory-mapped (View works).
func (sf *File) Mapped() bool { return sf.mapping != nil }
