package bench_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench"
	"github.com/mlasimd/mlasimd/mla"
)

// decodeShape is one model's attention layer with random weights, built once per
// process, weight format and worker count and shared by every Level and context
// length (the V3 layer alone is 750 MB of float32 weights: only the attention layer
// is built, never a model; the layers of one format share its weights).
type decodeShape struct {
	name    string
	cfg     mla.Config
	mu      sync.Mutex
	f32     *mla.LayerWeights
	weights map[mla.WeightFormat]*mla.LayerWeights
	layers  map[layerKey]*mla.Layer
}

// layerKey is one built layer: its weight format and worker count.
type layerKey struct {
	format  mla.WeightFormat
	workers int
}

// benchWorkersEnv names the worker counts the MLA benchmarks run, comma-separated
// (default "1,2"); see package bench's documentation.
const benchWorkersEnv = "MLASIMD_BENCH_WORKERS"

// benchWorkers returns the worker counts of the MLA benchmarks: $MLASIMD_BENCH_WORKERS
// or 1 and 2. Each sub-benchmark names its count (workers=<n>) and builds its layer
// with mla.WithWorkers(n), whatever -cpu sets GOMAXPROCS to.
func benchWorkers(b *testing.B) []int {
	s := os.Getenv(benchWorkersEnv)
	if s == "" {
		return []int{1, 2}
	}
	var ns []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want positive worker counts, comma-separated", benchWorkersEnv, s)
		}
		ns = append(ns, n)
	}
	return ns
}

var decodeShapes = []*decodeShape{
	{name: "V2-Lite", cfg: mla.DeepSeekV2Lite()},
	{name: "V3", cfg: mla.DeepSeekV3()},
}

// decodeFormats are the weight formats BenchmarkDecode runs.
var decodeFormats = []mla.WeightFormat{mla.FormatF32, mla.FormatBF16, mla.FormatF16, mla.FormatQ8_0, mla.FormatFP8}

func (s *decodeShape) get(f mla.WeightFormat, workers int) (*mla.Layer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := layerKey{f, workers}
	if l := s.layers[key]; l != nil {
		return l, nil
	}
	if s.f32 == nil {
		w, err := mla.RandomLayerWeights(s.cfg, 1)
		if err != nil {
			return nil, err
		}
		s.f32 = w
	}
	w := s.weights[f]
	if w == nil {
		var err error
		if w, err = s.f32.Convert(f); err != nil {
			return nil, err
		}
		if s.weights == nil {
			s.weights = map[mla.WeightFormat]*mla.LayerWeights{}
		}
		s.weights[f] = w
	}
	l, err := mla.NewLayer(s.cfg, w, mla.WithWorkers(workers))
	if err != nil {
		return nil, err
	}
	if s.layers == nil {
		s.layers = map[layerKey]*mla.Layer{}
	}
	s.layers[key] = l
	return l, nil
}

var (
	machineMu sync.Mutex
	peak      *bench.Machine            // bench.Probe, measured once
	machines  = map[int]bench.Machine{} // by worker count
)

// probeMachine measures the roofline's ceilings once per worker count: the
// multiply-add peak of one core (bench.Probe, once), and the DRAM read bandwidth of
// all the decode's workers together, since one core alone cannot saturate the memory
// system.
func probeMachine(workers int) bench.Machine {
	machineMu.Lock()
	defer machineMu.Unlock()
	if m, ok := machines[workers]; ok {
		return m
	}
	if peak == nil {
		p := bench.Probe()
		peak = &p
	}
	m := *peak
	m.ReadGBs = max(m.ReadGBs, bench.ReadGBs(workers))
	machines[workers] = m
	return m
}

// BenchmarkDecode times one absorbed decode step of one attention layer (projections
// included) with S rows in its cache, the new token's included, at every Level,
// weight format, cache dtype and worker count:
// ISA=<level>/model=<name>/weights=<format>/cache=<dtype>/S=<n>/workers=<w>, the layer built with
// mla.WithWorkers(w) for each w of $MLASIMD_BENCH_WORKERS (default 1 and 2; -cpu sets
// GOMAXPROCS only, the -N suffix of the name). Besides ns/op it
// reports ms/step, tok/s, the bytes a step must read (the weights in their format
// plus the cache), the GB/s and GFLOP/s achieved, and
// the roofline bound: the time the step needs at the machine's measured DRAM
// read bandwidth (all workers reading) or at its multiply-add peak (bench.Probe, one
// core, times the workers), whichever is longer, and the share of it reached
// (%roofline). That share counts every byte as read from DRAM: where a step's bytes
// fit in the last-level cache (V2-Lite's 30 MB in bf16 and S=1024 on a 32 MiB L3)
// they come partly from the cache, and %roofline can pass 100%; the report
// (bench/report) bounds its shares with measured cache ceilings instead. -short
// skips S=16384 and V3 beyond S=1024.
func BenchmarkDecode(b *testing.B) {
	workers := benchWorkers(b)
	for _, lv := range mlasimd.Available() {
		for _, sh := range decodeShapes {
			for _, f := range decodeFormats {
				for _, dt := range []mla.DType{mla.F32, mla.BF16, mla.I8} {
					for _, s := range []int{1024, 4096, 16384} {
						for _, n := range workers {
							name := fmt.Sprintf("ISA=%s/model=%s/weights=%v/cache=%s/S=%d/workers=%d", lv, sh.name, f, strings.ToLower(dt.String()), s, n)
							b.Run(name, func(b *testing.B) {
								if testing.Short() && (s > 4096 || (sh.name == "V3" && s > 1024)) {
									b.Skip("-short: big shape")
								}
								restore, err := mlasimd.Use(lv)
								if err != nil {
									b.Fatal(err)
								}
								defer restore()
								benchDecode(b, sh, f, dt, s, n)
							})
						}
					}
				}
			}
		}
	}
}

func benchDecode(b *testing.B, sh *decodeShape, f mla.WeightFormat, dt mla.DType, s, workers int) {
	l, err := sh.get(f, workers)
	if err != nil {
		b.Fatal(err)
	}
	if l.Workers() != workers {
		b.Fatalf("layer has %d workers, want %d", l.Workers(), workers)
	}
	machine := probeMachine(workers)
	c := sh.cfg
	k, err := l.NewCache(mla.CacheOptions{Capacity: s, DType: dt})
	if err != nil {
		b.Fatal(err)
	}
	// The context's content does not change the work: random rows of unit scale.
	r := rand.New(rand.NewPCG(uint64(s), 2))
	rows := make([]float32, (s-1)*c.CacheRowWidth())
	for i := range rows {
		rows[i] = float32(r.NormFloat64())
	}
	if err := k.Append(rows); err != nil {
		b.Fatal(err)
	}
	x, out := make([]float32, c.Hidden), make([]float32, c.Hidden)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for b.Loop() {
		if err := k.Truncate(s - 1); err != nil {
			b.Fatal(err)
		}
		if err := l.Decode(out, x, k); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	cost := l.DecodeCost(s, k.DType())
	bytes := float64(cost.Bytes())
	roof := max(bytes/(machine.ReadGBs*1e9), cost.FLOPs/(machine.PeakGFLOP*1e9*float64(l.Workers())))
	b.ReportMetric(sec*1e3, "ms/step")
	b.ReportMetric(1/sec, "tok/s")
	b.ReportMetric(bytes/1e6, "MB/step")
	b.ReportMetric(bytes/sec/1e9, "GB/s")
	b.ReportMetric(cost.FLOPs/sec/1e9, "GFLOP/s")
	b.ReportMetric(roof*1e3, "roofline-ms")
	b.ReportMetric(100*roof/sec, "%roofline")
}
