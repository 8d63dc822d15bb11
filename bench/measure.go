package bench

import (
	"sync"
	"time"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/dispatch"
)

// SecondsPerCall times call: it repeats it for at least min, three times, and keeps
// the fastest rate (the least disturbed by other work on a shared machine).
func SecondsPerCall(call func(), min time.Duration) float64 {
	call() // warm caches and page in the operands
	best := 0.0
	for range 3 {
		n := 0
		start := time.Now()
		for time.Since(start) < min {
			call()
			n++
		}
		if s := time.Since(start).Seconds() / float64(n); best == 0 || s < best {
			best = s
		}
	}
	return best
}

// Machine holds the limits measured by the probes: the read bandwidth from DRAM and
// the multiply-add peak of one core, the two ceilings of the roofline.
type Machine struct {
	ReadGBs   float64 // GB/s streaming reads from a buffer much larger than the caches
	PeakGFLOP float64 // GFLOP/s of the best Level on an in-cache GEMM tile
}

// Probe measures the machine with the best available Level: ReadGBs(1) for the
// bandwidth (streaming 128 MiB buffers and doing almost nothing else), and the
// best of a few GEMM tiles whose operands stay in L1/L2 for the multiply-add peak (the
// peak a real kernel attains, a little under the datasheet's).
func Probe() Machine {
	k, _ := mlasimd.Impl(mlasimd.Available()[0])
	bw := ReadGBs(1)
	peak := 0.0
	for _, s := range [][3]int{{16, 32, 576}, {16, 64, 256}, {8, 32, 512}} {
		m, cols, depth := s[0], s[1], s[2]
		x, y, c := RandVec(m*depth), RandVec(cols*depth), make([]float32, m*cols)
		sec := SecondsPerCall(func() { k.GemmNT(c, x, y, m, cols, depth, depth, depth) }, 100*time.Millisecond)
		peak = max(peak, float64(2*m*cols*depth)/sec/1e9)
		sec = SecondsPerCall(func() { k.GemmNN(c, x, y, m, cols, depth, depth, cols) }, 100*time.Millisecond)
		peak = max(peak, float64(2*m*cols*depth)/sec/1e9)
	}
	return Machine{ReadGBs: bw, PeakGFLOP: peak}
}

// ReadGBs measures the read bandwidth that workers goroutines draw together, each
// over its share of 128 MiB buffers, far larger than the caches, the faster of two
// ways: the best Level's Dot over two vectors, and its Gemv over a matrix (which
// prefetches rows ahead, and streams faster than the hardware prefetchers alone).
// With one worker it is one core's bandwidth, the roofline's ceiling; with more, the
// ceiling of a parallel decode.
func ReadGBs(workers int) float64 {
	k, _ := mlasimd.Impl(mlasimd.Available()[0])
	const n, cols = 32 << 20, 4096
	a, b, x := RandVec(n), RandVec(n), RandVec(cols)
	y := make([]float32, n/cols)
	parallel := func(f func(lo, hi int)) func() {
		return func() {
			var wg sync.WaitGroup
			for p := range workers {
				lo, hi := p*n/cols/workers*cols, (p+1)*n/cols/workers*cols
				wg.Go(func() { f(lo, hi) })
			}
			wg.Wait()
		}
	}
	dot := parallel(func(lo, hi int) { k.Dot(a[lo:hi], b[lo:hi]) })
	gemv := parallel(func(lo, hi int) { k.Gemv(y[lo/cols:hi/cols], a[lo:hi], x) })
	const minTime = 300 * time.Millisecond
	return max(8*n/SecondsPerCall(dot, minTime), 4*n/SecondsPerCall(gemv, minTime)) / 1e9
}

// Result is one Case measured at one Level.
type Result struct {
	Case  Case
	Level dispatch.Level
	GBs   float64
	GFLOP float64
}

// Roofline is the best this machine can do for the Case: min(peak, bandwidth ×
// arithmetic intensity), taking DRAM bandwidth as the ceiling (in-cache shapes can
// beat it, which the report shows as more than 100%).
func (m Machine) Roofline(c Case) float64 {
	if c.Flops == 0 {
		return 0
	}
	return min(m.PeakGFLOP, m.ReadGBs*c.Flops/c.Bytes)
}

// Measure runs every Case at every available Level, calling progress before each.
func Measure(cases []Case, min time.Duration, progress func(done, total int, c Case, l dispatch.Level)) []Result {
	levels := mlasimd.Available()
	var out []Result
	total := len(cases) * len(levels)
	for i, c := range cases {
		call := c.Setup()
		for j, l := range levels {
			progress(i*len(levels)+j, total, c, l)
			k, _ := mlasimd.Impl(l)
			s := SecondsPerCall(func() { call(k) }, min)
			out = append(out, Result{Case: c, Level: l, GBs: c.Bytes / s / 1e9, GFLOP: c.Flops / s / 1e9})
		}
	}
	return out
}
