package testutil

import (
	"fmt"
	"math"
)

// CheckGemvQ8_0Q8 checks one output of a GEMV of Q8_0 weights and a Q8 vector,
// y = Σ_b d_w,b·d_x,b·I_b with I_b = Σ_j q_w[j]·q_x[j], within mlasimd.GemvQ8_0Q8's
// bound γ(n/32+6)·Σ_b |d_w,b·d_x,b|·A_b + 2^-149·Σ_b A_b (A_b = Σ_j |q_w[j]·q_x[j]|).
// The float64 oracle is exact: I_b is an integer below 2^24 and d_w·d_x has 11+24
// significant bits. A row with a non-finite weight scale must give NaN or an
// infinity; where some |d_w·d_x| or the whole Σ|d_w·d_x|·A_b comes within a factor 2
// of MaxFloat32, an infinity or a NaN is right too.
func CheckGemvQ8_0Q8(got float32, row, xq []byte, xd []float32) error {
	var want, mag, tiny float64
	overflow, badScale := false, false
	for b, dx := range xd {
		blk := row[b*(2+q8Block) : (b+1)*(2+q8Block)]
		dw := Half(uint16(blk[0]) | uint16(blk[1])<<8)
		badScale = badScale || math.IsNaN(dw) || math.IsInf(dw, 0)
		var isum, abs float64
		for j, q := range blk[2:] {
			p := float64(int8(q)) * float64(int8(xq[b*q8Block+j]))
			isum += p
			abs += math.Abs(p)
		}
		s := dw * float64(dx)
		overflow = overflow || math.Abs(s) >= math.MaxFloat32/2
		want += s * isum
		mag += math.Abs(s) * abs
		tiny += abs
	}
	g := float64(got)
	if badScale {
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return nil
		}
		return fmt.Errorf("n=%d: got %v for a row with a non-finite scale", len(xq), got)
	}
	bound := Gamma(len(xd)+6)*mag + Tiny*tiny
	if Close(got, want, bound) {
		return nil
	}
	overflow = overflow || mag >= math.MaxFloat32/2
	if overflow && (math.IsInf(g, 0) || math.IsNaN(g)) {
		return nil
	}
	return fmt.Errorf("n=%d: got %v, want %v ± %g", len(xq), got, want, bound)
}
