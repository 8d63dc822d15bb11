package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/mla"
)

func randomRows(n, width int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, n*width)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// unitRMS rescales x to root-mean-square 1, standing in for the block's norm when
// an output is fed back as the next input.
func unitRMS(x []float32) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	if ss == 0 {
		return
	}
	s := float32(1 / math.Sqrt(ss/float64(len(x))))
	for i := range x {
		x[i] *= s
	}
}

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
	x := randomRows(max(f.prompt, 1), D, f.seed)
	out := make([]float32, len(x))
	start := time.Now()
	if err := l.Prefill(out, x, k); err != nil {
		return err
	}
	pre := time.Since(start)
	fmt.Printf("\nPrefill: %d tokens in %.1f ms (%.0f tokens/s), Level %s\n", k.Len(), ms(pre), float64(k.Len())/pre.Seconds(), mla.Level())
	next := append([]float32(nil), out[len(out)-D:]...)
	step := make([]float32, D)
	start = time.Now()
	for i := range f.tokens {
		unitRMS(next)
		if err := l.Decode(step, next, k); err != nil {
			return err
		}
		copy(next, step)
		el := time.Since(start)
		fmt.Fprintf(os.Stderr, "\rdecode %d/%d tokens, context %d, %.2f ms/step, %.1f tokens/s   ", i+1, f.tokens, k.Len(), ms(el)/float64(i+1), float64(i+1)/el.Seconds())
	}
	if f.tokens > 0 {
		fmt.Fprintln(os.Stderr)
		el := time.Since(start)
		fmt.Printf("Decode: %d tokens after the prompt in %.1f ms (%.2f ms/step), cache now %d rows, %s\n",
			f.tokens, ms(el), ms(el)/float64(f.tokens), k.Len(), human(k.Bytes()))
	}
	return nil
}

func ms(d time.Duration) float64 { return d.Seconds() * 1e3 }

// timeLevels prints, per Level and context length, absorbed decode ms/step and
// tokens/s, and the naive path's, with the speed-up and the largest difference
// between the two outputs.
func timeLevels(l *mla.Layer, f flags, dt mla.DType, contexts []int) error {
	c := l.Config()
	D := c.Hidden
	fmt.Printf("\nDecode step of one layer (projections included), %s cache, %d timed steps (naive: %d, up to S=%d):\n", dt, f.steps, f.naiveSteps, f.naiveMax)
	fmt.Printf("%-8s %7s %11s %9s %12s %9s %11s\n", "Level", "S", "ms/step", "tok/s", "naive ms", "speed-up", "max|Δ|/max")
	x := randomRows(1, D, f.seed+1)
	unitRMS(x)
	abs, naive := make([]float32, D), make([]float32, D)
	for _, s := range contexts {
		k, err := l.NewCache(mla.CacheOptions{DType: dt, Capacity: s})
		if err != nil {
			return err
		}
		if err := k.Append(randomRows(s-1, c.CacheRowWidth(), uint64(s))); err != nil {
			return err
		}
		for _, lv := range mlasimd.Available() {
			restore, err := mlasimd.Use(lv)
			if err != nil {
				return err
			}
			step := func(decode func(out, x []float32, k *mla.Cache) error, out []float32) error {
				if err := k.Truncate(s - 1); err != nil {
					return err
				}
				return decode(out, x, k)
			}
			if err := step(l.Decode, abs); err != nil { // warm-up
				restore()
				return err
			}
			t0 := time.Now()
			for range f.steps {
				if err := step(l.Decode, abs); err != nil {
					restore()
					return err
				}
			}
			absMs := ms(time.Since(t0)) / float64(max(f.steps, 1))
			naiveCol, speedCol, diffCol := "-", "-", "-"
			if s <= f.naiveMax && f.naiveSteps > 0 {
				t0 = time.Now()
				for range f.naiveSteps {
					if err := step(l.DecodeNaive, naive); err != nil {
						restore()
						return err
					}
				}
				naiveMs := ms(time.Since(t0)) / float64(f.naiveSteps)
				naiveCol = fmt.Sprintf("%.2f", naiveMs)
				speedCol = fmt.Sprintf("%.1fx", naiveMs/absMs)
				diffCol = fmt.Sprintf("%.1e", maxDiff(abs, naive))
			}
			fmt.Printf("%-8s %7d %11.2f %9.1f %12s %9s %11s\n", mla.Level(), s, absMs, 1e3/absMs, naiveCol, speedCol, diffCol)
			restore()
		}
	}
	return nil
}

// maxDiff is max|a-b| over max|b|.
func maxDiff(a, b []float32) float64 {
	var d, m float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = max(m, math.Abs(float64(b[i])))
	}
	return d / m
}

// printCacheSizes compares the latent cache with MHA and GQA caches of the same dtype.
func printCacheSizes(c mla.Config, dt mla.DType, groups int, contexts []int) {
	size := int64(dt.Size())
	fmt.Printf("\nKV cache per token and layer (%s): MLA %d values (%s) | MHA %d values (%s, %.2fx larger) | GQA-%d %d values (%s, %.2fx larger)\n",
		dt, c.CacheRowWidth(), human(int64(c.CacheRowWidth())*size),
		c.MHACacheElemsPerToken(), human(int64(c.MHACacheElemsPerToken())*size), 1/c.CacheSizeRatio(),
		groups, c.GQACacheElemsPerToken(groups), human(int64(c.GQACacheElemsPerToken(groups))*size), 1/c.CacheSizeRatioGQA(groups))
	if c.Layers > 0 {
		fmt.Printf("All %d layers, bf16: %s per token (MHA %s)\n", c.Layers,
			human(c.ModelCacheBytesPerToken(mla.BF16)), human(int64(c.Layers)*int64(c.MHACacheElemsPerToken())*2))
	}
	fmt.Printf("%8s %12s %12s %12s\n", "S", "MLA", "MHA", fmt.Sprintf("GQA-%d", groups))
	for _, s := range contexts {
		S := int64(s)
		fmt.Printf("%8d %12s %12s %12s\n", s, human(S*int64(c.CacheRowWidth())*size),
			human(S*int64(c.MHACacheElemsPerToken())*size), human(S*int64(c.GQACacheElemsPerToken(groups))*size))
	}
}

func human(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
