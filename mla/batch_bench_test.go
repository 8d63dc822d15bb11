package mla

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/mlasimd/mlasimd"
)

// BenchmarkDecodeBatch times one DecodeBatch step of DeepSeek-V2-Lite's attention
// layer over B sequences of S cached rows each (distinct rows, in a float32
// PagedCache of default pages), and reports the tokens per second of the whole
// batch: compare B=8 with B=1 of the same run, or read x-vs-B=1, the ratio to steps
// of one of the sequences alone interleaved with the batch's. weights= is the format
// of the weight matrices. workers=1 is one thread; the other runs use GOMAXPROCS.
func BenchmarkDecodeBatch(b *testing.B) {
	c := DeepSeekV2Lite()
	w32, err := RandomLayerWeights(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	workers := []int{1}
	if n := runtime.GOMAXPROCS(0); n > 1 {
		workers = append(workers, n)
	}
	for _, lv := range mlasimd.Available() {
		for _, s := range []int{1024, 4096} {
			for _, bsz := range []int{1, 2, 4, 8, 16} {
				for _, nw := range workers {
					for _, f := range []WeightFormat{FormatF32, FormatBF16} {
						name := fmt.Sprintf("ISA=%s/model=V2-Lite/S=%d/B=%d/workers=%d/weights=%v", lv, s, bsz, nw, f)
						b.Run(name, func(b *testing.B) {
							restore, err := mlasimd.Use(lv)
							if err != nil {
								b.Fatal(err)
							}
							defer restore()
							w, err := w32.Convert(f)
							if err != nil {
								b.Fatal(err)
							}
							benchDecodeBatch(b, c, w, s, bsz, nw)
						})
					}
				}
			}
		}
	}
}

func benchDecodeBatch(b *testing.B, c Config, w *LayerWeights, s, bsz, workers int) {
	l, err := NewLayer(c, w, WithWorkers(workers))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	pc, err := NewPagedCache(c, PagedCacheOptions{Pages: bsz * (s/DefaultPageRows + 1)})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(s), 2))
	rows := make([]float32, (s-1)*c.CacheRowWidth())
	seqs := make([]*Sequence, bsz)
	for i := range seqs {
		// Each sequence its own rows: shared ones would stay in the CPU's caches.
		for j := range rows {
			rows[j] = float32(r.NormFloat64())
		}
		if seqs[i], err = pc.NewSequence(0); err != nil {
			b.Fatal(err)
		}
		if err := seqs[i].Append(rows); err != nil {
			b.Fatal(err)
		}
	}
	x, out := make([]float32, bsz*c.Hidden), make([]float32, bsz*c.Hidden)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	step := func(seqs []*Sequence) {
		for _, sq := range seqs {
			if err := sq.Truncate(s - 1); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.DecodeBatch(out[:len(seqs)*c.Hidden], x[:len(seqs)*c.Hidden], seqs); err != nil {
			b.Fatal(err)
		}
	}
	// Between the timed steps, untimed steps of sequence 0 alone: their speed-up is
	// measured under the same load, which a machine shared with other work changes
	// from one sub-benchmark to the next.
	var alone time.Duration
	for b.Loop() {
		step(seqs)
		if bsz > 1 {
			b.StopTimer()
			t0 := time.Now()
			step(seqs[:1])
			alone += time.Since(t0)
			b.StartTimer()
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1e3, "ms/step")
	b.ReportMetric(float64(bsz)/sec, "tok/s")
	if bsz > 1 {
		b.ReportMetric(float64(bsz)*alone.Seconds()/float64(b.N)/sec, "x-vs-B=1")
	}
}
