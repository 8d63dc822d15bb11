package bench_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench"
	"github.com/mlasimd/mlasimd/mla"
)

// moeShape is DeepSeek-V2-Lite's MoE block (64 experts of width 1408, 6 per token, 2
// shared) with random weights, built once per weight format.
var moeShape = struct {
	mu     sync.Mutex
	blocks map[mla.WeightFormat]*mla.MoEBlock
	w      map[mla.WeightFormat]*mla.MoEWeights
}{}

func v2LiteMoEConfig() mla.Config {
	c := mla.DeepSeekV2Lite()
	m := mla.DeepSeekV2LiteMoE()
	c.MoE = &m
	return c
}

func moeBlock(f mla.WeightFormat) (*mla.MoEBlock, *mla.MoEWeights, error) {
	moeShape.mu.Lock()
	defer moeShape.mu.Unlock()
	if b := moeShape.blocks[f]; b != nil {
		return b, moeShape.w[f], nil
	}
	c := v2LiteMoEConfig()
	w, err := mla.RandomMoEWeights(c, 1, 1, f)
	if err != nil {
		return nil, nil, err
	}
	// One thread, as the bars are stated.
	b, err := mla.NewMoEBlock(c, w, mla.WithWorkers(1))
	if err != nil {
		return nil, nil, err
	}
	if moeShape.blocks == nil {
		moeShape.blocks, moeShape.w = map[mla.WeightFormat]*mla.MoEBlock{}, map[mla.WeightFormat]*mla.MoEWeights{}
	}
	moeShape.blocks[f], moeShape.w[f] = b, w
	return b, w, nil
}

var (
	moeBWOnce sync.Once
	moeBW     float64
)

// BenchmarkMoE times one step of DeepSeek-V2-Lite's MoE block, on one worker, for
// 1, 8 and 64 tokens: ISA=<level>/model=V2-Lite/weights=<format>/tokens=<t>. It
// reports ms/step, the bytes the step must read (the gate, the distinct experts the
// step selects, each once, and the shared experts), the GB/s achieved and the share
// of the byte roofline reached: those bytes at one core's measured DRAM read
// bandwidth (bench.ReadGBs(1)). -short runs Q8_0 only.
func BenchmarkMoE(b *testing.B) {
	for _, lv := range mlasimd.Available() {
		for _, f := range []mla.WeightFormat{mla.FormatQ8_0, mla.FormatBF16} {
			for _, t := range []int{1, 8, 64} {
				b.Run(fmt.Sprintf("ISA=%s/model=V2-Lite/weights=%v/tokens=%d", lv, f, t), func(b *testing.B) {
					if testing.Short() && f != mla.FormatQ8_0 {
						b.Skip("-short: Q8_0 only")
					}
					restore, err := mlasimd.Use(lv)
					if err != nil {
						b.Fatal(err)
					}
					defer restore()
					benchMoE(b, f, t)
				})
			}
		}
	}
}

func benchMoE(b *testing.B, f mla.WeightFormat, t int) {
	blk, w, err := moeBlock(f)
	if err != nil {
		b.Fatal(err)
	}
	moeBWOnce.Do(func() { moeBW = bench.ReadGBs(1) })
	c := v2LiteMoEConfig()
	D, K := c.Hidden, c.MoE.ExpertsPerToken
	// Normed hidden states: unit-scale random rows, whose routing is random.
	r := rand.New(rand.NewPCG(uint64(t), 3))
	x, out := make([]float32, t*D), make([]float32, t*D)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	sel, wts := make([]int32, t*K), make([]float32, t*K)
	if err := blk.Forward(out, x, sel, wts); err != nil {
		b.Fatal(err)
	}
	distinct := map[int32]bool{}
	for _, e := range sel {
		distinct[e] = true
	}
	bytes := float64(w.Gate.Bytes() + w.Shared.Bytes() + int64(len(distinct))*w.Experts[0].Bytes())
	for b.Loop() {
		if err := blk.Forward(out, x, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	roof := bytes / (moeBW * 1e9)
	b.ReportMetric(sec*1e3, "ms/step")
	b.ReportMetric(float64(t)/sec, "tok/s")
	b.ReportMetric(float64(len(distinct)), "experts")
	b.ReportMetric(bytes/1e6, "MB/step")
	b.ReportMetric(bytes/sec/1e9, "GB/s")
	b.ReportMetric(roof*1e3, "roofline-ms")
	b.ReportMetric(100*roof/sec, "%roofline")
}

// BenchmarkMoELayer times one decode step of a whole V2-Lite MoE layer on one
// worker: the absorbed attention over S = 1024 cached rows, then the MoE block on its
// output (ISA=<level>/model=V2-Lite/weights=<format>/S=1024), with the bytes both
// must read (attention weights and cache, gate, selected and shared experts) and the
// share of the byte roofline reached.
func BenchmarkMoELayer(b *testing.B) {
	const s = 1024
	for _, lv := range mlasimd.Available() {
		for _, f := range []mla.WeightFormat{mla.FormatQ8_0, mla.FormatBF16} {
			b.Run(fmt.Sprintf("ISA=%s/model=V2-Lite/weights=%v/S=%d", lv, f, s), func(b *testing.B) {
				if testing.Short() && f != mla.FormatQ8_0 {
					b.Skip("-short: Q8_0 only")
				}
				restore, err := mlasimd.Use(lv)
				if err != nil {
					b.Fatal(err)
				}
				defer restore()
				blk, w, err := moeBlock(f)
				if err != nil {
					b.Fatal(err)
				}
				c := v2LiteMoEConfig()
				aw, err := mla.RandomLayerWeights(c, 1)
				if err != nil {
					b.Fatal(err)
				}
				if aw, err = aw.Convert(f); err != nil {
					b.Fatal(err)
				}
				l, err := mla.NewLayer(c, aw, mla.WithWorkers(1))
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				moeBWOnce.Do(func() { moeBW = bench.ReadGBs(1) })
				k, err := l.NewCache(mla.CacheOptions{Capacity: s})
				if err != nil {
					b.Fatal(err)
				}
				r := rand.New(rand.NewPCG(s, 2))
				rows := make([]float32, (s-1)*c.CacheRowWidth())
				for i := range rows {
					rows[i] = float32(r.NormFloat64())
				}
				if err := k.Append(rows); err != nil {
					b.Fatal(err)
				}
				x, attn, out := make([]float32, c.Hidden), make([]float32, c.Hidden), make([]float32, c.Hidden)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				sel, wts := make([]int32, c.MoE.ExpertsPerToken), make([]float32, c.MoE.ExpertsPerToken)
				step := func(sel []int32, wts []float32) {
					if err := k.Truncate(s - 1); err != nil {
						b.Fatal(err)
					}
					if err := l.Decode(attn, x, k); err != nil {
						b.Fatal(err)
					}
					if err := blk.Forward(out, attn, sel, wts); err != nil {
						b.Fatal(err)
					}
				}
				step(sel, wts)
				for b.Loop() {
					step(nil, nil)
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				bytes := float64(l.DecodeCost(s, k.DType()).Bytes() + w.Gate.Bytes() + w.Shared.Bytes() + int64(len(sel))*w.Experts[0].Bytes())
				roof := bytes / (moeBW * 1e9)
				b.ReportMetric(sec*1e3, "ms/step")
				b.ReportMetric(bytes/1e6, "MB/step")
				b.ReportMetric(bytes/sec/1e9, "GB/s")
				b.ReportMetric(100*roof/sec, "%roofline")
			})
		}
	}
}
