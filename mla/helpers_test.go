package mla

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// tinyYaRN scales the DeepSeek YaRN parameters down to a tiny rope dim: the ramp
// then covers dims 1..3 of 4 pairs, so interpolated and blended pairs both occur.
func tinyYaRN() *YaRN {
	return &YaRN{Factor: 40, OriginalMaxPositions: 4096, BetaFast: 32, BetaSlow: 1, MScale: 0.707, MScaleAllDim: 0.707}
}

// tinyConfig is a small shape (H=4, d_c=32, d_n=16, d_r=8, d_v=16) with a query
// LoRA (V2/V3 style).
func tinyConfig() Config {
	return Config{Name: "tiny", Hidden: 64, Heads: 4, QLoRARank: 24, KVLoRARank: 32,
		QKNopeHeadDim: 16, QKRopeHeadDim: 8, VHeadDim: 16, LatentNorm: RMSNormKind, NormEps: 1e-6,
		RoPE: RoPEDecoupled, RoPELayout: Interleaved, RoPETheta: 10000, YaRN: tinyYaRN(), MaxPositions: 163840,
		Layers: 2, Vocab: 97, Intermediate: 96, RMSNormEps: 1e-6}
}

// tinyLiteConfig has no query LoRA (V2-Lite style).
func tinyLiteConfig() Config {
	c := tinyConfig()
	c.Name, c.QLoRARank = "tiny-lite", 0
	return c
}

// jitterNorms sets norm gains to 1 ± 0.2 (and biases to ±0.1) so that a gain that is
// ignored or misapplied shows.
func jitterNorms(w *LayerWeights, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	for _, g := range [][]float32{w.QANorm, w.KVANorm} {
		for i := range g {
			g[i] = 0.8 + 0.4*r.Float32()
		}
	}
	for i := range w.KVANormBias {
		w.KVANormBias[i] = 0.2*r.Float32() - 0.1
	}
}

func testWeights(t testing.TB, c Config, seed uint64) *LayerWeights {
	t.Helper()
	w, err := RandomLayerWeights(c, seed)
	require.NoError(t, err)
	jitterNorms(w, seed)
	return w
}

// testLayer builds a layer; split forces every task to use all workers, so that the
// parallel code paths run even on tiny shapes.
func testLayer(t testing.TB, c Config, w *LayerWeights, split bool, opts ...Option) *Layer {
	t.Helper()
	l, err := NewLayer(c, w, opts...)
	require.NoError(t, err)
	if split {
		l.minWork = 1
	}
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l
}

// randomInputs returns n token inputs of width d with unit-variance entries.
func randomInputs(n, d int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, n*d)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// refInputs wraps each token's row as an exact reference input.
func refInputs(x []float32, d int) []vec {
	var out []vec
	for i := 0; i < len(x); i += d {
		out = append(out, exactVec(x[i:i+d]))
	}
	return out
}

func newTestCache(t testing.TB, c Config, dt DType, start int) *Cache {
	t.Helper()
	k, err := NewCache(c, CacheOptions{DType: dt, Start: start})
	require.NoError(t, err)
	return k
}

// mustRows is k.Rows(j0, j1, dst) for a range the test knows is valid.
func mustRows(t testing.TB, k *Cache, j0, j1 int, dst []float32) []float32 {
	t.Helper()
	rows, err := k.Rows(j0, j1, dst)
	require.NoError(t, err)
	return rows
}

// keyUpF32 is W_UK(h) of float32 weights, a d_n x d_c block of KVBProj.
func keyUpF32(w *LayerWeights, c Config, h int) []float32 {
	r := keyUpRow(c, h)
	return w.KVBProj.f32[r*c.KVLoRARank : (r+c.QKNopeHeadDim)*c.KVLoRARank]
}

// valueUpF32 is W_UV(h) of float32 weights, a d_v x d_c block of KVBProj.
func valueUpF32(w *LayerWeights, c Config, h int) []float32 {
	r := valueUpRow(c, h)
	return w.KVBProj.f32[r*c.KVLoRARank : (r+c.VHeadDim)*c.KVLoRARank]
}
