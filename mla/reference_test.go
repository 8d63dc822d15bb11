package mla

// An independent float64 implementation of MLA (written from the published
// DeepSeek-V2/V3 attention and its Hugging Face reference code, not from this
// package's code) that also carries, for every value, a first-order bound
// on how far the float32 implementation may be from it. Tests compare against these
// bounds instead of a fixed epsilon.
//
// Error model (u = 2^-24, γ(n) = n·u/(1-n·u), any summation order, FMA or not):
//   - a dot product of n terms: |err| <= γ(n)·Σ|a_i·b_i| + Σ(|a_i|·e(b_i) + e(a_i)·|b_i|);
//   - RMSNorm/LayerNorm: the statistic's relative error γ(n)/2 + u, two roundings per
//     output, plus the input errors through the (exact) derivative;
//   - RoPE: the angle is float32(p)·float32(ω'_i), as the model defines it; the
//     implementation rounds cos/sin (u); two products and a sum per output;
//   - softmax: |δp_j| <= 2·Δs·p_j·(1-p_j) + ε·p_j where Δs bounds the absolute error of every
//     exponent argument (score error plus the roundings of τ·s and s - max, 3u·(|s|+|m|))
//     and ε = 2·E + 3·γ(S+16) covers the exponentials (E = 4u, twice the kernels'
//     2u contract), the tile sums, the running and merged normalizers and the
//     rescalings of the online softmax;
//   - the weighted sum Σ p_j·v_j: γ(S + d_c + 16) relative to Σ p_j·|v_j|.
//
// Second-order terms are dropped; checks allow 2x the first-order bound for them.
// The magnitudes are path independent: Σ|q_n|ᵀ|W_UK||c_j| bounds the |terms| of both
// the decompressed (q_n·(W_UK c_j)) and the absorbed ((W_UKᵀ q_n)·c_j) score, and
// Σ_j p_j·|W_UV||c_j| both value paths, so one bound covers Decode and DecodeNaive.

import (
	"fmt"
	"math"
	"testing"
)

const (
	unitRoundoff = 0x1p-24
	expRelErr    = 4 * unitRoundoff
	boundSafety  = 2 // first-order bounds, doubled for the dropped higher-order terms
)

func gamma(n int) float64 { return float64(n) * unitRoundoff / (1 - float64(n)*unitRoundoff) }

// vec is a float64 value and a bound on the float32 implementation's distance to it.
type vec struct{ v, e []float64 }

func newVec(n int) vec { return vec{make([]float64, n), make([]float64, n)} }

func exactVec(x []float32) vec {
	r := newVec(len(x))
	for i, f := range x {
		r.v[i] = float64(f)
	}
	return r
}

func (a vec) slice(lo, hi int) vec { return vec{a.v[lo:hi], a.e[lo:hi]} }

// refLinear is y = W x for W rows x cols (float32 weights, exact).
func refLinear(w []float32, rows, cols int, x vec) vec {
	y := newVec(rows)
	for i := range rows {
		var s, mag, prop float64
		for j, wij := range w[i*cols : (i+1)*cols] {
			p := float64(wij) * x.v[j]
			s += p
			mag += math.Abs(p)
			prop += math.Abs(float64(wij)) * x.e[j]
		}
		y.v[i], y.e[i] = s, gamma(cols)*mag+prop
	}
	return y
}

// linear is refLinear plus, for a layer that quantizes its GEMVs' inputs, the
// quantization's error Σ_j |W_ij|·d_b(j)/2 (mlasimd.QuantizeQ8Vector's bound), where
// d_b = max|x̂|/127 over x's block b and the implementation's x̂ is within x.e of x.v.
func (r *refLayer) linear(w []float32, rows, cols int, x vec) vec {
	y := refLinear(w, rows, cols, x)
	if r.quantX {
		addQuantError(y, w, rows, cols, x.v, x.e)
	}
	return y
}

// addQuantError adds to y's bounds the error of quantizing an input within e of |v|
// (per value) to a Q8 vector before y = W x.
func addQuantError(y vec, w []float32, rows, cols int, v, e []float64) {
	half := make([]float64, cols) // d_b/2 of each value's block
	for b := 0; b < cols; b += 32 {
		var amax float64
		for j := b; j < min(b+32, cols); j++ {
			amax = math.Max(amax, math.Abs(v[j])+e[j])
		}
		for j := b; j < min(b+32, cols); j++ {
			half[j] = amax/254*(1+0x1p-20) + 0x1p-142
		}
	}
	for i := range rows {
		var s float64
		for j, wij := range w[i*cols : (i+1)*cols] {
			s += math.Abs(float64(wij)) * half[j]
		}
		y.e[i] += s
	}
}

// refLinearT is y = Wᵀ x for W rows x cols (so len(x) = rows, len(y) = cols).
func refLinearT(w []float32, rows, cols int, x vec) vec {
	y, mag := newVec(cols), make([]float64, cols)
	for i := range rows {
		for j, wij := range w[i*cols : (i+1)*cols] {
			p := float64(wij) * x.v[i]
			y.v[j] += p
			mag[j] += math.Abs(p)
			y.e[j] += math.Abs(float64(wij)) * x.e[i]
		}
	}
	for j := range y.e {
		y.e[j] += gamma(rows) * mag[j]
	}
	return y
}

func refRMSNorm(x vec, g []float32, eps float64) vec {
	n := len(x.v)
	var ss, sxe float64
	for i, v := range x.v {
		ss += v * v
		sxe += math.Abs(v) * x.e[i]
	}
	ms := ss/float64(n) + eps
	r := 1 / math.Sqrt(ms)
	relR := gamma(n)/2 + unitRoundoff
	y := newVec(n)
	for i, v := range x.v {
		gi := math.Abs(float64(g[i]))
		y.v[i] = float64(g[i]) * v * r
		y.e[i] = gi*r*(x.e[i]+math.Abs(v)*sxe/(float64(n)*ms)) + math.Abs(y.v[i])*(relR+2*unitRoundoff)
	}
	return y
}

func refLayerNorm(x vec, g, b []float32, eps float64) vec {
	n := float64(len(x.v))
	var sum, sumAbs, sumE float64
	for i, v := range x.v {
		sum += v
		sumAbs += math.Abs(v)
		sumE += x.e[i]
	}
	mu := sum / n
	eMu := gamma(len(x.v))*sumAbs/n + unitRoundoff*math.Abs(mu) + sumE/n
	var ss float64
	d, ed := make([]float64, len(x.v)), make([]float64, len(x.v))
	for i, v := range x.v {
		d[i] = v - mu
		ed[i] = x.e[i] + eMu + unitRoundoff*math.Abs(d[i])
		ss += d[i] * d[i]
	}
	vr := ss/n + eps
	r := 1 / math.Sqrt(vr)
	var sde float64
	for i := range d {
		sde += math.Abs(d[i]) * ed[i]
	}
	relR := gamma(len(x.v))/2 + unitRoundoff + sde/(n*vr)
	y := newVec(len(x.v))
	for i := range d {
		t := float64(g[i]) * d[i] * r
		y.v[i] = t + float64(b[i])
		y.e[i] = math.Abs(float64(g[i]))*r*(ed[i]+math.Abs(d[i])*relR) + 2*unitRoundoff*math.Abs(t) + unitRoundoff*math.Abs(y.v[i])
	}
	return y
}

// refInvFreq is the rotary frequency ω'_i in float64: base^(-2i/d) blended by the YaRN ramp
// between floor(cd(β_fast)) and ceil(cd(β_slow)), cd(r) = d·ln(L0/(2πr))/(2 ln base).
func refInvFreq(c Config, dim int) []float64 {
	out := make([]float64, dim/2)
	for i := range out {
		out[i] = math.Pow(c.RoPETheta, -2*float64(i)/float64(dim))
	}
	y := c.YaRN
	if y == nil {
		return out
	}
	cd := func(r float64) float64 {
		return float64(dim) * math.Log(float64(y.OriginalMaxPositions)/(2*math.Pi*r)) / (2 * math.Log(c.RoPETheta))
	}
	low := math.Max(math.Floor(cd(y.BetaFast)), 0)
	high := math.Min(math.Ceil(cd(y.BetaSlow)), float64(dim-1))
	if low == high {
		high += 0.001
	}
	for i := range out {
		ramp := math.Min(math.Max((float64(i)-low)/(high-low), 0), 1)
		out[i] = out[i]/y.Factor*ramp + out[i]*(1-ramp)
	}
	return out
}

// refRoPE rotates x by position pos (exact angle p·ω'_i) in the given layout.
func refRoPE(x vec, pos int, invFreq []float64, layout RoPELayout) vec {
	n := len(invFreq)
	y := vec{append([]float64(nil), x.v...), append([]float64(nil), x.e...)}
	for i, w := range invFreq {
		a, b := 2*i, 2*i+1
		if layout == HalfSplit {
			a, b = i, i+n
		}
		// The model's angle is defined in float32, float32(p)·float32(ω'_i), as every
		// reference implementation forms it; cos and sin are exact here and
		// rounded (u) in the implementation.
		th := float64(float32(pos) * float32(w))
		c, s := math.Cos(th), math.Sin(th)
		dth := unitRoundoff
		xa, xb := x.v[a], x.v[b]
		y.v[a], y.v[b] = xa*c-xb*s, xa*s+xb*c
		common := (math.Abs(xa) + math.Abs(xb)) * dth
		y.e[a] = math.Abs(c)*x.e[a] + math.Abs(s)*x.e[b] + common + gamma(2)*(math.Abs(xa*c)+math.Abs(xb*s))
		y.e[b] = math.Abs(s)*x.e[a] + math.Abs(c)*x.e[b] + common + gamma(2)*(math.Abs(xa*s)+math.Abs(xb*c))
	}
	return y
}

// refScale is the softmax scale τ, written out again.
func refScale(c Config) float64 {
	tau := 1 / math.Sqrt(float64(c.QKNopeHeadDim+c.QKRopeHeadDim))
	if y := c.YaRN; y != nil && y.MScaleAllDim != 0 && y.Factor > 1 {
		m := 0.1*y.MScaleAllDim*math.Log(y.Factor) + 1
		tau *= m * m
	}
	return tau
}

// refLayer holds what the reference needs to run one attention layer.
type refLayer struct {
	c       Config
	w       *LayerWeights
	invFreq []float64
	tau     float64
	cacheU  float64 // relative rounding of the cache dtype (0 for f32)
	// arith: the absorbed decode over a BF16 or I8 cache multiplies in that type: the
	// queries are rounded once per step and each tile's probabilities once per tile
	// (attend_tile.go); tile is the layer's tile (for an I8 cache's probability scales).
	arith DType
	tile  int
	// qaHat, when set, is the absorbed query of the attending token as the narrow
	// path rounded it (head h: d_c+d_r values); the scores then use it exactly, and
	// the bound covers only the arithmetic after the rounding.
	qaHat [][]float64
	// quantX: the layer runs Q8_0 weights, whose GEMVs quantize their input to int8
	// per block of 32 (see Matrix.gemvQ8_0); each linear map then adds that error.
	quantX bool
}

func newRefLayer(c Config, w *LayerWeights, cache DType) *refLayer {
	r := &refLayer{c: c, w: w, tau: refScale(c), arith: cache, tile: defaultTileRows}
	switch c.RoPE {
	case RoPEDecoupled:
		r.invFreq = refInvFreq(c, c.QKRopeHeadDim)
	case RoPEAfterUp:
		r.invFreq = refInvFreq(c, c.QKNopeHeadDim)
	}
	switch cache {
	case BF16:
		r.cacheU = 0x1p-8
	case F16:
		r.cacheU = 0x1p-11
	}
	return r
}

// refToken is one token's projections: the query heads and the cached [c | kr].
type refToken struct {
	qn, qr []vec // per head (qr empty without decoupled RoPE)
	c, kr  vec
}

func (r *refLayer) projectToken(x vec, pos int) refToken {
	c, w := r.c, r.w
	H, dn, dr, dqk, dc := c.Heads, c.QKNopeHeadDim, c.QKRopeHeadDim, c.QKHeadDim(), c.KVLoRARank
	var q vec
	if c.QLoRARank > 0 {
		cq := refRMSNorm(r.linear(w.QAProj.f32, c.QLoRARank, c.Hidden, x), w.QANorm, c.NormEps)
		q = r.linear(w.QBProj.f32, H*dqk, c.QLoRARank, cq)
	} else {
		q = r.linear(w.QProj.f32, H*dqk, c.Hidden, x)
	}
	a := r.linear(w.KVAProj.f32, dc+dr, c.Hidden, x)
	var t refToken
	if c.LatentNorm == LayerNormKind {
		t.c = refLayerNorm(a.slice(0, dc), w.KVANorm, w.KVANormBias, c.NormEps)
	} else {
		t.c = refRMSNorm(a.slice(0, dc), w.KVANorm, c.NormEps)
	}
	if dr > 0 {
		t.kr = refRoPE(a.slice(dc, dc+dr), pos, r.invFreq, c.RoPELayout)
	} else {
		t.kr = newVec(0)
	}
	var rowMax float64 // an FP8 row's scale is its largest value over 448
	for _, v := range []vec{t.c, t.kr} {
		for i := range v.v {
			rowMax = math.Max(rowMax, math.Abs(v.v[i])+v.e[i])
		}
	}
	for _, v := range []vec{t.c, t.kr} { // what the cache stores
		var step float64 // an I8 segment's quantization step, from its largest value
		if r.arith == FP8 {
			// 3 significant bits where normal; the subnormals' step is 2^-9·d.
			for i := range v.e {
				v.e[i] += 0x1p-4*math.Abs(v.v[i]) + 0x1p-10*rowMax/448*(1+0x1p-20)
			}
		}
		if r.arith == I8 {
			for i := range v.v {
				step = math.Max(step, math.Abs(v.v[i])+v.e[i])
			}
			step = step / 127 * (1 + 0x1p-20)
		}
		for i := range v.e {
			v.e[i] += r.cacheU*math.Abs(v.v[i]) + step/2
		}
	}
	for h := range H {
		qh := q.slice(h*dqk, (h+1)*dqk)
		qn := vec{append([]float64(nil), qh.v[:dn]...), append([]float64(nil), qh.e[:dn]...)}
		if c.RoPE == RoPEAfterUp {
			qn = refRoPE(qn, pos, r.invFreq, c.RoPELayout)
		}
		t.qn = append(t.qn, qn)
		if dr > 0 {
			t.qr = append(t.qr, refRoPE(qh.slice(dn, dqk), pos, r.invFreq, c.RoPELayout))
		}
	}
	return t
}

// refRun is the reference output of every token of a sequence.
type refRun struct {
	out    []vec // per token: D values and bounds
	tokens []refToken
}

// run processes all tokens xs (each D values with bounds) at positions start, start+1,
// …, causally, as one sequence.
func (r *refLayer) run(xs []vec, start int) refRun {
	var res refRun
	for i, x := range xs {
		res.tokens = append(res.tokens, r.projectToken(x, start+i))
	}
	for t := range xs {
		res.out = append(res.out, r.attend(res.tokens, start, t))
	}
	return res
}

// attend is the output of query t over tokens 0…t, which sit at positions start, ….
func (r *refLayer) attend(toks []refToken, start, t int) vec {
	c, w := r.c, r.w
	H, dn, dv, dc := c.Heads, c.QKNopeHeadDim, c.VHeadDim, c.KVLoRARank
	// Decompressed keys for RoPE after the up-projection (rotated at their positions).
	var kn [][]vec // [token][head]
	if c.RoPE == RoPEAfterUp {
		for j, tk := range toks[:t+1] {
			var heads []vec
			for h := range H {
				heads = append(heads, refRoPE(refLinear(keyUpF32(w, c, h), dn, dc, tk.c), start+j, r.invFreq, c.RoPELayout))
			}
			kn = append(kn, heads)
		}
	}
	o := newVec(H * dv)
	for h := range H {
		r.attendHead(toks, kn, t, h, o.slice(h*dv, (h+1)*dv))
	}
	return r.linear(w.OProj.f32, c.Hidden, H*dv, o)
}

// implTokens turns the implementation's own queries (q[i]: H·d_qk values after RoPE,
// nil for tokens only used as keys) and cache rows into exact reference tokens, so
// that a check covers only the attention core and output projection: Decode and
// DecodeNaive share the projections bit for bit, and this bound is far tighter than
// the full chain's.
func implTokens(c Config, q [][]float32, k *Cache) []refToken {
	dn, dqk, dc, rw := c.QKNopeHeadDim, c.QKHeadDim(), c.KVLoRARank, c.CacheRowWidth()
	rows := k.rows(0, k.Len(), make([]float32, k.Len()*rw))
	toks := make([]refToken, k.Len())
	for j := range toks {
		toks[j].c = exactVec(rows[j*rw : j*rw+dc])
		toks[j].kr = exactVec(rows[j*rw+dc : (j+1)*rw])
		if j < len(q) && q[j] != nil {
			for h := range c.Heads {
				toks[j].qn = append(toks[j].qn, exactVec(q[j][h*dqk:h*dqk+dn]))
				toks[j].qr = append(toks[j].qr, exactVec(q[j][h*dqk+dn:(h+1)*dqk]))
			}
		}
	}
	return toks
}

// attendHead writes head h's output for query t into o, with its bound.
func (r *refLayer) attendHead(toks []refToken, kn [][]vec, t, h int, o vec) {
	c, w := r.c, r.w
	dn, dv, dc, dr := c.QKNopeHeadDim, c.VHeadDim, c.KVLoRARank, c.QKRopeHeadDim
	q := toks[t]
	n := t + 1
	s, es := make([]float64, n), make([]float64, n)
	if kn == nil {
		// |W_UK|ᵀ|qn| and |W_UK|ᵀ e(qn) give the path-independent magnitudes.
		ql := refLinearT(keyUpF32(w, c, h), dn, dc, q.qn[h])
		absQ, errQ := newVec(dn), newVec(dn)
		for i := range dn {
			absQ.v[i] = math.Abs(q.qn[h].v[i])
			errQ.v[i] = q.qn[h].e[i]
		}
		absWK := absSlice(keyUpF32(w, c, h))
		magQ := refLinearT(absWK, dn, dc, absQ).v
		errQW := refLinearT(absWK, dn, dc, errQ).v
		var qr vec // empty without decoupled RoPE
		if h < len(q.qr) {
			qr = q.qr[h]
		}
		dqc, dqr := r.queryQuantSteps(magQ, errQW, qr)
		if r.qaHat != nil {
			r.roundedScores(r.qaHat[h], toks[:n], s, es)
		}
		for j := range n {
			if r.qaHat != nil {
				break
			}
			kj := toks[j]
			var dot, mag, prop, sumC, sumR float64
			for i := range dc {
				dot += ql.v[i] * kj.c.v[i]
				mag += magQ[i] * math.Abs(kj.c.v[i])
				prop += magQ[i]*kj.c.e[i] + errQW[i]*math.Abs(kj.c.v[i])
				sumC += math.Abs(kj.c.v[i])
			}
			for i := range dr {
				a, b := q.qr[h], kj.kr
				dot += a.v[i] * b.v[i]
				mag += math.Abs(a.v[i] * b.v[i])
				prop += math.Abs(a.v[i])*b.e[i] + a.e[i]*math.Abs(b.v[i])
				sumR += math.Abs(b.v[i])
			}
			s[j] = r.tau * dot
			es[j] = r.tau * (gamma(dn+dc+dr)*mag + prop)
			// The query rounded to the cache's arithmetic: bfloat16 moves each value
			// by at most 2^-8 of itself; int8 by half its segment's step.
			switch r.arith {
			case BF16, FP8:
				es[j] += r.tau * 0x1p-8 * mag
			case I8:
				es[j] += r.tau * (dqc/2*sumC + dqr/2*sumR)
			}
		}
	} else {
		for j := range n {
			a, b := q.qn[h], kn[j][h]
			var dot, mag, prop float64
			for i := range dn {
				dot += a.v[i] * b.v[i]
				mag += math.Abs(a.v[i] * b.v[i])
				prop += math.Abs(a.v[i])*b.e[i] + a.e[i]*math.Abs(b.v[i])
			}
			s[j] = r.tau * dot
			es[j] = r.tau * (gamma(dn)*mag + prop)
		}
	}
	m := math.Inf(-1)
	for _, v := range s {
		m = math.Max(m, v)
	}
	var sum, ds float64
	p := make([]float64, n)
	for j := range n {
		p[j] = math.Exp(s[j] - m)
		sum += p[j]
		ds = math.Max(ds, es[j]+3*unitRoundoff*(math.Abs(s[j])+math.Abs(m)))
	}
	// o = W_UV (Σ p_j c_j): the exact value; magnitudes Σ p_j |c_j|, Σ p_j(1-p_j) |c_j|
	// (score errors move p_j by at most 2·Δs·p_j·(1-p_j): δp_j = p_j·Σ_k p_k(δs_j-δs_k),
	// nothing for a single key) and Σ p_j e(c_j).
	pc, pa, pq, pe := newVec(dc), newVec(dc), newVec(dc), newVec(dc)
	for j := range n {
		p[j] /= sum
		for i := range dc {
			pc.v[i] += p[j] * toks[j].c.v[i]
			pa.v[i] += p[j] * math.Abs(toks[j].c.v[i])
			pq.v[i] += p[j] * (1 - p[j]) * math.Abs(toks[j].c.v[i])
			pe.v[i] += p[j] * toks[j].c.e[i]
		}
	}
	wv := valueUpF32(w, c, h)
	absWV := absSlice(wv)
	val := refLinear(wv, dv, dc, pc).v
	mag := refLinear(absWV, dv, dc, pa).v
	magQ := refLinear(absWV, dv, dc, pq).v
	prop := refLinear(absWV, dv, dc, pe).v
	eps := 2*expRelErr + 3*gamma(n+16)
	for i := range dv {
		o.v[i] = val[i]
		o.e[i] = 2*ds*magQ[i] + (eps+gamma(n+dc+16))*mag[i] + prop[i]
	}
	if kn == nil {
		r.addProbRounding(o, toks[:n], p, absWV)
	}
	if r.quantX {
		// The absorbed path quantizes Σ p_j c_j, within |Σ p_j|c_j|| plus its error.
		e := make([]float64, dc)
		for i := range dc {
			e[i] = 2*ds*pq.v[i] + (eps+gamma(n+dc+16))*pa.v[i] + pe.v[i]
		}
		addQuantError(o, wv, dv, dc, pa.v, e)
	}
}

// roundedScores writes the scores of the rounded query qa against toks and their
// bounds: float32 sums of exact products (bfloat16) or exact integer sums scaled in
// a few float32 roundings (int8), within γ_{d_c+d_r} of Σ|qa||row|.
func (r *refLayer) roundedScores(qa []float64, toks []refToken, s, es []float64) {
	dc, dr := r.c.KVLoRARank, r.c.QKRopeHeadDim
	for j, tk := range toks {
		var dot, mag float64
		for i := range dc {
			dot += qa[i] * tk.c.v[i]
			mag += math.Abs(qa[i] * tk.c.v[i])
		}
		for i := range dr {
			dot += qa[dc+i] * tk.kr.v[i]
			mag += math.Abs(qa[dc+i] * tk.kr.v[i])
		}
		s[j] = r.tau * dot
		es[j] = r.tau * gamma(dc+dr+4) * mag
	}
}

// queryQuantSteps bounds the int8 quantization steps of an absorbed query's two
// segments for an I8 cache: max|value|/127 each, from the query's magnitudes (|ql| <=
// magQ + errQW, plus its float32 rounding) and qr with its error.
func (r *refLayer) queryQuantSteps(magQ, errQW []float64, qr vec) (dqc, dqr float64) {
	if r.arith != I8 {
		return 0, 0
	}
	for i := range magQ {
		dqc = math.Max(dqc, (magQ[i]+errQW[i])*(1+gamma(r.c.QKNopeHeadDim+2)))
	}
	for i := range qr.v {
		dqr = math.Max(dqr, math.Abs(qr.v[i])+qr.e[i])
	}
	return dqc / 127 * (1 + 0x1p-20), dqr / 127 * (1 + 0x1p-20)
}

// addProbRounding adds to o's bound the rounding of the (normalized) probabilities p
// of toks in a narrow cache's arithmetic, through |W_UV|. bfloat16: each weight moves
// by at most 2^-8 of itself. int8: each x_j = p_j·d0_j (d0_j the row's latent scale,
// max|c_j|/127) moves by at most half the step of its tile, max_tile(x)/127, so c_j
// moves Σ_i by (that)/2·|c_j[i]|/d0_j; a tile lies within three consecutive
// tile-aligned blocks of rows (a batch's segments start anywhere), whose max bounds
// its own; 4u·p_j|c_j| covers the float32 products and conversions.
func (r *refLayer) addProbRounding(o vec, toks []refToken, p []float64, absWV []float32) {
	c := r.c
	dc, dv := c.KVLoRARank, c.VHeadDim
	e := r.probRounding(toks, p)
	if e == nil {
		return
	}
	add := refLinear(absWV, dv, dc, vec{v: e, e: make([]float64, dc)}).v
	for i := range dv {
		o.e[i] += add[i] * (1 + 0x1p-20)
	}
}

// probRounding is the bound, per latent column, that the rounding of the
// probabilities p of toks adds to Σ_j p_j c_j (see addProbRounding), or nil for f32
// arithmetic.
func (r *refLayer) probRounding(toks []refToken, p []float64) []float64 {
	dc := r.c.KVLoRARank
	e := make([]float64, dc)
	switch r.arith {
	case BF16, FP8:
		// An FP8 row's probability is rounded times its scale, the same relative error.
		for j, tk := range toks {
			for i := range dc {
				e[i] += 0x1p-8 * p[j] * math.Abs(tk.c.v[i])
			}
		}
	case I8:
		n := len(toks)
		d0 := make([]float64, n)
		blockMax := make([]float64, (n+r.tile-1)/r.tile)
		for j, tk := range toks {
			for i := range dc {
				d0[j] = math.Max(d0[j], math.Abs(tk.c.v[i]))
			}
			d0[j] /= 127
			blockMax[j/r.tile] = math.Max(blockMax[j/r.tile], p[j]*d0[j])
		}
		for j, tk := range toks {
			if d0[j] == 0 {
				continue
			}
			b := j / r.tile
			g := blockMax[b]
			if b > 0 {
				g = math.Max(g, blockMax[b-1])
			}
			if b+1 < len(blockMax) {
				g = math.Max(g, blockMax[b+1])
			}
			step := g / 127 * (1 + 0x1p-20)
			for i := range dc {
				a := math.Abs(tk.c.v[i])
				e[i] += step/2*a/d0[j]*(1+0x1p-20) + 4*unitRoundoff*p[j]*a
			}
		}
	default:
		return nil
	}
	return e
}

func absSlice(w []float32) []float32 {
	out := make([]float32, len(w))
	for i, v := range w {
		out[i] = float32(math.Abs(float64(v)))
	}
	return out
}

// within reports the first element of got outside value ± boundSafety·bound.
func within(got []float32, want vec) error {
	if len(got) != len(want.v) {
		return fmt.Errorf("length %d, want %d", len(got), len(want.v))
	}
	for i, g := range got {
		d := math.Abs(float64(g) - want.v[i])
		if !(d <= boundSafety*want.e[i]+1e-30) {
			return fmt.Errorf("element %d: got %v, want %v ± %.3g (off by %.3g = %.1f bounds)", i, g, want.v[i], boundSafety*want.e[i], d, d/(want.e[i]+1e-300))
		}
	}
	return nil
}

// pairWithin checks two implementation outputs against each other: both lie within
// their bound of the same exact value, so they differ by at most twice it.
func pairWithin(a, b []float32, ref vec) error {
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if !(d <= 2*boundSafety*ref.e[i]+1e-30) {
			return fmt.Errorf("element %d: %v vs %v differ by %.3g, bound %.3g", i, a[i], b[i], d, 2*boundSafety*ref.e[i])
		}
	}
	return nil
}

func requireWithin(t testing.TB, got []float32, want vec, what string) {
	t.Helper()
	if err := within(got, want); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
