// Package tuning holds the size thresholds of package mlasimd's kernel selection as
// variables, so that this module's tests and fuzz targets can send small inputs
// through the routines that large ones take. Users cannot import it.
package tuning

import "sync/atomic"

// DefaultStreamFloats is the size of a matrix, in float32 values (1 MiB), from which
// Gemv, GemvT and DownUp take the streaming routines, which prefetch rows ahead: a
// matrix larger than a core's L2 cache (1 MiB on Zen 4 and Skylake-SP) most likely
// streams from DRAM, as a model's weights do, where the prefetching wins; for a
// matrix already in cache its extra loads cost about as much.
const DefaultStreamFloats = 1 << 18

// DefaultDeepK is the depth k above which GemmNT splits its products into slices of
// k (512 wide, or DeepK if that is less; see mlasimd's deepGemmNT): a band of 4 to 6
// rows of A up to 1024 wide still fits a 32 KiB L1 beside the B rows it meets.
const DefaultDeepK = 1024

var streamFloats, deepK = newThreshold(DefaultStreamFloats), newThreshold(DefaultDeepK)

// StreamFloats returns the current streaming threshold.
func StreamFloats() int { return streamFloats.get() }

// SetStreamFloats sets the streaming threshold and returns a function that restores
// the old one.
func SetStreamFloats(n int) (restore func()) { return streamFloats.set(n) }

// DeepK returns the current depth threshold.
func DeepK() int { return deepK.get() }

// SetDeepK sets the depth threshold and returns a function that restores the old one.
func SetDeepK(k int) (restore func()) { return deepK.set(k) }

// threshold is one size, read by every kernel call and set by tests.
type threshold struct{ v atomic.Int64 }

func newThreshold(n int) *threshold {
	t := &threshold{}
	t.v.Store(int64(n))
	return t
}

func (t *threshold) get() int { return int(t.v.Load()) }

func (t *threshold) set(n int) (restore func()) {
	old := t.v.Swap(int64(n))
	return func() { t.v.Store(old) }
}
