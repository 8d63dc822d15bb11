//go:build !unix

package safetensors

import "os"

func mapFile(*os.File, int64) ([]byte, error) { return nil, errNoMap }

func unmap([]byte) {}
