package mla

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mlasimd/mlasimd"
)

// BenchmarkAttention times the attention over the latent cache alone, the part a
// comparison with ggml's CPU flash attention can measure: DeepSeek-V2-Lite's 16 heads scoring
// 576-wide absorbed queries against S cached rows, the online softmax, the weighted
// sum over the 512-wide latents (each worker's part; merging them and the value
// up-projection are not counted), without the projections.
// Run it with -cpu 1 for one thread (the layer then has one worker).
func BenchmarkAttention(b *testing.B) {
	c := DeepSeekV2Lite()
	w, err := RandomLayerWeights(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	l, err := NewLayer(c, w)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for _, lv := range mlasimd.Available() {
		for _, s := range []int{1024, 4096, 16384} {
			b.Run(fmt.Sprintf("ISA=%s/S=%d", lv, s), func(b *testing.B) {
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
