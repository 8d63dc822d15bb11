package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
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
// between the two outputs, and returns the rows.
func timeLevels(l *mla.Layer, f flags, dt mla.DType, contexts []int) ([]timing.Row, error) {
	fmt.Printf("\nDecode step of one layer (projections included), %s cache, median of %d steps (naive: up to %d, to S=%d, each under %v):\n",
		dt, f.steps, f.naiveSteps, f.naiveMax, f.naiveLimit)
	fmt.Printf("%-8s %7s %11s %9s %12s %9s %11s\n", "Level", "S", "ms/step", "tok/s", "naive ms", "speed-up", "max|Δ|/max")
	st := timing.NewStatus(os.Stderr)
	rows, err := timing.Measure(l, timing.Options{Contexts: contexts, DType: dt, Steps: f.steps, Budget: timing.DefaultBudget,
		NaiveSteps: f.naiveSteps, NaiveMax: f.naiveMax, NaiveLimit: f.naiveLimit, NaiveBudget: f.naiveLimit, Seed: f.seed,
		Progress: func(lv dispatch.Level, s int, path string) {
			st.Stage("timing %-8s S=%-6d %s", lv, s, path)
		}})
	st.Done("")
	if err != nil {
		return nil, err
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
	return rows, nil
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
// in each format (converted from w), against the first format's time. The layer's
// own format at a context length the Level table timed is that table's row (the
// same step), marked with *, not a second measurement.
func timeFormats(cfg mla.Config, w *mla.LayerWeights, f flags, dt mla.DType, formats []mla.WeightFormat, contexts []int, timed []timing.Row) error {
	if len(formats) == 0 {
		return nil
	}
	best := mlasimd.Active()
	fmt.Printf("\nDecode step by weight format (%s, %s cache, median of %d steps; weights converted from %v):\n", best, dt, f.steps, w.OProj.Format())
	fmt.Printf("%-6s %10s %7s %11s %9s %9s %12s\n", "format", "weights", "S", "ms/step", "tok/s", "GB/s", fmt.Sprintf("vs %v", formats[0]))
	base := map[int]float64{}
	reused := false
	for _, wf := range formats {
		cw, err := w.Convert(wf)
		if err != nil {
			return err
		}
		var rows []timing.Row
		var todo []int
		for _, s := range contexts {
			i := slices.IndexFunc(timed, func(r timing.Row) bool { return r.Level == best && r.S == s })
			if wf == w.OProj.Format() && i >= 0 {
				rows = append(rows, timed[i])
			} else {
				todo = append(todo, s)
			}
		}
		if len(todo) > 0 {
			fmt.Fprintf(os.Stderr, "timing weights=%v\n", wf)
			l, err := mla.NewLayer(cfg, cw, mla.WithWorkers(f.workers))
			if err != nil {
				return err
			}
			more, err := timing.Measure(l, timing.Options{Contexts: todo, DType: dt, Steps: f.steps, Budget: timing.DefaultBudget, Levels: []dispatch.Level{best}, Seed: f.seed})
			l.Close()
			if err != nil {
				return err
			}
			rows = append(rows, more...)
			slices.SortStableFunc(rows, func(a, b timing.Row) int { return cmp.Compare(a.S, b.S) })
		}
		for _, r := range rows {
			if _, ok := base[r.S]; !ok {
				base[r.S] = r.Ms
			}
			mark := " "
			if !slices.Contains(todo, r.S) {
				mark, reused = "*", true
			}
			fmt.Printf("%-6v %10s %7d %10.2f%s %9.1f %9.1f %11.2fx\n", wf, timing.Human(cw.Bytes()), r.S, r.Ms, mark, r.TokensPerSec(), r.GBs(), base[r.S]/r.Ms)
		}
	}
	if reused {
		fmt.Printf("* the Level table's row: the same step (the layer as built), not timed again.\n")
	}
	return nil
}
