//go:build !unix

package mla

import "os"

const openFlags = os.O_RDONLY
