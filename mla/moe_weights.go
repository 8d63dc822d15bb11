package mla

import (
	"errors"
	"fmt"
	"strconv"
)

// ExpertWeights is one SwiGLU expert: W_down(silu(W_gate x) ⊙ W_up x).
type ExpertWeights struct {
	Gate, Up Matrix // [I, D] gate_proj, up_proj
	Down     Matrix // [D, I] down_proj
}

// Bytes is the memory the expert's matrices hold.
func (e *ExpertWeights) Bytes() int64 { return e.Gate.Bytes() + e.Up.Bytes() + e.Down.Bytes() }

// MoEWeights is the FFN of a DeepSeek mixture-of-experts block (model.layers.N.mlp.*).
type MoEWeights struct {
	// Gate is mlp.gate.weight [RoutedExperts, D]. It is held as float32 whatever the
	// weight format (it is small, and both reference codes compute it in float32), so
	// that the experts chosen do not depend on the experts' format.
	Gate Matrix
	// Bias is mlp.gate.e_score_correction_bias [RoutedExperts] (noaux_tc only, else nil).
	Bias []float32
	// Experts are mlp.experts.E.*, each of width MoEConfig.Intermediate.
	Experts []ExpertWeights
	// Shared is mlp.shared_experts.*, of width SharedExperts·Intermediate (empty
	// matrices when SharedExperts is 0).
	Shared ExpertWeights
}

// Bytes is the memory the block's weights hold.
func (w *MoEWeights) Bytes() int64 {
	if w == nil {
		return 0
	}
	n := w.Gate.Bytes() + 4*int64(len(w.Bias)) + w.Shared.Bytes()
	for i := range w.Experts {
		n += w.Experts[i].Bytes()
	}
	return n
}

// prepareMoE gives every MoE block of c an empty MoEWeights to fill.
func (w *ModelWeights) prepareMoE(c Config) {
	for i := range w.Blocks {
		if c.IsMoELayer(i) && i < c.Layers {
			w.Blocks[i].MoE = &MoEWeights{Experts: make([]ExpertWeights, c.MoE.RoutedExperts)}
		}
	}
}

// moeTensors lists the tensors of MoE block i (prefix p) in w; w may be a
// throwaway when the block has none, so that Check reports them missing.
func moeTensors(c Config, p string, w *MoEWeights) []modelTensor {
	m, D, I := c.MoE, c.Hidden, c.MoE.Intermediate
	if len(w.Experts) != m.RoutedExperts {
		w = &MoEWeights{Experts: make([]ExpertWeights, m.RoutedExperts)}
	}
	p += "mlp."
	t := []modelTensor{{name: p + "gate.weight", rows: m.RoutedExperts, cols: D, mat: &w.Gate, init: initXavier, gain: 1, f32: true}}
	if m.TopK == TopKNoAuxTC {
		t = append(t, modelTensor{name: p + "gate.e_score_correction_bias", rows: m.RoutedExperts, vec: &w.Bias, init: initZeros})
	}
	expert := func(q string, e *ExpertWeights, width int) {
		t = append(t,
			modelTensor{name: q + "gate_proj.weight", rows: width, cols: D, mat: &e.Gate, init: initXavier, gain: 1},
			modelTensor{name: q + "up_proj.weight", rows: width, cols: D, mat: &e.Up, init: initXavier, gain: 1},
			modelTensor{name: q + "down_proj.weight", rows: D, cols: width, mat: &e.Down, init: initXavier, gain: 1 / 1.4142135623730951})
	}
	for e := range w.Experts {
		expert(p+"experts."+strconv.Itoa(e)+".", &w.Experts[e], I)
	}
	if m.SharedExperts > 0 {
		expert(p+"shared_experts.", &w.Shared, m.SharedExperts*I)
	}
	return t
}

// checkMoEBlocks reports MoE weights on dense blocks (the MoE blocks' tensors are
// checked with the others).
func (w *ModelWeights) checkMoEBlocks(c Config) error {
	var errs []error
	for i := range w.Blocks {
		if w.Blocks[i].MoE != nil && !c.IsMoELayer(i) {
			errs = append(errs, fmt.Errorf("mla: model weights: block %d has MoE weights, but config %q makes it a dense block", i, c.Name))
		}
	}
	return errors.Join(errs...)
}

// convert returns the block with every expert matrix in format f; the gate stays
// float32.
func (w *MoEWeights) convert(f WeightFormat) (*MoEWeights, error) {
	if w == nil {
		return nil, nil
	}
	out := &MoEWeights{Gate: w.Gate, Bias: w.Bias, Experts: make([]ExpertWeights, len(w.Experts))}
	conv := func(dst, src *ExpertWeights, what string) error {
		for _, m := range []struct{ d, s *Matrix }{{&dst.Gate, &src.Gate}, {&dst.Up, &src.Up}, {&dst.Down, &src.Down}} {
			if m.s.rows == 0 {
				continue
			}
			var err error
			if *m.d, err = m.s.Convert(f); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		}
		return nil
	}
	for e := range w.Experts {
		if err := conv(&out.Experts[e], &w.Experts[e], "expert "+strconv.Itoa(e)); err != nil {
			return nil, err
		}
	}
	if err := conv(&out.Shared, &w.Shared, "shared experts"); err != nil {
		return nil, err
	}
	return out, nil
}

// RandomMoEWeights returns deterministic random weights for one MoE block of c
// (block index layer, which names the tensors and seeds them as RandomModelWeights
// does), every expert in format f (the gate float32, the bias zero), converting one
// expert at a time so that a big block never exists as float32 as a whole.
func RandomMoEWeights(c Config, layer int, seed uint64, f WeightFormat) (*MoEWeights, error) {
	if c.MoE == nil {
		return nil, fmt.Errorf("mla: RandomMoEWeights: config %q has no MoE", c.Name)
	}
	if err := c.MoE.validate(c.Name, c.Hidden); err != nil {
		return nil, err
	}
	w := &MoEWeights{Experts: make([]ExpertWeights, c.MoE.RoutedExperts)}
	tensors := moeTensors(c, blockPrefix(layer), w)
	for i := 0; i < len(tensors); {
		// One expert's three matrices (or the gate, or the bias) at a time.
		j := i + 1
		if tensors[i].mat != nil && !tensors[i].f32 {
			j = i + 3
		}
		var fills []fillJob
		for _, t := range tensors[i:j] {
			buf := make([]float32, t.rows*max(t.cols, 1))
			if t.mat != nil {
				*t.mat = NewMatrix(t.rows, t.cols, buf)
			} else {
				*t.vec = buf
			}
			fills = append(fills, fillJob{dst: buf, name: t.name, spec: tensorSpec{rows: t.rows, cols: t.cols, init: t.init, gain: t.gain}})
		}
		runFills(seed, fills)
		for _, t := range tensors[i:j] {
			if t.mat != nil && !t.f32 {
				m, err := t.mat.Convert(f)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", t.name, err)
				}
				*t.mat = m
			}
		}
		i = j
	}
	return w, nil
}
