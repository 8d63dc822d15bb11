// Command demo runs one MLA attention layer of DeepSeek-V2-Lite's shape (or V2's,
// V3's) on this CPU: it prefills a prompt, decodes tokens with a progress line on
// stderr, then, for every instruction-set Level the machine has, times absorbed
// decode steps at several context lengths against the decompressing (naive) path and
// compares the latent cache with MHA and GQA caches.
//
// Weights are random (deterministic Xavier init) unless -weights names a
// safetensors file or a Hugging Face model directory; -write-weights saves the random
// layer as a safetensors file to try that. -format holds them in f32, bf16, f16 or
// q8_0 (keep: as stored), and a last table times decode in each format. Context beyond the prompt is filled with
// synthetic cache rows: decode speed depends on the context length, not its content.
// The timing lives in package timing (bench/demo/timing), which the report
// (bench/report) shares to time longer contexts and draw them.
//
//	cd bench && go run ./demo
//	cd bench && go run ./demo -model v3 -contexts 1024,16384 -naive-max 0
//	cd bench && go run ./demo -model v2lite-moe -format q8_0 -tokens 8
//	cd bench && go run ./demo -model /path/to/DeepSeek-V2-Lite -format q8_0
//
// -model with a model directory (or v2lite-moe) runs a whole decoder instead: it
// prints the bytes the weights will hold before loading them, prefills -prompt random
// token ids and generates -tokens greedily (token ids in and out).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench/demo/timing"
	"github.com/mlasimd/mlasimd/mla"
)

type flags struct {
	model, weights, writeWeights, cache, contexts string
	format, formats, formatContexts               string
	layer, prompt, tokens, steps, naiveMax        int
	naiveSteps, workers, gqaGroups, moeLayers     int
	naiveLimit                                    time.Duration
	seed                                          uint64
}

func parseFlags() flags {
	var f flags
	flag.StringVar(&f.model, "model", "v2lite", "layer shape: v2lite, v2 or v3 (ignored for a model directory); or a whole model: a Hugging Face model directory (DeepSeek-V2/V3, MoE included) or v2lite-moe (random V2-Lite-shaped, -moe-layers layers), prefilled with -prompt random ids and generating -tokens")
	flag.IntVar(&f.moeLayers, "moe-layers", 3, "layers of -model v2lite-moe (block 0 dense, the others MoE)")
	flag.StringVar(&f.weights, "weights", "", "a safetensors file (HF tensor names) or a Hugging Face model directory; empty: random weights")
	flag.IntVar(&f.layer, "layer", 0, "which layer of -weights to load")
	flag.StringVar(&f.writeWeights, "write-weights", "", "write the layer's weights to this safetensors file (bf16) and exit")
	flag.StringVar(&f.cache, "cache", "f32", "latent cache dtype: f32, bf16, f16, i8 (int8 rows with a scale per row for c and for kr) or fp8 (E4M3 rows with a scale per row)")
	flag.StringVar(&f.format, "format", "keep", "weight format the layer holds: keep (as stored; random weights are f32), f32, bf16, f16, q8_0 or fp8")
	flag.StringVar(&f.formats, "formats", "f32,bf16,f16,q8_0,fp8", "weight formats to time decode in at the best Level (empty: none)")
	flag.StringVar(&f.formatContexts, "format-contexts", "1024", "context lengths of the weight-format table, comma-separated")
	flag.StringVar(&f.contexts, "contexts", "256,1024,4096", "context lengths S to time decode at, comma-separated")
	flag.IntVar(&f.prompt, "prompt", 32, "prompt tokens to prefill")
	flag.IntVar(&f.tokens, "tokens", 16, "tokens to decode after the prompt")
	flag.IntVar(&f.steps, "steps", timing.DefaultSteps, "decode steps timed per context length and Level (the median is reported)")
	flag.IntVar(&f.naiveMax, "naive-max", 1024, "time the naive path only up to this context (it costs ~S·H·d_c·(d_n+d_v) per step)")
	flag.IntVar(&f.naiveSteps, "naive-steps", 2, "naive decode steps timed per context length and Level")
	flag.DurationVar(&f.naiveLimit, "naive-limit", time.Second, "skip naive steps predicted (from the last context) to take longer than this (0: no limit)")
	flag.IntVar(&f.workers, "workers", 0, "goroutines for heads and GEMV rows (0: GOMAXPROCS)")
	flag.IntVar(&f.gqaGroups, "gqa", 8, "KV groups of the GQA cache to compare with")
	flag.Uint64Var(&f.seed, "seed", 1, "seed of the random weights and inputs")
	flag.Parse()
	return f
}

func main() {
	if err := run(parseFlags()); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(f flags) error {
	if wholeModel(f.model) {
		return runModel(f)
	}
	cacheType, err := parseCacheType(f.cache)
	if err != nil {
		return err
	}
	contexts, err := parseInts(f.contexts)
	if err != nil {
		return err
	}
	format, err := mla.ParseWeightFormat(f.format)
	if err != nil {
		return fmt.Errorf("-format: %w", err)
	}
	formats, err := parseFormats(f.formats)
	if err != nil {
		return err
	}
	formatContexts, err := parseInts(f.formatContexts)
	if err != nil {
		return err
	}
	cfg, w, source, err := loadLayer(f, format)
	if err != nil {
		return err
	}
	if f.writeWeights != "" {
		return writeLayer(f.writeWeights, cfg, w, f.layer)
	}
	if w, err = w.Convert(format); err != nil {
		return err
	}
	layer, err := mla.NewLayer(cfg, w, mla.WithWorkers(f.workers))
	if err != nil {
		return err
	}
	defer layer.Close()

	fmt.Printf("MLA decode demo: %s attention layer (D=%d, H=%d, q LoRA %d, d_c=%d, d_n=%d, d_r=%d, d_v=%d), %s\n",
		cfg.Name, cfg.Hidden, cfg.Heads, cfg.QLoRARank, cfg.KVLoRARank, cfg.QKNopeHeadDim, cfg.QKRopeHeadDim, cfg.VHeadDim, source)
	fmt.Printf("CPU: %s, %s, %d workers; Levels available: %v (best: %s)\n",
		timing.CPUName(), runtime.GOARCH, layer.Workers(), mlasimd.Available(), mlasimd.Active())
	fmt.Printf("Weights: %s in %v, %s held\n", source, w.OProj.Format(), timing.Human(w.Bytes()))
	printCacheSizes(cfg, cacheType, f.gqaGroups, contexts)

	if err := promptAndDecode(layer, f, cacheType); err != nil {
		return err
	}
	rows, err := timeLevels(layer, f, cacheType, contexts)
	if err != nil {
		return err
	}
	if err := timeFormats(cfg, w, f, cacheType, formats, formatContexts, rows); err != nil {
		return err
	}
	fmt.Println()
	fmt.Println(sameAsReport(f, cfg, w, cacheType, layer.Workers()))
	return nil
}

// sameAsReport says whether the report (bench/report, next in make run) times the
// step of the Level table again, and why its figures can differ.
func sameAsReport(f flags, cfg mla.Config, w *mla.LayerWeights, dt mla.DType, workers int) string {
	var differ []string
	if f.weights != "" || f.seed != 1 {
		differ = append(differ, "the report's weights are random with seed 1")
	}
	if cfg.Name != mla.DeepSeekV2Lite().Name {
		differ = append(differ, "the report's layer is "+mla.DeepSeekV2Lite().Name+"'s (-model v2lite)")
	}
	if w.OProj.Format() != mla.FormatF32 {
		differ = append(differ, "the report's weights are f32")
	}
	if dt != mla.F32 {
		differ = append(differ, "the report's cache is f32")
	}
	if workers != runtime.GOMAXPROCS(0) {
		differ = append(differ, fmt.Sprintf("the report runs GOMAXPROCS (%d) workers", runtime.GOMAXPROCS(0)))
	}
	if len(differ) > 0 {
		return "The report (cd bench && go run ./report, next in make run) times another step: " + strings.Join(differ, "; ") + "."
	}
	steps := fmt.Sprint(timing.DefaultSteps)
	if f.steps != timing.DefaultSteps {
		steps += fmt.Sprintf(" (here %d)", f.steps)
	}
	return fmt.Sprintf("The report (cd bench && go run ./report, next in make run) times this same step again: this layer, seed and\n"+
		"%d workers, f32 weights and cache, the median of %s steps after a warm-up (package timing, shared by both), at\n"+
		"more context lengths. Its rows for the same Level and S differ from the table above only as much as the load\n"+
		"on the machine changed between the two runs (10-30%% on a shared machine; the report runs after a minute of\n"+
		"kernel measurements). The prompt's decode above is not that step: S=%d to %d, its first cold steps included.",
		workers, steps, f.prompt+1, f.prompt+f.tokens)
}

func parseCacheType(s string) (mla.DType, error) {
	switch strings.ToLower(s) {
	case "f32":
		return mla.F32, nil
	case "bf16":
		return mla.BF16, nil
	case "f16":
		return mla.F16, nil
	case "i8":
		return mla.I8, nil
	case "fp8":
		return mla.FP8, nil
	}
	return 0, fmt.Errorf("-cache %q: want f32, bf16, f16, i8 or fp8", s)
}

func parseFormats(s string) ([]mla.WeightFormat, error) {
	var out []mla.WeightFormat
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		wf, err := mla.ParseWeightFormat(part)
		if err != nil || wf == mla.FormatKeep {
			return nil, fmt.Errorf("-formats: %q: want f32, bf16, f16, q8_0 or fp8", part)
		}
		out = append(out, wf)
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-contexts: %q is not a positive integer", part)
		}
		out = append(out, n)
	}
	return out, nil
}
