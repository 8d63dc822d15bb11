//go:build !unix

package fileopen

import "os"

const openFlags = os.O_RDONLY
