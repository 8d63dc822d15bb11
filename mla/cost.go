package mla

import (
	"fmt"

	"github.com/mlasimd/mlasimd/internal/checked"
)

// Per-token cache sizes, the MHA/GQA comparison and the FLOP/byte model of a step.
// Elements are counted per token and per layer unless a name says otherwise.

// MHACacheElemsPerToken is what a decompressed multi-head cache holds per token and
// layer: every head's key (d_qk) and value (d_v). 5120 for V2-Lite, 40960 for V2/V3,
// 2·H·head_dim for the seed.
func (c Config) MHACacheElemsPerToken() int { return c.Heads * (c.QKHeadDim() + c.VHeadDim) }

// GQACacheElemsPerToken is the same for grouped-query attention with the given number
// of KV groups (one key and one value head per group).
func (c Config) GQACacheElemsPerToken(groups int) int { return groups * (c.QKHeadDim() + c.VHeadDim) }

// CacheSizeRatio is the MLA cache size over the MHA cache size (CacheRowWidth over
// MHACacheElemsPerToken): 0.1125 for V2-Lite (8.89x smaller), 0.0141 for V2/V3
// (71.1x smaller).
func (c Config) CacheSizeRatio() float64 {
	return float64(c.CacheRowWidth()) / float64(c.MHACacheElemsPerToken())
}

// CacheSizeRatioGQA is the MLA cache size over a GQA cache with the given groups.
func (c Config) CacheSizeRatioGQA(groups int) float64 {
	return float64(c.CacheRowWidth()) / float64(c.GQACacheElemsPerToken(groups))
}

// CacheBytesPerToken is the latent cache's bytes per token for one layer (an I8 row
// adds its two float32 scales, an FP8 row its one).
func (c Config) CacheBytesPerToken(dt DType) int {
	switch dt {
	case I8:
		return c.CacheRowWidth() + 8
	case FP8:
		return c.CacheRowWidth() + 4
	}
	return c.CacheRowWidth() * dt.Size()
}

// ModelCacheBytesPerToken is the latent cache's bytes per token over all Layers:
// 31,104 (V2-Lite), 69,120 (V2) and 70,272 (V3) in bf16.
func (c Config) ModelCacheBytesPerToken(dt DType) int64 {
	return int64(c.Layers) * int64(c.CacheBytesPerToken(dt))
}

// AttentionParams counts one layer's attention weights (the norm gains included).
func (c Config) AttentionParams() int64 {
	var n int64
	for _, s := range layerTensorSpecs(c) {
		n += int64(s.rows) * int64(max(s.cols, 1))
	}
	return n
}

// projectionFLOPs is the work of the projections every algorithm shares: the query
// path, kv_a_proj_with_mqa and o_proj (23.33 MFLOP for V2-Lite).
func (c Config) projectionFLOPs() float64 {
	D, H := float64(c.Hidden), float64(c.Heads)
	q := D * H * float64(c.QKHeadDim())
	if c.QLoRARank > 0 {
		q = D*float64(c.QLoRARank) + float64(c.QLoRARank)*H*float64(c.QKHeadDim())
	}
	return 2 * (q + D*float64(c.CacheRowWidth()) + H*float64(c.VHeadDim)*D)
}

// AbsorbedAttentionFLOPs is the absorbed decode's attention core for S cached rows,
// projections excluded: W_UK and W_UV per head, scores over [c|kr], the weighted sum
// over c. 4,194,304 + 34,816·S for V2-Lite; 33,554,432 + 278,528·S for V2/V3.
func (c Config) AbsorbedAttentionFLOPs(s int) float64 {
	H, dc := float64(c.Heads), float64(c.KVLoRARank)
	S := float64(s)
	return 2*H*dc*float64(c.QKNopeHeadDim+c.VHeadDim) + 2*H*S*float64(c.CacheRowWidth()) + 2*H*S*dc
}

// NaiveAttentionFLOPs is the decompressing decode's attention core: every cached
// latent is up-projected for every head, then ordinary attention with d_qk and d_v.
func (c Config) NaiveAttentionFLOPs(s int) float64 {
	H, dc := float64(c.Heads), float64(c.KVLoRARank)
	S := float64(s)
	return S * (2*H*dc*float64(c.QKNopeHeadDim+c.VHeadDim) + 2*H*float64(c.QKHeadDim()+c.VHeadDim))
}

// Cost is the work one decode step does: its arithmetic and the bytes it must read.
type Cost struct {
	FLOPs       float64 // a multiply-add counts 2
	WeightBytes int64   // attention weights read: as float32 from a Config, as held from a Layer
	CacheBytes  int64   // latent cache read
}

// Bytes is all the memory a step reads.
func (k Cost) Bytes() int64 { return k.WeightBytes + k.CacheBytes }

// DecodeCost is the cost of one absorbed decode step of this layer over S cached
// rows stored as dt: Config.DecodeCost with the bytes its weights really hold in
// their formats.
func (l *Layer) DecodeCost(s int, dt DType) Cost {
	if l == nil || l.w == nil {
		return Cost{}
	}
	k := l.cfg.DecodeCost(s, dt)
	k.WeightBytes = l.w.Bytes()
	return k
}

// DecodeCost is one absorbed decode step of one layer over S cached rows (the new
// token's included) stored as dt, with float32 weights (Layer.DecodeCost counts the
// format a layer holds).
func (c Config) DecodeCost(s int, dt DType) Cost {
	return Cost{
		FLOPs:       c.projectionFLOPs() + c.AbsorbedAttentionFLOPs(s),
		WeightBytes: 4 * c.AttentionParams(),
		CacheBytes:  int64(s) * int64(c.CacheBytesPerToken(dt)),
	}
}

// NaiveDecodeCost is DecodeCost for the decompressing reference path.
func (c Config) NaiveDecodeCost(s int, dt DType) Cost {
	k := c.DecodeCost(s, dt)
	k.FLOPs = c.projectionFLOPs() + c.NaiveAttentionFLOPs(s)
	return k
}

// Footprint is the memory a Config implies, in bytes.
type Footprint struct {
	LayerWeightBytes   int64 // one attention layer's weights as float32
	ModelWeightBytes   int64 // the whole decoder's weights as float32; 0 without the model fields
	CacheBytesPerToken int64 // one token's float32 cache rows over all Layers (one layer when Layers is 0)
}

// Footprint computes c's memory with overflow checks: it returns an error, not a
// wrapped size, for a Config whose products do not fit an int (or that has a
// negative dimension), so callers can compare the sizes with a limit before
// allocating anything.
func (c Config) Footprint() (Footprint, error) {
	H, D, dq, dc := c.Heads, c.Hidden, c.QLoRARank, c.KVLoRARank
	dn, dr, dv := c.QKNopeHeadDim, c.QKRopeHeadDim, c.VHeadDim
	ok := true
	add := func(a, b int) int { v, o := checked.Add(a, b); ok = ok && o; return v }
	mul := func(f ...int) int { v, o := checked.Product(f...); ok = ok && o; return v }

	dqk := add(dn, dr)
	var q int
	if dq == 0 {
		q = mul(H, dqk, D)
	} else {
		q = add(add(mul(dq, D), dq), mul(H, dqk, dq))
	}
	kvA := mul(add(dc, dr), D)
	norm := dc
	if c.LatentNorm == LayerNormKind {
		norm = mul(2, dc)
	}
	layer := add(add(add(q, kvA), add(norm, mul(H, add(dn, dv), dc))), mul(D, H, dv))
	var fp Footprint
	fp.LayerWeightBytes = int64(mul(layer, 4))
	fp.CacheBytesPerToken = int64(mul(add(dc, dr), 4, max(c.Layers, 1)))
	if c.Layers > 0 && c.Vocab > 0 && c.Intermediate > 0 {
		block := add(layer, mul(2, D))
		shared := 0
		if c.SharedKVDown {
			block -= kvA // kvA <= layer <= block, so this cannot wrap
			shared = kvA
		}
		ffn, err := c.ffnParams()
		ok = ok && err == nil
		model := add(add(add(mul(c.Layers, block), ffn), mul(2, c.Vocab, D)), add(D, shared))
		fp.ModelWeightBytes = int64(mul(model, 4))
	}
	if !ok {
		return Footprint{}, fmt.Errorf("mla: config %q: its weight or cache size overflows an int (or a dimension is negative)", c.Name)
	}
	return fp, nil
}
