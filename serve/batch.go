package serve

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pointpeft/pointpeft/predict"
)

// job is one cloud waiting for its logits.
type job struct {
	cloud []float32
	done  chan result
}

type result struct {
	logits []float32
	batch  int
	err    error
}

// batcher gathers a model's concurrent requests into forward passes of at most max
// clouds, waiting at most wait after the first for others to join. A model whose
// answers depend on the batch gets max 1. It stops when stop is closed, after the
// jobs already queued.
type batcher struct {
	pred  *predict.Predictor
	max   int
	wait  time.Duration
	queue chan job
	stop  chan struct{}
	// mu orders queueing against close: a job queued while holding it for reading is in
	// the queue before close can close stop, so the loop's drain answers it. Without it
	// a request could queue after the drain and wait for its deadline.
	mu     sync.RWMutex
	closed bool
	// observe reports each forward pass's size (0 when a cloud is queued) and the
	// clouds left waiting.
	observe func(size, queued int)
}

func newBatcher(p *predict.Predictor, max int, wait time.Duration, observe func(size, queued int)) *batcher {
	b := &batcher{pred: p, max: max, wait: wait, queue: make(chan job, 4*max), stop: make(chan struct{}), observe: observe}
	if b.observe == nil {
		b.observe = func(int, int) {}
	}
	go b.loop()
	return b
}

// do queues a cloud and waits for its logits, or for ctx.
func (b *batcher) do(ctx context.Context, cloud []float32) result {
	j := job{cloud: cloud, done: make(chan result, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		// The model was replaced after this request found it: run it alone.
		l, err := safeLogits(b.pred, cloud, 1)
		return result{l, 1, err}
	}
	select {
	case b.queue <- j:
		b.mu.RUnlock()
		b.observe(0, len(b.queue))
	case <-ctx.Done():
		b.mu.RUnlock()
		return result{err: ctx.Err()}
	}
	select {
	case r := <-j.done:
		return r
	case <-ctx.Done():
		return result{err: ctx.Err()}
	}
}

func (b *batcher) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.stop)
	}
}

func (b *batcher) loop() {
	for {
		var first job
		select {
		case first = <-b.queue:
		case <-b.stop:
			b.drain()
			return
		}
		jobs := []job{first}
		if b.max > 1 {
			timer := time.NewTimer(b.wait)
		gather:
			for len(jobs) < b.max {
				select {
				case j := <-b.queue:
					jobs = append(jobs, j)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		b.run(jobs)
	}
}

// drain answers what was queued before stop.
func (b *batcher) drain() {
	for {
		select {
		case j := <-b.queue:
			b.run([]job{j})
		default:
			return
		}
	}
}

func (b *batcher) run(jobs []job) {
	n := len(jobs[0].cloud)
	clouds := make([]float32, 0, len(jobs)*n)
	for _, j := range jobs {
		clouds = append(clouds, j.cloud...)
	}
	b.observe(len(jobs), len(b.queue))
	logits, err := safeLogits(b.pred, clouds, len(jobs))
	k := len(b.pred.Classes)
	for i, j := range jobs {
		if err != nil {
			j.done <- result{err: err}
			continue
		}
		j.done <- result{logits: logits[i*k : (i+1)*k], batch: len(jobs)}
	}
}

// safeLogits turns a panic of the model into an error, so one bad forward pass
// cannot take the server down.
func safeLogits(p *predict.Predictor, clouds []float32, count int) (logits []float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errInternal, r)
		}
	}()
	return p.Logits(clouds, count)
}
