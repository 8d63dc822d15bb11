package mla

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// A Sampler picks the next token from one position's logits (Vocab values, which it
// may overwrite: they are scratch). GenerateContext calls it once per token, from one
// goroutine.
type Sampler interface {
	Sample(logits []float32) (int, error)
}

// ErrNoToken is wrapped by a sampler's error when no logit can be chosen: every one
// is NaN (or -Inf).
var ErrNoToken = errors.New("mla: no logit to sample from")

// Greedy samples the arg max: the first of equal maxima; NaN never wins.
type Greedy struct{}

// Sample returns the index of the largest logit.
func (Greedy) Sample(logits []float32) (int, error) {
	best := -1
	for i, x := range logits {
		if x == x && x > float32(math.Inf(-1)) && (best < 0 || x > logits[best]) {
			best = i
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("greedy: %d logits: %w", len(logits), ErrNoToken)
	}
	return best, nil
}

// SamplerOptions are the usual random sampler's settings.
type SamplerOptions struct {
	// Temperature divides the logits; 0 samples greedily (the other settings then do
	// nothing).
	Temperature float64
	// TopK keeps the K most likely tokens (0: all).
	TopK int
	// TopP keeps the most likely tokens whose probabilities sum to at least TopP
	// (nucleus sampling; 0 or 1: all).
	TopP float64
	// Seed seeds the PCG source, so that a run repeats.
	Seed uint64
}

// RandomSampler samples with temperature, top-k and top-p from a seeded PCG
// source (math/rand/v2). Its scratch grows to the vocabulary at the first call and is
// reused, so later calls allocate nothing.
type RandomSampler struct {
	o     SamplerOptions
	rng   *rand.Rand
	order []int     // candidate token ids, most likely first
	probs []float64 // their probabilities
}

// NewSampler checks o and returns its sampler.
func NewSampler(o SamplerOptions) (*RandomSampler, error) {
	switch {
	case math.IsNaN(o.Temperature) || o.Temperature < 0 || math.IsInf(o.Temperature, 0):
		return nil, fmt.Errorf("mla: sampler: temperature %v, want a finite value >= 0", o.Temperature)
	case o.TopK < 0:
		return nil, fmt.Errorf("mla: sampler: top-k %d, want >= 0", o.TopK)
	case math.IsNaN(o.TopP) || o.TopP < 0 || o.TopP > 1:
		return nil, fmt.Errorf("mla: sampler: top-p %v, want a value in [0, 1]", o.TopP)
	}
	return &RandomSampler{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}, nil
}

// Sample draws a token: the logits divided by the temperature, softmax over the
// top-k candidates (ties broken by the lower id), the smallest prefix of them whose
// probabilities reach top-p kept and renormalized, then one uniform draw. NaN and -Inf
// logits are never drawn.
func (s *RandomSampler) Sample(logits []float32) (int, error) {
	if s.o.Temperature == 0 {
		return Greedy{}.Sample(logits)
	}
	s.order = s.order[:0]
	top := float32(math.Inf(-1))
	for i, x := range logits {
		if x == x && x > float32(math.Inf(-1)) {
			s.order = append(s.order, i)
			top = max(top, x)
		}
	}
	if len(s.order) == 0 {
		return 0, fmt.Errorf("sampler: %d logits: %w", len(logits), ErrNoToken)
	}
	if s.truncates(len(s.order)) {
		s.sortCandidates(logits)
	}
	if k := s.o.TopK; k > 0 && k < len(s.order) {
		s.order = s.order[:k]
	}
	// Softmax of (logit - max)/T in float64: +Inf logits share the mass.
	s.probs = s.probs[:0]
	var sum float64
	for _, id := range s.order {
		var p float64
		switch x := float64(logits[id]); {
		case math.IsInf(float64(top), 1):
			if math.IsInf(x, 1) {
				p = 1
			}
		default:
			p = math.Exp((x - float64(top)) / s.o.Temperature)
		}
		s.probs = append(s.probs, p)
		sum += p
	}
	keep := len(s.order)
	if p := s.o.TopP; p > 0 && p < 1 {
		var c float64
		for i, q := range s.probs {
			c += q / sum
			if c >= p {
				keep = i + 1
				break
			}
		}
	}
	var mass float64
	for _, q := range s.probs[:keep] {
		mass += q
	}
	u := s.rng.Float64() * mass
	for i, q := range s.probs[:keep] {
		if u < q {
			return s.order[i], nil
		}
		u -= q
	}
	return s.order[keep-1], nil // u fell on rounding at the end
}

// truncates reports whether top-k or top-p drop candidates, which then must be
// ranked; plain temperature sampling draws over them in id order, with no sort.
func (s *RandomSampler) truncates(n int) bool {
	return (s.o.TopK > 0 && s.o.TopK < n) || (s.o.TopP > 0 && s.o.TopP < 1)
}

// sortCandidates ranks s.order by logit, most likely first, ties by the lower id.
func (s *RandomSampler) sortCandidates(logits []float32) {
	slices.SortFunc(s.order, func(a, b int) int {
		switch {
		case logits[a] > logits[b]:
			return -1
		case logits[a] < logits[b]:
			return 1
		}
		return a - b
	})
}
