package mla

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
)

// BenchmarkAttention times the attention over the latent cache alone, the part a
// comparison with ggml's CPU flash attention can measure: DeepSeek-V2-Lite's 16 heads scoring
// 576-wide absorbed queries against S cached rows, the online softmax, the weighted
// sum over the 512-wide latents (each worker's part; merging them and the value
// up-projection are not counted), without the projections, with the rounding of the
// queries to a narrow cache's type. Sub-benchmarks are named
// ISA=<level>/cache=<dtype>/S=<n>/workers=<w>, reporting ms/step and the GFLOP/s of
// the f32 arithmetic it stands for (2·H·S·(2·d_c+d_r)): the layer runs w workers (mla.WithWorkers), for each
// w of $MLASIMD_BENCH_WORKERS (comma-separated, default 1 and 2) whatever -cpu sets
// GOMAXPROCS to; workers=1 is one thread.
func BenchmarkAttention(b *testing.B) {
	c := DeepSeekV2Lite()
	w, err := RandomLayerWeights(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	workers := []int{1, 2}
	if env := os.Getenv("MLASIMD_BENCH_WORKERS"); env != "" {
		workers = nil
		for _, part := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || n < 1 {
				b.Fatalf("MLASIMD_BENCH_WORKERS=%q: want positive worker counts, comma-separated", env)
			}
			workers = append(workers, n)
		}
	}
	for _, n := range workers {
		l, err := NewLayer(c, w, WithWorkers(n))
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		benchAttention(b, l, n)
	}
}

func benchAttention(b *testing.B, l *Layer, workers int) {
	for _, lv := range mlasimd.Available() {
		for _, dt := range []DType{F32, BF16, F16, I8, FP8} {
			for _, s := range []int{1024, 4096, 16384} {
				b.Run(fmt.Sprintf("ISA=%s/cache=%s/S=%d/workers=%d", lv, cacheName(dt), s, workers), func(b *testing.B) {
					benchAttentionCase(b, l, lv, dt, s)
				})
			}
		}
	}
}

// cacheName is a cache dtype as benchmark names spell it: f32, bf16, f16, i8, fp8.
func cacheName(dt DType) string {
	if dt == FP8 {
		return "fp8"
	}
	return strings.ToLower(dt.String())
}

func benchAttentionCase(b *testing.B, l *Layer, lv dispatch.Level, dt DType, s int) {
	c := l.Config()
	H, dc, rw := c.Heads, c.KVLoRARank, c.CacheRowWidth()
	restore, err := mlasimd.Use(lv)
	if err != nil {
		b.Fatal(err)
	}
	defer restore()
	k, err := l.NewCache(CacheOptions{Capacity: s, DType: dt})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(s), 3))
	rows := make([]float32, s*rw)
	for i := range rows {
		rows[i] = float32(r.NormFloat64())
	}
	if err := k.Append(rows); err != nil {
		b.Fatal(err)
	}
	d := l.dec
	for i := range d.qa.f32 {
		d.qa.f32[i] = float32(r.NormFloat64())
	}
	d.attend.cache = k
	d.attend.parts = min(l.pool.Workers(), max(1, s/(2*l.tile)))
	for b.Loop() {
		if err := l.roundQueries(&d.qa, dt, 1); err != nil {
			b.Fatal(err)
		}
		l.pool.run(&d.attend, d.attend.parts)
	}
	ms := float64(b.Elapsed().Nanoseconds()) / 1e6 / float64(b.N)
	b.ReportMetric(ms, "ms/step")
	b.ReportMetric(2*float64(H)*float64(s)*float64(dc+rw)/ms/1e6, "GFLOP/s")
}
