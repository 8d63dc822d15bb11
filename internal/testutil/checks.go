package testutil

import (
	"fmt"
	"math"

	"github.com/mlasimd/mlasimd/internal/spec"
)

// The checks compare one kernel result with the float64 oracle under the kernel's
// error bound and return a description of the first violation, or nil. Tests and fuzz
// targets share them, so both hold every Level to the same contract.

// Cutoff is the exponential's cut-off from the routine spec, which kernels.ExpCutoff
// and every Level's exponential also take (testutil must not depend on what it tests).
const Cutoff float32 = spec.ExpCutoff

// ExpWant is the exact exponential under the shared rules: 0 below the cutoff.
func ExpWant(x float32) float64 {
	if x < Cutoff {
		return 0
	}
	return math.Exp(float64(x))
}

// ExpOK checks one Exp result: NaN for NaN, exactly 0 below the cutoff, +Inf where
// the float32 result must overflow, and otherwise within ExpRelErr of e^x. Near the
// overflow threshold, where e^x is within the error of MaxFloat32, either the largest
// finite value or +Inf is right.
func ExpOK(got, x float32) bool {
	want := ExpWant(x)
	switch {
	case x != x:
		return got != got
	case want == 0:
		return got == 0
	case want > math.MaxFloat32*(1+ExpRelErr):
		return math.IsInf(float64(got), 1)
	case want > math.MaxFloat32*(1-ExpRelErr) && math.IsInf(float64(got), 1):
		return true
	}
	return Close(got, want, ExpRelErr*want)
}

// CheckDot checks a sum of products: got against Σ a[i]·b[i]. When Σ|a[i]·b[i]|
// reaches MaxFloat32, a product or a partial sum may overflow in float32 (whatever
// the order), so ±Inf, or NaN from opposite infinities, is then right too; a NaN
// input must still give NaN.
func CheckDot(got float32, a, b []float32) error {
	want, mag := DotExact(a, b)
	bound := SumBound(len(a), mag)
	if Close(got, want, bound) {
		return nil
	}
	g := float64(got)
	if !math.IsNaN(want) && mag >= math.MaxFloat32 && (math.IsInf(g, 0) || math.IsNaN(g)) {
		return nil
	}
	return fmt.Errorf("n=%d: got %v, want %v ± %g", len(a), got, want, bound)
}

// CheckAxpy checks y0 + alpha·x = got elementwise: one product and one sum, at most
// two roundings.
func CheckAxpy(got []float32, alpha float32, x, y0 []float32) error {
	for i := range got {
		p := float64(alpha) * float64(x[i])
		want := float64(y0[i]) + p
		if !Close(got[i], want, Gamma(2)*(math.Abs(float64(y0[i]))+math.Abs(p))+Tiny) {
			return fmt.Errorf("i=%d: got %v, want %v", i, got[i], want)
		}
	}
	return nil
}

// CheckRotation checks one rotated value a·c + sign·b·s: two products and a sum, at
// most two roundings on each term.
func CheckRotation(got, a, b, c, s float32, sign float64) error {
	ac, bs := float64(a)*float64(c), float64(b)*float64(s)
	want := ac + sign*bs
	if !Close(got, want, Gamma(2)*(math.Abs(ac)+math.Abs(bs))+Tiny) {
		return fmt.Errorf("a=%v b=%v c=%v s=%v: got %v, want %v", a, b, c, s, got, want)
	}
	return nil
}

// CheckSoftmax compares a softmax row against the float64 oracle with this bound
// (u = 2^-24, E = ExpRelErr, η_i = u·(|s·x_i| + |d_i|) with d_i = s·x_i - max):
//
//	|got_i - y_i| <= y_i·(η_i + E + Σ_j y_j·(η_j + E) + γ(n) + 3u)·1.01 + n·2^-126
//
// η_i is the absolute error of the exponent argument (rounding of s·x_i and of the
// subtraction; a rounding of the max shifts every argument alike and cancels), which
// becomes a relative error of e_i; the sum adds the weighted errors of its terms and
// γ(n) of its own; the reciprocal and the product add 3u; 1.01 covers second-order
// terms; the last term covers arguments near the cutoff that one side flushes to 0.
// Rows the kernel defines specially (a NaN, +Inf, all -Inf) follow from the same
// oracle: NaN propagates through it and an all -Inf row must be all zeros.
func CheckSoftmax(got, x []float32, s float32) error {
	n := len(x)
	m := math.Inf(-1)
	nan := false
	for _, v := range x {
		sv := float64(s) * float64(v)
		nan = nan || sv != sv
		m = max(m, sv)
	}
	if nan || math.IsInf(m, 1) {
		for i, g := range got {
			if g == g {
				return fmt.Errorf("row with NaN or +Inf: got[%d]=%v, want NaN", i, g)
			}
		}
		return nil
	}
	if math.IsInf(m, -1) {
		for i, g := range got {
			if g != 0 {
				return fmt.Errorf("all -Inf row: got[%d]=%v, want 0", i, g)
			}
		}
		return nil
	}
	y, eta, spread := SoftmaxOracle(x, s)
	for i := range y {
		bound := y[i]*(eta[i]+ExpRelErr+spread+Gamma(n)+3*U)*1.01 + float64(n)*0x1p-126
		if !Close(got[i], y[i], bound) {
			return fmt.Errorf("n=%d scale=%v i=%d x=%v: got %v, want %v ± %g", n, s, i, x[i], got[i], y[i], bound)
		}
	}
	return nil
}

// SoftmaxOracle returns softmax(s·x) in float64 for a row whose max is finite, each
// entry's exponent error η_i (see CheckSoftmax; 0 for a term that is exactly 0) and
// the normalizer's weighted error Σ_i y_i·(η_i + ExpRelErr).
func SoftmaxOracle(x []float32, s float32) (y, eta []float64, spread float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, float64(s)*float64(v))
	}
	y, eta = make([]float64, len(x)), make([]float64, len(x))
	var sum float64
	for i, v := range x {
		d := float64(s)*float64(v) - m
		y[i] = ExpWant(float32(d))
		if y[i] > 0 { // a zero term (-Inf, or under the cutoff) carries no error
			eta[i] = U * (math.Abs(float64(s)*float64(v)) + math.Abs(d))
		}
		sum += y[i]
	}
	for i := range y {
		y[i] /= sum
		spread += y[i] * (eta[i] + ExpRelErr)
	}
	return y, eta, spread
}

// CheckSoftmaxStats checks what SoftmaxStats returned for row x and scale s. The max
// must be exact: the largest float32(s·x[i]), one rounding on every Level. Every
// exponent float32(s·x[i]) - max is then a float32 difference, rounded once as the
// kernels round it, so the oracle's terms e_i = ExpWant(exponent) carry only the exp
// error (ExpRelErr each) and the sum adds γ(n) of its own (1.01 covers second-order
// terms, the last term arguments near the cutoff). A row with a NaN or +Inf must
// return sum NaN, an all -Inf or empty row (-Inf, 0).
func CheckSoftmaxStats(gotMax, gotSum float32, x []float32, s float32) error {
	m := float32(math.Inf(-1))
	bad := false
	for _, v := range x {
		sv := float32(s * v)
		bad = bad || sv != sv || math.IsInf(float64(sv), 1)
		m = max(m, sv)
	}
	switch {
	case bad:
		if gotSum == gotSum {
			return fmt.Errorf("row with NaN or +Inf: sum %v, want NaN", gotSum)
		}
		return nil
	case math.IsInf(float64(m), -1):
		if !math.IsInf(float64(gotMax), -1) || gotSum != 0 {
			return fmt.Errorf("empty or all -Inf row: got (%v, %v), want (-Inf, 0)", gotMax, gotSum)
		}
		return nil
	case gotMax != m:
		return fmt.Errorf("n=%d scale=%v: max %v, want %v", len(x), s, gotMax, m)
	}
	var sum float64
	for _, v := range x {
		sum += ExpWant(float32(s*v) - m)
	}
	bound := sum*(ExpRelErr+Gamma(len(x)))*1.01 + float64(len(x))*0x1p-126
	if !Close(gotSum, sum, bound) {
		return fmt.Errorf("n=%d scale=%v: sum %v, want %v ± %g", len(x), s, gotSum, sum, bound)
	}
	return nil
}

// CheckOnlineSoftmax checks one row's fold by OnlineSoftmax: got (the row after),
// gotM, gotL and gotCarry against x (the row before), scale s and the state before
// (m0, l0). The new max must be exact (the largest of m0 and every float32(s·x[i])).
// Every exponent is a float32 difference rounded once as the kernels round it, so
// each entry and the carry are within ExpRelErr of the oracle's e^exponent; the new
// l adds the carried l0·carry (two more roundings) and the row's sum (γ(n+1) of its
// own). Arguments near the exp cutoff may give 0 or about 2^-126: that much slack per
// term. A NaN or +Inf score, or a NaN m0, must give l NaN; a row whose new max is
// -Inf must become zeros with carry 1 and the state unchanged.
func CheckOnlineSoftmax(got []float32, gotM, gotL, gotCarry float32, x []float32, s, m0, l0 float32) error {
	const slack = 0x1p-126
	mt := float32(math.Inf(-1))
	bad := m0 != m0
	for _, v := range x {
		sv := float32(s * v)
		bad = bad || sv != sv || math.IsInf(float64(sv), 1)
		mt = max(mt, sv)
	}
	mNew := max(m0, mt)
	switch {
	case bad:
		if gotL == gotL {
			return fmt.Errorf("NaN or +Inf in the row or the state: l %v, want NaN", gotL)
		}
		return nil
	case math.IsInf(float64(mNew), -1):
		for i, g := range got {
			if g != 0 {
				return fmt.Errorf("all -Inf so far: got[%d]=%v, want 0", i, g)
			}
		}
		if gotCarry != 1 || gotL != l0 || gotM != m0 {
			return fmt.Errorf("all -Inf so far: (m, l, carry) = (%v, %v, %v), want (%v, %v, 1)", gotM, gotL, gotCarry, m0, l0)
		}
		return nil
	case gotM != mNew:
		return fmt.Errorf("n=%d scale=%v m0=%v: max %v, want %v", len(x), s, m0, gotM, mNew)
	}
	carry := 1.0
	if mNew != m0 {
		carry = ExpWant(m0 - mNew)
	} else if gotCarry != 1 {
		return fmt.Errorf("max did not rise (%v): carry %v, want exactly 1", m0, gotCarry)
	}
	if !Close(gotCarry, carry, carry*ExpRelErr+slack) {
		return fmt.Errorf("m0=%v m'=%v: carry %v, want %v", m0, mNew, gotCarry, carry)
	}
	var sum float64
	for i, v := range x {
		e := ExpWant(float32(s*v) - mNew)
		if !Close(got[i], e, e*ExpRelErr+slack) {
			return fmt.Errorf("n=%d scale=%v i=%d x=%v: got %v, want %v", len(x), s, i, v, got[i], e)
		}
		sum += e
	}
	carried := float64(l0) * carry
	want := carried + sum
	bound := (math.Abs(carried)*(ExpRelErr+2*U)+sum*(ExpRelErr+Gamma(len(x)+1)))*1.01 + float64(len(x)+1)*slack
	if !Close(gotL, want, bound) {
		return fmt.Errorf("n=%d scale=%v m0=%v l0=%v: l %v, want %v ± %g", len(x), s, m0, l0, gotL, want, bound)
	}
	return nil
}

// CheckRMSNorm: the sum of squares has relative error γ(n); the inverse square root
// halves it and adds one rounding; x·r·w adds two. So each output is within
// |x·r·w|·(γ(n)/2 + 4u)·1.01.
func CheckRMSNorm(got, x, w []float32, eps float32) error {
	n := len(x)
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	r := 1 / math.Sqrt(ss/float64(n)+float64(eps))
	for i := range got {
		want := float64(x[i]) * r * float64(w[i])
		// A subnormal x·r loses up to half a subnormal step, which w then scales.
		if !Close(got[i], want, math.Abs(want)*(Gamma(n)/2+4*U)*1.01+(2+math.Abs(float64(w[i])))*Tiny) {
			return fmt.Errorf("n=%d i=%d: got %v, want %v", n, i, got[i], want)
		}
	}
	return nil
}

// CheckLayerNorm: the mean has absolute error δ = γ(n)·Σ|x|/n + u·|mean|; a wrong mean
// shifts every centered value by δ and the variance by n·δ² (the cross term vanishes),
// so each output is within |r·w|·(δ + |x-mean|·(γ(n)/2 + 5u))·1.01, plus one rounding
// of the bias add. bias may be nil.
func CheckLayerNorm(got, x, w, bias []float32, eps float32) error {
	n := len(x)
	var sum, abs float64
	for _, v := range x {
		sum += float64(v)
		abs += math.Abs(float64(v))
	}
	mean := sum / float64(n)
	var ss float64
	for _, v := range x {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	r := 1 / math.Sqrt(ss/float64(n)+float64(eps))
	delta := Gamma(n)*abs/float64(n) + U*math.Abs(mean)
	for i := range got {
		c := float64(x[i]) - mean
		want := c * r * float64(w[i])
		b := 0.0
		if bias != nil {
			b = float64(bias[i])
		}
		bound := math.Abs(r*float64(w[i]))*(delta+math.Abs(c)*(Gamma(n)/2+5*U))*1.01 + U*(math.Abs(want)+math.Abs(b)) + (2+math.Abs(float64(w[i])))*Tiny
		if !Close(got[i], want+b, bound) {
			return fmt.Errorf("n=%d i=%d bias=%v: got %v, want %v ± %g", n, i, bias != nil, got[i], want+b, bound)
		}
	}
	return nil
}

// CheckGemvQ8_0 checks one row of a Q8_0 GEMV: got against Σ_b d_b·Σ_j q_b[j]·x[32b+j]
// for the row's blocks of q8Block, within mlasimd.GemvQ8_0's bound
// γ(n/32+33)·Σ|d_b·q_b[j]·x[32b+j]| + (n+n/32)·Tiny. The oracle is float64, where each
// term d·q·x (11, 8 and 24 significant bits) is exact. Non-finite values follow
// CheckDot's rules, with overflow allowed once a block's unscaled sum Σ_j|q·x| or the
// whole Σ|d·q·x| comes within a factor 2 of MaxFloat32; a row with a non-finite scale
// must give NaN or an infinity.
func CheckGemvQ8_0(got float32, row []byte, x []float32) error {
	nb := len(x) / q8Block
	var want, mag float64
	overflow, badScale := false, false
	for b := range nb {
		blk := row[b*(2+q8Block) : (b+1)*(2+q8Block)]
		scale := Half(uint16(blk[0]) | uint16(blk[1])<<8)
		badScale = badScale || math.IsNaN(scale) || math.IsInf(scale, 0)
		var blockMag float64
		for j, q := range blk[2:] {
			qx := float64(int8(q)) * float64(x[b*q8Block+j])
			blockMag += math.Abs(qx)
			want += scale * qx
			mag += math.Abs(scale * qx)
		}
		overflow = overflow || blockMag >= math.MaxFloat32/2
	}
	g := float64(got)
	if badScale {
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return nil
		}
		return fmt.Errorf("n=%d: got %v for a row with a non-finite scale", len(x), got)
	}
	bound := Gamma(nb+33)*mag + float64(len(x)+nb)*Tiny
	if Close(got, want, bound) {
		return nil
	}
	overflow = overflow || mag >= math.MaxFloat32/2
	if !math.IsNaN(want) && overflow && (math.IsInf(g, 0) || math.IsNaN(g)) {
		return nil
	}
	return fmt.Errorf("n=%d: got %v, want %v ± %g", len(x), got, want, bound)
}

// CheckGemvTQ8_0 checks one output of a transposed Q8_0 GEMV, y[j] = Σ_i x[i]·d_i·q_i
// where scales[i] and quants[i] are the half scale bits and the quant of column j in
// row i, within mlasimd.GemvTQ8_0's bound γ(m+1)·Σ|x[i]·d_i·q_i| + m·2^-142 (m =
// len(x)). The float64 oracle forms each term as (x[i]·d_i)·q_i, exactly (24, 11 and
// 8 significant bits), in the kernels' order, so that its non-finite results are
// theirs (an infinite x[i]·d_i times a zero quant is NaN). Where some |x[i]·d_i|, the
// float32 s of the kernels, or the whole Σ|x·d·q| comes within a factor 2 of
// MaxFloat32, an infinity or a NaN is right too, unless the oracle is NaN.
func CheckGemvTQ8_0(got float32, x []float32, scales []uint16, quants []int8) error {
	var want, mag float64
	overflow := false
	for i, xi := range x {
		s := float64(xi) * Half(scales[i])
		overflow = overflow || math.Abs(s) >= math.MaxFloat32/2
		term := s * float64(quants[i])
		want += term
		mag += math.Abs(term)
	}
	m := len(x)
	bound := Gamma(m+1)*mag + float64(m)*0x1p-142
	if Close(got, want, bound) {
		return nil
	}
	g := float64(got)
	overflow = overflow || mag >= math.MaxFloat32/2
	if !math.IsNaN(want) && overflow && (math.IsInf(g, 0) || math.IsNaN(g)) {
		return nil
	}
	return fmt.Errorf("m=%d: got %v, want %v ± %g", m, got, want, bound)
}

// E4M3Tiny is the underflow term per product of mlasimd.GemvE4M3's bound: its
// assembly sums the products of the weights scaled by 2^-8 and multiplies the sum
// by 256, so a product that underflows loses up to Tiny·2^8.
const E4M3Tiny = Tiny * 256

// CheckE4M3Dot checks a sum of products of FP8 E4M3 weights and float32 values:
// got against Σ e4m3(w[i])·x[i], each weight decoded by E4M3 (not by the kernels
// under test) and each product exact in float64 (4 and 24 significant bits), within
// γ(n+1)·Σ|e4m3(w[i])·x[i]| + n·tiny: SumBound with tiny per product that underflows
// (Tiny, or E4M3Tiny for mlasimd.GemvE4M3). Non-finite values follow CheckDot: a NaN
// byte or NaN x must give NaN, and where Σ|w·x| reaches MaxFloat32 an infinity or a
// NaN from opposite infinities is right too.
func CheckE4M3Dot(got float32, w []byte, x []float32, tiny float64) error {
	var want, mag float64
	for i, b := range w {
		p := E4M3(b) * float64(x[i])
		want += p
		mag += math.Abs(p)
	}
	bound := Gamma(len(w)+1)*mag + float64(len(w))*tiny
	if Close(got, want, bound) {
		return nil
	}
	g := float64(got)
	if !math.IsNaN(want) && mag >= math.MaxFloat32 && (math.IsInf(g, 0) || math.IsNaN(g)) {
		return nil
	}
	return fmt.Errorf("n=%d: got %v, want %v ± %g", len(w), got, want, bound)
}

// E4M3 decodes an FP8 E4M3 ("fn") byte exactly, independently of the conversions
// under test: sign, 4 exponent bits with bias 7, 3 mantissa bits, exponent 0
// subnormal (m·2^-9), S.1111.111 NaN, no infinities.
func E4M3(b byte) float64 {
	sign := 1.0
	if b&0x80 != 0 {
		sign = -1
	}
	exp, mant := int(b>>3)&0xf, float64(b&7)
	switch {
	case exp == 0xf && mant == 7:
		return math.NaN()
	case exp == 0:
		return sign * math.Ldexp(mant, -9)
	}
	return sign * math.Ldexp(8+mant, exp-10)
}

// q8Block is Q8_0's number of values per block, written out here rather than taken
// from the kernels under test.
const q8Block = 32

// Half decodes IEEE binary16 bits exactly, independently of the conversions under test.
func Half(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, mant := int(h>>10)&0x1f, float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(mant, -24)
	case 0x1f:
		if mant != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1024+mant, exp-25)
}
