package mla

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/mlasimd/mlasimd/internal/fileopen"
	"github.com/mlasimd/mlasimd/safetensors"
)

// checkpointSource is where a Checkpoint's files are: a directory of the operating
// system, whose safetensors files are memory-mapped, or a directory of an fs.FS.
// Names are relative to the directory.
type checkpointSource interface {
	stat(rel string) (fs.FileInfo, error)
	readSmall(rel string, limit int64, what string) ([]byte, error)
	openTensors(rel string) (*safetensors.File, error)
	path(rel string) string // for errors and Files
}

// osSource is a directory of the operating system.
type osSource struct{ dir string }

func (s osSource) stat(rel string) (fs.FileInfo, error) { return os.Stat(s.path(rel)) }
func (s osSource) path(rel string) string               { return filepath.Join(s.dir, rel) }

func (s osSource) readSmall(rel string, limit int64, what string) ([]byte, error) {
	return readSmallFile(s.path(rel), limit, what)
}

func (s osSource) openTensors(rel string) (*safetensors.File, error) {
	return safetensors.OpenMapped(s.path(rel))
}

// fsSource is the directory dir of fsys.
type fsSource struct {
	fsys fs.FS
	dir  string
}

func (s fsSource) stat(rel string) (fs.FileInfo, error) { return fs.Stat(s.fsys, s.path(rel)) }
func (s fsSource) path(rel string) string               { return path.Join(s.dir, rel) }

func (s fsSource) readSmall(rel string, limit int64, what string) ([]byte, error) {
	data, err := fileopen.ReadSmallFS(s.fsys, s.path(rel), limit, what)
	if err != nil {
		return nil, fmt.Errorf("mla: %w", err)
	}
	return data, nil
}

func (s fsSource) openTensors(rel string) (*safetensors.File, error) {
	return safetensors.OpenFS(s.fsys, s.path(rel))
}
