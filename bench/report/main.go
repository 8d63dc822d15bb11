// Command report prints mlasimd's figures on this machine and draws them: for every
// available Level, each kernel's GB/s and GFLOP/s at the benchmark shapes next to the
// read bandwidth and multiply-add peak that it measures first (a short probe), and the
// MLA decode step of a DeepSeek-V2-Lite attention layer per Level at several context
// lengths, absorbed against naive, with its latent cache against MHA and GQA caches.
// It writes roofline.png and decode.png into -out. `make run` runs it after the demo.
//
//	cd bench
//	go run ./report                       # text tables, pictures in out/ (make run: the root's out/)
//	go run ./report -format markdown      # the tables of README's Results
//	go run ./report -contexts 1024 -decode-steps 3 -time 5ms   # quicker
//
// Progress goes to stderr (one line rewritten in place on a terminal, a line per
// stage otherwise); tables go to stdout.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench"
	"github.com/mlasimd/mlasimd/bench/demo/timing"
	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/mla"
)

// options are the report's settings (the flags).
type options struct {
	big        bool          // include the DRAM-sized GEMV shapes
	per        time.Duration // minimum time per kernel measurement
	out        string        // folder of the pictures
	format     string        // text or markdown
	model      string        // v2lite, v2 or v3
	contexts   []int         // decode context lengths
	steps      int           // absorbed decode steps per Level and context
	naiveSteps int           // naive decode steps at most
	naiveLimit time.Duration // skip naive steps predicted to take longer
	gqa        int           // KV groups of the GQA comparison
	workers    int           // decode goroutines (0: GOMAXPROCS)
	batches    []int         // batched decode sizes (none: no batch figures)
	batchS     []int         // batched decode context lengths

	// For tests: the kernel cases, the layer config and the probe (nil: the real ones).
	cases  []bench.Case
	config *mla.Config
	probe  func(workers int) machine
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.BoolVar(&o.big, "big", false, "include the DRAM-sized GEMV shapes (hundreds of MB)")
	fs.DurationVar(&o.per, "time", 15*time.Millisecond, "minimum time per kernel measurement (best of three)")
	fs.StringVar(&o.out, "out", "out", "folder for roofline.png and decode.png")
	fs.StringVar(&o.format, "format", "text", "tables as text or markdown")
	fs.StringVar(&o.model, "model", "v2lite", "MLA layer shape: v2lite, v2 or v3")
	contexts := fs.String("contexts", "256,1024,4096,16384", "decode context lengths, comma-separated (empty: no decode figures)")
	fs.IntVar(&o.steps, "decode-steps", timing.DefaultSteps, "absorbed decode steps timed per Level and context (the median is reported)")
	fs.IntVar(&o.naiveSteps, "naive-steps", 3, "naive decode steps timed per Level and context, at most")
	fs.DurationVar(&o.naiveLimit, "naive-limit", 1500*time.Millisecond, "skip naive steps predicted to take longer than this; stop timing them after this long per Level and S, and after 10 times this in all")
	fs.IntVar(&o.gqa, "gqa", 8, "KV groups of the GQA cache to compare with")
	fs.IntVar(&o.workers, "workers", 0, "decode goroutines (0: GOMAXPROCS)")
	batches := fs.String("batches", "1,2,4,8,16", "batched decode sizes B, comma-separated (empty: no batch figures)")
	batchS := fs.String("batch-contexts", "1024", "context lengths of the batched decode, comma-separated")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.batches, err = positiveInts("-batches", *batches); err != nil {
		return o, err
	}
	if o.batchS, err = positiveInts("-batch-contexts", *batchS); err != nil {
		return o, err
	}
	if o.format != "text" && o.format != "markdown" {
		return o, fmt.Errorf("-format %q: want text or markdown", o.format)
	}
	for _, part := range strings.Split(*contexts, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 {
			return o, fmt.Errorf("-contexts: %q is not a positive integer", part)
		}
		o.contexts = append(o.contexts, n)
	}
	return o, nil
}

// positiveInts parses a comma-separated list of positive integers (empty: none).
func positiveInts(flag, list string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(list, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive integer", flag, part)
		}
		out = append(out, n)
	}
	return out, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err == nil {
		err = run(o, os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

// machine is what the probes measured: one core's read bandwidth, cache bandwidths
// and multiply-add peak (bench.Probe), and the read bandwidth of all the decode's
// workers together.
type machine struct {
	bench.Machine
	Workers  int
	AllGBs   float64 // GB/s read by Workers goroutines at once
	AllGFLOP float64 // the all-worker peak when a decode step beat Workers x PeakGFLOP; else 0
}

// AllPeak is Workers times one core's peak (or what a decode step reached, if more):
// the compute ceiling of a parallel decode.
func (m machine) AllPeak() float64 { return max(float64(m.Workers)*m.PeakGFLOP, m.AllGFLOP) }

// boundDecode raises the all-worker ceilings to what a decode step reached, where one
// beat them, and records it: the step's bytes are counted as read from DRAM, but
// some of them (weights read the step before) can still be in the last-level cache.
func (m *machine) boundDecode(rows []timing.Row) {
	for _, r := range rows {
		name := fmt.Sprintf("decode %s S=%d", r.Level, r.S)
		if g := r.GBs(); g > m.AllGBs {
			m.Raised = append(m.Raised, bench.Raise{Ceiling: fmt.Sprintf("%d-worker bandwidth", m.Workers), Probe: m.AllGBs, Now: g, Measurement: name})
			m.AllGBs = g
		}
		if f := r.GFLOPs(); f > m.AllPeak() {
			m.Raised = append(m.Raised, bench.Raise{Ceiling: fmt.Sprintf("%d-worker peak", m.Workers), Probe: m.AllPeak(), Now: f, Measurement: name})
			m.AllGFLOP = f
		}
	}
}

// decodeRoof is the least time a decode step needs on all workers: its bytes at the
// all-worker bandwidth or its FLOPs at the all-worker peak, whichever is longer.
func (m machine) decodeRoof(r timing.Row) (ms float64) {
	return max(float64(r.Cost.Bytes())/(m.AllGBs*1e9), r.Cost.FLOPs/(m.AllPeak()*1e9)) * 1e3
}

// probe runs bench.Probe and measures the bandwidth a parallel decode can draw.
func probe(workers int) machine {
	return machine{Machine: bench.Probe(), Workers: workers, AllGBs: bench.ReadGBs(workers)}
}

// decodeFigures are the MLA decode measurements of one layer.
type decodeFigures struct {
	cfg     mla.Config
	dtype   mla.DType
	workers int
	rows    []timing.Row
	caches  []timing.CacheSize
	gqa     int
}

func run(o options, stdout, stderr io.Writer) error {
	now := time.Now().UTC()
	workers := o.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	t := newTables(stdout, o.format)
	t.title(fmt.Sprintf("mlasimd report: %s, %s/%s, %s, %d threads (GOMAXPROCS), %s",
		timing.CPUName(), runtime.GOOS, runtime.GOARCH, runtime.Version(), runtime.GOMAXPROCS(0), now.Format("2006-01-02 15:04 UTC")))
	t.line(fmt.Sprintf("Levels available: %v, active: %s", mlasimd.Available(), mlasimd.Active()))

	fmt.Fprintln(stderr, "probing read bandwidth and multiply-add peak...")
	probeFn := o.probe
	if probeFn == nil {
		probeFn = probe
	}
	m := probeFn(workers)
	cases := o.cases
	if cases == nil {
		cases = bench.Cases(o.big)
	}
	start := time.Now()
	st := timing.NewStatus(stderr)
	results := bench.Measure(cases, o.per, func(done, total int, c bench.Case, l dispatch.Level) {
		st.Stage("kernels %3d/%d %-14s %-18s %s", done+1, total, c.Kernel, c.Shape, l)
	})
	st.Done("kernels: %d measurements in %.1f s", len(results), time.Since(start).Seconds())
	var dec *decodeFigures
	if len(o.contexts) > 0 {
		var err error
		if dec, err = measureDecode(o, workers, stderr); err != nil {
			return err
		}
	}

	var batch *batchFigures
	if len(o.batches) > 0 && len(o.batchS) > 0 {
		var err error
		if batch, err = measureBatch(o, workers, stderr); err != nil {
			return err
		}
	}

	// The ceilings bound every measurement: one that a kernel or a decode step beat
	// is raised to it, and the machine table says so.
	m.Bound(results)
	if dec != nil {
		m.boundDecode(dec.rows)
	}
	t.machine(m)
	t.kernels(results, m.Machine)
	if dec != nil {
		t.decode(dec, m)
	}
	if batch != nil {
		t.batch(batch)
	}

	roofline, decodePNG := filepath.Join(o.out, "roofline.png"), filepath.Join(o.out, "decode.png")
	if err := writeRoofline(roofline, results, m, dec); err != nil {
		return err
	}
	wrote := []string{roofline}
	if dec != nil {
		if err := writeDecode(decodePNG, dec); err != nil {
			return err
		}
		wrote = append(wrote, decodePNG)
	}
	if batch != nil {
		batchPNG := filepath.Join(o.out, "batch.png")
		if err := writeBatch(batchPNG, batch); err != nil {
			return err
		}
		wrote = append(wrote, batchPNG)
	}
	t.line("wrote " + strings.Join(wrote, ", "))
	return t.err
}

// reportConfig is the layer the decode figures run: -model's, or the tests'.
func reportConfig(o options) (mla.Config, error) {
	if o.config != nil {
		return *o.config, nil
	}
	switch o.model {
	case "v2lite", "v2-lite":
		return mla.DeepSeekV2Lite(), nil
	case "v2":
		return mla.DeepSeekV2(), nil
	case "v3":
		return mla.DeepSeekV3(), nil
	}
	return mla.Config{}, fmt.Errorf("-model %q: want v2lite, v2 or v3", o.model)
}

// measureDecode builds the layer (random weights) and times its decode steps.
func measureDecode(o options, workers int, stderr io.Writer) (*decodeFigures, error) {
	cfg, err := reportConfig(o)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "building a %s attention layer (random weights)...\n", cfg.Name)
	w, err := mla.RandomLayerWeights(cfg, 1)
	if err != nil {
		return nil, err
	}
	l, err := mla.NewLayer(cfg, w, mla.WithWorkers(workers))
	if err != nil {
		return nil, err
	}
	defer l.Close()
	start, st := time.Now(), timing.NewStatus(stderr)
	rows, err := timing.Measure(l, timing.Options{Contexts: o.contexts, DType: mla.F32, Steps: o.steps, Budget: timing.DefaultBudget,
		NaiveSteps: o.naiveSteps, NaiveMax: 1 << 30, NaiveLimit: o.naiveLimit, NaiveBudget: o.naiveLimit, NaiveTotal: 10 * o.naiveLimit, Seed: 1,
		Progress: func(lv dispatch.Level, s int, path string) {
			st.Stage("decode %-8s S=%-6d %-8s (%.0f s)", lv, s, path, time.Since(start).Seconds())
		}})
	if err != nil {
		st.Done("")
		return nil, err
	}
	st.Done("decode: %d measurements in %.1f s", len(rows), time.Since(start).Seconds())
	return &decodeFigures{cfg: cfg, dtype: mla.F32, workers: l.Workers(), rows: rows,
		caches: timing.CacheSizes(cfg, mla.BF16, o.gqa, o.contexts), gqa: o.gqa}, nil
}

// batchFigures are the batched decode's medians at the active Level.
type batchFigures struct {
	cfg     mla.Config
	level   dispatch.Level
	workers int
	rows    []timing.BatchRow
}

// measureBatch times DecodeBatch of the report's layer (random f32 weights, f32
// paged cache) at every batch size and context length.
func measureBatch(o options, workers int, stderr io.Writer) (*batchFigures, error) {
	cfg, err := reportConfig(o)
	if err != nil {
		return nil, err
	}
	w, err := mla.RandomLayerWeights(cfg, 1)
	if err != nil {
		return nil, err
	}
	l, err := mla.NewLayer(cfg, w, mla.WithWorkers(workers))
	if err != nil {
		return nil, err
	}
	defer l.Close()
	start, st := time.Now(), timing.NewStatus(stderr)
	rows, err := timing.MeasureBatch(l, mla.F32, o.batchS, o.batches, o.steps, func(s, b int) {
		st.Stage("batched decode S=%-6d B=%-3d (%.0f s)", s, b, time.Since(start).Seconds())
	})
	if err != nil {
		st.Done("")
		return nil, err
	}
	st.Done("batched decode: %d measurements in %.1f s", len(rows), time.Since(start).Seconds())
	return &batchFigures{cfg: cfg, level: mlasimd.Active(), workers: l.Workers(), rows: rows}, nil
}
