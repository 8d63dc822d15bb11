package mla

import (
	"errors"
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd/internal/hugepage"
)

// LayerWeights holds one attention layer's weights in float32, row-major [out, in] as
// PyTorch's nn.Linear stores them. Which fields are used depends on the Config: QProj
// when QLoRARank is 0, else QAProj, QANorm and QBProj; KVANormBias only with
// LayerNormKind.
//
// Layers only read their weights, so one LayerWeights may back any number of Layers
// used on any number of goroutines, as long as nobody writes to it meanwhile.
type LayerWeights struct {
	QProj  []float32 // [H·d_qk, D]; rows h·d_qk+j: j < d_n is q_nope, then the raw q_pe
	QAProj []float32 // [d_q, D]
	QANorm []float32 // [d_q], RMSNorm gain of the query latent
	QBProj []float32 // [H·d_qk, d_q], rows laid out as QProj's

	KVAProj     []float32 // [d_c + d_r, D]: rows < d_c give the raw latent, the rest the raw rope key
	KVANorm     []float32 // [d_c], gain of the KV latent norm
	KVANormBias []float32 // [d_c], bias of the KV latent LayerNorm (seed only)
	// KVBProj is [H·(d_n+d_v), d_c]: head h's key up-projection W_UK(h) is rows
	// [h(d_n+d_v), h(d_n+d_v)+d_n), its value up-projection W_UV(h) the next d_v rows.
	KVBProj []float32

	OProj []float32 // [D, H·d_v]; input column h·d_v+j is output dim j of head h
}

// keyUp returns W_UK(h), a d_n x d_c row-major block of KVBProj.
func (w *LayerWeights) keyUp(c Config, h int) []float32 {
	off := h * (c.QKNopeHeadDim + c.VHeadDim) * c.KVLoRARank
	return w.KVBProj[off : off+c.QKNopeHeadDim*c.KVLoRARank]
}

// valueUp returns W_UV(h), a d_v x d_c row-major block of KVBProj.
func (w *LayerWeights) valueUp(c Config, h int) []float32 {
	off := (h*(c.QKNopeHeadDim+c.VHeadDim) + c.QKNopeHeadDim) * c.KVLoRARank
	return w.KVBProj[off : off+c.VHeadDim*c.KVLoRARank]
}

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
	rows, cols int // cols == 0: a vector of rows elements
	field      func(*LayerWeights) *[]float32
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
	lin := func(name string, rows, cols int, f func(*LayerWeights) *[]float32) {
		s = append(s, tensorSpec{name: name, rows: rows, cols: cols, field: f, init: initXavier, gain: 1})
	}
	if c.QLoRARank == 0 {
		lin("q_proj.weight", H*dqk, D, func(w *LayerWeights) *[]float32 { return &w.QProj })
	} else {
		lin("q_a_proj.weight", c.QLoRARank, D, func(w *LayerWeights) *[]float32 { return &w.QAProj })
		s = append(s, tensorSpec{name: "q_a_layernorm.weight", rows: c.QLoRARank, init: initOnes,
			field: func(w *LayerWeights) *[]float32 { return &w.QANorm }})
		lin("q_b_proj.weight", H*dqk, c.QLoRARank, func(w *LayerWeights) *[]float32 { return &w.QBProj })
	}
	down, norm := "kv_a_proj_with_mqa.weight", "kv_a_layernorm"
	if seed {
		down, norm = "kv_down_proj.weight", "latent_norm"
	}
	lin(down, c.CacheRowWidth(), D, func(w *LayerWeights) *[]float32 { return &w.KVAProj })
	s[len(s)-1].sharedDown = true
	s = append(s, tensorSpec{name: norm + ".weight", rows: dc, init: initOnes,
		field: func(w *LayerWeights) *[]float32 { return &w.KVANorm }})
	if c.LatentNorm == LayerNormKind {
		s = append(s, tensorSpec{name: norm + ".bias", rows: dc, init: initZeros,
			field: func(w *LayerWeights) *[]float32 { return &w.KVANormBias }})
	}
	kvb := func(w *LayerWeights) *[]float32 { return &w.KVBProj }
	if seed {
		s = append(s,
			tensorSpec{name: "k_up_proj.weight", rows: H * c.QKNopeHeadDim, cols: dc, field: kvb, part: keyRows, init: initXavier, gain: 1},
			tensorSpec{name: "v_up_proj.weight", rows: H * c.VHeadDim, cols: dc, field: kvb, part: valueRows, init: initXavier, gain: 1})
	} else {
		lin("kv_b_proj.weight", H*(c.QKNopeHeadDim+c.VHeadDim), dc, kvb)
	}
	// The seed initializes o_proj with gain 1/sqrt(2) for residual stability.
	s = append(s, tensorSpec{name: "o_proj.weight", rows: D, cols: H * c.VHeadDim, init: initXavier, gain: 1 / math.Sqrt2,
		field: func(w *LayerWeights) *[]float32 { return &w.OProj }})
	return s
}

// Check returns an error naming every tensor whose length does not fit c, or the
// problems of c itself.
func (w *LayerWeights) Check(c Config) error {
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
		if s.part != wholeTensor {
			kvbRows += s.rows
			continue
		}
		if got := len(*s.field(w)); got != s.numel() {
			errs = append(errs, fmt.Errorf("mla: layer weight %s has %d values, want %v = %d for config %q", s.name, got, s.shape(), s.numel(), c.Name))
		}
	}
	if kvbRows > 0 {
		if want := kvbRows * c.KVLoRARank; len(w.KVBProj) != want {
			errs = append(errs, fmt.Errorf("mla: layer weight KVBProj (k_up_proj+v_up_proj) has %d values, want [%d %d] = %d", len(w.KVBProj), kvbRows, c.KVLoRARank, want))
		}
	}
	return errors.Join(errs...)
}

// interleaveKV builds the per-head [W_UK(h); W_UV(h)] layout of kv_b_proj from a
// tensor of all heads' key rows and one of all value rows.
func interleaveKV(c Config, k, v []float32) []float32 {
	dn, dv, dc := c.QKNopeHeadDim, c.VHeadDim, c.KVLoRARank
	out := hugepage.Make[float32](c.Heads * (dn + dv) * dc)
	for h := range c.Heads {
		dst := out[h*(dn+dv)*dc:]
		copy(dst[:dn*dc], k[h*dn*dc:(h+1)*dn*dc])
		copy(dst[dn*dc:(dn+dv)*dc], v[h*dv*dc:(h+1)*dv*dc])
	}
	return out
}

// splitKV is interleaveKV's inverse: the key rows or the value rows of all heads.
func splitKV(c Config, kvb []float32, part kvPart) []float32 {
	dn, dv, dc := c.QKNopeHeadDim, c.VHeadDim, c.KVLoRARank
	off, n := 0, dn
	if part == valueRows {
		off, n = dn, dv
	}
	out := make([]float32, 0, c.Heads*n*dc)
	for h := range c.Heads {
		base := (h*(dn+dv) + off) * dc
		out = append(out, kvb[base:base+n*dc]...)
	}
	return out
}
