package mla

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mlasimd/mlasimd"
)

// ModelPagedCache is one PagedCache per layer of a Model, all alike: the paged
// counterpart of ModelCache, from which many sequences are served.
type ModelPagedCache struct {
	Layers []*PagedCache
}

// ModelSequence is one sequence's rows in every layer of a ModelPagedCache, one
// Sequence per layer, all of one length and start.
type ModelSequence struct {
	Layers []*Sequence
}

// NewPagedCache returns a PagedCache of the given options for every layer.
func (m *Model) NewPagedCache(o PagedCacheOptions) (*ModelPagedCache, error) {
	if m == nil || m.w == nil {
		return nil, errModelZero
	}
	mp := &ModelPagedCache{}
	for range m.layers {
		pc, err := NewPagedCache(m.cfg, o)
		if err != nil {
			return nil, err
		}
		mp.Layers = append(mp.Layers, pc)
	}
	return mp, nil
}

// NewSequence returns an empty sequence in every layer, starting at position start.
func (mp *ModelPagedCache) NewSequence(start int) (*ModelSequence, error) {
	if mp == nil || len(mp.Layers) == 0 {
		return nil, errors.New("mla: ModelPagedCache without layers")
	}
	ms := &ModelSequence{}
	for _, pc := range mp.Layers {
		s, err := pc.NewSequence(start)
		if err != nil {
			_ = ms.Free()
			return nil, err
		}
		ms.Layers = append(ms.Layers, s)
	}
	return ms, nil
}

// Len is the number of tokens cached (0 without layers).
func (ms *ModelSequence) Len() int {
	if ms == nil || len(ms.Layers) == 0 {
		return 0
	}
	return ms.Layers[0].Len()
}

// Fork returns a sequence sharing every layer's pages copy-on-write (see
// Sequence.Fork).
func (ms *ModelSequence) Fork() (*ModelSequence, error) {
	if ms == nil {
		return nil, errors.New("mla: nil ModelSequence")
	}
	f := &ModelSequence{}
	for _, s := range ms.Layers {
		c, err := s.Fork()
		if err != nil {
			_ = f.Free()
			return nil, err
		}
		f.Layers = append(f.Layers, c)
	}
	return f, nil
}

// Truncate keeps the first n tokens in every layer.
func (ms *ModelSequence) Truncate(n int) error {
	if ms == nil {
		return errors.New("mla: nil ModelSequence")
	}
	var errs []error
	for _, s := range ms.Layers {
		errs = append(errs, s.Truncate(n))
	}
	return errors.Join(errs...)
}

// Free returns every layer's pages to its pool.
func (ms *ModelSequence) Free() error {
	if ms == nil {
		return errors.New("mla: nil ModelSequence")
	}
	var errs []error
	for _, s := range ms.Layers {
		errs = append(errs, s.Free())
	}
	return errors.Join(errs...)
}

// ForwardBatch runs one token for each of B sequences (tokens[i] at position
// seqs[i].Len()) through the model, a batched decode step: every layer's attention
// is one DecodeBatch and the FFN and LM head run over the B tokens at once. It writes
// each token's logits to its row of logits (B x Vocab). On any error every sequence
// keeps the rows it had. After warm-up it allocates nothing.
func (m *Model) ForwardBatch(tokens []int, seqs []*ModelSequence, logits []float32) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.leave()
	if err := m.checkTokens("ForwardBatch", tokens); err != nil {
		return err
	}
	if len(seqs) != len(tokens) || len(logits) != len(tokens)*m.cfg.Vocab {
		return fmt.Errorf("mla: ForwardBatch: %d tokens, %d sequences and %d logits: want one sequence and vocab size %d logits per token: %w",
			len(tokens), len(seqs), len(logits), m.cfg.Vocab, ErrShape)
	}
	if err := m.checkSequences("ForwardBatch", seqs); err != nil {
		return err
	}
	return m.forwardPaged(tokens, seqs, logits)
}

// ForwardSequence runs tokens (a prompt, or a chunk of one, at positions s.Len(), …)
// through the model into s and writes the logits of the last token (Vocab values):
// Forward for a sequence of a ModelPagedCache. On any error s keeps the rows it had.
func (m *Model) ForwardSequence(tokens []int, s *ModelSequence, logits []float32) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.leave()
	if err := m.checkTokens("ForwardSequence", tokens); err != nil {
		return err
	}
	if len(logits) != m.cfg.Vocab {
		return fmt.Errorf("mla: ForwardSequence: len(logits) = %d, want vocab size %d: %w", len(logits), m.cfg.Vocab, ErrShape)
	}
	seqs := []*ModelSequence{s}
	if err := m.checkSequences("ForwardSequence", seqs); err != nil {
		return err
	}
	return m.forwardPaged(tokens, seqs, logits)
}

// checkSequences checks that each sequence has one live Sequence per layer, all of
// one length.
func (m *Model) checkSequences(op string, seqs []*ModelSequence) error {
	for i, ms := range seqs {
		if ms == nil || len(ms.Layers) != len(m.layers) {
			return fmt.Errorf("mla: %s: sequence %d must have one Sequence per layer (%d): %w", op, i, len(m.layers), ErrShape)
		}
		for j, s := range ms.Layers {
			if s == nil || s.freed {
				return fmt.Errorf("mla: %s: sequence %d, layer %d: nil or freed: %w", op, i, j, ErrShape)
			}
			if s.n != ms.Layers[0].n || s.start != ms.Layers[0].start {
				return fmt.Errorf("mla: %s: sequence %d: layer %d holds %d rows from position %d, layer 0 %d from %d: %w",
					op, i, j, s.n, s.start, ms.Layers[0].n, ms.Layers[0].start, ErrShape)
			}
		}
	}
	return nil
}

// forwardPaged runs either one token for each sequence (len(seqs) == len(tokens)),
// writing every token's logits, or all tokens into one sequence, writing the last
// token's. On an error it truncates every layer back to where it was.
func (m *Model) forwardPaged(tokens []int, seqs []*ModelSequence, logits []float32) error {
	B := len(seqs)
	if len(m.n0) < B {
		m.n0, m.layerSeqs = make([]int, B), make([]*Sequence, B)
	}
	for i, ms := range seqs {
		m.n0[i] = ms.Len()
	}
	if err := m.forwardPagedLayers(tokens, seqs, logits); err != nil {
		for i, ms := range seqs {
			for _, s := range ms.Layers {
				if s.Len() > m.n0[i] {
					_ = s.Truncate(m.n0[i])
				}
			}
		}
		return err
	}
	return nil
}

func (m *Model) forwardPagedLayers(tokens []int, seqs []*ModelSequence, logits []float32) error {
	c := m.cfg
	t, D := len(tokens), c.Hidden
	if err := m.grow(t); err != nil {
		return err
	}
	x, xn, attn := m.x[:t*D], m.xn[:t*D], m.attn[:t*D]
	for i, tok := range tokens {
		m.w.Embed.widenRows(x[i*D:(i+1)*D], tok, tok+1)
	}
	perToken := len(seqs) == t // one token per sequence: a decode step
	for i, l := range m.layers {
		b := &m.w.Blocks[i]
		m.normRows(xn, x, b.InputNorm, t)
		var err error
		if perToken {
			layer := m.layerSeqs[:len(seqs)]
			for j, ms := range seqs {
				layer[j] = ms.Layers[i]
			}
			err = l.DecodeBatch(attn, xn, layer)
			clear(layer) // hold no sequence past the step
		} else {
			err = l.PrefillSequence(attn, xn, seqs[0].Layers[i])
		}
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		mlasimd.Axpy(1, attn, x)
		m.normRows(xn, x, b.PostAttnNorm, t)
		if err := m.mlp(attn, xn, b, t); err != nil {
			return err
		}
		mlasimd.Axpy(1, attn, x)
	}
	// The logits of every token of a batch, or of a prompt's last token.
	first := 0
	if !perToken {
		first = t - 1
	}
	for i := first; i < t; i++ {
		if !allFinite(x[i*D : (i+1)*D]) {
			return fmt.Errorf("mla: the hidden state of token %d is not finite: %w", i, ErrNonFinite)
		}
		mlasimd.RMSNorm(xn[(i-first)*D:(i-first+1)*D], x[i*D:(i+1)*D], m.w.FinalNorm, m.eps)
	}
	m.head.reset()
	m.head.add(logits, xn, m.w.LMHead, t-first, c.Vocab, D)
	return m.pool.run(&m.head, m.head.split(defaultMinWork, m.pool.Workers()))
}

// GenerateBatch is Generate for several prompts at once: GenerateBatchContext with
// greedy sampling, maxNew tokens per sequence and no stop tokens.
func (m *Model) GenerateBatch(prompts [][]int, maxNew int, seqs []*ModelSequence) ([][]int, error) {
	return m.GenerateBatchContext(context.Background(), prompts, seqs, BatchGenerateOptions{MaxNew: maxNew})
}

// BatchGenerateOptions configures GenerateBatchContext.
type BatchGenerateOptions struct {
	// MaxNew is the most tokens to generate per sequence (>= 0).
	MaxNew int
	// Samplers picks each sequence's tokens: none (Greedy for every sequence), or one
	// per sequence (nil: Greedy). A sampler with state, such as NewSampler's, given to
	// two sequences draws for both from one stream: give each its own to repeat a
	// sequence's tokens whatever the batch.
	Samplers []Sampler
	// Stop lists tokens that end a sequence's generation: a sampled stop token is
	// returned as its last token and not fed back, and the sequence leaves the batch.
	Stop []int
	// Progress, if not nil, is called after each token with its sequence's index; it
	// must not use the Model or the sequences.
	Progress func(seq, i, token int)
}

// GenerateBatchContext prefills prompt i into seqs[i], then decodes the sequences as
// one batch: each step samples a token for every sequence still generating and feeds
// them back in one ForwardBatch (each weight row read once for all of them). A
// sequence leaves the batch when it samples a stop token or has MaxNew tokens, so the
// batch shrinks as they finish. It returns the generated tokens per sequence. ctx is
// checked before each prompt and each step: once it is done, the tokens so far come
// back with an error wrapping ctx.Err(). A prompt that fails or is cancelled leaves
// every sequence as before the call; a step that fails leaves them as the previous
// step left them.
func (m *Model) GenerateBatchContext(ctx context.Context, prompts [][]int, seqs []*ModelSequence, o BatchGenerateOptions) ([][]int, error) {
	if err := m.enter(); err != nil {
		return nil, err
	}
	defer m.leave()
	if err := m.checkBatchGenerate(prompts, seqs, o); err != nil {
		return nil, err
	}
	V := m.cfg.Vocab
	logits := make([]float32, len(seqs)*V)
	for i, p := range prompts {
		err := ctx.Err()
		if err == nil {
			err = m.forwardPaged(p, seqs[i:i+1], logits[i*V:(i+1)*V])
		}
		if err != nil {
			for j, ms := range seqs[:i] { // as before the call: no prompt prefilled
				_ = ms.Truncate(ms.Len() - len(prompts[j]))
			}
			return nil, fmt.Errorf("mla: GenerateBatch: prompt %d: %w", i, err)
		}
	}
	out := make([][]int, len(seqs))
	// The batch: the sequences still generating, their indices and next tokens;
	// active[k]'s logits are at k·V.
	active := slices.Clone(seqs)
	ids := make([]int, len(seqs))
	for i := range ids {
		ids[i] = i
	}
	step := make([]int, len(seqs))
	for n := 0; n < o.MaxNew && len(active) > 0; n++ {
		kept := 0
		for k, i := range ids {
			tok, err := m.sampleFor(o, i, logits[k*V:(k+1)*V])
			if err != nil {
				return out, err
			}
			out[i] = append(out[i], tok)
			if o.Progress != nil {
				o.Progress(i, n, tok)
			}
			if n == o.MaxNew-1 || slices.Contains(o.Stop, tok) {
				continue // done: it leaves the batch
			}
			if kept != k {
				copy(logits[kept*V:(kept+1)*V], logits[k*V:(k+1)*V])
			}
			ids[kept], active[kept], step[kept] = i, active[k], tok
			kept++
		}
		ids, active = ids[:kept], active[:kept]
		if kept == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("mla: GenerateBatch: stopped after step %d: %w", n, err)
		}
		if err := m.forwardPaged(step[:kept], active, logits[:kept*V]); err != nil {
			return out, err
		}
	}
	return out, nil
}

// sampleFor samples sequence i's next token from its logits with o's sampler for it.
func (m *Model) sampleFor(o BatchGenerateOptions, i int, logits []float32) (int, error) {
	var s Sampler = Greedy{}
	if len(o.Samplers) > 0 && o.Samplers[i] != nil {
		s = o.Samplers[i]
	}
	tok, err := s.Sample(logits)
	if err != nil {
		return 0, fmt.Errorf("mla: GenerateBatch: sequence %d: %w", i, err)
	}
	if tok < 0 || tok >= m.cfg.Vocab {
		return 0, fmt.Errorf("mla: GenerateBatch: sequence %d: the sampler picked token %d, outside [0, %d): %w", i, tok, m.cfg.Vocab, ErrShape)
	}
	return tok, nil
}

// checkBatchGenerate checks the arguments of GenerateBatchContext before any work.
func (m *Model) checkBatchGenerate(prompts [][]int, seqs []*ModelSequence, o BatchGenerateOptions) error {
	if len(prompts) != len(seqs) || len(seqs) == 0 || o.MaxNew < 0 {
		return fmt.Errorf("mla: GenerateBatch: %d prompts for %d sequences and maxNew = %d: want one prompt per sequence, at least one, and maxNew >= 0: %w", len(prompts), len(seqs), o.MaxNew, ErrShape)
	}
	if len(o.Samplers) != 0 && len(o.Samplers) != len(seqs) {
		return fmt.Errorf("mla: GenerateBatch: %d samplers for %d sequences: want none or one per sequence: %w", len(o.Samplers), len(seqs), ErrShape)
	}
	for i, tok := range o.Stop {
		if tok < 0 || tok >= m.cfg.Vocab {
			return fmt.Errorf("mla: GenerateBatch: stop token %d at index %d outside [0, %d): %w", tok, i, m.cfg.Vocab, ErrShape)
		}
	}
	seen := make(map[*ModelSequence]int, len(seqs))
	for i, ms := range seqs {
		if j, ok := seen[ms]; ok {
			return fmt.Errorf("mla: GenerateBatch: sequences %d and %d are the same: %w", j, i, ErrShape)
		}
		seen[ms] = i
		if err := m.checkTokens("GenerateBatch", prompts[i]); err != nil {
			return fmt.Errorf("prompt %d: %w", i, err)
		}
	}
	return m.checkSequences("GenerateBatch", seqs)
}
