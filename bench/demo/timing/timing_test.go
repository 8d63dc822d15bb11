package timing_test

import (
	"testing"

	"github.com/mlasimd/mlasimd"
	"github.com/mlasimd/mlasimd/bench/demo/timing"
	"github.com/mlasimd/mlasimd/dispatch"
	"github.com/mlasimd/mlasimd/mla"
)

func TestMeasure(t *testing.T) {
	c := mla.DeepSeekV2Lite()
	c.Name, c.Hidden, c.Heads, c.KVLoRARank = "tiny", 64, 2, 8
	c.QKNopeHeadDim, c.QKRopeHeadDim, c.VHeadDim = 8, 4, 8
	w, err := mla.RandomLayerWeights(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	l, err := mla.NewLayer(c, w, mla.WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before := mlasimd.Active()
	var calls int
	rows, err := timing.Measure(l, timing.Options{Contexts: []int{1, 40}, DType: mla.BF16, Steps: 2, NaiveSteps: 3, NaiveMax: 8,
		Progress: func(dispatch.Level, int, string) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if mlasimd.Active() != before {
		t.Errorf("Measure left Level %s active, want %s", mlasimd.Active(), before)
	}
	levels := mlasimd.Available()
	if len(rows) != 2*len(levels) {
		t.Fatalf("%d rows, want %d", len(rows), 2*len(levels))
	}
	for i, r := range rows {
		if r.Level != levels[i%len(levels)] || r.S != []int{1, 40}[i/len(levels)] {
			t.Errorf("row %d is %s at S=%d", i, r.Level, r.S)
		}
		if r.Ms <= 0 || r.GBs() <= 0 || r.GFLOPs() <= 0 {
			t.Errorf("%s S=%d: %v ms, %v GB/s, %v GFLOP/s", r.Level, r.S, r.Ms, r.GBs(), r.GFLOPs())
		}
		if naive := r.S <= 8; naive != (r.NaiveMs > 0) || (naive && (r.NaiveN != 3 || r.RelDiff > 1e-3)) {
			t.Errorf("%s S=%d: naive %v ms over %d steps, difference %g", r.Level, r.S, r.NaiveMs, r.NaiveN, r.RelDiff)
		}
	}
	if calls != len(levels)*3 {
		t.Errorf("progress called %d times, want %d", calls, len(levels)*3)
	}
}

func TestCacheSizes(t *testing.T) {
	cs := timing.CacheSizes(mla.DeepSeekV2Lite(), mla.BF16, 8, []int{1000})[0]
	if cs.MLA != 1000*576*2 || cs.MHA != 1000*5120*2 || cs.GQA != 1000*2560*2 || cs.MLAAll != 27*cs.MLA {
		t.Errorf("%+v", cs)
	}
	if got := timing.Human(3 << 20); got != "3.00 MiB" {
		t.Errorf("Human(3 MiB) = %q", got)
	}
}
