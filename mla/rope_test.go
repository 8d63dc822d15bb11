package mla

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// TestYaRNTable: YaRN frequency values for the three DeepSeek models.
func TestYaRNTable(t *testing.T) {
	for _, c := range []Config{DeepSeekV2Lite(), DeepSeekV2(), DeepSeekV3()} {
		low, high := c.YaRNRange()
		require.Equal(t, 10.0, low, c.Name)
		require.Equal(t, 23.0, high, c.Name)
		w := c.RoPEInvFreq()
		require.Len(t, w, 32)
		want := map[int]float64{
			0:  1,
			10: 5.623413252e-02,
			11: 3.900692657e-02,
			16: 0.01 * (7.0/13 + 6.0/520),
			20: 3.162277660e-03 / 4,
			22: 1.778279410e-03 / 10,
			23: 3.333803580e-05,
			31: 3.333803580e-06,
		}
		for i, v := range want {
			// ω' is kept in float32: half an ulp (2^-24 relative) plus the 10
			// significant digits the table gives.
			require.InEpsilon(t, v, float64(w[i]), unitRoundoff+1e-9, "ω'_%d of %s", i, c.Name)
		}
		for i := 23; i < 32; i++ {
			plain := math.Pow(10000, -float64(2*i)/64)
			require.InEpsilon(t, plain/40, float64(w[i]), unitRoundoff, "ω'_%d = ω_%d/40", i, i)
		}
		for i := 0; i <= 10; i++ {
			require.InEpsilon(t, math.Pow(10000, -float64(2*i)/64), float64(w[i]), unitRoundoff, "ω'_%d = ω_%d", i, i)
		}
		require.Equal(t, 1.0, c.RoPEAttentionFactor(), "cos/sin multiplier must be exactly 1 for %s", c.Name)
	}
	// Using the long context (163840) instead of the original 4096 would give 23/36.
	bad := DeepSeekV3()
	bad.YaRN.OriginalMaxPositions = 163840
	low, high := bad.YaRNRange()
	require.Equal(t, []float64{23, 36}, []float64{low, high})
}

// TestSoftmaxScale: the softmax scale τ per model, and the mscale fields' roles.
func TestSoftmaxScale(t *testing.T) {
	require.InDelta(t, 0.1147213867929261, DeepSeekV2Lite().SoftmaxScale(), 1e-15)
	require.InDelta(t, 0.1147213867929261, DeepSeekV2().SoftmaxScale(), 1e-15)
	require.InDelta(t, 0.1352337788608801, DeepSeekV3().SoftmaxScale(), 1e-15)
	c := DeepSeekV3()
	c.YaRN = nil
	require.InDelta(t, 0.07216878364870322, c.SoftmaxScale(), 1e-16)
	// mscale_all_dim absent (0): no m² in τ, and cos/sin scaled by g(s, mscale).
	c = DeepSeekV3()
	c.YaRN.MScaleAllDim = 0
	require.InDelta(t, 0.07216878364870322, c.SoftmaxScale(), 1e-16)
	require.InDelta(t, 1.3688879454113936, c.RoPEAttentionFactor(), 1e-15)
	// The two fields differ: τ follows mscale_all_dim only (pitfall 2).
	c = DeepSeekV3()
	c.YaRN.MScale = 0.707
	require.InDelta(t, 0.1352337788608801, c.SoftmaxScale(), 1e-15)
}

// TestRoPEAnglesFarPositions: the angle is float32(p)·float32(ω'_i) and cos/sin of it
// are correctly rounded, at every position, including far past 4096.
func TestRoPEAnglesFarPositions(t *testing.T) {
	c := DeepSeekV2Lite()
	r := newRotary(c)
	cos, sin := make([]float32, 32), make([]float32, 32)
	for _, p := range []int{0, 1, 4095, 4096, 5000, 65537, 150000, 163839} {
		r.cosSin(p, cos, sin)
		for i, w := range c.RoPEInvFreq() {
			th := float64(float32(p) * w)
			require.Equal(t, float32(math.Cos(th)), cos[i], "p=%d i=%d", p, i)
			require.Equal(t, float32(math.Sin(th)), sin[i], "p=%d i=%d", p, i)
		}
	}
}

// TestRoPEProperties: on every Level, for both layouts.
func TestRoPEProperties(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 1))
		vecOf := func() []float32 {
			v := make([]float32, 64)
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			return v
		}
		rotated := func(r *rotary, x []float32, p int) []float32 {
			y := append([]float32(nil), x...)
			cos, sin := make([]float32, r.pairs()), make([]float32, r.pairs())
			r.cosSin(p, cos, sin)
			r.apply(y, cos, sin)
			return y
		}
		for _, layout := range []RoPELayout{Interleaved, HalfSplit} {
			c := DeepSeekV2Lite()
			c.RoPELayout = layout
			r := newRotary(c)
			x := vecOf()
			require.Equal(t, x, rotated(r, x, 0), "p=0 is the identity")
			// Pair norms are kept: two roundings per output, γ(3) of the pair's energy.
			y := rotated(r, x, 777)
			for i := range 32 {
				a, b := 2*i, 2*i+1
				if layout == HalfSplit {
					a, b = i, i+32
				}
				n0 := float64(x[a])*float64(x[a]) + float64(x[b])*float64(x[b])
				n1 := float64(y[a])*float64(y[a]) + float64(y[b])*float64(y[b])
				require.InDelta(t, n0, n1, 2*gamma(3)*n0, "pair %d", i)
			}
			// Relative position: RoPE(q, p+Δ)·RoPE(k, s+Δ) = RoPE(q, p)·RoPE(k, s). The
			// float32 angles p·ω' are exact to u·|θ| each; with |θ| <= 3000 here the dot
			// differs by at most Σ|q||k|·(2·u·3000 + γ(70)).
			q, k := vecOf(), vecOf()
			var mag float64
			for i := range q {
				mag += math.Abs(float64(q[i]) * float64(k[i]))
			}
			d0 := dot32(rotated(r, q, 100), rotated(r, k, 90))
			d1 := dot32(rotated(r, q, 2100), rotated(r, k, 2090))
			require.InDelta(t, d0, d1, mag*(2*unitRoundoff*3000+gamma(70)))
		}
		// Interleaved and half-split give the same scores: half-split output of the
		// permuted input is out[i] = y[2i], out[i+32] = y[2i+1].
		ci, ch := DeepSeekV2Lite(), DeepSeekV2Lite()
		ch.RoPELayout = HalfSplit
		ri, rh := newRotary(ci), newRotary(ch)
		q, k := vecOf(), vecOf()
		perm := func(x []float32) []float32 {
			z := make([]float32, 64)
			for i := range 32 {
				z[i], z[i+32] = x[2*i], x[2*i+1]
			}
			return z
		}
		yi, yh := rotated(ri, q, 12345), rotated(rh, perm(q), 12345)
		require.Equal(t, perm(yi), yh, "same numbers, de-interleaved layout")
		ki, kh := rotated(ri, k, 99), rotated(rh, perm(k), 99)
		require.Equal(t, perm(ki), kh)
		// The same 64 products summed in another order: 2·γ(64)·Σ|q_i·k_i| apart at most.
		var mag float64
		for i := range yi {
			mag += math.Abs(float64(yi[i]) * float64(ki[i]))
		}
		require.InDelta(t, dot32(yi, ki), dot32(yh, kh), 2*gamma(64)*mag)
	})
}

// TestRotaryUsesKernels: the layouts map onto mlasimd.RoPE and RoPEHalf exactly.
func TestRotaryUsesKernels(t *testing.T) {
	c := DeepSeekV2Lite()
	r := newRotary(c)
	cos, sin := make([]float32, 32), make([]float32, 32)
	r.cosSin(42, cos, sin)
	x := randomInputs(1, 64, 3)
	a, b := append([]float32(nil), x...), append([]float32(nil), x...)
	r.apply(a, cos, sin)
	mlasimd.RoPE(b, cos, sin)
	require.Equal(t, b, a)
}
