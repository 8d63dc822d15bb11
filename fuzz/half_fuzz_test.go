package fuzz_test

import (
	"math"
	"testing"

	"github.com/mlasimd/mlasimd/internal/testutil"
	"github.com/mlasimd/mlasimd/kernels"
)

// fuzzWiden checks a widening conversion bit for bit against the reference.
func fuzzWiden(t *testing.T, data []byte, name string) {
	in := &input{b: data}
	n, p := in.intn(maxVec+1), in.place()
	src := make([]uint16, n)
	for i := range src {
		src[i] = uint16(in.byte()) | uint16(in.byte())<<8
	}
	want := make([]float32, n)
	ref := kernels.F16ToF32
	if name == "BF16ToF32" {
		ref = kernels.BF16ToF32
	}
	ref(want, src)
	rs, rd := testutil.NewRegion(t, 2*n), testutil.NewRegion(t, 4*n)
	for _, im := range impls(t) {
		d := rd.F32(n, p, nil)
		conv := im.k.F16ToF32
		if name == "BF16ToF32" {
			conv = im.k.BF16ToF32
		}
		conv(d, rs.U16(n, p, src))
		for i := range d {
			if math.Float32bits(d[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: %s(%#04x) = %#08x, want %#08x", im.name, name, src[i], math.Float32bits(d[i]), math.Float32bits(want[i]))
			}
		}
		if !rd.UntouchedF32(d) {
			t.Fatalf("%s: %s wrote outside dst", im.name, name)
		}
	}
}

func FuzzF16ToF32(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzWiden(t, data, "F16ToF32") })
}

func FuzzBF16ToF32(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzWiden(t, data, "BF16ToF32") })
}

func FuzzF32ToF16(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzNarrow(t, data, f16) })
}

func FuzzF32ToBF16(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) { fuzzNarrow(t, data, bf16) })
}

// format is a 16-bit float format: its conversions and the figures checkNarrowed
// needs.
type format struct {
	narrow, widen string // the Kernels methods
	bits, minExp  int
	max           float64
}

var (
	f16  = format{"F32ToF16", "F16ToF32", 11, -14, 65504}
	bf16 = format{"F32ToBF16", "BF16ToF32", 8, -126, math.MaxFloat32}
)

// fuzzNarrow checks that narrowing rounds to nearest: widening the result gives a
// value no farther from the input than half a step of the format.
func fuzzNarrow(t *testing.T, data []byte, fm format) {
	in := &input{b: data}
	n, p := in.intn(600), in.place()
	xv := in.values(n)
	rx, rh, rb := testutil.NewRegion(t, 4*n), testutil.NewRegion(t, 2*n), testutil.NewRegion(t, 4*n)
	for _, im := range impls(t) {
		narrow, widen := im.k.F32ToF16, im.k.F16ToF32
		if fm == bf16 {
			narrow, widen = im.k.F32ToBF16, im.k.BF16ToF32
		}
		h := rh.U16(n, p, nil)
		narrow(h, rx.F32(n, p, xv))
		if !rh.UntouchedU16(h) {
			t.Fatalf("%s: %s wrote outside dst", im.name, fm.narrow)
		}
		back := rb.F32(n, p, nil)
		widen(back, h) // h is still where narrowing left it, fenced
		if !rb.UntouchedF32(back) {
			t.Fatalf("%s: %s wrote outside dst", im.name, fm.widen)
		}
		for i, x := range xv {
			if err := checkNarrowed(float64(x), float64(back[i]), fm.bits, fm.minExp, fm.max); err != "" {
				t.Fatalf("%s: %s(%v) -> %v: %s", im.name, fm.narrow, x, back[i], err)
			}
		}
	}
}

// checkNarrowed says what is wrong with y as the rounding of x to a format with the
// given significand bits, smallest normal exponent and largest finite value.
func checkNarrowed(x, y float64, bits, minExp int, maxFinite float64) string {
	switch {
	case math.IsNaN(x):
		if !math.IsNaN(y) {
			return "NaN must stay NaN"
		}
		return ""
	case math.IsInf(x, 0) || math.Abs(x) >= maxFinite*(1+math.Ldexp(1, -bits)):
		if !math.IsInf(y, 0) || math.Signbit(x) != math.Signbit(y) {
			return "must overflow to Inf"
		}
		return ""
	}
	_, e := math.Frexp(x)
	step := math.Ldexp(1, max(e, minExp+1)-bits) // the spacing of the format around x
	if math.Abs(y-x) > step/2 {
		return "not rounded to nearest"
	}
	return ""
}

// FuzzF32ToBF16DAZ checks every Level's F32ToBF16DAZ bit for bit against the reference.
func FuzzF32ToBF16DAZ(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &input{b: data}
		n, p := in.intn(maxVec+1), in.place()
		src := make([]float32, n)
		for i := range src {
			src[i] = math.Float32frombits(uint32(in.byte()) | uint32(in.byte())<<8 | uint32(in.byte())<<16 | uint32(in.byte())<<24)
		}
		want := make([]uint16, n)
		kernels.F32ToBF16DAZ(want, src)
		rs, rd := testutil.NewRegion(t, 4*n), testutil.NewRegion(t, 2*n)
		for _, im := range impls(t) {
			d := rd.U16(n, p, nil)
			im.k.F32ToBF16DAZ(d, rs.F32(n, p, src))
			for i := range d {
				if d[i] != want[i] {
					t.Fatalf("%s: F32ToBF16DAZ(%#08x) = %#04x, want %#04x", im.name, math.Float32bits(src[i]), d[i], want[i])
				}
			}
			if !rd.UntouchedU16(d) {
				t.Fatalf("%s: F32ToBF16DAZ wrote outside dst", im.name)
			}
		}
	})
}
