package mla

import (
	"errors"
	"fmt"

	"github.com/mlasimd/mlasimd"
)

// moeRunner runs MoE blocks of one configuration over up to cap tokens. Its scratch
// is sized by the token count only, so after the first call of a size nothing is
// allocated.
//
// One step: the gate (one float32 GEMV per token), the routing (route, serial and
// allocation-free), then the tokens grouped by expert (a counting sort): each
// selected expert's rows of x are gathered, and its weights are read once for all
// its tokens. Two parallel tasks follow, gate+up then down, each spreading the rows
// of all the selected experts and the shared experts over the workers; a part runs
// the resident format's GEMV on its rows (a tile of rows at a time for all the
// expert's tokens, so a tile is read from memory once; Q8_0 activations quantized
// once per token), or for many tokens widens tiles and runs GemmNT. Each token's output is then its shared experts' output plus
// the weighted outputs of its experts in selection order, so the result does not
// depend on how tokens are grouped.
type moeRunner struct {
	cfg  *MoEConfig
	D    int
	pool *Pool
	cap  int

	logits   []float32 // t x E
	scores   []float32 // E: the unbiased scores of the current token
	choice   []float32 // E: the scores selection ranks (biased for noaux_tc)
	taken    []bool    // E
	group    []float32 // n_group
	keep     []bool    // n_group
	sel      []int32   // t x K: chosen experts, in selection order
	wts      []float32 // t x K: their weights
	start    []int32   // E+1: first grouped row of each expert
	pos      []int32   // t x K: grouped row of each (token, slot)
	rowTok   []int32   // t x K: the token of each grouped row
	xg, y    []float32 // R x D, R = t·K: gathered inputs, expert outputs
	g, u     []float32 // R x I
	sg, su   []float32 // t x Is (shared)
	sy       []float32 // t x D (shared)
	exp      []float32 // siluMul's block
	gateTask linearTask
	task     moeTask
}

// moeTask runs many linear maps (the selected experts') as one parallel task, split
// by rows over all of them together.
type moeTask struct {
	ops  []linearOp
	rows int
	lt   linearTask // scratch per part
	// q8[part] holds one quantized activation vector, reused by the part's
	// one-token Q8_0 GEMVs of the same x (the gate and up maps of every expert a
	// single token chose, and the shared experts', all multiply that token's row).
	q8 []q8Input
}

func (mt *moeTask) reset() { mt.ops, mt.rows = mt.ops[:0], 0 }

func (mt *moeTask) add(out, x []float32, w Matrix, t, n, k int) {
	if t == 0 {
		return
	}
	mt.ops = append(mt.ops, linearOp{out: out[:t*n], x: x[:t*k], w: w, t: t, n: n, k: k})
	mt.rows += n
}

// split returns the parts worth running and sizes their scratch.
func (mt *moeTask) split(workers int) int {
	work := 0
	for _, op := range mt.ops {
		work += op.t * op.n * op.k
	}
	parts := partsFor(work, defaultMinWork, workers)
	if len(mt.lt.scratch) < parts {
		mt.lt.scratch = append(mt.lt.scratch, make([][]float32, parts-len(mt.lt.scratch))...)
	}
	if len(mt.q8) < parts {
		mt.q8 = append(mt.q8, make([]q8Input, parts-len(mt.q8))...)
	}
	return parts
}

// gemvTokens is the most tokens of one expert multiplied by GEMVs (weights in their
// resident format, a tile of rows at a time); more go through widened tiles and
// GemmNT, except Q8_0 weights, whose integer GEMVs on quantized activations beat
// widening them at every token count measured (V2-Lite, 64 tokens: 190 ms against
// 254 ms a step on one core).
const gemvTokens = 8

// moeTileBytes is the weight bytes of a tile that every token's GEMV reuses from cache.
const moeTileBytes = 96 << 10

func (mt *moeTask) run(part, parts int) {
	lo, hi := span(mt.rows, part, parts, gemvRowAlign)
	base := 0
	q := &mt.q8[part]
	q.forget() // the inputs' values are new each run
	for _, op := range mt.ops {
		r0, r1 := max(lo-base, 0), min(hi-base, op.n)
		base += op.n
		if r1 <= r0 {
			continue
		}
		if op.t > gemvTokens && op.w.Format() != FormatQ8_0 {
			mt.lt.tiled(part, op, r0, r1)
			continue
		}
		var scratch []float32
		if f := op.w.Format(); f == FormatFP8 || f == FormatQ8_0 {
			scratch = mt.lt.part(part, op.k)
		}
		if op.t == 1 {
			if op.w.Format() == FormatQ8_0 {
				q.grow(op.k)
				q.gemv(op.out[r0:r1], op.w, op.x, r0)
				continue
			}
			op.w.gemv(op.out[r0:r1], op.x, r0, scratch)
			continue
		}
		rb, _ := op.w.Format().rowBytes(op.k)
		tile := max(gemvRowAlign, moeTileBytes/max(rb, 1)/gemvRowAlign*gemvRowAlign)
		if op.w.Format() == FormatQ8_0 && mt.lt.q8Tiles(part, op, r0, r1, tile) {
			continue
		}
		for a := r0; a < r1; a += tile {
			b := min(a+tile, r1)
			for t := range op.t {
				op.w.gemv(op.out[t*op.n+a:t*op.n+b], op.x[t*op.k:(t+1)*op.k], a, scratch)
			}
		}
	}
}

// grow sizes the scratch for t tokens.
func (r *moeRunner) grow(t int) error {
	if t <= r.cap {
		return nil
	}
	m := r.cfg
	E, K, I, D := m.RoutedExperts, m.ExpertsPerToken, m.Intermediate, r.D
	is := m.SharedExperts * I
	var n [6]int
	for i, d := range [][]int{{t, E}, {t, K}, {t, K, D}, {t, K, I}, {t, is}, {t, D}} {
		var err error
		if n[i], err = allocSize("MoE scratch", d...); err != nil {
			return err
		}
	}
	if r.scores == nil {
		r.scores, r.choice, r.taken = make([]float32, E), make([]float32, E), make([]bool, E)
		r.group, r.keep = make([]float32, max(m.Groups, 1)), make([]bool, max(m.Groups, 1))
		r.start, r.exp = make([]int32, E+1), make([]float32, 1024)
		r.task.ops = make([]linearOp, 0, 2*(E+1))
	}
	r.logits = make([]float32, n[0])
	r.sel, r.wts, r.pos, r.rowTok = make([]int32, n[1]), make([]float32, n[1]), make([]int32, n[1]), make([]int32, n[1])
	r.xg, r.y = make([]float32, n[2]), make([]float32, n[2])
	r.g, r.u = make([]float32, n[3]), make([]float32, n[3])
	r.sg, r.su = make([]float32, n[4]), make([]float32, n[4])
	r.sy = make([]float32, n[5])
	r.cap = t
	return nil
}

// forward writes the block's output for t tokens of x (t x D, normed) to out.
func (r *moeRunner) forward(out, x []float32, w *MoEWeights, t int) error {
	if err := r.grow(t); err != nil {
		return err
	}
	m, D, workers := r.cfg, r.D, r.pool.Workers()
	E, K, I := m.RoutedExperts, m.ExpertsPerToken, m.Intermediate
	is := m.SharedExperts * I

	// The gate: t x E logits.
	r.gateTask.reset()
	r.gateTask.add(r.logits, x, w.Gate, t, E, D)
	if err := r.pool.run(&r.gateTask, r.gateTask.split(defaultMinWork, workers)); err != nil {
		return err
	}
	for i := range t {
		r.route(r.logits[i*E:(i+1)*E], w.Bias, r.sel[i*K:(i+1)*K], r.wts[i*K:(i+1)*K])
	}

	// Group the (token, slot) pairs by expert: start[e] is expert e's first row.
	clear(r.start)
	for _, e := range r.sel[:t*K] {
		r.start[e+1]++
	}
	for e := range E {
		r.start[e+1] += r.start[e]
	}
	for j, e := range r.sel[:t*K] {
		p := r.start[e]
		r.start[e]++
		r.pos[j], r.rowTok[p] = p, int32(j/K)
		copy(r.xg[int(p)*D:int(p+1)*D], x[j/K*D:(j/K+1)*D])
	}
	// start[e] is now expert e's end; its beginning is start[e-1] (0 for e = 0).

	r.task.reset()
	for e := range E {
		b, n := r.expertRows(e)
		if n > 0 {
			ex, xe := &w.Experts[e], r.xg[b*D:]
			if n == 1 {
				// The token's own row: one-token GEMVs of the same x share its
				// quantization (gemvQ8One).
				tok := int(r.rowTok[b])
				xe = x[tok*D : (tok+1)*D]
			}
			r.task.add(r.g[b*I:], xe, ex.Gate, n, I, D)
			r.task.add(r.u[b*I:], xe, ex.Up, n, I, D)
		}
	}
	if is > 0 {
		r.task.add(r.sg, x, w.Shared.Gate, t, is, D)
		r.task.add(r.su, x, w.Shared.Up, t, is, D)
	}
	if err := r.pool.run(&r.task, r.task.split(workers)); err != nil {
		return err
	}
	siluMul(r.g[:t*K*I], r.u[:t*K*I], r.exp)
	siluMul(r.sg[:t*is], r.su[:t*is], r.exp)

	r.task.reset()
	for e := range E {
		b, n := r.expertRows(e)
		if n > 0 {
			r.task.add(r.y[b*D:], r.g[b*I:], w.Experts[e].Down, n, D, I)
		}
	}
	if is > 0 {
		r.task.add(r.sy, r.sg, w.Shared.Down, t, D, is)
	}
	if err := r.pool.run(&r.task, r.task.split(workers)); err != nil {
		return err
	}

	out = out[:t*D]
	if is > 0 {
		copy(out, r.sy[:t*D])
	} else {
		clear(out)
	}
	for j := range t * K {
		i, p := j/K, int(r.pos[j])
		mlasimd.Axpy(r.wts[j], r.y[p*D:(p+1)*D], out[i*D:(i+1)*D])
	}
	return nil
}

// expertRows returns the first grouped row of expert e and its count, after the
// grouping (start[e] holds e's end).
func (r *moeRunner) expertRows(e int) (first, n int) {
	end := int(r.start[e])
	if e > 0 {
		first = int(r.start[e-1])
	}
	return first, end - first
}

// siluMul sets g[i] = silu(g[i]) · u[i], silu(g) = g / (1 + e^-g), the
// exponentials through the Exp kernel, a block of len(buf) at a time.
func siluMul(g, u, buf []float32) {
	for len(g) > 0 {
		n := min(len(g), len(buf))
		e := buf[:n]
		for i, v := range g[:n] {
			e[i] = -v
		}
		mlasimd.Exp(e, e)
		for i, v := range g[:n] {
			g[i] = v / (1 + e[i]) * u[i]
		}
		g, u = g[n:], u[n:]
	}
}

// route picks the experts of one token from its gate logits into sel (selection
// order: best first) with their weights in wts, as MoEConfig documents. bias is the
// noaux_tc correction (nil otherwise). It allocates nothing.
func (r *moeRunner) route(logits, bias []float32, sel []int32, wts []float32) {
	m := r.cfg
	scores, choice := r.scores, r.choice
	gateScores(m.Scoring, logits, scores)
	copy(choice, scores)
	if m.TopK == TopKNoAuxTC {
		for e, b := range bias {
			choice[e] += b
		}
	}
	clear(r.taken)
	if m.TopK != TopKGreedy && m.Groups > 1 {
		gs := m.groupSize()
		for g := range m.Groups {
			r.group[g] = groupScore(m.TopK, choice[g*gs:(g+1)*gs])
		}
		clear(r.keep)
		for range m.TopKGroups {
			r.keep[best(r.group, r.keep)] = true
		}
		for g := range m.Groups {
			if !r.keep[g] {
				for e := g * gs; e < (g+1)*gs; e++ {
					r.taken[e] = true // excluded
				}
			}
		}
	}
	var sum float32
	for k := range sel {
		e := best(choice, r.taken)
		r.taken[e] = true
		sel[k], wts[k] = int32(e), scores[e]
		sum += scores[e]
	}
	scale := float32(m.RoutedScaling)
	if m.NormTopK && len(sel) > 1 {
		sum += 1e-20
		for k := range wts {
			wts[k] /= sum
		}
		if !m.V3 {
			return // deepseek_v2 scales only unnormalized weights
		}
	}
	for k := range wts {
		wts[k] *= scale
	}
}

// gateScores turns logits into scores: a softmax (in float32, with the max
// subtracted) or a sigmoid.
func gateScores(s Scoring, logits, scores []float32) {
	if s == ScoringSigmoid {
		for e, l := range logits {
			scores[e] = -l
		}
		mlasimd.Exp(scores, scores)
		for e := range scores {
			scores[e] = 1 / (1 + scores[e])
		}
		return
	}
	mx := logits[0]
	for _, l := range logits {
		mx = max(mx, l)
	}
	for e, l := range logits {
		scores[e] = l - mx
	}
	mlasimd.Exp(scores, scores)
	var sum float32
	for _, v := range scores {
		sum += v
	}
	for e := range scores {
		scores[e] /= sum
	}
}

// groupScore ranks a group: its best score (group_limited_greedy) or the sum of its
// two best (noaux_tc).
func groupScore(method TopKMethod, s []float32) float32 {
	b1 := best(s, nil)
	if method != TopKNoAuxTC {
		return s[b1]
	}
	b2 := -1
	for i, v := range s {
		if i != b1 && (b2 < 0 || better(v, s[b2])) {
			b2 = i
		}
	}
	return s[b1] + s[b2]
}

// best returns the index of the largest v[i] not skipped (the lowest index among
// equals; a number beats NaN), or the first not skipped when all are NaN.
func best(v []float32, skip []bool) int {
	b := -1
	for i, x := range v {
		if skip != nil && skip[i] {
			continue
		}
		if b < 0 || better(x, v[b]) {
			b = i
		}
	}
	return b
}

// better reports whether a ranks strictly above b.
func better(a, b float32) bool { return a > b || (b != b && a == a) }

// MoEBlock runs one MoE FFN on its own (a Model runs its blocks' itself): an engine
// with its own attention can use it, and benchmarks do. Like a Model it keeps the
// scratch of one call and must be used by one goroutine at a time.
type MoEBlock struct {
	r       moeRunner
	w       *MoEWeights
	ownPool bool
	lifecycle
}

// NewMoEBlock checks w against c (c.MoE must be set) and returns a block on the
// Option's workers or pool.
func NewMoEBlock(c Config, w *MoEWeights, opts ...Option) (*MoEBlock, error) {
	if c.MoE == nil {
		return nil, fmt.Errorf("mla: NewMoEBlock: config %q has no MoE", c.Name)
	}
	if c.Hidden <= 0 {
		return nil, fmt.Errorf("mla: NewMoEBlock: config %q: hidden size %d", c.Name, c.Hidden)
	}
	if err := c.MoE.validate(c.Name, c.Hidden); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, errors.New("mla: NewMoEBlock: nil MoEWeights")
	}
	var errs []error
	for _, t := range moeTensors(c, "", w) {
		if t.mat != nil {
			if err := t.mat.checkShape("MoE weight "+t.name, t.rows, t.cols); err != nil {
				errs = append(errs, err)
			}
		} else if len(*t.vec) != t.rows {
			errs = append(errs, fmt.Errorf("mla: MoE weight %s has %d values, want %d", t.name, len(*t.vec), t.rows))
		}
	}
	if len(w.Experts) != c.MoE.RoutedExperts {
		errs = append(errs, fmt.Errorf("mla: MoE weights have %d experts, config %q has %d", len(w.Experts), c.Name, c.MoE.RoutedExperts))
	}
	if w.Gate.Format() != FormatF32 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("mla: MoE gate is %v, want float32", w.Gate.Format()))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var o options
	for _, f := range opts {
		f(&o)
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	b := &MoEBlock{w: w, r: moeRunner{cfg: c.MoE, D: c.Hidden, pool: o.pool}}
	if b.r.pool == nil {
		b.r.pool, b.ownPool = NewPool(o.workers), true
	}
	return b, nil
}

// Forward writes the block's output for the t = len(x)/D tokens of x (already
// normed, t x D) to out (t x D). It returns the experts chosen for each token when
// sel is not nil (t x ExpertsPerToken, best first), with their weights in wts.
func (b *MoEBlock) Forward(out, x []float32, sel []int32, wts []float32) error {
	if b == nil || b.w == nil {
		return errors.New("mla: zero MoEBlock")
	}
	if err := b.lifecycle.enter(errMoEBusy, errMoEClosed); err != nil {
		return err
	}
	defer b.use.leave()
	D, K := b.r.D, b.r.cfg.ExpertsPerToken
	if len(x) == 0 || len(x)%D != 0 || len(out) != len(x) {
		return fmt.Errorf("mla: MoEBlock.Forward: len(x) = %d, len(out) = %d, want the same positive multiple of %d", len(x), len(out), D)
	}
	t := len(x) / D
	if sel != nil && (len(sel) != t*K || len(wts) != t*K) {
		return fmt.Errorf("mla: MoEBlock.Forward: len(sel) = %d, len(wts) = %d, want %d", len(sel), len(wts), t*K)
	}
	if err := b.r.forward(out, x, b.w, t); err != nil {
		return err
	}
	if sel != nil {
		copy(sel, b.r.sel[:t*K])
		copy(wts, b.r.wts[:t*K])
	}
	return nil
}

var (
	errMoEBusy   = busyError("MoEBlock")
	errMoEClosed = closedError("MoEBlock")
)

// Close stops the block's own pool; it fails only while another goroutine uses the
// block.
func (b *MoEBlock) Close() error {
	if b == nil || b.w == nil {
		return nil
	}
	if !b.use.enter() {
		return errMoEBusy
	}
	defer b.use.leave()
	if b.closed.Swap(true) {
		return nil
	}
	if b.ownPool {
		return b.r.pool.Close()
	}
	return nil
}
