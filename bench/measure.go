package bench

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
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
// the multiply-add peak of one core, the two ceilings of the roofline, and the
// bandwidth of each cache level, the ceilings of the shapes that fit in one.
type Machine struct {
	ReadGBs   float64 // GB/s streaming reads from a buffer much larger than the caches
	PeakGFLOP float64 // GFLOP/s of the best Level on an in-cache GEMM tile
	// Caches are the data caches, smallest first, with the bandwidth one core draws
	// from each (nil: DRAM is the only bandwidth ceiling).
	Caches []Cache
	// Raised lists the ceilings that a measurement beat (see Bound), empty when the
	// probes bound everything.
	Raised []Raise
}

// Cache is one level of data cache: its size, as the OS reports it, and the
// bandwidth one core draws from a working set that fits in it.
type Cache struct {
	Name  string // L1, L2, L3
	Bytes int64
	GBs   float64
}

// Raise records a ceiling that a measurement beat: the ceiling was raised from the
// probe's value to the measurement's.
type Raise struct {
	Ceiling     string  // "L2 bandwidth", "DRAM bandwidth", "peak"
	Probe, Now  float64 // GB/s or GFLOP/s
	Measurement string  // what beat it: "Axpy n=4096 avx2"
}

// Probe measures the machine with the best available Level: ReadGBs(1) for the
// bandwidth (streaming 128 MiB buffers and doing almost nothing else), CacheGBs for
// each data cache the OS reports, and the best of a few GEMM tiles whose operands
// stay in L1/L2 for the multiply-add peak (the peak a real kernel attains, a little
// under the datasheet's).
func Probe() Machine {
	k, _ := mlasimd.Impl(mlasimd.Available()[0])
	bw := ReadGBs(1)
	peak := 0.0
	for _, s := range [][3]int{{16, 32, 576}, {16, 64, 256}, {8, 32, 512}, {16, 64, 512}} {
		m, cols, depth := s[0], s[1], s[2]
		x, y, c := RandVec(m*depth), RandVec(cols*depth), make([]float32, m*cols)
		sec := SecondsPerCall(func() { k.GemmNT(c, x, y, m, cols, depth, depth, depth) }, 100*time.Millisecond)
		peak = max(peak, float64(2*m*cols*depth)/sec/1e9)
		sec = SecondsPerCall(func() { k.GemmNN(c, x, y, m, cols, depth, depth, cols) }, 100*time.Millisecond)
		peak = max(peak, float64(2*m*cols*depth)/sec/1e9)
		sec = SecondsPerCall(func() { k.GemmNNAdd(c, x, y, m, cols, depth, depth, cols) }, 100*time.Millisecond)
		peak = max(peak, float64(2*m*cols*depth)/sec/1e9)
	}
	var caches []Cache
	for _, c := range DataCaches() {
		c.GBs = CacheGBs(c.Bytes)
		caches = append(caches, c)
	}
	return Machine{ReadGBs: bw, PeakGFLOP: peak, Caches: caches}
}

// DataCaches lists the data (or unified) caches of CPU 0 that Linux reports in
// /sys/devices/system/cpu/cpu0/cache, smallest first; nil elsewhere.
func DataCaches() []Cache {
	var out []Cache
	for i := 0; ; i++ {
		dir := fmt.Sprintf("/sys/devices/system/cpu/cpu0/cache/index%d/", i)
		level, err := os.ReadFile(dir + "level")
		if err != nil {
			break
		}
		typ, _ := os.ReadFile(dir + "type")
		size, _ := os.ReadFile(dir + "size")
		if t := strings.TrimSpace(string(typ)); t != "Data" && t != "Unified" {
			continue
		}
		s := strings.TrimSpace(string(size))
		mult := int64(1)
		switch {
		case strings.HasSuffix(s, "K"):
			mult, s = 1<<10, strings.TrimSuffix(s, "K")
		case strings.HasSuffix(s, "M"):
			mult, s = 1<<20, strings.TrimSuffix(s, "M")
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			continue
		}
		out = append(out, Cache{Name: "L" + strings.TrimSpace(string(level)), Bytes: n * mult})
	}
	slices.SortFunc(out, func(a, b Cache) int { return cmp.Compare(a.Bytes, b.Bytes) })
	return out
}

// CacheGBs measures the bandwidth one core draws from a working set of half of size
// bytes (so that it stays in a cache of that size), the faster of the best Level's
// Dot over two vectors (8 bytes read per element) and its Axpy (8 read and 4 written,
// all counted, as the kernels' GB/s count them).
func CacheGBs(size int64) float64 {
	k, _ := mlasimd.Impl(mlasimd.Available()[0])
	nDot, nAxpy := int(size/2/8/64*64), int(size/2/12/64*64)
	if nAxpy < 64 {
		return 0
	}
	a, b := RandVec(nDot), RandVec(nDot)
	const minTime = 100 * time.Millisecond
	dot := 8 * float64(nDot) / SecondsPerCall(func() { k.Dot(a, b) }, minTime)
	x, y := a[:nAxpy], b[:nAxpy]
	axpy := 12 * float64(nAxpy) / SecondsPerCall(func() { k.Axpy(1e-9, x, y) }, minTime)
	return max(dot, axpy) / 1e9
}

// Tier returns the memory a Case's working set (its Bytes) is served from when the
// Case runs again and again, with that memory's bandwidth: the smallest cache it fits
// in, or DRAM. A working set up to twice a cache's size still runs partly from it, so
// it gets that cache's bandwidth, and a name of both levels ("L1-L2", "L3-DRAM").
func (m Machine) Tier(c Case) (name string, gbs float64) {
	name, i := m.tier(c)
	if i < 0 {
		return name, m.ReadGBs
	}
	return name, m.Caches[i].GBs
}

// tier is Tier with the index in Caches of the bandwidth's level, -1 for DRAM.
func (m Machine) tier(c Case) (string, int) {
	prev := -1
	for i, k := range m.Caches {
		if k.GBs <= 0 {
			continue
		}
		if c.Bytes <= float64(k.Bytes) {
			if prev >= 0 && c.Bytes <= 2*float64(m.Caches[prev].Bytes) {
				return m.Caches[prev].Name + "-" + k.Name, prev
			}
			return k.Name, i
		}
		prev = i
	}
	if prev >= 0 && c.Bytes <= 2*float64(m.Caches[prev].Bytes) {
		return m.Caches[prev].Name + "-DRAM", prev
	}
	return "DRAM", -1
}

// Bound raises every ceiling that one of results beats to that result's rate, and
// records it in Raised: the peak to the best GFLOP/s, each memory level's bandwidth to
// the best GB/s of the Cases it serves. A ceiling that a kernel beats was not a
// ceiling; after Bound, Roofline bounds every result (no share above 100%).
func (m *Machine) Bound(results []Result) {
	raise := func(ceiling string, v *float64, to float64, r Result) {
		if to > *v {
			m.Raised = append(m.Raised, Raise{Ceiling: ceiling, Probe: *v, Now: to, Measurement: r.String()})
			*v = to
		}
	}
	m.Caches = slices.Clone(m.Caches) // a copy's Bound leaves the original's as they were
	best := func(f func(Result) (float64, bool)) (Result, float64) {
		var br Result
		bv := 0.0
		for _, r := range results {
			if v, ok := f(r); ok && v > bv {
				br, bv = r, v
			}
		}
		return br, bv
	}
	r, v := best(func(r Result) (float64, bool) { return r.GFLOP, true })
	raise("peak", &m.PeakGFLOP, v, r)
	for i := range m.Caches {
		k := &m.Caches[i]
		r, v := best(func(r Result) (float64, bool) { _, j := m.tier(r.Case); return r.GBs, j == i })
		raise(k.Name+" bandwidth", &k.GBs, v, r)
	}
	r, v = best(func(r Result) (float64, bool) { _, j := m.tier(r.Case); return r.GBs, j < 0 })
	raise("DRAM bandwidth", &m.ReadGBs, v, r)
}

// String names the measurement: kernel, shape and Level.
func (r Result) String() string { return fmt.Sprintf("%s %s %s", r.Case.Kernel, r.Case.Shape, r.Level) }

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
// arithmetic intensity), the bandwidth of the memory its working set is served from
// (Tier: a cache level, or DRAM). 0 for a Case without arithmetic.
func (m Machine) Roofline(c Case) float64 {
	if c.Flops == 0 {
		return 0
	}
	_, bw := m.Tier(c)
	return min(m.PeakGFLOP, bw*c.Flops/c.Bytes)
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
