package mla

import "fmt"

// Layer runs one MLA attention layer: Prefill for prompts and chunks of prompts,
// Decode for single tokens. A Layer keeps the scratch buffers of one call, so it is
// not safe for concurrent use; one Layer serves any number of caches used in turn.
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

	proj projection
	dec  *decodeState
	pre  prefillState
}

type options struct {
	workers, tile, chunk int
	pool                 *Pool
}

// Option configures a Layer or Model.
type Option func(*options)

// WithWorkers sets how many goroutines heads and GEMV rows run on (default
// GOMAXPROCS). It starts a pool owned by the Layer; Close stops it.
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithPool makes the Layer run on a pool shared with other layers (a Model does
// this); Close then leaves the pool running.
func WithPool(p *Pool) Option { return func(o *options) { o.pool = p } }

// WithTileRows sets how many cache rows Decode scores at a time (default 64): big
// enough to amortize the per-tile softmax bookkeeping, small enough for the tile of
// 16-bit rows widened to float32 to stay in L1/L2.
func WithTileRows(n int) Option { return func(o *options) { o.tile = n } }

// WithChunkRows sets how many cached rows Prefill decompresses at a time (default
// 256), which bounds its workspace to chunk x H x (d_n+d_v) values at any context.
func WithChunkRows(n int) Option { return func(o *options) { o.chunk = n } }

const (
	defaultTileRows  = 64
	defaultChunkRows = 256
	defaultQBlock    = 64
	defaultMinWork   = 1 << 15
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
	if o.tile < 0 || o.chunk < 0 || o.workers < 0 {
		return nil, fmt.Errorf("mla: NewLayer: negative option (workers %d, tile rows %d, chunk rows %d)", o.workers, o.tile, o.chunk)
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
	l.proj.alloc(c, 1)
	l.dec = newDecodeState(l)
	return l, nil
}

// Close stops the Layer's own worker pool (not a shared one).
func (l *Layer) Close() {
	if l.ownPool {
		l.pool.Close()
	}
}

// Config returns the layer's configuration.
func (l *Layer) Config() Config { return l.cfg }

// Weights returns the layer's weights (shared, not copied).
func (l *Layer) Weights() *LayerWeights { return l.w }

// Workers is the number of goroutines the layer splits work over.
func (l *Layer) Workers() int { return l.pool.Workers() }

// NewCache returns an empty cache for this layer.
func (l *Layer) NewCache(o CacheOptions) (*Cache, error) { return NewCache(l.cfg, o) }

func (l *Layer) checkCache(c *Cache) error {
	if c == nil {
		return fmt.Errorf("mla: nil cache")
	}
	if c.width != l.cfg.CacheRowWidth() {
		return fmt.Errorf("mla: cache rows have %d values, this layer caches %d (d_c %d + d_r %d)", c.width, l.cfg.CacheRowWidth(), l.cfg.KVLoRARank, l.cfg.QKRopeHeadDim)
	}
	return nil
}
