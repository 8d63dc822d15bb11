package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench"
	"github.com/mlasimd/mlasimd/bench/demo/timing"
)

// tables writes the report as aligned text or as Markdown (for README's Results); the
// first write error is kept in err.
type tables struct {
	w   io.Writer
	md  bool
	err error
}

func newTables(w io.Writer, format string) *tables { return &tables{w: w, md: format == "markdown"} }

func (t *tables) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

func (t *tables) title(s string) {
	if t.md {
		s = "**" + s + "**"
	}
	t.printf("%s\n", s)
}

// line is a paragraph of its own in Markdown.
func (t *tables) line(s string) {
	if t.md {
		t.printf("\n%s\n", s)
		return
	}
	t.printf("%s\n", s)
}

// table writes a caption, a header and rows; notes follow it. Markdown aligns the
// columns of numbers right, text aligns every column right.
func (t *tables) table(caption string, head []string, rows [][]string, notes ...string) {
	t.printf("\n%s\n\n", caption)
	if t.md {
		cells := func(r []string) string {
			esc := make([]string, len(r))
			for i, c := range r {
				esc[i] = strings.ReplaceAll(c, "|", `\|`)
			}
			return "| " + strings.Join(esc, " | ") + " |\n"
		}
		t.printf("%s|", cells(head))
		for i := range head {
			if numeric(rows, i) {
				t.printf(" ---: |")
			} else {
				t.printf(" --- |")
			}
		}
		t.printf("\n")
		for _, r := range rows {
			t.printf("%s", cells(r))
		}
	} else {
		tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, r := range append([][]string{head}, rows...) {
			if t.err == nil {
				_, t.err = fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
			}
		}
		if err := tw.Flush(); t.err == nil {
			t.err = err
		}
	}
	if len(notes) > 0 {
		t.printf("\n%s\n", strings.Join(notes, "\n"))
	}
}

// numeric reports whether column i of rows holds numbers (or "-").
func numeric(rows [][]string, i int) bool {
	for _, r := range rows {
		if i >= len(r) || r[i] == "" || !strings.ContainsAny(r[i][:1], "0123456789-") {
			return false
		}
	}
	return true
}

func (t *tables) machine(m machine) {
	raised := map[string]bench.Raise{}
	for _, r := range m.Raised {
		raised[r.Ceiling] = r
	}
	how := func(ceiling, probe string) string {
		if r, ok := raised[ceiling]; ok {
			return fmt.Sprintf("%s measured %.1f; raised to what %s reached", probe, r.Probe, r.Measurement)
		}
		return probe
	}
	rows := [][]string{
		{"read bandwidth, DRAM, 1 core", fmt.Sprintf("%.1f GB/s", m.ReadGBs), how("DRAM bandwidth", "the faster of Dot over two 128 MiB vectors and Gemv over a 128 MiB matrix")},
		{fmt.Sprintf("read bandwidth, DRAM, %d workers", m.Workers), fmt.Sprintf("%.1f GB/s", m.AllGBs), how(fmt.Sprintf("%d-worker bandwidth", m.Workers), "the same, split over the decode's goroutines")},
	}
	for _, c := range m.Caches {
		rows = append(rows, []string{fmt.Sprintf("bandwidth, %s (%s), 1 core", c.Name, timing.Human(c.Bytes)), fmt.Sprintf("%.1f GB/s", c.GBs),
			how(c.Name+" bandwidth", fmt.Sprintf("the faster of Dot and Axpy over %s (reads and writes counted)", timing.Human(c.Bytes/2)))})
	}
	rows = append(rows,
		[]string{"multiply-add peak, 1 core", fmt.Sprintf("%.1f GFLOP/s", m.PeakGFLOP), how("peak", "best in-cache GemmNT/GemmNN/GemmNNAdd tile")},
		[]string{fmt.Sprintf("multiply-add peak, %d workers", m.Workers), fmt.Sprintf("%.1f GFLOP/s", m.AllPeak()), how(fmt.Sprintf("%d-worker peak", m.Workers), fmt.Sprintf("%d x the 1-core peak", m.Workers))})
	t.table("Machine limits, measured by this run with the best Level:",
		[]string{"limit", "value", "how"}, rows,
		"A ceiling that a kernel or a decode step beat was not a ceiling: it is raised to that measurement (\"raised\"), so every share of a",
		"roofline below is at most 100%; a raised cache or DRAM ceiling is the fastest stream measured there, not a probe.")
}

// kernels is one row per Case, one GB/s and GFLOP/s column pair per Level, and the
// best Level's share of the one-core roofline.
func (t *tables) kernels(results []bench.Result, m bench.Machine) {
	levels := mlasimd.Available()
	head := []string{"kernel", "shape"}
	for _, l := range levels {
		head = append(head, l.String()+" GB/s", l.String()+" GFLOP/s")
	}
	head = append(head, "from", "of roofline")
	var rows [][]string
	for i := 0; i+len(levels) <= len(results); i += len(levels) {
		row := results[i : i+len(levels)]
		c := row[0].Case
		r := []string{c.Kernel, strings.TrimPrefix(strings.TrimPrefix(c.Shape, "shape="), "n=")}
		best := row[0]
		for _, x := range row {
			r = append(r, fmt.Sprintf("%.1f", x.GBs), fmt.Sprintf("%.2f", x.GFLOP))
			if x.GBs > best.GBs {
				best = x
			}
		}
		tier, bw := m.Tier(c)
		r = append(r, tier)
		if roof := m.Roofline(c); roof > 0 {
			r = append(r, fmt.Sprintf("%.0f%%", 100*best.GFLOP/roof))
		} else {
			r = append(r, fmt.Sprintf("%.0f%% of bw", 100*best.GBs/bw))
		}
		rows = append(rows, r)
	}
	t.table("Kernels, one core: GB/s (bytes each call must move) and GFLOP/s per Level, best of three runs:", head, rows,
		"\"from\" is the memory a shape's bytes fit in (the smallest cache, or DRAM), which serves them when the call repeats. The best",
		"Level's share of the roofline min(peak, that memory's bandwidth x flops/byte), or of the bandwidth alone for the conversions",
		"(no arithmetic); the ceilings are those of the table above.")
}

func (t *tables) decode(d *decodeFigures, m machine) {
	c := d.cfg
	var rows [][]string
	naive, steps := 0, 0
	for _, r := range d.rows {
		steps = max(steps, r.N)
		naiveCol, speedCol, diffCol := "-", "-", "-"
		if r.NaiveMs > 0 {
			naiveCol = fmt.Sprintf("%.1f", r.NaiveMs)
			speedCol = fmt.Sprintf("%.1fx", r.SpeedUp())
			diffCol = fmt.Sprintf("%.0e", r.RelDiff)
			naive = max(naive, r.NaiveN)
		}
		roof := m.decodeRoof(r)
		rows = append(rows, []string{r.Level.String(), fmt.Sprint(r.S), fmt.Sprintf("%.2f", r.Ms), fmt.Sprintf("%.0f", r.TokensPerSec()),
			fmt.Sprintf("%.1f", r.GBs()), fmt.Sprintf("%.1f", r.GFLOPs()), fmt.Sprintf("%.0f%%", 100*roof/r.Ms),
			naiveCol, speedCol, diffCol})
	}
	t.table(fmt.Sprintf("MLA decode, one %s attention layer (D=%d, H=%d, d_c=%d, d_r=%d; random weights, projections included), %s cache, %d workers; median ms/step of up to %d steps:",
		c.Name, c.Hidden, c.Heads, c.KVLoRARank, c.QKRopeHeadDim, d.dtype, d.workers, steps),
		[]string{"Level", "S", "ms/step", "tok/s", "GB/s", "GFLOP/s", "of roofline", "naive ms", "absorbed speed-up", "max|Δ|/max"}, rows,
		"S counts cached rows, the new token's included. GB/s counts the float32 weights and the cache a step must read;",
		fmt.Sprintf("the roofline is max(bytes / %d-worker DRAM bandwidth, FLOPs / %d-worker peak), from the table above. Naive: the decompressing path,", d.workers, d.workers),
		fmt.Sprintf("up to %d steps, skipped where predicted too slow (-); max|Δ|/max compares its output with the absorbed one.", naive),
		"The demo (make run's first part) times the same step the same way (package timing; with its defaults the same layer, seed,",
		"workers and f32 cache): the two differ only as far as the machine's load changed between them (10-30% on a shared machine).")

	size := int64(2) // the table is in bf16
	head := []string{"S", "MLA, 1 layer", "MHA, 1 layer", fmt.Sprintf("GQA-%d, 1 layer", d.gqa)}
	if c.Layers > 0 {
		head = append(head, fmt.Sprintf("MLA, %d layers", c.Layers), fmt.Sprintf("MHA, %d layers", c.Layers), fmt.Sprintf("GQA-%d, %d layers", d.gqa, c.Layers))
	}
	rows = nil
	for _, cs := range d.caches {
		r := []string{fmt.Sprint(cs.S), timing.Human(cs.MLA), timing.Human(cs.MHA), timing.Human(cs.GQA)}
		if c.Layers > 0 {
			r = append(r, timing.Human(cs.MLAAll), timing.Human(cs.MHAAll), timing.Human(cs.GQAAll))
		}
		rows = append(rows, r)
	}
	t.table(fmt.Sprintf("KV cache of one sequence, bf16: per token and layer MLA holds %d values (%s), MHA %d (%.2fx more), GQA-%d %d (%.2fx more):",
		c.CacheRowWidth(), timing.Human(int64(c.CacheRowWidth())*size), c.MHACacheElemsPerToken(), 1/c.CacheSizeRatio(),
		d.gqa, c.GQACacheElemsPerToken(d.gqa), 1/c.CacheSizeRatioGQA(d.gqa)), head, rows)
}
