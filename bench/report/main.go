// Command report prints mlasimd's kernel figures on this machine: for every
// available Level, each kernel's GB/s and GFLOP/s at the benchmark shapes, next to
// the read bandwidth and multiply-add peak that it measures first. `make run` runs it
// after the MLA demo.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench"
	"github.com/mlasimd/mlasimd/dispatch"
)

func main() {
	big := flag.Bool("big", false, "include the DRAM-sized GEMV shapes (hundreds of MB)")
	per := flag.Duration("time", 15*time.Millisecond, "minimum time per measurement")
	out := flag.String("out", "out", "folder for the PNG pictures")
	flag.Parse()

	fmt.Printf("mlasimd kernel report: %s, %s/%s, %s\n", cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Printf("active level: %s (available: %v)\n", mlasimd.Active(), mlasimd.Available())
	fmt.Fprintln(os.Stderr, "probing read bandwidth and multiply-add peak...")
	m := bench.Probe()
	fmt.Printf("measured: read bandwidth %.1f GB/s, multiply-add peak %.1f GFLOP/s (one core)\n\n", m.ReadGBs, m.PeakGFLOP)

	results := bench.Measure(bench.Cases(*big), *per, func(done, total int, c bench.Case, l dispatch.Level) {
		fmt.Fprintf(os.Stderr, "\rmeasuring %3d/%d %-10s %-22s %-8s", done+1, total, c.Kernel, c.Shape, l)
	})
	fmt.Fprintf(os.Stderr, "\r%70s\r", "")
	printTable(results, m)

	roofline := filepath.Join(*out, "roofline.png")
	if err := writeRoofline(roofline, results, m, nil); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", roofline)
}

// printTable prints one row per Case, one GB/s and GFLOP/s column pair per Level,
// and the best Level's share of the roofline.
func printTable(results []bench.Result, m bench.Machine) {
	levels := mlasimd.Available()
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "kernel\tshape\t"
	for _, l := range levels {
		head += l.String() + " GB/s\t" + l.String() + " GFLOP/s\t"
	}
	fmt.Fprintln(w, head+"best vs roofline\t")
	for i := 0; i < len(results); i += len(levels) {
		row := results[i : i+len(levels)]
		c := row[0].Case
		line := fmt.Sprintf("%s\t%s\t", c.Kernel, strings.TrimPrefix(strings.TrimPrefix(c.Shape, "shape="), "n="))
		for _, r := range row {
			line += fmt.Sprintf("%.1f\t%.2f\t", r.GBs, r.GFLOP)
		}
		if roof := m.Roofline(c); roof > 0 {
			line += fmt.Sprintf("%.0f%%\t", 100*row[0].GFLOP/roof)
		} else {
			line += fmt.Sprintf("%.0f%% of bw\t", 100*row[0].GBs/m.ReadGBs)
		}
		fmt.Fprintln(w, line)
	}
	w.Flush()
	fmt.Println("\nGB/s counts the bytes each call must move; the roofline is min(peak, bandwidth x flops/byte)")
	fmt.Println("with DRAM bandwidth, so shapes that fit in cache can exceed 100%.")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
