package geom

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelRange calls fn on disjoint [lo,hi) chunks covering [0,n), at most
// grain items per chunk, from up to GOMAXPROCS goroutines. Chunks are handed
// out dynamically so uneven work (e.g. clouds with many skipped points)
// balances. fn must only write to its own chunk's outputs.
func parallelRange(n, grain int, fn func(lo, hi int)) {
	parallelWorkers(n, grain, func() func(lo, hi int) { return fn })
}

// parallelWorkers is parallelRange where each goroutine first calls
// newWorker once, so it can allocate scratch space that all of its chunks
// reuse.
func parallelWorkers(n, grain int, newWorker func() func(lo, hi int)) {
	if grain < 1 {
		grain = 1
	}
	chunks := (n + grain - 1) / grain
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		if n > 0 {
			newWorker()(0, n)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			fn := newWorker()
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				lo := c * grain
				fn(lo, min(lo+grain, n))
			}
		})
	}
	wg.Wait()
}
