// Package timing times MLA decode steps of one attention layer at every
// instruction-set Level and several context lengths, absorbed against naive. The
// demo (bench/demo) and the report (bench/report) share it, so they measure the same
// way.
package timing

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/mla"
)

// The defaults of the demo and the report, so that they time a step the same way.
const (
	DefaultSteps  = 9           // absorbed steps timed per Level and S (the median is reported)
	DefaultBudget = time.Second // stop timing one Level and S after this long (one step at least)
)

// Options says what Measure times.
type Options struct {
	Contexts []int            // context lengths S: cached rows, the new token's included
	DType    mla.DType        // cache storage
	Levels   []dispatch.Level // nil: mlasimd.Available()
	Steps    int              // absorbed steps timed per Level and S, after one warm-up
	// Budget stops timing absorbed steps at one Level and S once they have taken this
	// long together (after one step at least; 0: no limit).
	Budget     time.Duration
	NaiveSteps int // naive steps timed per Level and S (0: none)
	NaiveMax   int // time the naive path only up to this S
	// NaiveLimit skips the naive path at a Level once its step, extrapolated
	// linearly in S from the last one timed, would take longer (0: no limit).
	NaiveLimit time.Duration
	// NaiveBudget stops timing naive steps at one Level and S once they have taken
	// this long together (after one step at least; 0: no limit).
	NaiveBudget time.Duration
	// NaiveTotal stops timing the naive path at all once its steps have taken this
	// long together, over every Level and S (0: no limit).
	NaiveTotal time.Duration
	Seed       uint64
	// Progress, when set, is called before each measurement.
	Progress func(lv dispatch.Level, s int, path string)
}

// Row is one Level at one context length.
type Row struct {
	Level     dispatch.Level
	S         int
	Ms        float64 // absorbed decode, median ms/step
	N         int     // absorbed steps timed
	NaiveMs   float64 // naive decode, median ms/step; 0 when not timed
	NaiveN    int     // naive steps timed
	RelDiff   float64 // max|absorbed - naive| / max|naive| when both ran
	Cost      mla.Cost
	NaiveCost mla.Cost
}

// TokensPerSec is the absorbed path's decode rate.
func (r Row) TokensPerSec() float64 { return 1e3 / r.Ms }

// SpeedUp is naive over absorbed time, 0 when the naive path was not timed.
func (r Row) SpeedUp() float64 {
	if r.NaiveMs == 0 {
		return 0
	}
	return r.NaiveMs / r.Ms
}

// GBs is the memory a step must read (weights and cache) over its time.
func (r Row) GBs() float64 { return float64(r.Cost.Bytes()) / r.Ms / 1e6 }

// GFLOPs is the absorbed step's arithmetic over its time.
func (r Row) GFLOPs() float64 { return r.Cost.FLOPs / r.Ms / 1e6 }

// Intensity is the absorbed step's FLOP per byte read.
func (r Row) Intensity() float64 { return r.Cost.FLOPs / float64(r.Cost.Bytes()) }

// Measure times l's decode: for each context length it fills a cache with S-1
// synthetic rows (decode speed depends on the length, not the content), then per Level
// times Steps absorbed steps and, within NaiveMax and NaiveLimit, NaiveSteps naive
// steps, each appending the S-th row and rolling it back. It leaves the active Level
// as it found it.
func Measure(l *mla.Layer, o Options) ([]Row, error) {
	c := l.Config()
	levels := o.Levels
	if levels == nil {
		levels = mlasimd.Available()
	}
	x := RandomRows(1, c.Hidden, o.Seed+1)
	UnitRMS(x)
	abs, naive := make([]float32, c.Hidden), make([]float32, c.Hidden)
	lastNaive := map[dispatch.Level]naiveStep{}
	var naiveTime time.Duration
	var rows []Row
	for _, s := range o.Contexts {
		if s < 1 {
			return nil, fmt.Errorf("timing: context length %d, want >= 1", s)
		}
		k, err := l.NewCache(mla.CacheOptions{DType: o.DType, Capacity: s})
		if err != nil {
			return nil, err
		}
		if err := k.Append(RandomRows(s-1, c.CacheRowWidth(), uint64(s))); err != nil {
			return nil, err
		}
		for _, lv := range levels {
			r := Row{Level: lv, S: s, Cost: l.DecodeCost(s, o.DType), NaiveCost: c.NaiveDecodeCost(s, o.DType)}
			r.NaiveCost.WeightBytes = r.Cost.WeightBytes
			restore, err := mlasimd.Use(lv)
			if err != nil {
				return nil, err
			}
			step := func(decode func(out, x []float32, k *mla.Cache) error, out []float32) error {
				if err := k.Truncate(s - 1); err != nil {
					return err
				}
				return decode(out, x, k)
			}
			progress(o, lv, s, "absorbed")
			r.Ms, r.N, err = median(o.Steps, true, o.Budget, func() error { return step(l.Decode, abs) })
			if err == nil && o.NaiveSteps > 0 && s <= o.NaiveMax && !tooSlow(lastNaive[lv], s, o.NaiveLimit) &&
				(o.NaiveTotal <= 0 || naiveTime < o.NaiveTotal) {
				progress(o, lv, s, "naive")
				t0 := time.Now()
				r.NaiveMs, r.NaiveN, err = median(o.NaiveSteps, false, o.NaiveBudget, func() error { return step(l.DecodeNaive, naive) })
				r.RelDiff = maxDiff(abs, naive)
				lastNaive[lv] = naiveStep{s, r.NaiveMs}
				naiveTime += time.Since(t0)
			}
			restore()
			if err != nil {
				return nil, err
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

func progress(o Options, lv dispatch.Level, s int, path string) {
	if o.Progress != nil {
		o.Progress(lv, s, path)
	}
}

// naiveStep is the last naive step timed at a Level: its context length and ms.
type naiveStep struct {
	s  int
	ms float64
}

// tooSlow extrapolates the last naive step linearly in S.
func tooSlow(prev naiveStep, s int, limit time.Duration) bool {
	if limit <= 0 || prev.s == 0 {
		return false
	}
	return prev.ms*float64(s)/float64(prev.s) > float64(limit)/float64(time.Millisecond)
}

// median runs step n times (after one untimed warm-up if warm; fewer, one at least,
// once budget is spent if it is positive) and returns the median ms per step, less
// disturbed by other work than the mean, and the number of steps timed.
func median(n int, warm bool, budget time.Duration, step func() error) (float64, int, error) {
	if warm {
		if err := step(); err != nil {
			return 0, 0, err
		}
	}
	var ms []float64
	start := time.Now()
	for range max(n, 1) {
		t0 := time.Now()
		if err := step(); err != nil {
			return 0, 0, err
		}
		ms = append(ms, float64(time.Since(t0))/float64(time.Millisecond))
		if budget > 0 && time.Since(start) >= budget {
			break
		}
	}
	slices.Sort(ms)
	if n = len(ms); n%2 == 1 {
		return ms[n/2], n, nil
	}
	return (ms[n/2-1] + ms[n/2]) / 2, n, nil
}

// maxDiff is max|a-b| over max|b|.
func maxDiff(a, b []float32) float64 {
	var d, m float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = max(m, math.Abs(float64(b[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// RandomRows returns n rows of width standard normal values, deterministic in seed.
func RandomRows(n, width int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	x := make([]float32, n*width)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// UnitRMS rescales x to root-mean-square 1, standing in for the block's norm when an
// output is fed back as the next input.
func UnitRMS(x []float32) {
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

// CacheSize is one sequence's KV cache at context length S, in bytes: the latent
// cache against MHA and GQA caches of the same dtype, per layer and over all Layers
// of the config (when it has any).
type CacheSize struct {
	S                      int
	MLA, MHA, GQA          int64 // one layer
	MLAAll, MHAAll, GQAAll int64 // every layer of the model; 0 without Layers
}

// CacheSizes lists the cache sizes at each context length, GQA with groups KV groups.
func CacheSizes(c mla.Config, dt mla.DType, groups int, contexts []int) []CacheSize {
	size, layers := int64(dt.Size()), int64(c.Layers)
	var out []CacheSize
	for _, s := range contexts {
		S := int64(s)
		cs := CacheSize{S: s,
			MLA: S * int64(c.CacheRowWidth()) * size,
			MHA: S * int64(c.MHACacheElemsPerToken()) * size,
			GQA: S * int64(c.GQACacheElemsPerToken(groups)) * size}
		cs.MLAAll, cs.MHAAll, cs.GQAAll = layers*cs.MLA, layers*cs.MHA, layers*cs.GQA
		out = append(out, cs)
	}
	return out
}

// Human formats a byte count with binary units.
func Human(b int64) string {
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

// CPUName returns the CPU's model name where the OS tells it.
func CPUName() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
