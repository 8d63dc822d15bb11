package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench/demo/timing"
	"github.com/mlasimd/mlasimd/mla"
)

// wholeModel reports whether -model asks for a whole decoder: a Hugging Face model
// directory (with config.json) or "v2lite-moe", a random V2-Lite-shaped model.
func wholeModel(name string) bool {
	if name == "v2lite-moe" {
		return true
	}
	_, err := os.Stat(filepath.Join(name, "config.json"))
	return err == nil
}

// runModel loads (or builds) a whole decoder, prints what it holds, prefills -prompt
// token ids and generates -tokens greedily, timing both.
func runModel(f flags) error {
	format, err := mla.ParseWeightFormat(f.format)
	if err != nil {
		return fmt.Errorf("-format: %w", err)
	}
	var (
		cfg    mla.Config
		w      *mla.ModelWeights
		source string
	)
	if f.model == "v2lite-moe" {
		if format == mla.FormatKeep {
			format = mla.FormatQ8_0
		}
		cfg, w, err = randomV2LiteMoE(f.moeLayers, f.seed, format)
		source = fmt.Sprintf("random V2-Lite-shaped weights, %d layers (seed %d)", cfg.Layers, f.seed)
	} else {
		var ck *mla.Checkpoint
		if ck, err = mla.OpenCheckpoint(f.model, mla.WithWeightFormat(format)); err != nil {
			return err
		}
		defer ck.Close()
		cfg, source = ck.Config(), f.model
		n, err := ck.ResidentBytes()
		if err != nil {
			return err
		}
		fmt.Printf("%s: %s will be resident in format %v; loading...\n", f.model, timing.Human(n), format)
		start := time.Now()
		if w, err = ck.LoadModel(); err != nil {
			return err
		}
		fmt.Printf("loaded in %v\n", time.Since(start).Round(time.Millisecond))
	}
	if err != nil {
		return err
	}
	m, err := mla.NewModel(cfg, w, mla.WithWorkers(f.workers))
	if err != nil {
		return err
	}
	defer m.Close()
	fmt.Printf("Model: %s (%s): %d layers, D=%d, vocab %d", cfg.Name, source, cfg.Layers, cfg.Hidden, cfg.Vocab)
	if e := cfg.MoE; e != nil {
		fmt.Printf(", MoE from layer %d: %d experts of width %d, %d per token (%v, %v), %d shared",
			e.FirstDense, e.RoutedExperts, e.Intermediate, e.ExpertsPerToken, e.Scoring, e.TopK, e.SharedExperts)
	}
	fmt.Printf("\nWeights held: %s; CPU: %s, %s, %d workers, Level %s\n",
		timing.Human(w.Bytes()), timing.CPUName(), runtime.GOARCH, m.Layers()[0].Workers(), mlasimd.Active())

	cacheType, err := parseCacheType(f.cache)
	if err != nil {
		return err
	}
	mc, err := m.NewCache(mla.CacheOptions{DType: cacheType, Capacity: f.prompt + f.tokens})
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(f.seed, 7))
	prompt := make([]int, max(f.prompt, 1))
	for i := range prompt {
		prompt[i] = r.IntN(cfg.Vocab)
	}
	logits := make([]float32, cfg.Vocab)
	start := time.Now()
	if err := m.Forward(prompt, mc, logits); err != nil {
		return err
	}
	pre := time.Since(start)
	fmt.Printf("prefill: %d tokens in %v (%.1f tok/s)\n", len(prompt), pre.Round(time.Millisecond), float64(len(prompt))/pre.Seconds())
	if err := mc.Truncate(len(prompt) - 1); err != nil {
		return err
	}
	start = time.Now()
	last := start
	out, err := m.Generate(prompt[len(prompt)-1:], f.tokens, mc, func(i, tok int) {
		now := time.Now()
		fmt.Fprintf(os.Stderr, "\rtoken %d/%d: id %d (%v)   ", i+1, f.tokens, tok, now.Sub(last).Round(time.Millisecond))
		last = now
	})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	gen := time.Since(start)
	fmt.Printf("generated %d tokens in %v (%.2f tok/s): %v\n", len(out), gen.Round(time.Millisecond), float64(len(out))/gen.Seconds(), out)
	return nil
}

// randomV2LiteMoE builds DeepSeek-V2-Lite's shape with the given number of layers
// (block 0 dense, the others MoE) and random weights in format f, one expert at a
// time, so the float32 form of the experts never exists as a whole.
func randomV2LiteMoE(layers int, seed uint64, f mla.WeightFormat) (mla.Config, *mla.ModelWeights, error) {
	if layers < 1 {
		return mla.Config{}, nil, fmt.Errorf("-moe-layers %d: want >= 1", layers)
	}
	c := mla.DeepSeekV2Lite()
	c.Layers = layers
	w, err := mla.RandomModelWeights(mla.Config{
		Name: c.Name, Hidden: c.Hidden, Heads: c.Heads, KVLoRARank: c.KVLoRARank, QKNopeHeadDim: c.QKNopeHeadDim,
		QKRopeHeadDim: c.QKRopeHeadDim, VHeadDim: c.VHeadDim, LatentNorm: c.LatentNorm, NormEps: c.NormEps,
		RoPE: c.RoPE, RoPELayout: c.RoPELayout, RoPETheta: c.RoPETheta, YaRN: c.YaRN, MaxPositions: c.MaxPositions,
		Layers: 1, Vocab: c.Vocab, Intermediate: c.Intermediate, RMSNormEps: c.RMSNormEps,
	}, seed)
	if err != nil {
		return c, nil, err
	}
	moe := mla.DeepSeekV2LiteMoE()
	c.MoE = &moe
	if w, err = w.Convert(f); err != nil {
		return c, nil, err
	}
	for i := 1; i < layers; i++ {
		a, err := mla.RandomLayerWeights(c, seed+uint64(i))
		if err != nil {
			return c, nil, err
		}
		if a, err = a.Convert(f); err != nil {
			return c, nil, err
		}
		e, err := mla.RandomMoEWeights(c, i, seed, f)
		if err != nil {
			return c, nil, err
		}
		w.Blocks = append(w.Blocks, mla.BlockWeights{InputNorm: w.Blocks[0].InputNorm, Attn: a,
			PostAttnNorm: w.Blocks[0].PostAttnNorm, MoE: e})
	}
	return c, w, nil
}
