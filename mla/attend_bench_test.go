package mla

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mlasimd/mlasimd"
)

// BenchmarkAttention times the attention over the latent cache alone, the part a
// comparison with ggml's CPU flash attention can measure: DeepSeek-V2-Lite's 16 heads scoring
// 576-wide absorbed queries against S cached rows, the online softmax, the weighted
// sum over the 512-wide latents (each worker's part; merging them and the value
// up-projection are not counted), without the projections. Sub-benchmarks are named
// ISA=<level>/S=<n>/workers=<w>: the layer runs w workers (mla.WithWorkers), for each
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
	c := l.Config()
	for _, lv := range mlasimd.Available() {
		for _, s := range []int{1024, 4096, 16384} {
			b.Run(fmt.Sprintf("ISA=%s/S=%d/workers=%d", lv, s, workers), func(b *testing.B) {
				restore, err := mlasimd.Use(lv)
				if err != nil {
					b.Fatal(err)
				}
				defer restore()
				k, err := l.NewCache(CacheOptions{Capacity: s})
				if err != nil {
					b.Fatal(err)
				}
				r := rand.New(rand.NewPCG(uint64(s), 3))
				rows := make([]float32, s*c.CacheRowWidth())
				for i := range rows {
					rows[i] = float32(r.NormFloat64())
				}
				if err := k.Append(rows); err != nil {
					b.Fatal(err)
				}
				for i := range l.dec.qa {
					l.dec.qa[i] = float32(r.NormFloat64())
				}
				d := l.dec
				d.attend.cache = k
				d.attend.parts = min(l.pool.Workers(), max(1, s/(2*l.tile)))
				for b.Loop() {
					l.pool.run(&d.attend, d.attend.parts)
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/step")
			})
		}
	}
}
