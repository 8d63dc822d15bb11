package mla

import (
	"errors"
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd/internal/checked"
	"github.com/mlasimd/mlasimd/internal/strictjson"
)

// Scoring is how a MoE gate turns its logits into expert scores.
type Scoring int

const (
	ScoringSoftmax Scoring = iota // deepseek_v2: softmax over all routed experts
	ScoringSigmoid                // deepseek_v3: an independent sigmoid per expert
)

func (s Scoring) String() string {
	switch s {
	case ScoringSoftmax:
		return "softmax"
	case ScoringSigmoid:
		return "sigmoid"
	}
	return fmt.Sprintf("Scoring(%d)", int(s))
}

// TopKMethod is how a MoE gate picks the experts of a token.
type TopKMethod int

const (
	// TopKGreedy takes the ExpertsPerToken best scores (DeepSeek-V2-Lite).
	TopKGreedy TopKMethod = iota
	// TopKGroupLimited keeps the TopKGroups groups whose best score is largest, then
	// takes the best experts within them (DeepSeek-V2).
	TopKGroupLimited
	// TopKNoAuxTC adds e_score_correction_bias to the scores for selection only: it
	// keeps the TopKGroups groups whose two best biased scores sum largest, takes the
	// best biased scores within them, and weighs the chosen experts by their unbiased
	// scores (DeepSeek-V3).
	TopKNoAuxTC
)

func (m TopKMethod) String() string {
	switch m {
	case TopKGreedy:
		return "greedy"
	case TopKGroupLimited:
		return "group_limited_greedy"
	case TopKNoAuxTC:
		return "noaux_tc"
	}
	return fmt.Sprintf("TopKMethod(%d)", int(m))
}

// MoEConfig is the DeepSeek mixture-of-experts FFN of a Model's blocks (the
// config.json keys in parentheses). Block i is a MoE block when i >= FirstDense and
// i % LayerFreq == 0; the others have the dense SwiGLU FFN of Config.Intermediate.
//
// A MoE block computes, for each token x (after the post-attention norm),
//
//	y = Σ_{e in topk(x)} w_e · Expert_e(x) + Shared(x)
//
// where every expert is a SwiGLU of width Intermediate and Shared is one SwiGLU of
// width SharedExperts·Intermediate (absent when SharedExperts is 0). The gate's
// logits are mlp.gate.weight · x, computed in float32 as both reference codes do.
//
// Weights, per each model type's Hugging Face code:
//   - V3 false (deepseek_v2): with NormTopK and ExpertsPerToken > 1 the chosen scores
//     are divided by their sum (+1e-20), and RoutedScaling is NOT applied; otherwise
//     they are multiplied by RoutedScaling.
//   - V3 true (deepseek_v3): the same normalization, and then RoutedScaling is always
//     applied.
//
// Experts outside the kept groups are never chosen. (Hugging Face's remote code fills
// their scores with 0.0 instead, which differs only when fewer than
// ExpertsPerToken biased scores of the kept groups are positive; DeepSeek's own
// inference code uses -inf, as here.)
//
// Ties: where scores (or group scores) are equal at the top-k boundary, the lower
// expert (or group) index wins. torch.topk leaves the order of ties unspecified, so
// this is one of its possible answers, chosen to be deterministic. A NaN score is
// never preferred to a number.
type MoEConfig struct {
	V3              bool       // model_type deepseek_v3's conventions (else deepseek_v2's)
	RoutedExperts   int        // n_routed_experts
	ExpertsPerToken int        // num_experts_per_tok
	Intermediate    int        // moe_intermediate_size
	SharedExperts   int        // n_shared_experts (0: none)
	FirstDense      int        // first_k_dense_replace
	LayerFreq       int        // moe_layer_freq (1: every block from FirstDense on)
	Scoring         Scoring    // scoring_func
	TopK            TopKMethod // topk_method
	Groups          int        // n_group (1 for greedy)
	TopKGroups      int        // topk_group
	NormTopK        bool       // norm_topk_prob
	RoutedScaling   float64    // routed_scaling_factor
}

// maxExperts bounds n_routed_experts: published models have up to 384.
const maxExperts = 1 << 16

// IsMoELayer reports whether block i of a Model of c has a MoE FFN.
func (c Config) IsMoELayer(i int) bool {
	m := c.MoE
	return m != nil && i >= m.FirstDense && m.LayerFreq > 0 && i%m.LayerFreq == 0
}

// moeLayers counts the MoE blocks: the multiples of LayerFreq in [FirstDense, Layers).
func (c Config) moeLayers() int {
	m := c.MoE
	if m == nil || m.LayerFreq <= 0 || m.FirstDense < 0 || c.Layers <= m.FirstDense {
		return 0
	}
	f := m.LayerFreq
	below := 0 // multiples of f in [0, FirstDense)
	if m.FirstDense > 0 {
		below = (m.FirstDense-1)/f + 1
	}
	return (c.Layers-1)/f + 1 - below
}

// groupSize is the experts per group.
func (m *MoEConfig) groupSize() int { return m.RoutedExperts / max(m.Groups, 1) }

// validate checks the MoE fields of config name (hidden size D).
func (m *MoEConfig) validate(name string, D int) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("mla: config %q: MoE: "+format, append([]any{name}, args...)...))
	}
	if m.RoutedExperts <= 0 || m.RoutedExperts > maxExperts {
		bad("n_routed_experts = %d, want in [1, %d]", m.RoutedExperts, maxExperts)
	}
	if m.ExpertsPerToken <= 0 || m.ExpertsPerToken > m.RoutedExperts {
		bad("num_experts_per_tok = %d, want in [1, n_routed_experts = %d]", m.ExpertsPerToken, m.RoutedExperts)
	}
	if m.Intermediate <= 0 {
		bad("moe_intermediate_size = %d, want > 0", m.Intermediate)
	}
	if m.SharedExperts < 0 || m.SharedExperts > maxExperts {
		bad("n_shared_experts = %d, want in [0, %d]", m.SharedExperts, maxExperts)
	}
	if m.FirstDense < 0 {
		bad("first_k_dense_replace = %d, want >= 0", m.FirstDense)
	}
	if m.LayerFreq <= 0 {
		bad("moe_layer_freq = %d, want >= 1", m.LayerFreq)
	}
	if !(m.RoutedScaling > 0) || math.IsInf(m.RoutedScaling, 0) {
		bad("routed_scaling_factor = %g, want a finite factor > 0", m.RoutedScaling)
	}
	switch {
	case !m.V3 && m.Scoring != ScoringSoftmax:
		bad("deepseek_v2 scores with softmax, not %v", m.Scoring)
	case !m.V3 && m.TopK != TopKGreedy && m.TopK != TopKGroupLimited:
		bad("deepseek_v2 takes topk_method greedy or group_limited_greedy, not %v", m.TopK)
	case m.V3 && m.Scoring != ScoringSigmoid:
		bad("deepseek_v3 scores with sigmoid, not %v", m.Scoring)
	case m.V3 && m.TopK != TopKNoAuxTC:
		bad("deepseek_v3 takes topk_method noaux_tc, not %v", m.TopK)
	}
	if m.TopK != TopKGreedy && m.RoutedExperts > 0 { // greedy ignores n_group and topk_group

		switch {
		case m.Groups <= 0 || m.RoutedExperts%m.Groups != 0:
			bad("n_group = %d must divide n_routed_experts = %d", m.Groups, m.RoutedExperts)
		case m.TopKGroups <= 0 || m.TopKGroups > m.Groups:
			bad("topk_group = %d, want in [1, n_group = %d]", m.TopKGroups, m.Groups)
		case m.ExpertsPerToken > m.TopKGroups*m.groupSize():
			bad("num_experts_per_tok = %d exceeds the %d experts of topk_group = %d groups", m.ExpertsPerToken, m.TopKGroups*m.groupSize(), m.TopKGroups)
		case m.TopK == TopKNoAuxTC && m.groupSize() < 2:
			bad("noaux_tc ranks groups by their two best experts: groups of %d experts are too small", m.groupSize())
		}
	}
	if D > 0 && m.Intermediate > 0 && m.RoutedExperts > 0 {
		if _, err := m.params(D); err != nil {
			errs = append(errs, fmt.Errorf("mla: config %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// params is one MoE block's parameter count (gate, bias, routed and shared experts),
// with checked arithmetic.
func (m *MoEConfig) params(D int) (int, error) {
	ok := true
	mul := func(f ...int) int { v, o := checked.Product(f...); ok = ok && o; return v }
	add := func(a, b int) int { v, o := checked.Add(a, b); ok = ok && o; return v }
	n := add(mul(m.RoutedExperts, D), m.RoutedExperts)
	n = add(n, mul(3, m.RoutedExperts, m.Intermediate, D))
	n = add(n, mul(3, m.SharedExperts, m.Intermediate, D))
	if !ok {
		return 0, fmt.Errorf("MoE: the weights of one block (%d experts of %d x %d) overflow an int", m.RoutedExperts, m.Intermediate, D)
	}
	return n, nil
}

// ffnParams is the parameters of all blocks' FFNs (dense and MoE), checked.
func (c Config) ffnParams() (int, error) {
	dense, ok := checked.Product(3, c.Intermediate, c.Hidden)
	if !ok || c.Layers < 0 {
		return 0, fmt.Errorf("mla: config %q: the dense FFN's weights overflow an int", c.Name)
	}
	moe := 0
	if c.MoE != nil {
		var err error
		if moe, err = c.MoE.params(c.Hidden); err != nil {
			return 0, fmt.Errorf("mla: config %q: %w", c.Name, err)
		}
	}
	nMoE := c.moeLayers()
	total, ok1 := checked.Mul(c.Layers-nMoE, dense)
	moeAll, ok2 := checked.Mul(nMoE, moe)
	total, ok3 := checked.Add(total, moeAll)
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("mla: config %q: the FFN weights of %d layers overflow an int", c.Name, c.Layers)
	}
	return total, nil
}

// hfMoE is the MoE keys of a DeepSeek config.json (nil: absent or null).
type hfMoE struct {
	RoutedExperts, ExpertsPerToken, Intermediate, SharedExperts *int
	FirstDense, LayerFreq, Groups, TopKGroups                   *int
	Scoring, TopK                                               *string
	NormTopK                                                    *bool
	RoutedScaling                                               *float64
}

var hfMoEKeys = []string{"n_routed_experts", "num_experts_per_tok", "moe_intermediate_size", "n_shared_experts",
	"first_k_dense_replace", "moe_layer_freq", "n_group", "topk_group", "scoring_func", "topk_method",
	"norm_topk_prob", "routed_scaling_factor"}

// decode reads key when it is a MoE key (false otherwise).
func (h *hfMoE) decode(p *strictjson.Parser, key string) (bool, error) {
	ints := map[string]**int{"n_routed_experts": &h.RoutedExperts, "num_experts_per_tok": &h.ExpertsPerToken,
		"moe_intermediate_size": &h.Intermediate, "n_shared_experts": &h.SharedExperts,
		"first_k_dense_replace": &h.FirstDense, "moe_layer_freq": &h.LayerFreq, "n_group": &h.Groups, "topk_group": &h.TopKGroups}
	if dst, ok := ints[key]; ok {
		return true, p.OptIntPtr(dst)
	}
	switch key {
	case "scoring_func", "topk_method":
		dst := &h.Scoring
		if key == "topk_method" {
			dst = &h.TopK
		}
		if p.Null() {
			return true, nil
		}
		s, err := p.Str()
		*dst = &s
		return true, err
	case "norm_topk_prob":
		if p.Null() {
			return true, nil
		}
		b, err := p.Boolean()
		h.NormTopK = &b
		return true, err
	case "routed_scaling_factor":
		return true, p.OptFloatPtr(&h.RoutedScaling)
	}
	return false, nil
}

// config returns the MoEConfig of a config.json of the given model_type: nil when
// n_routed_experts is absent, null or 0 (a dense model). deepseek_v2 and deepseek_v3
// follow their own code; another model type follows V3's when its topk_method is
// noaux_tc or its scoring_func sigmoid, else V2's. Absent keys take the defaults of
// that model type's Hugging Face configuration class.
func (h *hfMoE) config(modelType string) (*MoEConfig, error) {
	if h.RoutedExperts == nil || *h.RoutedExperts == 0 {
		return nil, nil
	}
	m := &MoEConfig{RoutedExperts: *h.RoutedExperts, LayerFreq: 1, Groups: 1, TopKGroups: 1, RoutedScaling: 1}
	scoring, topk := "softmax", "greedy"
	v3 := modelType == "deepseek_v3"
	if modelType != "deepseek_v2" && !v3 {
		// Another model type on DeepSeek's architecture (e.g. kimi_k2): the V3
		// conventions when its gate is V3's, else V2's.
		v3 = (h.TopK != nil && *h.TopK == "noaux_tc") || (h.Scoring != nil && *h.Scoring == "sigmoid")
	}
	if v3 {
		m.V3, m.SharedExperts, m.FirstDense, m.ExpertsPerToken = true, 1, 3, 8
		m.Groups, m.TopKGroups, m.NormTopK, m.RoutedScaling = 8, 4, true, 2.5
		scoring, topk = "sigmoid", "noaux_tc"
	}
	set := func(dst *int, src *int) {
		if src != nil {
			*dst = *src
		}
	}
	set(&m.ExpertsPerToken, h.ExpertsPerToken)
	set(&m.Intermediate, h.Intermediate)
	set(&m.SharedExperts, h.SharedExperts)
	set(&m.FirstDense, h.FirstDense)
	set(&m.LayerFreq, h.LayerFreq)
	set(&m.Groups, h.Groups)
	set(&m.TopKGroups, h.TopKGroups)
	if h.NormTopK != nil {
		m.NormTopK = *h.NormTopK
	}
	if h.RoutedScaling != nil {
		m.RoutedScaling = *h.RoutedScaling
	}
	if h.Scoring != nil {
		scoring = *h.Scoring
	}
	if h.TopK != nil {
		topk = *h.TopK
	}
	var err error
	if m.Scoring, err = parseEnum(scoring, "scoring_func", map[string]Scoring{"softmax": ScoringSoftmax, "sigmoid": ScoringSigmoid}); err != nil {
		return nil, err
	}
	if m.TopK, err = parseEnum(topk, "topk_method", map[string]TopKMethod{"greedy": TopKGreedy, "group_limited_greedy": TopKGroupLimited, "noaux_tc": TopKNoAuxTC}); err != nil {
		return nil, err
	}
	return m, nil
}

// hfKeys writes m's config.json keys into js.
func (m *MoEConfig) hfKeys(js map[string]any) {
	js["n_routed_experts"], js["num_experts_per_tok"], js["moe_intermediate_size"] = m.RoutedExperts, m.ExpertsPerToken, m.Intermediate
	js["n_shared_experts"], js["first_k_dense_replace"], js["moe_layer_freq"] = m.SharedExperts, m.FirstDense, m.LayerFreq
	js["n_group"], js["topk_group"], js["scoring_func"], js["topk_method"] = m.Groups, m.TopKGroups, m.Scoring.String(), m.TopK.String()
	js["norm_topk_prob"], js["routed_scaling_factor"] = m.NormTopK, m.RoutedScaling
}

// DeepSeekV2LiteMoE is DeepSeek-V2-Lite's mixture of experts (set Config.MoE to it
// on DeepSeekV2Lite for the published model): 64 routed experts of width 1408, 6
// per token, 2 shared, softmax greedy gating, block 0 dense.
func DeepSeekV2LiteMoE() MoEConfig {
	return MoEConfig{RoutedExperts: 64, ExpertsPerToken: 6, Intermediate: 1408, SharedExperts: 2, FirstDense: 1,
		LayerFreq: 1, Scoring: ScoringSoftmax, TopK: TopKGreedy, Groups: 1, TopKGroups: 1, RoutedScaling: 1}
}

// DeepSeekV2MoE is DeepSeek-V2's: 160 experts of width 1536, 6 per token from the
// best 3 of 8 groups, 2 shared, weights scaled by 16.
func DeepSeekV2MoE() MoEConfig {
	return MoEConfig{RoutedExperts: 160, ExpertsPerToken: 6, Intermediate: 1536, SharedExperts: 2, FirstDense: 1,
		LayerFreq: 1, Scoring: ScoringSoftmax, TopK: TopKGroupLimited, Groups: 8, TopKGroups: 3, RoutedScaling: 16}
}

// DeepSeekV3MoE is DeepSeek-V3's: 256 experts of width 2048, 8 per token from the
// best 4 of 8 groups (noaux_tc), 1 shared, normalized weights scaled by 2.5, blocks
// 0-2 dense.
func DeepSeekV3MoE() MoEConfig {
	return MoEConfig{V3: true, RoutedExperts: 256, ExpertsPerToken: 8, Intermediate: 2048, SharedExperts: 1, FirstDense: 3,
		LayerFreq: 1, Scoring: ScoringSigmoid, TopK: TopKNoAuxTC, Groups: 8, TopKGroups: 4, NormTopK: true, RoutedScaling: 2.5}
}
