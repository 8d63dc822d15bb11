package mla

import (
	"fmt"
	"runtime"
	"sync"
)

// task is work split into parts: run(part, parts) does part `part` of `parts`. Tasks
// are long-lived structs whose fields are set before each run, so that handing one to
// the pool (an interface holding a pointer) allocates nothing.
type task interface {
	run(part, parts int)
}

// Pool runs the parts of a task on a fixed set of goroutines: the caller runs part 0
// and parked workers the others. Starting a task costs a channel send per worker and
// allocates nothing, which keeps Decode allocation-free. A Pool runs one task at a
// time: share it only between layers used one after another.
type Pool struct {
	st *poolState
}

// poolState is what the worker goroutines reference; the Pool wrapping it can be
// collected, and its cleanup stops the workers, even if Close is never called.
type poolState struct {
	workers int
	work    []chan job // work[i] feeds worker i+1
	wg      sync.WaitGroup
	mu      sync.Mutex
	panic   any // the first panic of a worker in the current task
	closed  bool
}

type job struct {
	t           task
	part, parts int
}

// NewPool starts a pool of the given number of goroutines in total, the caller's
// included; workers <= 0 means GOMAXPROCS.
func NewPool(workers int) *Pool {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	st := &poolState{workers: workers, work: make([]chan job, workers-1)}
	for i := range st.work {
		ch := make(chan job)
		st.work[i] = ch
		go st.serve(ch)
	}
	p := &Pool{st: st}
	runtime.AddCleanup(p, func(st *poolState) { st.close() }, st)
	return p
}

// Workers is the number of goroutines a task is split over.
func (p *Pool) Workers() int { return p.st.workers }

// Close stops the worker goroutines. The pool must not be used afterwards.
func (p *Pool) Close() { p.st.close() }

func (st *poolState) close() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return
	}
	st.closed = true
	for _, ch := range st.work {
		close(ch)
	}
}

func (st *poolState) serve(ch chan job) {
	for j := range ch {
		st.runPart(j)
		st.wg.Done()
	}
}

func (st *poolState) runPart(j job) {
	defer func() {
		if r := recover(); r != nil {
			st.mu.Lock()
			if st.panic == nil {
				st.panic = r
			}
			st.mu.Unlock()
		}
	}()
	j.t.run(j.part, j.parts)
}

// run splits t into min(parts, Workers) parts and returns when all are done. A panic
// in any part is re-raised here, in the caller's goroutine.
func (p *Pool) run(t task, parts int) {
	st := p.st
	parts = min(parts, st.workers)
	if parts <= 1 {
		t.run(0, 1)
		return
	}
	st.wg.Add(parts - 1)
	for i := 1; i < parts; i++ {
		st.work[i-1] <- job{t, i, parts}
	}
	st.runPart(job{t, 0, parts})
	st.wg.Wait()
	if st.panic != nil {
		r := st.panic
		st.panic = nil
		panic(fmt.Sprintf("mla: worker panic: %v", r))
	}
}

// span returns part's share [lo, hi) of n items split into parts, with the
// boundaries rounded to multiples of align so that kernels see aligned row blocks.
func span(n, part, parts, align int) (lo, hi int) {
	blocks := (n + align - 1) / align
	lo = min(blocks*part/parts*align, n)
	hi = min(blocks*(part+1)/parts*align, n)
	return lo, hi
}
