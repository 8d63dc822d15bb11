package mla

import (
	"errors"
	"fmt"
	"math"
)

// LayerWeights holds one attention layer's weights: the linear maps as Matrix values,
// row-major [out, in] as PyTorch's nn.Linear stores them, each in its WeightFormat
// (Convert changes them all); the norm gains and bias in float32. Which fields are
// used depends on the Config: QProj when QLoRARank is 0, else QAProj, QANorm and
// QBProj; KVANormBias only with LayerNormKind.
//
// Layers only read their weights, so one LayerWeights may back any number of Layers
// used on any number of goroutines, as long as nobody writes to it meanwhile.
type LayerWeights struct {
	QProj  Matrix    // [H·d_qk, D]; rows h·d_qk+j: j < d_n is q_nope, then the raw q_pe
	QAProj Matrix    // [d_q, D]
	QANorm []float32 // [d_q], RMSNorm gain of the query latent
	QBProj Matrix    // [H·d_qk, d_q], rows laid out as QProj's

	KVAProj     Matrix    // [d_c + d_r, D]: rows < d_c give the raw latent, the rest the raw rope key
	KVANorm     []float32 // [d_c], gain of the KV latent norm
	KVANormBias []float32 // [d_c], bias of the KV latent LayerNorm (seed only)
	// KVBProj is [H·(d_n+d_v), d_c]: head h's key up-projection W_UK(h) is rows
	// [h(d_n+d_v), h(d_n+d_v)+d_n), its value up-projection W_UV(h) the next d_v rows.
	KVBProj Matrix

	OProj Matrix // [D, H·d_v]; input column h·d_v+j is output dim j of head h
}

// keyUpRow is the first row of W_UK(h), a d_n x d_c block of KVBProj.
func keyUpRow(c Config, h int) int { return h * (c.QKNopeHeadDim + c.VHeadDim) }

// valueUpRow is the first row of W_UV(h), a d_v x d_c block of KVBProj.
func valueUpRow(c Config, h int) int { return keyUpRow(c, h) + c.QKNopeHeadDim }

// kvPart marks a checkpoint tensor that holds only the key or value rows of KVBProj
// (the seed stores k_up_proj and v_up_proj separately).
type kvPart int

const (
	wholeTensor kvPart = iota
	keyRows
	valueRows
)

type initKind int

const (
	initXavier initKind = iota
	initOnes
	initZeros
)

// tensorSpec is one checkpoint tensor of a layer: its name (after the layer prefix),
// shape, where it lives in LayerWeights and how random init fills it.
type tensorSpec struct {
	name       string
	rows, cols int                            // cols == 0: a vector of rows elements
	vec        func(*LayerWeights) *[]float32 // a norm gain or bias (cols == 0)
	mat        func(*LayerWeights) *Matrix    // a linear map
	part       kvPart
	init       initKind
	gain       float64 // Xavier gain
	sharedDown bool    // the KV down-projection, model-wide when SharedKVDown
}

func (s tensorSpec) shape() []int {
	if s.cols == 0 {
		return []int{s.rows}
	}
	return []int{s.rows, s.cols}
}

func (s tensorSpec) numel() int { return s.rows * max(s.cols, 1) }

// layerTensorSpecs lists the tensors of one attention layer for c, in checkpoint order.
func layerTensorSpecs(c Config) []tensorSpec {
	H, D := c.Heads, c.Hidden
	dqk, dc := c.QKHeadDim(), c.KVLoRARank
	seed := c.Names == SeedNames
	var s []tensorSpec
	lin := func(name string, rows, cols int, f func(*LayerWeights) *Matrix) {
		s = append(s, tensorSpec{name: name, rows: rows, cols: cols, mat: f, init: initXavier, gain: 1})
	}
	if c.QLoRARank == 0 {
		lin("q_proj.weight", H*dqk, D, func(w *LayerWeights) *Matrix { return &w.QProj })
	} else {
		lin("q_a_proj.weight", c.QLoRARank, D, func(w *LayerWeights) *Matrix { return &w.QAProj })
		s = append(s, tensorSpec{name: "q_a_layernorm.weight", rows: c.QLoRARank, init: initOnes,
			vec: func(w *LayerWeights) *[]float32 { return &w.QANorm }})
		lin("q_b_proj.weight", H*dqk, c.QLoRARank, func(w *LayerWeights) *Matrix { return &w.QBProj })
	}
	down, norm := "kv_a_proj_with_mqa.weight", "kv_a_layernorm"
	if seed {
		down, norm = "kv_down_proj.weight", "latent_norm"
	}
	lin(down, c.CacheRowWidth(), D, func(w *LayerWeights) *Matrix { return &w.KVAProj })
	s[len(s)-1].sharedDown = true
	s = append(s, tensorSpec{name: norm + ".weight", rows: dc, init: initOnes,
		vec: func(w *LayerWeights) *[]float32 { return &w.KVANorm }})
	if c.LatentNorm == LayerNormKind {
		s = append(s, tensorSpec{name: norm + ".bias", rows: dc, init: initZeros,
			vec: func(w *LayerWeights) *[]float32 { return &w.KVANormBias }})
	}
	kvb := func(w *LayerWeights) *Matrix { return &w.KVBProj }
	if seed {
		s = append(s,
			tensorSpec{name: "k_up_proj.weight", rows: H * c.QKNopeHeadDim, cols: dc, mat: kvb, part: keyRows, init: initXavier, gain: 1},
			tensorSpec{name: "v_up_proj.weight", rows: H * c.VHeadDim, cols: dc, mat: kvb, part: valueRows, init: initXavier, gain: 1})
	} else {
		lin("kv_b_proj.weight", H*(c.QKNopeHeadDim+c.VHeadDim), dc, kvb)
	}
	// The seed initializes o_proj with gain 1/sqrt(2) for residual stability.
	s = append(s, tensorSpec{name: "o_proj.weight", rows: D, cols: H * c.VHeadDim, init: initXavier, gain: 1 / math.Sqrt2,
		mat: func(w *LayerWeights) *Matrix { return &w.OProj }})
	return s
}

// Check returns an error naming every tensor whose length does not fit c, or the
// problems of c itself.
func (w *LayerWeights) Check(c Config) (err error) {
	defer func() { err = shapeErr(err) }()
	if w == nil {
		return errors.New("mla: nil LayerWeights")
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if err := checkWeightSizes(c); err != nil {
		return err
	}
	var errs []error
	kvbRows := 0
	for _, s := range layerTensorSpecs(c) {
		switch {
		case s.part != wholeTensor:
			kvbRows += s.rows
		case s.mat != nil:
			if err := s.mat(w).checkShape("layer weight "+s.name, s.rows, s.cols); err != nil {
				errs = append(errs, fmt.Errorf("%w (config %q)", err, c.Name))
			}
		default:
			if got := len(*s.vec(w)); got != s.numel() {
				errs = append(errs, fmt.Errorf("mla: layer weight %s has %d values, want %v = %d for config %q", s.name, got, s.shape(), s.numel(), c.Name))
			}
		}
	}
	if kvbRows > 0 {
		if err := w.KVBProj.checkShape("layer weight KVBProj (k_up_proj+v_up_proj)", kvbRows, c.KVLoRARank); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Convert returns the weights with every linear map in format f (FormatKeep leaves
// each as it is); maps already in f are shared, not copied.
func (w *LayerWeights) Convert(f WeightFormat) (*LayerWeights, error) {
	if w == nil {
		return nil, errors.New("mla: nil LayerWeights")
	}
	out := *w
	for _, m := range []struct {
		name string
		m    *Matrix
	}{{"q_proj", &out.QProj}, {"q_a_proj", &out.QAProj}, {"q_b_proj", &out.QBProj}, {"kv_a_proj_with_mqa", &out.KVAProj}, {"kv_b_proj", &out.KVBProj}, {"o_proj", &out.OProj}} {
		var err error
		if *m.m, err = m.m.Convert(f); err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return &out, nil
}

// Bytes is the memory the weights hold: the matrices in their formats and the
// float32 norm vectors.
func (w *LayerWeights) Bytes() int64 {
	n := 4 * int64(len(w.QANorm)+len(w.KVANorm)+len(w.KVANormBias))
	for _, m := range []Matrix{w.QProj, w.QAProj, w.QBProj, w.KVAProj, w.KVBProj, w.OProj} {
		n += m.Bytes()
	}
	return n
}

// interleaveKV builds the per-head [W_UK(h); W_UV(h)] layout of kv_b_proj from a
// matrix of all heads' key rows and one of all value rows, in their format.
func interleaveKV(c Config, k, v Matrix) (Matrix, error) {
	dn, dv := c.QKNopeHeadDim, c.VHeadDim
	parts := make([]Matrix, 0, 2*c.Heads)
	for h := range c.Heads {
		parts = append(parts, k.rowView(h*dn, (h+1)*dn), v.rowView(h*dv, (h+1)*dv))
	}
	return stackRows(parts...)
}

// splitKV is interleaveKV's inverse: the key rows or the value rows of all heads.
func splitKV(c Config, kvb Matrix, part kvPart) (Matrix, error) {
	dn, dv := c.QKNopeHeadDim, c.VHeadDim
	off, n := 0, dn
	if part == valueRows {
		off, n = dn, dv
	}
	parts := make([]Matrix, 0, c.Heads)
	for h := range c.Heads {
		base := h*(dn+dv) + off
		parts = append(parts, kvb.rowView(base, base+n))
	}
	return stackRows(parts...)
}
