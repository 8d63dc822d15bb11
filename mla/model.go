package mla

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mlasimd/mlasimd"
)

// Model is a small decoder on MLA: token embedding; per block x += MLA(RMSNorm(x)),
// x += FFN(RMSNorm(x)) with a SwiGLU FFN; a final RMSNorm and the LM head. All
// layers share one worker pool. Not safe for concurrent use.
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
}

// ModelCache is one sequence's caches, one per layer.
type ModelCache struct {
	Layers []*Cache
}

// Len is the number of tokens cached.
func (mc *ModelCache) Len() int { return mc.Layers[0].Len() }

// Bytes is the size of all layers' caches.
func (mc *ModelCache) Bytes() int64 {
	var n int64
	for _, c := range mc.Layers {
		n += c.Bytes()
	}
	return n
}

// Truncate keeps the first n tokens in every layer.
func (mc *ModelCache) Truncate(n int) error {
	for _, c := range mc.Layers {
		if err := c.Truncate(n); err != nil {
			return err
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
	m := &Model{cfg: c, w: w, eps: float32(c.RMSNormEps), pool: o.pool}
	if m.pool == nil {
		m.pool, m.ownPool = NewPool(o.workers), true
	}
	for i := range w.Blocks {
		l, err := NewLayer(c, w.Blocks[i].Attn, append(slices.Clone(opts), WithPool(m.pool))...)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		m.layers = append(m.layers, l)
	}
	m.grow(1)
	return m, nil
}

// Close stops the worker pool (unless it was given with WithPool).
func (m *Model) Close() {
	if m.ownPool {
		m.pool.Close()
	}
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Layers returns the attention layers.
func (m *Model) Layers() []*Layer { return m.layers }

// NewCache returns empty caches for every layer.
func (m *Model) NewCache(o CacheOptions) (*ModelCache, error) {
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

func (m *Model) grow(t int) {
	if t <= m.cap {
		return
	}
	D, I := m.cfg.Hidden, m.cfg.Intermediate
	m.x, m.xn, m.attn = make([]float32, t*D), make([]float32, t*D), make([]float32, t*D)
	m.gate, m.up, m.act = make([]float32, t*I), make([]float32, t*I), make([]float32, t*I)
	m.cap = t
}

// Forward runs tokens (at positions mc.Len(), …) through the model, appending to the
// caches, and writes the logits of the last token to logits (Vocab values). One token
// is a decode step (absorbed attention); more are a prefill chunk.
func (m *Model) Forward(tokens []int, mc *ModelCache, logits []float32) error {
	c := m.cfg
	if len(tokens) == 0 {
		return errors.New("mla: Forward: no tokens")
	}
	if len(logits) != c.Vocab {
		return fmt.Errorf("mla: Forward: len(logits) = %d, want vocab size %d", len(logits), c.Vocab)
	}
	if mc == nil || len(mc.Layers) != len(m.layers) {
		return fmt.Errorf("mla: Forward: cache must have one Cache per layer (%d)", len(m.layers))
	}
	for _, tok := range tokens {
		if tok < 0 || tok >= c.Vocab {
			return fmt.Errorf("mla: Forward: token %d outside [0, %d)", tok, c.Vocab)
		}
	}
	t, D := len(tokens), c.Hidden
	m.grow(t)
	x, xn, attn := m.x[:t*D], m.xn[:t*D], m.attn[:t*D]
	for i, tok := range tokens {
		copy(x[i*D:(i+1)*D], m.w.Embed[tok*D:(tok+1)*D])
	}
	for i, l := range m.layers {
		b := &m.w.Blocks[i]
		m.normRows(xn, x, b.InputNorm, t)
		var err error
		if t == 1 {
			err = l.Decode(attn, xn, mc.Layers[i])
		} else {
			err = l.Prefill(attn, xn, mc.Layers[i])
		}
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		mlasimd.Axpy(1, attn, x)
		m.normRows(xn, x, b.PostAttnNorm, t)
		m.swiGLU(attn, xn, b, t)
		mlasimd.Axpy(1, attn, x)
	}
	last := x[(t-1)*D:]
	mlasimd.RMSNorm(xn[:D], last, m.w.FinalNorm, m.eps)
	m.head.reset()
	m.head.add(logits, xn, m.w.LMHead, 1, c.Vocab, D)
	m.pool.run(&m.head, partsFor(m.head.work(), defaultMinWork, m.pool.Workers()))
	return nil
}

func (m *Model) normRows(dst, x, gain []float32, t int) {
	D := m.cfg.Hidden
	for i := range t {
		mlasimd.RMSNorm(dst[i*D:(i+1)*D], x[i*D:(i+1)*D], gain, m.eps)
	}
}

// swiGLU computes out = W_down (silu(W_gate x) ⊙ W_up x) for t rows of x.
func (m *Model) swiGLU(out, x []float32, b *BlockWeights, t int) {
	D, I := m.cfg.Hidden, m.cfg.Intermediate
	gate, up, act := m.gate[:t*I], m.up[:t*I], m.act[:t*I]
	m.ffn.reset()
	m.ffn.add(gate, x, b.Gate, t, I, D)
	m.ffn.add(up, x, b.Up, t, I, D)
	m.pool.run(&m.ffn, partsFor(m.ffn.work(), defaultMinWork, m.pool.Workers()))
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
	m.pool.run(&m.ffn, partsFor(m.ffn.work(), defaultMinWork, m.pool.Workers()))
}

// Generate is the seed's greedy generation loop: prefill the prompt, then feed back
// the arg max of the logits, one decode step per token, maxNew tokens in all. It
// returns the generated tokens (not the prompt). progress, if not nil, is called after
// each token.
func (m *Model) Generate(prompt []int, maxNew int, mc *ModelCache, progress func(i int, token int)) ([]int, error) {
	if len(prompt) == 0 {
		return nil, errors.New("mla: Generate: empty prompt")
	}
	logits := make([]float32, m.cfg.Vocab)
	if err := m.Forward(prompt, mc, logits); err != nil {
		return nil, err
	}
	out := make([]int, 0, maxNew)
	for i := range maxNew {
		tok := argmax(logits)
		out = append(out, tok)
		if progress != nil {
			progress(i, tok)
		}
		if i == maxNew-1 {
			break
		}
		if err := m.Forward([]int{tok}, mc, logits); err != nil {
			return out, err
		}
	}
	return out, nil
}

// argmax returns the index of the largest value (the first on ties; NaN never wins).
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
