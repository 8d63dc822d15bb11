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
// allocates nothing, which keeps Decode allocation-free.
//
// A Pool runs one task at a time; tasks from layers used on several goroutines wait
// for one another, so a Pool may be shared by any number of Layers and Models. Close
// waits for the running task; a Layer that runs on a closed Pool gets an error
// wrapping ErrClosed. The zero Pool runs every task on the caller's goroutine.
type Pool struct {
	st *poolState
}

// poolState is what the worker goroutines reference; the Pool wrapping it can be
// collected, and its cleanup stops the workers, even if Close is never called.
type poolState struct {
	workers int
	work    []chan job // work[i] feeds worker i+1
	wg      sync.WaitGroup
	run     sync.Mutex // held for a whole task, and by close
	closed  bool       // guarded by run
	mu      sync.Mutex
	panic   any // the first panic of a worker in the current task
}

type job struct {
	t           task
	part, parts int
}

// maxWorkers bounds a pool's goroutines: more parts than that only add scratch.
const maxWorkers = 4096

// NewPool starts a pool of the given number of goroutines in total, the caller's
// included; workers <= 0 means GOMAXPROCS, and more than 4096 means 4096.
func NewPool(workers int) *Pool {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, maxWorkers)
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

// Workers is the number of goroutines a task is split over (1 for the zero Pool).
func (p *Pool) Workers() int {
	if p == nil || p.st == nil {
		return 1
	}
	return p.st.workers
}

// Close waits for the running task, if any, and stops the worker goroutines. Later
// tasks fail with an error wrapping ErrClosed; closing twice does nothing more.
func (p *Pool) Close() error {
	if p != nil && p.st != nil {
		p.st.close()
	}
	return nil
}

func (st *poolState) close() {
	st.run.Lock()
	defer st.run.Unlock()
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

// run splits t into min(parts, Workers) parts and returns when all are done, or
// returns an error when the pool is closed. A panic in any part is re-raised here, in
// the caller's goroutine.
func (p *Pool) run(t task, parts int) error {
	if p == nil || p.st == nil {
		t.run(0, 1)
		return nil
	}
	st := p.st
	st.run.Lock()
	defer st.run.Unlock()
	if st.closed {
		return errPoolClosed
	}
	parts = min(parts, st.workers)
	if parts <= 1 {
		t.run(0, 1)
		return nil
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
	return nil
}

// span returns part's share [lo, hi) of n items split into parts, with the
// boundaries rounded to multiples of align so that kernels see aligned row blocks.
func span(n, part, parts, align int) (lo, hi int) {
	blocks := (n + align - 1) / align
	lo = min(blocks*part/parts*align, n)
	hi = min(blocks*(part+1)/parts*align, n)
	return lo, hi
}
