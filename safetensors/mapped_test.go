package safetensors

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/fstest"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// writeSample writes a file of three tensors and returns its path and bytes.
func writeSample(t *testing.T) (string, []byte) {
	t.Helper()
	vals := randomInputs(24, 3)
	var tensors []Tensor
	for _, dt := range []DType{F32, BF16, F16} {
		tn, err := NewTensor("w."+dt.String(), []int{4, 6}, vals, dt)
		require.NoError(t, err)
		tensors = append(tensors, tn)
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, Write(path, tensors, nil))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return path, raw
}

// TestOpenMapped: a mapped file reads as Open's does, View gives the stored bytes in
// place, and a View's bytes stay readable after Close while its Mapping is kept.
func TestOpenMapped(t *testing.T) {
	path, raw := writeSample(t)
	plain, err := Open(path)
	require.NoError(t, err)
	defer plain.Close()
	sf, err := OpenMapped(path)
	require.NoError(t, err)
	if !sf.Mapped() {
		t.Skip("this system does not map files")
	}
	var kept []byte
	var keep *Mapping
	for _, name := range plain.Names() {
		want, err := plain.ReadRaw(name)
		require.NoError(t, err)
		got, err := sf.ReadRaw(name)
		require.NoError(t, err)
		require.Equal(t, want, got)
		view, m, err := sf.View(name)
		require.NoError(t, err)
		require.Equal(t, want, view)
		info, _ := sf.Info(name)
		require.Equal(t, raw[info.Offset:info.Offset+info.Size], view)
		require.True(t, uintptr(unsafe.Pointer(unsafe.SliceData(view))) >= uintptr(unsafe.Pointer(unsafe.SliceData(m.data))), "in place")
		kept, keep = view, m
	}
	_, _, err = plain.View(plain.Names()[0])
	require.ErrorIs(t, err, ErrNotMapped)
	want := append([]byte(nil), kept...)
	require.NoError(t, sf.Close())
	_, _, err = sf.View(plain.Names()[0])
	require.ErrorIs(t, err, os.ErrClosed)
	runtime.GC()
	runtime.GC()
	require.Equal(t, want, kept, "the kept Mapping keeps the bytes mapped")
	runtime.KeepAlive(keep)

	_, err = OpenMapped(filepath.Dir(path))
	require.ErrorContains(t, err, "a directory")
	_, err = OpenMapped(filepath.Join(t.TempDir(), "missing.safetensors"))
	require.ErrorIs(t, err, fs.ErrNotExist)
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	require.NoError(t, os.WriteFile(bad, raw[:len(raw)-1], 0o644))
	_, err = OpenMapped(bad)
	require.ErrorIs(t, err, ErrFormat)
}

// noReaderAt hides a file's ReadAt, as some fs.FS implementations lack it.
type noReaderAt struct{ fs.FS }

type plainFile struct {
	f   fs.File
	lie bool // Stat claims 1 TiB
}

type hugeInfo struct{ fs.FileInfo }

func (hugeInfo) Size() int64 { return 1 << 40 }

// lyingFS is noReaderAt whose files claim to be 1 TiB.
type lyingFS struct{ fs.FS }

func (l lyingFS) Open(name string) (fs.File, error) {
	f, err := l.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return plainFile{f: f, lie: true}, nil
}

func (p plainFile) Stat() (fs.FileInfo, error) {
	st, err := p.f.Stat()
	if err != nil || !p.lie {
		return st, err
	}
	return hugeInfo{st}, nil
}
func (p plainFile) Read(b []byte) (int, error) { return p.f.Read(b) }
func (p plainFile) Close() error               { return p.f.Close() }

func (n noReaderAt) Open(name string) (fs.File, error) {
	f, err := n.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return plainFile{f: f}, nil
}

// TestOpenFS: a file from os.DirFS, fstest.MapFS and an fs.FS without ReadAt reads
// as Open's does; directories and malformed files are refused.
func TestOpenFS(t *testing.T) {
	path, raw := writeSample(t)
	plain, err := Open(path)
	require.NoError(t, err)
	defer plain.Close()
	mapFS := fstest.MapFS{"dir/m.safetensors": {Data: raw}, "dir/bad.safetensors": {Data: raw[:40]}}
	for name, fsys := range map[string]fs.FS{
		"dirfs": os.DirFS(filepath.Dir(path)), "mapfs": mapFS, "noReaderAt": noReaderAt{mapFS},
	} {
		file := "m.safetensors"
		if name != "dirfs" {
			file = "dir/m.safetensors"
		}
		sf, err := OpenFS(fsys, file)
		require.NoError(t, err, name)
		for _, tn := range plain.Names() {
			want, _ := plain.ReadRaw(tn)
			got, err := sf.ReadRaw(tn)
			require.NoError(t, err, name)
			require.Equal(t, want, got, name)
		}
		require.NoError(t, sf.Close(), name)
	}
	_, err = OpenFS(mapFS, "dir")
	require.ErrorContains(t, err, "a directory")
	_, err = OpenFS(mapFS, "dir/bad.safetensors")
	require.ErrorIs(t, err, ErrFormat)
	_, err = OpenFS(lyingFS{mapFS}, "dir/m.safetensors")
	require.ErrorContains(t, err, "its stat says 1099511627776", "read what the file gives, not what it claims")
	_, err = OpenFS(mapFS, "nothing")
	require.ErrorIs(t, err, fs.ErrNotExist)
}
