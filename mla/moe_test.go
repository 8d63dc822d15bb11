package mla

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// moeKinds are small configurations of each gating kind, named after the model
// they imitate.
func moeKinds() []Config {
	base := func(name string, m MoEConfig) Config {
		c := tinyConfig()
		c.Name, c.Layers = name, 3
		m.Intermediate, m.FirstDense, m.LayerFreq = 32, 1, 1
		c.MoE = &m
		return c
	}
	v2lite := base("deepseek_v2", MoEConfig{RoutedExperts: 8, ExpertsPerToken: 3, SharedExperts: 2,
		Scoring: ScoringSoftmax, TopK: TopKGreedy, Groups: 1, TopKGroups: 1, RoutedScaling: 1.5})
	v2 := base("deepseek_v2", MoEConfig{RoutedExperts: 8, ExpertsPerToken: 3, SharedExperts: 1,
		Scoring: ScoringSoftmax, TopK: TopKGroupLimited, Groups: 4, TopKGroups: 2, NormTopK: true, RoutedScaling: 16})
	v3 := base("deepseek_v3", MoEConfig{V3: true, RoutedExperts: 8, ExpertsPerToken: 3, SharedExperts: 1,
		Scoring: ScoringSigmoid, TopK: TopKNoAuxTC, Groups: 4, TopKGroups: 2, NormTopK: true, RoutedScaling: 2.5})
	v3.MoE.LayerFreq = 2 // block 0 dense (below first_k_dense_replace), 1 dense (odd), 2 MoE
	return []Config{v2lite, v2, v3}
}

func kindName(c Config) string {
	return fmt.Sprintf("%s-%v", c.Name, c.MoE.TopK)
}

// testMoEModel returns random weights with jittered norms and gate biases.
func testMoEModel(t *testing.T, c Config) *ModelWeights {
	w, err := RandomModelWeights(c, 23)
	require.NoError(t, err)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range w.Blocks {
		jitterNorms(w.Blocks[i].Attn, uint64(i))
		if moe := w.Blocks[i].MoE; moe != nil {
			for e := range moe.Bias {
				moe.Bias[e] = 0.2 * (2*r.Float32() - 1)
			}
			// A gate of larger logits makes the routing decisive (not near ties).
			for j := range moe.Gate.f32 {
				moe.Gate.f32[j] *= 4
			}
		}
	}
	return w
}

// --- the float64 reference, with its own gating ---

// refExpert is W_down(silu(W_gate x) ⊙ W_up x) in float64.
func refExpert(e *ExpertWeights, x []float64) []float64 {
	g, u := refMatVec(e.Gate, x), refMatVec(e.Up, x)
	for i := range g {
		g[i] = g[i] / (1 + math.Exp(-g[i])) * u[i]
	}
	return refMatVec(e.Down, g)
}

func refMatVec(m Matrix, x []float64) []float64 {
	w := m.Widen()
	y := make([]float64, m.rows)
	for r := range y {
		var s float64
		for k, v := range w[r*m.cols : (r+1)*m.cols] {
			s += float64(v) * x[k]
		}
		y[r] = s
	}
	return y
}

// refRoute is DeepSeek's gating, written from the Hugging Face code: the experts
// (best first; ties to the lower index) and their weights.
func refRoute(m *MoEConfig, w *MoEWeights, x []float64) ([]int, []float64) {
	E := m.RoutedExperts
	logits := refMatVec(w.Gate, x)
	scores := make([]float64, E)
	if m.Scoring == ScoringSoftmax {
		mx := slices.Max(logits)
		var sum float64
		for e, l := range logits {
			scores[e] = math.Exp(l - mx)
			sum += scores[e]
		}
		for e := range scores {
			scores[e] /= sum
		}
	} else {
		for e, l := range logits {
			scores[e] = 1 / (1 + math.Exp(-l))
		}
	}
	choice := slices.Clone(scores)
	if m.TopK == TopKNoAuxTC {
		for e := range choice {
			choice[e] += float64(w.Bias[e])
		}
	}
	// ranked returns the indices of v sorted by value, descending, ties by index.
	ranked := func(v []float64) []int {
		idx := make([]int, len(v))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] > v[idx[b]] })
		return idx
	}
	allowed := make([]bool, E)
	if m.TopK == TopKGreedy {
		for e := range allowed {
			allowed[e] = true
		}
	} else {
		gs := E / m.Groups
		gscore := make([]float64, m.Groups)
		for g := range m.Groups {
			r := ranked(choice[g*gs : (g+1)*gs])
			gscore[g] = choice[g*gs+r[0]]
			if m.TopK == TopKNoAuxTC {
				gscore[g] += choice[g*gs+r[1]]
			}
		}
		for _, g := range ranked(gscore)[:m.TopKGroups] {
			for e := g * gs; e < (g+1)*gs; e++ {
				allowed[e] = true
			}
		}
	}
	masked := slices.Clone(choice)
	for e := range masked {
		if !allowed[e] {
			masked[e] = math.Inf(-1)
		}
	}
	sel := ranked(masked)[:m.ExpertsPerToken]
	wts := make([]float64, len(sel))
	var sum float64
	for k, e := range sel {
		wts[k] = scores[e]
		sum += scores[e]
	}
	normed := m.NormTopK && len(sel) > 1
	for k := range wts {
		if normed {
			wts[k] /= sum + 1e-20
		}
		if !normed || m.V3 {
			wts[k] *= m.RoutedScaling
		}
	}
	return sel, wts
}

// refMoE is the block's output for one token, with the experts chosen and the
// expert outputs.
func refMoE(c Config, w *MoEWeights, x []float64) (out []float64, sel []int, wts []float64, ys [][]float64) {
	sel, wts = refRoute(c.MoE, w, x)
	out = make([]float64, c.Hidden)
	if c.MoE.SharedExperts > 0 {
		out = refExpert(&w.Shared, x)
	}
	for k, e := range sel {
		y := refExpert(&w.Experts[e], x)
		ys = append(ys, y)
		for i := range out {
			out[i] += wts[k] * y[i]
		}
	}
	return out, sel, wts, ys
}

// refMoEVec is refMoE on a reference vector, with a bound of relTol times the sum
// of the magnitudes of the terms (the float32 error of the products is far smaller).
func refMoEVec(c Config, w *MoEWeights, x vec) vec {
	out, sel, wts, ys := refMoE(c, w, x.v)
	r := newVec(c.Hidden)
	copy(r.v, out)
	var sh []float64
	if c.MoE.SharedExperts > 0 {
		sh = refExpert(&w.Shared, x.v)
	}
	for i := range r.e {
		mag := 0.0
		if sh != nil {
			mag = math.Abs(sh[i])
		}
		for k := range sel {
			mag += math.Abs(wts[k] * ys[k][i])
		}
		r.e[i] = moeRelTol * mag
	}
	return r
}

// moeRelTol is the relative agreement required of the float32 block.
const moeRelTol = 1e-5

// refMoEModelLogits is refModelLogits with the MoE blocks.
func refMoEModelLogits(c Config, w *ModelWeights, tokens []int, start int) []vec {
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
		attn := newRefLayer(c, b.Attn, F32).run(xn, start)
		for i := range xs {
			xs[i] = refAdd(xs[i], attn.out[i])
			h := refRMSNorm(xs[i], b.PostAttnNorm, c.RMSNormEps)
			if c.IsMoELayer(bi) {
				xs[i] = refAdd(xs[i], refMoEVec(c, b.MoE, h))
			} else {
				xs[i] = refAdd(xs[i], refSwiGLU(b, c, h))
			}
		}
	}
	var out []vec
	for i := range xs {
		out = append(out, refLinear(w.LMHead.f32, c.Vocab, D, refRMSNorm(xs[i], w.FinalNorm, c.RMSNormEps)))
	}
	return out
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// requireClose checks got against want within tol·max|want| per element.
func requireClose(t *testing.T, got []float32, want []float64, tol float64, what string) {
	t.Helper()
	scale := 0.0
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*scale) {
			t.Fatalf("%s: element %d: got %v, want %v (off by %.3g of scale %.3g)", what, i, got[i], want[i], d/scale, scale)
		}
	}
}

// TestMoEBlockReference: every gating kind against the float64 block: the experts
// chosen, their weights, every routed expert's own output (with 40 tokens every
// expert is chosen at least once, which the test asserts), and the block output, on
// 1 and 2 workers.
func TestMoEBlockReference(t *testing.T) {
	for _, c := range moeKinds() {
		t.Run(kindName(c), func(t *testing.T) {
			w := testMoEModel(t, c)
			mw := w.Blocks[2].MoE
			D, K := c.Hidden, c.MoE.ExpertsPerToken
			const T = 40
			x := randomInputs(T, D, 3)
			for _, workers := range []int{1, 2} {
				b, err := NewMoEBlock(c, mw, WithWorkers(workers))
				require.NoError(t, err)
				out := make([]float32, T*D)
				sel, wts := make([]int32, T*K), make([]float32, T*K)
				require.NoError(t, b.Forward(out, x, sel, wts))
				seen := map[int]bool{}
				for i := range T {
					want, wsel, wwts, ys := refMoE(c, mw, to64(x[i*D:(i+1)*D]))
					for k, e := range wsel {
						require.EqualValues(t, e, sel[i*K+k], "token %d slot %d", i, k)
						require.InDelta(t, wwts[k], wts[i*K+k], 1e-5*math.Abs(wwts[k]), "token %d weight %d", i, k)
						// The expert's own output, as the block computed it.
						p := int(b.r.pos[i*K+k])
						requireClose(t, b.r.y[p*D:(p+1)*D], ys[k], moeRelTol, fmt.Sprintf("token %d expert %d", i, e))
						seen[e] = true
					}
					requireClose(t, out[i*D:(i+1)*D], want, moeRelTol, fmt.Sprintf("token %d", i))
				}
				require.Len(t, seen, c.MoE.RoutedExperts, "every expert chosen at least once")
				require.NoError(t, b.Close())
			}
		})
	}
}

// TestMoEBatchedEqualsUnbatched: a step of many tokens (grouped by expert) gives
// each token what a step of that token alone gives, in every weight format, and
// chooses the same experts. Up to gemvTokens tokens per expert (and any number for
// Q8_0, whose activations are quantized per token either way) run the same GEMVs as
// one token does; beyond, the weights are widened and multiplied with GemmNT.
func TestMoEBatchedEqualsUnbatched(t *testing.T) {
	for _, c := range moeKinds() {
		t.Run(kindName(c), func(t *testing.T) {
			w := testMoEModel(t, c)
			D, K := c.Hidden, c.MoE.ExpertsPerToken
			for _, tc := range []struct {
				T   int
				f   WeightFormat
				tol float64
			}{{6, FormatF32, 1e-5}, {24, FormatF32, 1e-5}, {6, FormatBF16, 1e-5}, {24, FormatBF16, 1e-5},
				{6, FormatQ8_0, 1e-5}, {24, FormatQ8_0, 1e-5}, {6, FormatFP8, 1e-5}, {24, FormatFP8, 1e-5}} {
				T, f := tc.T, tc.f
				x := randomInputs(T, D, 4)
				mw, err := w.Blocks[2].MoE.convert(f)
				require.NoError(t, err)
				b, err := NewMoEBlock(c, mw, WithWorkers(2))
				require.NoError(t, err)
				all, sel, wts := make([]float32, T*D), make([]int32, T*K), make([]float32, T*K)
				require.NoError(t, b.Forward(all, x, sel, wts))
				one, s1, w1 := make([]float32, D), make([]int32, K), make([]float32, K)
				for i := range T {
					require.NoError(t, b.Forward(one, x[i*D:(i+1)*D], s1, w1))
					require.Equal(t, sel[i*K:(i+1)*K], s1, "%v token %d", f, i)
					requireWeightsClose(t, w1, wts[i*K:(i+1)*K], gateLogitError(mw.Gate, x[i*D:(i+1)*D]), fmt.Sprintf("%v token %d weights", f, i))
					requireClose(t, one, to64(all[i*D:(i+1)*D]), tc.tol, fmt.Sprintf("%v of %d tokens: token %d", f, T, i))
				}
				require.NoError(t, b.Close())
			}
		})
	}
}

// TestMoERouteTies: at the top-k boundary equal scores go to the lower expert
// index, and equal group scores to the lower group; NaN never wins over a number.
func TestMoERouteTies(t *testing.T) {
	run := func(m MoEConfig, logits, bias []float32) ([]int32, []float32) {
		r := &moeRunner{cfg: &m, D: 1}
		require.NoError(t, r.grow(1))
		sel, wts := make([]int32, m.ExpertsPerToken), make([]float32, m.ExpertsPerToken)
		r.route(logits, bias, sel, wts)
		return sel, wts
	}
	greedy := MoEConfig{RoutedExperts: 6, ExpertsPerToken: 2, Scoring: ScoringSoftmax, TopK: TopKGreedy, Groups: 1, TopKGroups: 1, RoutedScaling: 1}
	sel, _ := run(greedy, []float32{1, 3, 2, 3, 3, 0}, nil)
	require.Equal(t, []int32{1, 3}, sel, "three equal best: the two lower indices")
	sel, _ = run(greedy, []float32{1, 5, 2, 2, 2, 0}, nil)
	require.Equal(t, []int32{1, 2}, sel, "tie at the boundary: the lower index")
	nan := float32(math.NaN())
	require.Equal(t, 1, best([]float32{nan, 1, nan, 3, nan}, []bool{false, false, false, true, false}), "a number before NaN")
	require.Equal(t, 0, best([]float32{nan, nan}, nil), "all NaN: the first")

	// Groups {0,1} {2,3} {4,5}: group 0 and 2 tie on their best; group 0 wins.
	grouped := MoEConfig{RoutedExperts: 6, ExpertsPerToken: 2, Scoring: ScoringSoftmax, TopK: TopKGroupLimited, Groups: 3, TopKGroups: 1, RoutedScaling: 1}
	sel, _ = run(grouped, []float32{4, 0, 1, 3, 4, 3.5}, nil)
	require.Equal(t, []int32{0, 1}, sel)

	// noaux_tc: groups by the sum of their two best biased scores; the weights come
	// from the unbiased ones. The bias moves expert 1 (logit 0) above expert 0.
	v3 := MoEConfig{V3: true, RoutedExperts: 6, ExpertsPerToken: 2, Scoring: ScoringSigmoid, TopK: TopKNoAuxTC, Groups: 3, TopKGroups: 1, NormTopK: true, RoutedScaling: 2.5}
	sel, wts := run(v3, []float32{1, 0, 0.5, 0.5, 2, -5}, []float32{0, 2, 0, 0, 0, 0})
	require.Equal(t, []int32{1, 0}, sel, "group 0 (sum 1.5+0.73) beats group 2 (0.88+0.007)")
	s0, s1 := 1/(1+math.Exp(-1)), 0.5
	require.InDelta(t, 2.5*s1/(s0+s1), wts[0], 1e-6)
	require.InDelta(t, 2.5*s0/(s0+s1), wts[1], 1e-6)
}

// TestMoEModelReference: a whole model of each kind, by prefill and by decode steps
// from a far position, against the float64 model; decode equals prefill.
func TestMoEModelReference(t *testing.T) {
	for _, c := range moeKinds() {
		t.Run(kindName(c), func(t *testing.T) {
			w := testMoEModel(t, c)
			m, err := NewModel(c, w, WithWorkers(2))
			require.NoError(t, err)
			defer m.Close()
			tokens := []int{5, 17, 3, 96, 0, 42, 42, 7, 11, 60}
			want := refMoEModelLogits(c, w, tokens, 0)
			logits := make([]float32, c.Vocab)
			mc, err := m.NewCache(CacheOptions{})
			require.NoError(t, err)
			require.NoError(t, m.Forward(tokens[:6], mc, logits))
			requireWithin(t, logits, want[5], "prefill logits")
			prefill := slices.Clone(logits)
			for i := 6; i < len(tokens); i++ {
				require.NoError(t, m.Forward(tokens[i:i+1], mc, logits))
				requireWithin(t, logits, want[i], fmt.Sprintf("step %d logits", i))
			}
			// Token by token from the start equals the prefill.
			mc2, err := m.NewCache(CacheOptions{})
			require.NoError(t, err)
			for i := range 6 {
				require.NoError(t, m.Forward(tokens[i:i+1], mc2, logits))
			}
			requireClose(t, logits, to64(prefill), 1e-5, "decode vs prefill")

			// A far start position, against the reference there.
			far, err := m.NewCache(CacheOptions{Start: 100000})
			require.NoError(t, err)
			wantFar := refMoEModelLogits(c, w, tokens[:4], 100000)
			require.NoError(t, m.Forward(tokens[:3], far, logits))
			requireWithin(t, logits, wantFar[2], "far prefill logits")
			require.NoError(t, m.Forward(tokens[3:4], far, logits))
			requireWithin(t, logits, wantFar[3], "far step logits")
			far, err = m.NewCache(CacheOptions{Start: 100000})
			require.NoError(t, err)
			g1, err := m.Generate(tokens[:4], 5, far, nil)
			require.NoError(t, err)
			far2, _ := m.NewCache(CacheOptions{Start: 100000})
			g2, err := m.Generate(tokens[:4], 5, far2, nil)
			require.NoError(t, err)
			require.Equal(t, g1, g2)
		})
	}
}

// TestMoELayerCount: moeLayers counts what IsMoELayer says, without a loop.
func TestMoELayerCount(t *testing.T) {
	for _, L := range []int{1, 2, 5, 27, 61} {
		for _, F := range []int{0, 1, 3, 7} {
			for _, f := range []int{1, 2, 3} {
				c := Config{Layers: L, MoE: &MoEConfig{FirstDense: F, LayerFreq: f}}
				n := 0
				for i := range L {
					if c.IsMoELayer(i) {
						n++
					}
				}
				require.Equal(t, n, c.moeLayers(), "L=%d F=%d f=%d", L, F, f)
			}
		}
	}
}

// TestMoEStepAllocatesNothing: after warm-up a MoE model's decode step and a
// MoEBlock step of 8 tokens allocate nothing, in every weight format.
func TestMoEStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's bookkeeping allocates")
	}
	c := moeKinds()[2]
	c.QLoRARank = 32 // Q8_0 rows are blocks of 32
	w := testMoEModel(t, c)
	for _, f := range []WeightFormat{FormatF32, FormatBF16, FormatQ8_0, FormatFP8} {
		wf, err := w.Convert(f)
		require.NoError(t, err)
		m, err := NewModel(c, wf, WithWorkers(2))
		require.NoError(t, err)
		mc, err := m.NewCache(CacheOptions{Capacity: 200})
		require.NoError(t, err)
		logits := make([]float32, c.Vocab)
		tok := []int{3}
		require.NoError(t, m.Forward(tok, mc, logits))
		allocs := testing.AllocsPerRun(20, func() {
			if err := m.Forward(tok, mc, logits); err != nil {
				panic(err)
			}
		})
		require.Zero(t, allocs, "model step, weights %v", f)
		require.NoError(t, m.Close())

		b, err := NewMoEBlock(c, wf.Blocks[2].MoE, WithWorkers(2))
		require.NoError(t, err)
		x, out := randomInputs(8, c.Hidden, 1), make([]float32, 8*c.Hidden)
		require.NoError(t, b.Forward(out, x, nil, nil))
		allocs = testing.AllocsPerRun(20, func() {
			if err := b.Forward(out, x, nil, nil); err != nil {
				panic(err)
			}
		})
		require.Zero(t, allocs, "block step, weights %v", f)
		require.NoError(t, b.Close())
	}
}

// TestMoEBlockMisuse: wrong lengths, a zero block and a closed one are errors.
func TestMoEBlockMisuse(t *testing.T) {
	c := moeKinds()[0]
	w := testMoEModel(t, c)
	b, err := NewMoEBlock(c, w.Blocks[1].MoE, WithWorkers(2))
	require.NoError(t, err)
	D := c.Hidden
	x := randomInputs(2, D, 1)
	require.ErrorContains(t, b.Forward(make([]float32, D), x, nil, nil), "want the same positive multiple of 64")
	require.ErrorContains(t, b.Forward(nil, nil, nil, nil), "want the same positive multiple")
	require.ErrorContains(t, b.Forward(make([]float32, 2*D), x, make([]int32, 5), make([]float32, 6)), "want 6")
	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Forward(make([]float32, 2*D), x, nil, nil), ErrClosed)
	require.NoError(t, b.Close())
	var zero MoEBlock
	require.Error(t, zero.Forward(x, x, nil, nil))
	_, err = NewMoEBlock(c, nil)
	require.ErrorContains(t, err, "nil MoEWeights")
	q, err := w.Blocks[1].MoE.convert(FormatQ8_0)
	require.NoError(t, err)
	q.Gate, err = q.Gate.Convert(FormatBF16)
	require.NoError(t, err)
	_, err = NewMoEBlock(c, q)
	require.ErrorContains(t, err, "want float32")
}

// TestMoEGenerateBatch: a batched decode of several sequences (one ForwardBatch per
// step, the MoE blocks grouping the batch's tokens by expert) generates what each
// prompt generates alone, for every gating kind.
func TestMoEGenerateBatch(t *testing.T) {
	for _, c := range moeKinds() {
		t.Run(kindName(c), func(t *testing.T) {
			w := testMoEModel(t, c)
			m, err := NewModel(c, w, WithWorkers(2))
			require.NoError(t, err)
			defer m.Close()
			mp, err := m.NewPagedCache(PagedCacheOptions{Pages: 32, PageRows: 4})
			require.NoError(t, err)
			prompts := [][]int{{1, 2, 3, 4}, {50}, {9, 9, 9, 9, 9, 9, 9}, {77, 3}}
			seqs := make([]*ModelSequence, len(prompts))
			for i := range seqs {
				seqs[i], err = mp.NewSequence(0)
				require.NoError(t, err)
			}
			got, err := m.GenerateBatch(prompts, 6, seqs)
			require.NoError(t, err)
			for i, p := range prompts {
				mc, err := m.NewCache(CacheOptions{})
				require.NoError(t, err)
				want, err := m.Generate(p, 6, mc, nil)
				require.NoError(t, err)
				require.Equal(t, want, got[i], "prompt %d", i)
			}
		})
	}
}

// gateLogitError bounds how far two float32 evaluations of one token's gate logits,
// summed in different orders (the batch's GEMM, the single token's GEMV), can be
// apart: each within γ(D)·Σ_j |g_ij·x_j| of the exact value, so twice that.
func gateLogitError(gate Matrix, x []float32) float64 {
	g := gate.Widen()
	D := len(x)
	var worst float64
	for i := range gate.Rows() {
		var mag float64
		for j, xj := range x {
			mag += math.Abs(float64(g[i*D+j]) * float64(xj))
		}
		worst = max(worst, 2*gamma(D)*mag)
	}
	return worst
}

// requireWeightsClose checks two evaluations of a token's routing weights whose
// logits differ by at most e: a softmax or sigmoid weight moves by at most 2e of
// itself to first order (softmax: e from its own logit, e from the normalizer's),
// the normalization and scaling round a few more times (8u), and the sum of the
// selected weights' normalization once more; doubled for second-order terms.
func requireWeightsClose(t *testing.T, got, want []float32, e float64, what string) {
	t.Helper()
	for i := range want {
		bound := 2 * (4*e + 8*unitRoundoff) * math.Abs(float64(want[i]))
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= bound) {
			t.Fatalf("%s: element %d: got %v, want %v ± %.3g", what, i, got[i], want[i], bound)
		}
	}
}
