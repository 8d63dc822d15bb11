// Package tuning holds the size thresholds of package mlasimd's kernel selection as
// variables, so that this module's tests and fuzz targets can send small inputs
// through the routines that large ones take. Users cannot import it.
package tuning

import "sync/atomic"

// DefaultColdFloats is the size of a matrix, in float32 values (1 MiB), from which
// Gemv, GemvT and DownUp run the routines that prefetch rows ahead: a matrix larger
// than a core's L2 cache (1 MiB on Zen 4 and Skylake-SP) most likely comes from L3 or
// DRAM, as a model's weights do, where the prefetching wins; for a matrix already
// in cache its extra loads cost about as much.
const DefaultColdFloats = 1 << 18

var coldFloats atomic.Int64

func init() { coldFloats.Store(DefaultColdFloats) }

// ColdFloats returns the current threshold.
func ColdFloats() int { return int(coldFloats.Load()) }

// SetColdFloats sets the threshold and returns a function that restores the old one.
func SetColdFloats(n int) (restore func()) {
	old := coldFloats.Swap(int64(n))
	return func() { coldFloats.Store(old) }
}
