package main

import (
	"fmt"
	"os"
	"time"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench/demo/timing"
	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/mla"
)

// promptAndDecode prefills a random prompt, then decodes tokens one at a time, each
// step's input being the previous step's output (the layer has no vocabulary), with
// a progress line on stderr.
func promptAndDecode(l *mla.Layer, f flags, dt mla.DType) error {
	c := l.Config()
	D := c.Hidden
	k, err := l.NewCache(mla.CacheOptions{DType: dt, Capacity: f.prompt + f.tokens})
	if err != nil {
		return err
	}
	x := timing.RandomRows(max(f.prompt, 1), D, f.seed)
	out := make([]float32, len(x))
	start := time.Now()
	if err := l.Prefill(out, x, k); err != nil {
		return err
	}
	pre := time.Since(start)
	fmt.Printf("\nPrefill: %d tokens in %.1f ms (%.0f tokens/s), Level %s\n", k.Len(), ms(pre), float64(k.Len())/pre.Seconds(), mla.Level())
	next := append([]float32(nil), out[len(out)-D:]...)
	step := make([]float32, D)
	st := timing.NewStatus(os.Stderr)
	start = time.Now()
	for i := range f.tokens {
		timing.UnitRMS(next)
		if err := l.Decode(step, next, k); err != nil {
			st.Done("")
			return err
		}
		copy(next, step)
		el := time.Since(start)
		st.Stage("decode %d/%d tokens, context %d, %.2f ms/step, %.1f tokens/s", i+1, f.tokens, k.Len(), ms(el)/float64(i+1), float64(i+1)/el.Seconds())
	}
	if f.tokens > 0 {
		st.Done("")
		el := time.Since(start)
		fmt.Printf("Decode: %d tokens after the prompt in %.1f ms (%.2f ms/step), cache now %d rows, %s\n",
			f.tokens, ms(el), ms(el)/float64(f.tokens), k.Len(), timing.Human(k.Bytes()))
	}
	return nil
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }

// timeLevels prints, per Level and context length, absorbed decode ms/step and
// tokens/s, and the naive path's, with the speed-up and the largest difference
// between the two outputs.
func timeLevels(l *mla.Layer, f flags, dt mla.DType, contexts []int) error {
	fmt.Printf("\nDecode step of one layer (projections included), %s cache, median of %d steps (naive: up to %d, to S=%d, each under %v):\n",
		dt, f.steps, f.naiveSteps, f.naiveMax, f.naiveLimit)
	fmt.Printf("%-8s %7s %11s %9s %12s %9s %11s\n", "Level", "S", "ms/step", "tok/s", "naive ms", "speed-up", "max|Δ|/max")
	st := timing.NewStatus(os.Stderr)
	rows, err := timing.Measure(l, timing.Options{Contexts: contexts, DType: dt, Steps: f.steps,
		NaiveSteps: f.naiveSteps, NaiveMax: f.naiveMax, NaiveLimit: f.naiveLimit, NaiveBudget: f.naiveLimit, Seed: f.seed,
		Progress: func(lv dispatch.Level, s int, path string) {
			st.Stage("timing %-8s S=%-6d %s", lv, s, path)
		}})
	st.Done("")
	if err != nil {
		return err
	}
	for _, r := range rows {
		naiveCol, speedCol, diffCol := "-", "-", "-"
		if r.NaiveMs > 0 {
			naiveCol = fmt.Sprintf("%.2f", r.NaiveMs)
			speedCol = fmt.Sprintf("%.1fx", r.SpeedUp())
			diffCol = fmt.Sprintf("%.1e", r.RelDiff)
		}
		fmt.Printf("%-8s %7d %11.2f %9.1f %12s %9s %11s\n", r.Level, r.S, r.Ms, r.TokensPerSec(), naiveCol, speedCol, diffCol)
	}
	return nil
}

// printCacheSizes compares the latent cache with MHA and GQA caches of the same dtype.
func printCacheSizes(c mla.Config, dt mla.DType, groups int, contexts []int) {
	size := int64(dt.Size())
	fmt.Printf("\nKV cache per token and layer (%s): MLA %d values (%s) | MHA %d values (%s, %.2fx larger) | GQA-%d %d values (%s, %.2fx larger)\n",
		dt, c.CacheRowWidth(), timing.Human(int64(c.CacheRowWidth())*size),
		c.MHACacheElemsPerToken(), timing.Human(int64(c.MHACacheElemsPerToken())*size), 1/c.CacheSizeRatio(),
		groups, c.GQACacheElemsPerToken(groups), timing.Human(int64(c.GQACacheElemsPerToken(groups))*size), 1/c.CacheSizeRatioGQA(groups))
	if c.Layers > 0 {
		fmt.Printf("All %d layers, bf16: %s per token (MHA %s)\n", c.Layers,
			timing.Human(c.ModelCacheBytesPerToken(mla.BF16)), timing.Human(int64(c.Layers)*int64(c.MHACacheElemsPerToken())*2))
	}
	fmt.Printf("%8s %12s %12s %12s\n", "S", "MLA", "MHA", fmt.Sprintf("GQA-%d", groups))
	for _, cs := range timing.CacheSizes(c, dt, groups, contexts) {
		fmt.Printf("%8d %12s %12s %12s\n", cs.S, timing.Human(cs.MLA), timing.Human(cs.MHA), timing.Human(cs.GQA))
	}
}

// timeFormats times absorbed decode at the best Level with the layer's weights held
// in each format (converted from w), against the first format's time.
func timeFormats(cfg mla.Config, w *mla.LayerWeights, f flags, dt mla.DType, formats []mla.WeightFormat, contexts []int) error {
	if len(formats) == 0 {
		return nil
	}
	best := mlasimd.Active()
	fmt.Printf("\nDecode step by weight format (%s, %s cache, median of %d steps; weights converted from %v):\n", best, dt, f.steps, w.OProj.Format())
	fmt.Printf("%-6s %10s %7s %11s %9s %9s %12s\n", "format", "weights", "S", "ms/step", "tok/s", "GB/s", fmt.Sprintf("vs %v", formats[0]))
	base := map[int]float64{}
	for _, wf := range formats {
		fmt.Fprintf(os.Stderr, "timing weights=%v\n", wf)
		cw, err := w.Convert(wf)
		if err != nil {
			return err
		}
		l, err := mla.NewLayer(cfg, cw, mla.WithWorkers(f.workers))
		if err != nil {
			return err
		}
		rows, err := timing.Measure(l, timing.Options{Contexts: contexts, DType: dt, Steps: f.steps, Levels: []dispatch.Level{best}, Seed: f.seed})
		l.Close()
		if err != nil {
			return err
		}
		for _, r := range rows {
			if _, ok := base[r.S]; !ok {
				base[r.S] = r.Ms
			}
			fmt.Printf("%-6v %10s %7d %11.2f %9.1f %9.1f %11.2fx\n", wf, timing.Human(cw.Bytes()), r.S, r.Ms, r.TokensPerSec(), r.GBs(), base[r.S]/r.Ms)
		}
	}
	return nil
}
