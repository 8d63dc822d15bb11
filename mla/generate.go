package mla

import (
	"context"
	"fmt"
	"slices"

	"github.com/mlasimd/mlasimd/internal/checked"
)

// DefaultPrefillChunk is how many prompt tokens GenerateContext and PrefillContext
// run per forward pass when the options leave it 0: a cancelled context is noticed
// between chunks.
const DefaultPrefillChunk = 256

// GenerateOptions configures GenerateContext.
type GenerateOptions struct {
	// MaxNew is the most tokens to generate (>= 0).
	MaxNew int
	// Sampler picks each token from the logits; nil is Greedy.
	Sampler Sampler
	// Stop lists tokens that end generation: a sampled stop token is returned as
	// the last token and not fed back.
	Stop []int
	// PrefillChunk is the prompt tokens per forward pass (0: DefaultPrefillChunk).
	PrefillChunk int
	// Progress, if not nil, is called after each token; it must not use the Model
	// or the cache.
	Progress func(i int, token int)
}

// GenerateContext prefills prompt (in chunks of o.PrefillChunk tokens), then samples
// up to o.MaxNew tokens, one decode step each, and returns them (not the prompt).
// The arguments are checked before any work: the prompt's and stop tokens, the
// options, the caches and room in them for every step. ctx is checked before every
// chunk and step: once it is done, GenerateContext returns the tokens so far and an
// error wrapping ctx.Err(). A prefill that fails or is cancelled leaves the caches as
// they were before the call; a decode step that fails leaves them as the previous step
// left them, so the sequence can go on from the tokens returned.
func (m *Model) GenerateContext(ctx context.Context, prompt []int, mc *ModelCache, o GenerateOptions) ([]int, error) {
	if err := m.enter(); err != nil {
		return nil, err
	}
	defer m.leave()
	if err := m.checkTokens("Generate", prompt); err != nil {
		return nil, err
	}
	if err := m.checkGenerate(o); err != nil {
		return nil, err
	}
	// The last generated token is not fed back: the caches grow by len(prompt) +
	// MaxNew - 1 rows at most.
	steps, ok := checked.Add(len(prompt), max(o.MaxNew-1, 0))
	if !ok {
		return nil, fmt.Errorf("mla: Generate: %d prompt tokens + %d new ones overflow an int: %w", len(prompt), o.MaxNew, ErrShape)
	}
	if err := m.holdCaches("Generate", mc, steps); err != nil {
		return nil, err
	}
	defer releaseCaches(mc.Layers)
	logits := make([]float32, m.cfg.Vocab)
	if err := m.prefillChunks(ctx, prompt, mc, logits, o.PrefillChunk); err != nil {
		return nil, err
	}
	sampler := o.Sampler
	if sampler == nil {
		sampler = Greedy{}
	}
	var out []int // grown as tokens come: MaxNew is bounded only by the cache
	step := make([]int, 1)
	for i := range o.MaxNew {
		tok, err := sampler.Sample(logits)
		if err != nil {
			return out, fmt.Errorf("mla: Generate: token %d: %w", i, err)
		}
		if tok < 0 || tok >= m.cfg.Vocab {
			return out, fmt.Errorf("mla: Generate: the sampler picked token %d, outside [0, %d): %w", tok, m.cfg.Vocab, ErrShape)
		}
		out = append(out, tok)
		if o.Progress != nil {
			o.Progress(i, tok)
		}
		if i == o.MaxNew-1 || slices.Contains(o.Stop, tok) {
			break
		}
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("mla: Generate: stopped after %d tokens: %w", len(out), err)
		}
		step[0] = tok
		if err := m.forward(step, mc, logits, false); err != nil {
			return out, err
		}
	}
	return out, nil
}

// checkGenerate checks the options of GenerateContext.
func (m *Model) checkGenerate(o GenerateOptions) error {
	if o.MaxNew < 0 {
		return fmt.Errorf("mla: Generate: MaxNew = %d, want >= 0: %w", o.MaxNew, ErrShape)
	}
	if o.PrefillChunk < 0 {
		return fmt.Errorf("mla: Generate: PrefillChunk = %d, want >= 0: %w", o.PrefillChunk, ErrShape)
	}
	for i, tok := range o.Stop {
		if tok < 0 || tok >= m.cfg.Vocab {
			return fmt.Errorf("mla: Generate: stop token %d at index %d outside [0, %d): %w", tok, i, m.cfg.Vocab, ErrShape)
		}
	}
	return nil
}

// PrefillContext runs tokens through the model in chunks of chunk tokens (0:
// DefaultPrefillChunk), appending to the caches, and writes the logits of the last
// token (Vocab values). ctx is checked before each chunk: a cancelled prefill, like a
// failed one, leaves every cache as it was before the call and returns an error
// wrapping ctx.Err().
func (m *Model) PrefillContext(ctx context.Context, tokens []int, mc *ModelCache, logits []float32, chunk int) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.leave()
	if err := m.checkTokens("Prefill", tokens); err != nil {
		return err
	}
	if len(logits) != m.cfg.Vocab {
		return fmt.Errorf("mla: Prefill: len(logits) = %d, want vocab size %d: %w", len(logits), m.cfg.Vocab, ErrShape)
	}
	if chunk < 0 {
		return fmt.Errorf("mla: Prefill: chunk = %d, want >= 0: %w", chunk, ErrShape)
	}
	if err := m.holdCaches("Prefill", mc, len(tokens)); err != nil {
		return err
	}
	defer releaseCaches(mc.Layers)
	return m.prefillChunks(ctx, tokens, mc, logits, chunk)
}

// prefillChunks is PrefillContext on checked arguments with the caches held.
func (m *Model) prefillChunks(ctx context.Context, tokens []int, mc *ModelCache, logits []float32, chunk int) error {
	if chunk == 0 {
		chunk = DefaultPrefillChunk
	}
	n0 := mc.Len()
	for a := 0; a < len(tokens); a += chunk {
		err := ctx.Err()
		if err != nil {
			err = fmt.Errorf("mla: Prefill: stopped after %d of %d tokens: %w", a, len(tokens), err)
		} else {
			err = m.forward(tokens[a:min(a+chunk, len(tokens))], mc, logits, false)
		}
		if err != nil {
			for _, c := range mc.Layers {
				_ = c.truncate(n0)
			}
			return err
		}
	}
	return nil
}

// ForwardAll is Forward with the logits of every token: logits holds len(tokens) x
// Vocab values, row i the logits after token i (for scoring a prompt, or
// speculative decoding's verification).
func (m *Model) ForwardAll(tokens []int, mc *ModelCache, logits []float32) error {
	if err := m.enter(); err != nil {
		return err
	}
	defer m.leave()
	if err := m.checkTokens("ForwardAll", tokens); err != nil {
		return err
	}
	want, ok := checked.Mul(len(tokens), m.cfg.Vocab)
	if !ok || len(logits) != want {
		return fmt.Errorf("mla: ForwardAll: len(logits) = %d, want %d tokens x vocab size %d: %w", len(logits), len(tokens), m.cfg.Vocab, ErrShape)
	}
	if err := m.holdCaches("ForwardAll", mc, len(tokens)); err != nil {
		return err
	}
	defer releaseCaches(mc.Layers)
	return m.forward(tokens, mc, logits, true)
}
