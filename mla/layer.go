package mla

import (
	"fmt"
)

// Layer runs one MLA attention layer: Prefill for prompts and chunks of prompts,
// Decode for single tokens. One Layer serves any number of caches used in turn.
//
// A Layer keeps the scratch buffers of one call, so it must be used by one goroutine
// at a time: a call that starts while another goroutine is inside one returns an
// error wrapping ErrBusy and touches nothing. Its LayerWeights are only read, so many
// Layers on many goroutines may share them. After Close every step returns an error
// wrapping ErrClosed. The zero Layer returns an error from every step.
type Layer struct {
	cfg   Config
	w     *LayerWeights
	rot   *rotary // nil without RoPE
	scale float32 // softmax scale τ
	eps   float32

	pool    *Pool
	ownPool bool
	tile    int // cache rows per decode tile
	chunk   int // keys per decompressed prefill chunk
	qBlock  int // queries per prefill score block
	minWork int // multiply-adds a part must get before a task is split

	proj    projection
	dec     *decodeState
	rounder queryRounder // the step's query rounding task (roundQueries)
	pre     prefillState
	bat     *batchState // made by the first DecodeBatch

	lifecycle
}

type options struct {
	workers, tile, chunk int
	pool                 *Pool
}

// Option configures a Layer or Model.
type Option func(*options)

// WithWorkers sets how many goroutines heads and GEMV rows run on (default
// GOMAXPROCS, at most 4096). It starts a pool owned by the Layer; Close stops it.
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithPool makes the Layer run on a pool shared with other layers (a Model does
// this); Close then leaves the pool running.
func WithPool(p *Pool) Option { return func(o *options) { o.pool = p } }

// WithTileRows sets how many cache rows Decode scores at a time (default 64, at most
// 65536): big enough to amortize the per-tile softmax bookkeeping, small enough for
// the tile of 16-bit rows widened to float32 to stay in L1/L2.
func WithTileRows(n int) Option { return func(o *options) { o.tile = n } }

// WithChunkRows sets how many cached rows Prefill decompresses at a time (default
// 256, at most 65536), which bounds its workspace to chunk x H x (d_n+d_v) values at
// any context.
func WithChunkRows(n int) Option { return func(o *options) { o.chunk = n } }

const (
	defaultTileRows  = 64
	defaultChunkRows = 256
	defaultQBlock    = 64
	defaultMinWork   = 1 << 15
	maxOptionRows    = 1 << 16 // tile and chunk rows: beyond this they only add scratch
)

// NewLayer checks c and w and returns a Layer with its decode scratch allocated.
func NewLayer(c Config, w *LayerWeights, opts ...Option) (*Layer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := w.Check(c); err != nil {
		return nil, err
	}
	var o options
	for _, f := range opts {
		f(&o)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	l := &Layer{cfg: c, w: w, rot: newRotary(c), scale: float32(c.SoftmaxScale()), eps: float32(c.NormEps),
		tile: defaultTileRows, chunk: defaultChunkRows, qBlock: defaultQBlock, minWork: defaultMinWork}
	if o.tile > 0 {
		l.tile = o.tile
	}
	if o.chunk > 0 {
		l.chunk = o.chunk
	}
	l.pool = o.pool
	if l.pool == nil {
		l.pool, l.ownPool = NewPool(o.workers), true
	}
	if err := l.checkScratch(); err != nil {
		l.closePool()
		return nil, err
	}
	if err := l.proj.alloc(c, 1); err != nil {
		l.closePool()
		return nil, err
	}
	l.dec = newDecodeState(l)
	return l, nil
}

func (o *options) check() error {
	if o.tile < 0 || o.chunk < 0 || o.workers < 0 || o.tile > maxOptionRows || o.chunk > maxOptionRows || o.workers > maxWorkers {
		return fmt.Errorf("mla: options: workers %d, tile rows %d, chunk rows %d: want 0 (the default) up to %d workers and %d rows", o.workers, o.tile, o.chunk, maxWorkers, maxOptionRows)
	}
	return nil
}

// checkScratch checks the sizes of the per-layer scratch, which grow with the
// heads, the tile and chunk rows and the workers but never with the context.
func (l *Layer) checkScratch() error {
	c := l.cfg
	H, rw, kvw := c.Heads, c.CacheRowWidth(), c.QKNopeHeadDim+c.VHeadDim
	for _, s := range []struct {
		what string
		dims []int
	}{
		{"decode queries", []int{H, rw}},
		{"decode scores", []int{l.pool.Workers(), H, l.tile}},
		{"decode rows", []int{l.pool.Workers(), l.tile, rw}},
		{"decode outputs", []int{l.pool.Workers(), H, c.KVLoRARank}},
		{"prefill keys and values", []int{l.chunk, H, kvw}},
		{"prefill rows", []int{l.pool.Workers(), l.chunk, rw}},
		{"prefill scores", []int{l.pool.Workers(), l.qBlock, l.chunk}},
	} {
		if _, err := allocSize("Layer scratch: "+s.what, s.dims...); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the Layer's own worker pool (not a shared one); the Layer returns an
// error from every later step. It fails only while another goroutine uses the
// Layer; closing twice does nothing more.
func (l *Layer) Close() error {
	if l == nil || l.w == nil {
		return nil
	}
	if !l.use.enter() {
		return errLayerBusy
	}
	defer l.use.leave()
	if !l.closed.Swap(true) {
		l.closePool()
	}
	return nil
}

func (l *Layer) closePool() {
	if l.ownPool {
		_ = l.pool.Close()
	}
}

// enter marks the Layer in use; leave must follow when it returns nil.
func (l *Layer) enter() error {
	if l == nil || l.w == nil {
		return errLayerZero
	}
	return l.lifecycle.enter(errLayerBusy, errLayerClosed)
}

func (l *Layer) leave() { l.use.leave() }

// Config returns the layer's configuration.
func (l *Layer) Config() Config {
	if l == nil {
		return Config{}
	}
	return l.cfg
}

// Weights returns the layer's weights (shared, not copied).
func (l *Layer) Weights() *LayerWeights {
	if l == nil {
		return nil
	}
	return l.w
}

// Workers is the number of goroutines the layer splits work over.
func (l *Layer) Workers() int {
	if l == nil {
		return 1
	}
	return l.pool.Workers()
}

// NewCache returns an empty cache for this layer.
func (l *Layer) NewCache(o CacheOptions) (*Cache, error) {
	if l == nil || l.w == nil {
		return nil, errLayerZero
	}
	return NewCache(l.cfg, o)
}

// checkCache refuses a cache made for another geometry: the latent and rope widths
// must both match, not just their sum.
func (l *Layer) checkCache(c *Cache) error {
	if c == nil {
		return fmt.Errorf("mla: nil cache")
	}
	if c.width == 0 {
		return errCacheZero
	}
	if c.dc != l.cfg.KVLoRARank || c.dr != l.cfg.QKRopeHeadDim {
		return fmt.Errorf("mla: cache rows have %d values (d_c %d + d_r %d), this layer caches %d (d_c %d + d_r %d): %w",
			c.width, c.dc, c.dr, l.cfg.CacheRowWidth(), l.cfg.KVLoRARank, l.cfg.QKRopeHeadDim, ErrShape)
	}
	return nil
}
