package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench"
	"github.com/mlasimd/mlasimd/bench/demo/timing"
	"github.com/mlasimd/mlasimd/mla"
)

// tinyConfig is a DeepSeek-shaped layer small enough to decode in microseconds.
func tinyConfig() mla.Config {
	c := mla.DeepSeekV2Lite()
	c.Name, c.Hidden, c.Heads, c.KVLoRARank = "tiny", 64, 2, 8
	c.QKNopeHeadDim, c.QKRopeHeadDim, c.VHeadDim, c.Layers = 8, 4, 8, 2
	return c
}

var fakeMachine = machine{Machine: bench.Machine{ReadGBs: 20, PeakGFLOP: 100,
	Caches: []bench.Cache{{Name: "L1", Bytes: 32 << 10, GBs: 150}, {Name: "L2", Bytes: 1 << 20, GBs: 80}, {Name: "L3", Bytes: 32 << 20, GBs: 40}}},
	Workers: 2, AllGBs: 35}

// smallCases are the vector kernels at their shortest length: microseconds each.
func smallCases() []bench.Case {
	var cs []bench.Case
	for _, c := range bench.Cases(false) {
		if c.Shape == "n=64" {
			cs = append(cs, c)
		}
	}
	return cs
}

// checkPNG decodes the file and wants the given size in pixels and a picture, not a
// blank: some kilobytes, and a good share of pixels unlike the background.
func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 10<<10 {
		t.Errorf("%s: %d bytes, want a real picture (>= 10 KiB)", path, len(data))
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() != w || b.Dy() != h {
		t.Errorf("%s: %dx%d pixels, want %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
	bg := img.At(b.Min.X, b.Min.Y)
	colours := map[[4]uint32]bool{}
	other := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.At(x, y)
			if c != bg {
				other++
			}
			r, g, bl, a := c.RGBA()
			colours[[4]uint32{r, g, bl, a}] = true
		}
	}
	if share := float64(other) / float64(b.Dx()*b.Dy()); share < 0.01 {
		t.Errorf("%s: only %.2f%% of pixels differ from the background", path, 100*share)
	}
	if len(colours) < 8 {
		t.Errorf("%s: %d colours, want lines, markers and text in several", path, len(colours))
	}
}

// TestReportPNG draws both pictures from made-up figures, every Level included.
func TestReportPNG(t *testing.T) {
	dir := t.TempDir()
	var results []bench.Result
	for i, c := range smallCases() {
		for j, l := range mlasimd.Available() {
			results = append(results, bench.Result{Case: c, Level: l, GBs: float64(10 + i + 5*j), GFLOP: float64(2 + i + 3*j)})
		}
	}
	cfg := mla.DeepSeekV2Lite()
	contexts := []int{256, 1024, 4096}
	dec := &decodeFigures{cfg: cfg, dtype: mla.F32, workers: 2, gqa: 8,
		caches: timing.CacheSizes(cfg, mla.BF16, 8, contexts)}
	for i, s := range contexts {
		for j, l := range mlasimd.Available() {
			r := timing.Row{Level: l, S: s, Ms: float64(2 + i + 4*j), Cost: cfg.DecodeCost(s, mla.F32)}
			if i < 2 {
				r.NaiveMs, r.NaiveN = 10*r.Ms, 1
			}
			dec.rows = append(dec.rows, r)
		}
	}
	roof, decode := filepath.Join(dir, "roofline.png"), filepath.Join(dir, "decode.png")
	if err := writeRoofline(roof, results, fakeMachine, dec); err != nil {
		t.Fatal(err)
	}
	if err := writeDecode(decode, dec); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, roof, 12*dpi, 6.5*dpi)
	checkPNG(t, decode, 15*dpi, 6*dpi)
}

// TestReportRun runs the whole report on small kernels and a tiny layer, in both
// formats, and checks the sections and the pictures.
func TestReportRun(t *testing.T) {
	for _, format := range []string{"text", "markdown"} {
		t.Run(format, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pictures")
			o, err := parseFlags([]string{"-out", dir, "-format", format, "-time", "1ms", "-contexts", "16,64",
				"-decode-steps", "1", "-naive-steps", "1", "-batches", "1,2,4", "-batch-contexts", "16"})
			if err != nil {
				t.Fatal(err)
			}
			cfg := tinyConfig()
			o.cases, o.config = smallCases(), &cfg
			o.probe = func(workers int) machine { m := fakeMachine; m.Workers = workers; return m }
			var stdout, stderr bytes.Buffer
			start := time.Now()
			if err := run(o, &stdout, &stderr); err != nil {
				t.Fatal(err)
			}
			t.Logf("report took %v", time.Since(start))
			out := stdout.String()
			for _, want := range []string{"Machine limits", "read bandwidth, DRAM, 1 core", "bandwidth, L1 (32.0 KiB), 1 core", "Kernels, one core", "RMSNorm",
				"MLA decode, one tiny attention layer", "KV cache of one sequence", "roofline.png", "decode.png",
				"Batched decode (DecodeBatch), one tiny attention layer", "batch.png"} {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q:\n%s", want, out)
				}
			}
			for _, l := range mlasimd.Available() {
				if !strings.Contains(out, l.String()+" GB/s") {
					t.Errorf("kernel table lacks Level %s", l)
				}
			}
			// No share of a roofline above 100%: the ceilings are raised to what
			// beat them.
			for _, m := range regexp.MustCompile(`(\d+)%`).FindAllStringSubmatch(out, -1) {
				if n, _ := strconv.Atoi(m[1]); n > 100 {
					t.Errorf("a cell of %s%% in the report:\n%s", m[1], out)
					break
				}
			}
			if format == "markdown" && !strings.Contains(out, "| --- |") {
				t.Errorf("markdown report has no table:\n%s", out)
			}
			if !strings.Contains(stderr.String(), "kernels") || !strings.Contains(stderr.String(), "decode") {
				t.Errorf("no progress on stderr: %q", stderr.String())
			}
			if strings.Contains(stderr.String(), "\r") { // stderr is no terminal here
				t.Errorf("carriage returns in progress written to a buffer: %q", stderr.String())
			}
			checkPNG(t, filepath.Join(dir, "roofline.png"), 12*dpi, 6.5*dpi)
			checkPNG(t, filepath.Join(dir, "decode.png"), 15*dpi, 6*dpi)
			checkPNG(t, filepath.Join(dir, "batch.png"), 9*dpi, 6*dpi)
		})
	}
}

func TestParseFlags(t *testing.T) {
	for _, args := range [][]string{{"-format", "html"}, {"-contexts", "1,x"}, {"-contexts", "0"}, {"-batches", "0"}, {"-batch-contexts", "x"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	o, err := parseFlags([]string{"-contexts", ""})
	if err != nil || len(o.contexts) != 0 {
		t.Errorf("-contexts '': %v, %v; want no decode figures", o.contexts, err)
	}
}
