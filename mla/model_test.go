package mla

import (
	"fmt"
	"math"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/stretchr/testify/require"
)

// refAdd is x + y with one rounding.
func refAdd(x, y vec) vec {
	r := newVec(len(x.v))
	for i := range x.v {
		r.v[i] = x.v[i] + y.v[i]
		r.e[i] = x.e[i] + y.e[i] + unitRoundoff*math.Abs(r.v[i])
	}
	return r
}

// refSwiGLU is W_down(silu(W_gate x) ⊙ W_up x). silu(g) = g·σ(g) has derivative
// σ(g)(1 + g(1-σ(g))); e^-g's relative error reaches σ as (1-σ)·E; three more
// roundings (1+e, the division, the product with up).
func refSwiGLU(b *BlockWeights, c Config, x vec) vec {
	D, I := c.Hidden, c.Intermediate
	g := refLinear(b.Gate.f32, I, D, x)
	u := refLinear(b.Up.f32, I, D, x)
	act := newVec(I)
	for i := range I {
		sig := 1 / (1 + math.Exp(-g.v[i]))
		silu := g.v[i] * sig
		act.v[i] = silu * u.v[i]
		act.e[i] = math.Abs(sig*(1+g.v[i]*(1-sig)))*g.e[i]*math.Abs(u.v[i]) + math.Abs(silu)*u.e[i] +
			math.Abs(act.v[i])*((1-sig)*expRelErr+4*unitRoundoff)
	}
	return refLinear(b.Down.f32, D, I, act)
}

// refModelLogits is the float64 model: the logits after each of the tokens.
func refModelLogits(c Config, w *ModelWeights, tokens []int) []vec {
	D := c.Hidden
	xs := make([]vec, len(tokens))
	for i, tok := range tokens {
		xs[i] = exactVec(w.Embed.f32[tok*D : (tok+1)*D])
	}
	for bi := range w.Blocks {
		b := &w.Blocks[bi]
		xn := make([]vec, len(xs))
		for i := range xs {
			xn[i] = refRMSNorm(xs[i], b.InputNorm, c.RMSNormEps)
		}
		attn := newRefLayer(c, b.Attn, F32).run(xn, 0)
		for i := range xs {
			xs[i] = refAdd(xs[i], attn.out[i])
			xs[i] = refAdd(xs[i], refSwiGLU(b, c, refRMSNorm(xs[i], b.PostAttnNorm, c.RMSNormEps)))
		}
	}
	var out []vec
	for i := range xs {
		out = append(out, refLinear(w.LMHead.f32, c.Vocab, D, refRMSNorm(xs[i], w.FinalNorm, c.RMSNormEps)))
	}
	return out
}

func testModel(t *testing.T, c Config, workers int) (*Model, *ModelWeights) {
	w, err := RandomModelWeights(c, 17)
	require.NoError(t, err)
	for i := range w.Blocks {
		jitterNorms(w.Blocks[i].Attn, uint64(i))
	}
	m, err := NewModel(c, w, WithWorkers(workers))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m, w
}

// TestModelGolden: the decoder's logits, by prefill and by decode steps, against the
// float64 model, on every Level.
func TestModelGolden(t *testing.T) {
	testutil.UseEachLevel(t, func(t *testing.T) {
		for _, c := range []Config{tinyConfig(), tinyLiteConfig()} {
			t.Run(c.Name, func(t *testing.T) {
				m, w := testModel(t, c, 2)
				tokens := []int{5, 17, 3, 96, 0, 42, 42, 7}
				want := refModelLogits(c, w, tokens)
				logits := make([]float32, c.Vocab)

				mc, err := m.NewCache(CacheOptions{})
				require.NoError(t, err)
				require.NoError(t, m.Forward(tokens[:5], mc, logits))
				requireWithin(t, logits, want[4], "prefill logits")
				for i := 5; i < len(tokens); i++ {
					require.NoError(t, m.Forward(tokens[i:i+1], mc, logits))
					requireWithin(t, logits, want[i], fmt.Sprintf("step %d logits", i))
				}
				require.Equal(t, len(tokens), mc.Len())
				require.Equal(t, int64(len(tokens)*c.CacheRowWidth()*4*c.Layers), mc.Bytes())
			})
		}
	})
}

// TestGenerate: the greedy loop is prefill + argmax + one decode step per token, and
// is deterministic.
func TestGenerate(t *testing.T) {
	c := tinyConfig()
	m, _ := testModel(t, c, 2)
	prompt := []int{1, 2, 3, 4}
	mc, err := m.NewCache(CacheOptions{Capacity: 16})
	require.NoError(t, err)
	var seen []int
	got, err := m.Generate(prompt, 8, mc, func(i, tok int) { seen = append(seen, tok) })
	require.NoError(t, err)
	require.Len(t, got, 8)
	require.Equal(t, got, seen)
	require.Equal(t, len(prompt)+7, mc.Len(), "the last token is not fed back")

	mc2, _ := m.NewCache(CacheOptions{})
	logits := make([]float32, c.Vocab)
	require.NoError(t, m.Forward(prompt, mc2, logits))
	var manual []int
	for i := range 8 {
		tok, err := Greedy{}.Sample(logits)
		require.NoError(t, err)
		manual = append(manual, tok)
		if i < 7 {
			require.NoError(t, m.Forward([]int{tok}, mc2, logits))
		}
	}
	require.Equal(t, manual, got)

	_, err = m.Generate(nil, 3, mc, nil)
	require.ErrorContains(t, err, "Generate: no tokens")
	require.ErrorContains(t, m.Forward([]int{c.Vocab}, mc, logits), "outside [0, 97)")
	require.ErrorContains(t, m.Forward([]int{1}, mc, logits[:3]), "want vocab size 97")
}
