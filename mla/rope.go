package mla

import (
	"math"

	"github.com/mlasimd/mlasimd"
)

// yarnMScale is g(s, m) of the YaRN papers and DeepSeek's code: 1 for s <= 1, else
// 0.1·m·ln(s) + 1.
func yarnMScale(s, m float64) float64 {
	if s <= 1 {
		return 1
	}
	return 0.1*m*math.Log(s) + 1
}

// yarnCorrectionDim is the dimension index whose wavelength completes r rotations
// over the original context L0: d·ln(L0/(2πr)) / (2·ln base).
func yarnCorrectionDim(r float64, dim int, base float64, l0 int) float64 {
	return float64(dim) * math.Log(float64(l0)/(r*2*math.Pi)) / (2 * math.Log(base))
}

// YaRNRange returns the dimensions (low, high) between which YaRN blends extrapolated
// and interpolated frequencies: below low frequencies are kept, above high they are
// divided by the factor. (10, 23) for DeepSeek. Without YaRN it returns (0, 0).
func (c Config) YaRNRange() (low, high float64) {
	y := c.YaRN
	if y == nil {
		return 0, 0
	}
	dim := c.ropeDim()
	low = math.Max(math.Floor(yarnCorrectionDim(y.BetaFast, dim, c.RoPETheta, y.OriginalMaxPositions)), 0)
	high = math.Min(math.Ceil(yarnCorrectionDim(y.BetaSlow, dim, c.RoPETheta, y.OriginalMaxPositions)), float64(dim-1))
	if low == high {
		high += 0.001 // avoid a zero-width ramp, as the references do
	}
	return low, high
}

// RoPEInvFreq returns the rotary frequencies ω'_i, i < ropeDim/2, rounded to float32 as
// the references keep them: ω_i = θ^(-2i/d), blended with ω_i/factor by the YaRN ramp.
// It returns nil when the Config has no RoPE.
func (c Config) RoPEInvFreq() []float32 {
	dim := c.ropeDim()
	if dim == 0 {
		return nil
	}
	out := make([]float32, dim/2)
	low, high := c.YaRNRange()
	for i := range out {
		w := math.Pow(c.RoPETheta, -float64(2*i)/float64(dim))
		if c.YaRN != nil {
			ramp := math.Min(math.Max((float64(i)-low)/(high-low), 0), 1)
			w = w/c.YaRN.Factor*ramp + w*(1-ramp)
		}
		out[i] = float32(w)
	}
	return out
}

// RoPEAttentionFactor is the multiplier of cos and sin: g(s, mscale)/g(s,
// mscale_all_dim). It is exactly 1 for the DeepSeek presets, whose two mscales are
// equal; scaling cos/sin by g(s, mscale_all_dim) alone is a known bug.
func (c Config) RoPEAttentionFactor() float64 {
	y := c.YaRN
	if y == nil {
		return 1
	}
	return yarnMScale(y.Factor, y.MScale) / yarnMScale(y.Factor, y.MScaleAllDim)
}

// SoftmaxScale is τ = d_qk^-1/2 · m² with m = g(factor, mscale_all_dim) when YaRN is
// set and mscale_all_dim is not 0: 0.1147213867929261 for V2-Lite and V2,
// 0.1352337788608801 for V3. It stays based on d_qk in the absorbed path, whose dot
// products are d_c+d_r long.
func (c Config) SoftmaxScale() float64 {
	tau := 1 / math.Sqrt(float64(c.QKHeadDim()))
	if y := c.YaRN; y != nil && y.MScaleAllDim != 0 {
		m := yarnMScale(y.Factor, y.MScaleAllDim)
		tau *= m * m
	}
	return tau
}

// rotary applies the Config's RoPE to one vector of ropeDim values at a time.
type rotary struct {
	invFreq []float32
	factor  float32 // the cos/sin multiplier, usually 1
	layout  RoPELayout
}

func newRotary(c Config) *rotary {
	if c.ropeDim() == 0 {
		return nil
	}
	return &rotary{invFreq: c.RoPEInvFreq(), factor: float32(c.RoPEAttentionFactor()), layout: c.RoPELayout}
}

// pairs is the number of rotated pairs, the length of a cos/sin table row.
func (r *rotary) pairs() int { return len(r.invFreq) }

// cosSin fills cos and sin for absolute position pos. The angle is formed in float32,
// float32(pos)·ω'_i, exactly as the PyTorch references do, so that outputs match them
// at any position (at p ≈ 1.6e5 the float32 angle itself is off by up to ~1e-2 rad
// in the fastest pair, but identically so); cos and sin of that angle are then
// evaluated in float64, which reduces large angles accurately, and rounded.
func (r *rotary) cosSin(pos int, cos, sin []float32) {
	p := float32(pos)
	for i, w := range r.invFreq {
		theta := p * w
		s, c := math.Sincos(float64(theta))
		cos[i], sin[i] = float32(c)*r.factor, float32(s)*r.factor
	}
}

// apply rotates x (2·pairs values) in place with a row from cosSin.
func (r *rotary) apply(x, cos, sin []float32) {
	if r.layout == HalfSplit {
		mlasimd.RoPEHalf(x, cos, sin)
		return
	}
	mlasimd.RoPE(x, cos, sin)
}
