package mla

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mlasimd/mlasimd"
)

// Model is a decoder on MLA: token embedding; per block x += MLA(RMSNorm(x)),
// x += FFN(RMSNorm(x)) with a SwiGLU FFN or, for Config.IsMoELayer blocks,
// DeepSeek's mixture of experts (MoEConfig); a final RMSNorm and the LM head. All
// layers share one worker pool.
//
// A Model keeps the scratch of one call, so it must be used by one goroutine at a
// time: a call that starts while another goroutine is inside one returns an error
// wrapping ErrBusy. Its ModelWeights are only read and may be shared by many Models.
// After Close every call returns an error wrapping ErrClosed. The zero Model returns
// an error from every call.
type Model struct {
	cfg     Config
	w       *ModelWeights
	layers  []*Layer
	pool    *Pool
	ownPool bool
	eps     float32

	// Scratch for up to cap tokens at once; Step uses the first row only.
	x, xn, attn, gate, up, act []float32
	ffn                        linearTask
	head                       linearTask
	cap                        int
	moe                        moeRunner   // MoE blocks' scratch (Config.MoE)
	n0                         []int       // ForwardBatch: each sequence's length before the step
	layerSeqs                  []*Sequence // ForwardBatch: one layer's sequences

	lifecycle
}

// ModelCache is one sequence's caches, one per layer, all of one DType, length and
// start. Like a Cache it must be used by one goroutine at a time.
type ModelCache struct {
	Layers []*Cache
}

// Len is the number of tokens cached (0 without layers).
func (mc *ModelCache) Len() int {
	if mc == nil || len(mc.Layers) == 0 {
		return 0
	}
	return mc.Layers[0].Len()
}

// Bytes is the size of all layers' caches.
func (mc *ModelCache) Bytes() int64 {
	if mc == nil {
		return 0
	}
	var n int64
	for _, c := range mc.Layers {
		n += c.Bytes()
	}
	return n
}

// Truncate keeps the first n tokens in every layer; when a layer has fewer it
// changes none.
func (mc *ModelCache) Truncate(n int) error {
	if mc == nil {
		return errors.New("mla: nil ModelCache")
	}
	if n < 0 || n > mc.Len() {
		return fmt.Errorf("mla: ModelCache.Truncate(%d) outside [0, %d]: %w", n, mc.Len(), ErrShape)
	}
	for i, c := range mc.Layers {
		if n > c.Len() {
			return fmt.Errorf("mla: ModelCache.Truncate(%d): layer %d has %d rows: %w", n, i, c.Len(), ErrShape)
		}
	}
	for i, c := range mc.Layers {
		if err := c.Truncate(n); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return nil
}

// NewModel checks c and w and builds the layers, sharing one pool of the given
// Option's workers.
func NewModel(c Config, w *ModelWeights, opts ...Option) (*Model, error) {
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
	m := &Model{cfg: c, w: w, eps: float32(c.RMSNormEps), pool: o.pool}
	if m.pool == nil {
		m.pool, m.ownPool = NewPool(o.workers), true
	}
	m.moe = moeRunner{cfg: c.MoE, D: c.Hidden, pool: m.pool}
	for i := range w.Blocks {
		l, err := NewLayer(c, w.Blocks[i].Attn, append(slices.Clone(opts), WithPool(m.pool))...)
		if err != nil {
			m.closePool()
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		m.layers = append(m.layers, l)
	}
	if err := m.grow(1); err != nil {
		m.closePool()
		return nil, err
	}
	return m, nil
}

// Close stops the worker pool (unless it was given with WithPool) and closes the
// layers; every later call returns an error. It fails only while another goroutine
// uses the Model; closing twice does nothing more.
func (m *Model) Close() error {
	if m == nil || m.w == nil {
		return nil
	}
	if !m.use.enter() {
		return errModelBusy
	}
	defer m.use.leave()
	if m.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, l := range m.layers {
		errs = append(errs, l.Close())
	}
	m.closePool()
	return errors.Join(errs...)
}

func (m *Model) closePool() {
	if m.ownPool {
		_ = m.pool.Close()
	}
}

// enter marks the Model in use; leave must follow when it returns nil.
func (m *Model) enter() error {
	if m == nil || m.w == nil {
		return errModelZero
	}
	return m.lifecycle.enter(errModelBusy, errModelClosed)
}

func (m *Model) leave() { m.use.leave() }

// Config returns the model's configuration.
func (m *Model) Config() Config {
	if m == nil {
		return Config{}
	}
	return m.cfg
}

// Layers returns the attention layers.
func (m *Model) Layers() []*Layer {
	if m == nil {
		return nil
	}
	return m.layers
}

// NewCache returns empty caches for every layer.
func (m *Model) NewCache(o CacheOptions) (*ModelCache, error) {
	if m == nil || m.w == nil {
		return nil, errModelZero
	}
	mc := &ModelCache{}
	for range m.layers {
		c, err := NewCache(m.cfg, o)
		if err != nil {
			return nil, err
		}
		mc.Layers = append(mc.Layers, c)
	}
	return mc, nil
}

// grow sizes the scratch for t tokens.
func (m *Model) grow(t int) error {
	if t <= m.cap {
		return nil
	}
	D, I := m.cfg.Hidden, m.cfg.Intermediate
	nd, err := allocSize("Model scratch", t, D)
	if err != nil {
		return err
	}
	ni, err := allocSize("Model FFN scratch", t, I)
	if err != nil {
		return err
	}
	m.x, m.xn, m.attn = make([]float32, nd), make([]float32, nd), make([]float32, nd)
	m.gate, m.up, m.act = make([]float32, ni), make([]float32, ni), make([]float32, ni)
	m.cap = t
	if m.cfg.MoE != nil {
		return m.moe.grow(t)
	}
	return nil
}

// checkTokens returns an error unless every token is a vocabulary index.
func (m *Model) checkTokens(op string, tokens []int) error {
	if len(tokens) == 0 {
		return fmt.Errorf("mla: %s: no tokens: %w", op, ErrShape)
	}
	for i, tok := range tokens {
		if tok < 0 || tok >= m.cfg.Vocab {
			return fmt.Errorf("mla: %s: token %d at index %d outside [0, %d): %w", op, tok, i, m.cfg.Vocab, ErrShape)
		}
	}
	return nil
}

// holdCaches checks that mc has one cache per layer, each made for this Model's
// geometry, marks every cache in use, and checks under the marks that they hold one
// DType, length and start and have room for t more tokens. On an error it leaves no
// cache marked; releaseCaches undoes the marks.
func (m *Model) holdCaches(op string, mc *ModelCache, t int) error {
	if mc == nil || len(mc.Layers) != len(m.layers) {
		return fmt.Errorf("mla: %s: cache must have one Cache per layer (%d): %w", op, len(m.layers), ErrShape)
	}
	for i, c := range mc.Layers {
		if err := m.layers[i].checkCache(c); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	for i, c := range mc.Layers {
		if err := c.enter(); err != nil {
			releaseCaches(mc.Layers[:i])
			if j := slices.Index(mc.Layers[:i], c); j >= 0 {
				return fmt.Errorf("mla: %s: layers %d and %d share one Cache: %w", op, j, i, ErrShape)
			}
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	first := mc.Layers[0]
	for i, c := range mc.Layers {
		if c.dtype != first.dtype || c.start != first.start || c.n != first.n {
			releaseCaches(mc.Layers)
			return fmt.Errorf("mla: %s: layer %d cache is %s with %d rows from position %d, layer 0's %s with %d from %d: %w",
				op, i, c.dtype, c.n, c.start, first.dtype, first.n, first.start, ErrShape)
		}
	}
	if err := first.room(t); err != nil {
		releaseCaches(mc.Layers)
		return fmt.Errorf("mla: %s: %w", op, err)
	}
	return nil
}

func releaseCaches(caches []*Cache) {
	for _, c := range caches {
		c.leave()
	}
}

// Forward runs tokens (at positions mc.Len(), …) through the model, appending to the
// caches, and writes the logits of the last token to logits (Vocab values). One token
// is a decode step (absorbed attention); more are a prefill chunk. On any error,
// including a hidden state that is not finite, every cache keeps the rows it had.
func (m *Model) Forward(tokens []int, mc *ModelCache, logits []float32) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.leave()
	if err := m.checkTokens("Forward", tokens); err != nil {
		return err
	}
	if len(logits) != m.cfg.Vocab {
		return fmt.Errorf("mla: Forward: len(logits) = %d, want vocab size %d: %w", len(logits), m.cfg.Vocab, ErrShape)
	}
	if err := m.holdCaches("Forward", mc, len(tokens)); err != nil {
		return err
	}
	defer releaseCaches(mc.Layers)
	return m.forward(tokens, mc, logits, false)
}

// forward is Forward on checked arguments, with the Model and the caches held: the
// logits of the last token, or with all those of every token (t x Vocab).
func (m *Model) forward(tokens []int, mc *ModelCache, logits []float32, all bool) error {
	n0 := mc.Layers[0].Len()
	if err := m.forwardLayers(tokens, mc, logits, all); err != nil {
		for _, c := range mc.Layers {
			if c.Len() > n0 {
				_ = c.truncate(n0)
			}
		}
		return err
	}
	return nil
}

func (m *Model) forwardLayers(tokens []int, mc *ModelCache, logits []float32, all bool) error {
	c := m.cfg
	t, D := len(tokens), c.Hidden
	if err := m.grow(t); err != nil {
		return err
	}
	x, xn, attn := m.x[:t*D], m.xn[:t*D], m.attn[:t*D]
	for i, tok := range tokens {
		m.w.Embed.widenRows(x[i*D:(i+1)*D], tok, tok+1)
	}
	for i, l := range m.layers {
		b := &m.w.Blocks[i]
		m.normRows(xn, x, b.InputNorm, t)
		if err := m.attend(l, attn, xn, mc.Layers[i]); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		mlasimd.Axpy(1, attn, x)
		m.normRows(xn, x, b.PostAttnNorm, t)
		if err := m.mlp(attn, xn, b, t); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		mlasimd.Axpy(1, attn, x)
	}
	first := t - 1 // the rows whose logits are wanted
	if all {
		first = 0
	}
	for i := first; i < t; i++ {
		if !allFinite(x[i*D : (i+1)*D]) {
			which := fmt.Sprintf("token %d", i)
			if i == t-1 {
				which = "the last token"
			}
			return fmt.Errorf("mla: Forward: the hidden state of %s (position %d) is not finite: %w", which, mc.Layers[0].Next()-t+i, ErrNonFinite)
		}
	}
	m.normRows(xn, x[first*D:], m.w.FinalNorm, t-first)
	m.head.reset()
	m.head.add(logits, xn, m.w.LMHead, t-first, c.Vocab, D)
	return m.pool.run(&m.head, m.head.split(defaultMinWork, m.pool.Workers()))
}

// attend runs one layer, which m.Layers exposes to other callers, under its flag.
func (m *Model) attend(l *Layer, out, x []float32, c *Cache) error {
	if err := l.enter(); err != nil {
		return err
	}
	defer l.leave()
	if len(x) == m.cfg.Hidden {
		return l.decode(out, x, c)
	}
	return l.prefill(out, x, c)
}

func (m *Model) normRows(dst, x, gain []float32, t int) {
	D := m.cfg.Hidden
	for i := range t {
		mlasimd.RMSNorm(dst[i*D:(i+1)*D], x[i*D:(i+1)*D], gain, m.eps)
	}
}

// mlp is the block's FFN: its mixture of experts or its dense SwiGLU.
func (m *Model) mlp(out, x []float32, b *BlockWeights, t int) error {
	if b.MoE != nil {
		return m.moe.forward(out, x, b.MoE, t)
	}
	return m.swiGLU(out, x, b, t)
}

// swiGLU computes out = W_down (silu(W_gate x) ⊙ W_up x) for t rows of x.
func (m *Model) swiGLU(out, x []float32, b *BlockWeights, t int) error {
	D, I := m.cfg.Hidden, m.cfg.Intermediate
	gate, up, act := m.gate[:t*I], m.up[:t*I], m.act[:t*I]
	m.ffn.reset()
	m.ffn.add(gate, x, b.Gate, t, I, D)
	m.ffn.add(up, x, b.Up, t, I, D)
	if err := m.pool.run(&m.ffn, m.ffn.split(defaultMinWork, m.pool.Workers())); err != nil {
		return err
	}
	// silu(g) = g / (1 + e^-g): the exponentials go through the Exp kernel.
	for i, g := range gate {
		act[i] = -g
	}
	mlasimd.Exp(act, act)
	for i, g := range gate {
		act[i] = g / (1 + act[i]) * up[i]
	}
	m.ffn.reset()
	m.ffn.add(out, act, b.Down, t, D, I)
	return m.pool.run(&m.ffn, m.ffn.split(defaultMinWork, m.pool.Workers()))
}

// Generate is greedy generation: GenerateContext with a background
// context, the greedy sampler, no stop tokens and progress called after each token
// (it must not use the Model or mc).
func (m *Model) Generate(prompt []int, maxNew int, mc *ModelCache, progress func(i int, token int)) ([]int, error) {
	return m.GenerateContext(context.Background(), prompt, mc, GenerateOptions{MaxNew: maxNew, Progress: progress})
}
