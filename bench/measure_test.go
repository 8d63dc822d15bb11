package bench

import "testing"

// TestBound: after Bound, no result exceeds its roofline, the ceilings that results
// beat are recorded, and the others are left as the probes measured them.
func TestBound(t *testing.T) {
	m := Machine{ReadGBs: 20, PeakGFLOP: 100, Caches: []Cache{{"L1", 32 << 10, 150}, {"L2", 1 << 20, 80}}}
	l1 := Case{Kernel: "Axpy", Shape: "n=1024", Bytes: 12 << 10, Flops: 2048}
	l2 := Case{Kernel: "Dot", Shape: "n=65536", Bytes: 512 << 10, Flops: 131072}
	dram := Case{Kernel: "Gemv", Shape: "shape=8192x8192", Bytes: 256 << 20, Flops: 2 * 8192 * 8192}
	gemm := Case{Kernel: "GemmNN", Shape: "shape=16x512x64", Bytes: 200 << 10, Flops: 2 * 16 * 512 * 64}
	results := []Result{
		{Case: l1, GBs: 200, GFLOP: 200 * l1.Flops / l1.Bytes}, // beats L1's 150
		{Case: l2, GBs: 60, GFLOP: 60 * l2.Flops / l2.Bytes},   // under L2's 80
		{Case: dram, GBs: 21, GFLOP: 21 * dram.Flops / dram.Bytes},
		{Case: gemm, GBs: 10, GFLOP: 110},
	}
	for c, want := range map[*Case]string{&l1: "L1", &l2: "L2", &dram: "DRAM", &gemm: "L2"} {
		if got, _ := m.Tier(*c); got != want {
			t.Errorf("Tier(%s %s) = %s, want %s", c.Kernel, c.Shape, got, want)
		}
	}
	m.Bound(results)
	if m.Caches[1].GBs != 80 {
		t.Errorf("L2 ceiling %v, want the probe's 80 (nothing beat it)", m.Caches[1].GBs)
	}
	if len(m.Raised) != 3 { // peak, L1, DRAM
		t.Errorf("raised %+v, want the peak, L1 and DRAM", m.Raised)
	}
	for _, r := range results {
		if roof := m.Roofline(r.Case); r.GFLOP > roof*(1+1e-12) {
			t.Errorf("%s: %.1f GFLOP/s over its roofline %.1f", r, r.GFLOP, roof)
		}
		if _, bw := m.Tier(r.Case); r.GBs > bw {
			t.Errorf("%s: %.1f GB/s over its bandwidth %.1f", r, r.GBs, bw)
		}
	}
}
