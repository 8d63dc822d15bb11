package mla

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/checked"
)

// ErrClosed is wrapped by the errors of a Layer, Model, Pool or Checkpoint used
// after Close (a Checkpoint's also wrap os.ErrClosed, as a closed safetensors.File's
// do).
var ErrClosed = errors.New("mla: used after Close")

// ErrBusy is wrapped by the errors of a Layer, Model or Cache entered by a second
// goroutine while another one still uses it.
var ErrBusy = errors.New("mla: used by two goroutines at once")

// stateError names the value a lifecycle error is about; it is made once, so that
// returning it allocates nothing.
type stateError struct {
	msg string
	err error // ErrClosed, ErrBusy or nil
}

func (e *stateError) Error() string { return e.msg }
func (e *stateError) Unwrap() error { return e.err }

func busyError(what string) error {
	return &stateError{"mla: " + what + " used by two goroutines at once", ErrBusy}
}

func closedError(what string) error {
	return &stateError{"mla: " + what + " used after Close", ErrClosed}
}

var (
	errLayerBusy   = busyError("Layer")
	errModelBusy   = busyError("Model")
	errCacheBusy   = busyError("Cache")
	errLayerClosed = closedError("Layer")
	errModelClosed = closedError("Model")
	errPoolClosed  = closedError("Pool")
	errLayerZero   = errors.New("mla: Layer not made by NewLayer")
	errModelZero   = errors.New("mla: Model not made by NewModel")
	errCacheZero   = errors.New("mla: Cache not made by NewCache")
)

// inUse turns two goroutines using one value at once into an error for the second,
// instead of a data race on the value's scratch.
type inUse struct{ busy atomic.Bool }

func (u *inUse) enter() bool { return u.busy.CompareAndSwap(false, true) }
func (u *inUse) leave()      { u.busy.Store(false) }

// lifecycle is the in-use flag and the closed mark of a Layer or Model.
type lifecycle struct {
	use    inUse
	closed atomic.Bool
}

// enter marks the value in use, or returns busy when another goroutine has it and
// closed after Close; leave must follow when it returns nil.
func (lc *lifecycle) enter(busy, closed error) error {
	if !lc.use.enter() {
		return busy
	}
	if lc.closed.Load() {
		lc.use.leave()
		return closed
	}
	return nil
}

// MaxCachePositions bounds a Cache: its rows' positions, Start included, stay below
// it. float32, in which RoPE forms its angles, holds every integer up to 2^24 and
// no further, so past it neighbouring positions would get the same rotation.
const MaxCachePositions = 1 << 24

// maxValues bounds one buffer this package allocates (2^40 values, 4 TiB of
// float32): a larger size is a mistake, for which make would panic or the runtime
// abort.
const maxValues = min(math.MaxInt, 1<<40)

// allocSize returns the product of dims, the length of a buffer for what, or an error
// naming them when it overflows an int or exceeds maxValues.
func allocSize(what string, dims ...int) (int, error) {
	n, ok := checked.Product(dims...)
	if !ok || n > maxValues {
		return 0, fmt.Errorf("mla: %s of %s values is too large (at most %d)", what, dimString(dims), maxValues)
	}
	return n, nil
}

func dimString(dims []int) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = strconv.Itoa(d)
	}
	return strings.Join(s, " x ")
}

// checkWeightSizes returns an error when a width or weight size derived from c's
// dimensions does not fit an int or is too large to allocate. Once it passes, every
// product layerTensorSpecs forms is a factor of one checked here and fits too.
func checkWeightSizes(c Config) error {
	dqk, ok1 := checked.Add(c.QKNopeHeadDim, c.QKRopeHeadDim)
	rw, ok2 := checked.Add(c.KVLoRARank, c.QKRopeHeadDim)
	kvw, ok3 := checked.Add(c.QKNopeHeadDim, c.VHeadDim)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("mla: config %q: head widths d_n %d, d_r %d, d_c %d, d_v %d overflow an int", c.Name, c.QKNopeHeadDim, c.QKRopeHeadDim, c.KVLoRARank, c.VHeadDim)
	}
	q := []int{c.Heads, dqk, c.Hidden}
	if c.QLoRARank > 0 {
		q = []int{c.QLoRARank, c.Hidden}
	}
	for _, t := range []struct {
		name string
		dims []int
	}{
		{"q_proj or q_a_proj", q},
		{"q_b_proj", []int{c.Heads, dqk, c.QLoRARank}},
		{"kv_a_proj", []int{rw, c.Hidden}},
		{"kv_b_proj", []int{c.Heads, kvw, c.KVLoRARank}},
		{"o_proj", []int{c.Hidden, c.Heads, c.VHeadDim}},
		{"embed_tokens", []int{c.Vocab, c.Hidden}},
		{"mlp", []int{c.Intermediate, c.Hidden}},
	} {
		if _, err := allocSize("config "+strconv.Quote(c.Name)+": weight "+t.name, t.dims...); err != nil {
			return err
		}
	}
	return nil
}

// allFinite reports whether x holds no NaN or infinity. Dot(x, x) is finite unless
// some value is not or the squares overflow; only then are the values scanned.
func allFinite(x []float32) bool {
	s := mlasimd.Dot(x, x)
	if s-s == 0 {
		return true
	}
	for _, v := range x {
		if v-v != 0 {
			return false
		}
	}
	return true
}

// firstNonFinite returns the index of the first of the n rows of x (width values
// each) that holds a NaN or an infinity, or -1.
func firstNonFinite(x []float32, n, width int) int {
	if allFinite(x[:n*width]) {
		return -1
	}
	for i := range n {
		if !allFinite(x[i*width : (i+1)*width]) {
			return i
		}
	}
	return -1
}
