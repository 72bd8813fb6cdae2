package dataset

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Transform edits a batch in place: points is [b*n*3], rng is seeded by
// (LoaderConfig.Seed + epoch, batch index), so augmentation is reproducible.
type Transform func(points []float32, b, n int, rng *rand.Rand)

// Resample replaces a batch's clouds before its Transform runs: given b clouds of n
// points it returns b clouds of m points, [b*m*3], and m. rng is the batch's
// generator, the one Transform then gets.
type Resample func(points []float32, b, n int, rng *rand.Rand) ([]float32, int, error)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	BatchSize int
	// Shuffle permutes the samples every epoch with seed Seed+epoch, so a run
	// resumed at epoch e sees the same order as an uninterrupted one.
	Shuffle bool
	// DropLast drops the final batch when it is smaller than BatchSize.
	DropLast bool
	Seed     uint64
	// Workers is the number of goroutines building batches (0: NumCPU).
	Workers int
	// Prefetch is how many batches may be built ahead of the consumer
	// (0: 2*Workers).
	Prefetch int
	// Resample, if set, runs on every batch inside the workers, before Transform.
	Resample Resample
	// Transform, if set, runs on every batch inside the workers.
	Transform Transform
}

// Batch is a batch of samples, all with the same number of points.
type Batch struct {
	Points  []float32 // [Size*N*3]
	Labels  []int     // [Size]
	Indices []int     // dataset index of each sample
	Size, N int
}

// shuffleStream separates the shuffling generator from the per-batch
// transform generators, which use the batch index as their stream.
const shuffleStream = 1 << 63

// Loader produces shuffled batches of a dataset. Batch contents depend only
// on the dataset, the configuration and the epoch, never on the number of
// workers.
type Loader struct {
	ds  Dataset
	cfg LoaderConfig
}

// NewLoader checks cfg and fills in its defaults.
func NewLoader(ds Dataset, cfg LoaderConfig) (*Loader, error) {
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("loader: batch size %d", cfg.BatchSize)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2 * cfg.Workers
	}
	return &Loader{ds: ds, cfg: cfg}, nil
}

// NumBatches returns the number of batches in one epoch.
func (l *Loader) NumBatches() int {
	n, b := l.ds.Len(), l.cfg.BatchSize
	if l.cfg.DropLast {
		return n / b
	}
	return (n + b - 1) / b
}

// Order returns the sample order of an epoch.
func (l *Loader) Order(epoch int) []int {
	idx := make([]int, l.ds.Len())
	for i := range idx {
		idx[i] = i
	}
	if l.cfg.Shuffle {
		rng := rand.New(rand.NewPCG(l.cfg.Seed+uint64(epoch), shuffleStream))
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	}
	return idx
}

// Epoch starts the workers for one epoch. The caller must Close the
// returned iterator (also after an error or early stop).
func (l *Loader) Epoch(epoch int) *Iter { return l.EpochFrom(epoch, 0) }

// EpochFrom is Epoch starting at batch first: it yields exactly the batches an
// uninterrupted epoch yields from there on (how a run stopped mid-epoch resumes).
func (l *Loader) EpochFrom(epoch, first int) *Iter {
	it := &Iter{
		l:       l,
		epoch:   epoch,
		order:   l.Order(epoch),
		nb:      l.NumBatches(),
		jobs:    make(chan int),
		results: make(chan result, l.cfg.Prefetch),
		tokens:  make(chan struct{}, l.cfg.Prefetch),
		done:    make(chan struct{}),
		pending: map[int]result{},
		first:   first,
		next:    first,
	}
	it.wg.Add(1 + l.cfg.Workers)
	go it.dispatch()
	for w := 0; w < l.cfg.Workers; w++ {
		go it.work()
	}
	return it
}

type result struct {
	k   int
	b   *Batch
	err error
}

var errClosed = errors.New("loader: iterator closed")

// Iter yields the batches of one epoch in order.
type Iter struct {
	l       *Loader
	epoch   int
	order   []int
	nb      int
	jobs    chan int
	results chan result
	tokens  chan struct{} // one per batch in flight, bounding prefetch
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
	pending map[int]result
	first   int // the first batch dispatched (read by dispatch, never written after start)
	next    int
	err     error
}

func (it *Iter) dispatch() {
	defer it.wg.Done()
	defer close(it.jobs)
	for k := it.first; k < it.nb; k++ {
		select {
		case it.tokens <- struct{}{}:
		case <-it.done:
			return
		}
		select {
		case it.jobs <- k:
		case <-it.done:
			return
		}
	}
}

func (it *Iter) work() {
	defer it.wg.Done()
	for k := range it.jobs {
		b, err := it.build(k)
		select {
		case it.results <- result{k, b, err}:
		case <-it.done:
			return
		}
	}
}

func (it *Iter) build(k int) (*Batch, error) {
	cfg := it.l.cfg
	lo := k * cfg.BatchSize
	idx := it.order[lo:min(lo+cfg.BatchSize, len(it.order))]
	b := &Batch{Indices: idx, Size: len(idx), Labels: make([]int, len(idx))}
	for j, i := range idx {
		s, err := it.l.ds.Get(i)
		if err != nil {
			return nil, err
		}
		if j == 0 {
			b.N = len(s.Points) / 3
			b.Points = make([]float32, len(idx)*b.N*3)
		}
		if len(s.Points) != b.N*3 {
			return nil, fmt.Errorf("loader: sample %d has %d points but sample %d has %d; set Options.NumPoints",
				i, len(s.Points)/3, idx[0], b.N)
		}
		copy(b.Points[j*b.N*3:], s.Points)
		b.Labels[j] = s.Label
	}
	rng := rand.New(rand.NewPCG(cfg.Seed+uint64(it.epoch), uint64(k)))
	if cfg.Resample != nil {
		pts, m, err := cfg.Resample(b.Points, b.Size, b.N, rng)
		if err != nil {
			return nil, fmt.Errorf("loader: batch %d: %w", k, err)
		}
		if m < 1 || len(pts) != b.Size*m*3 {
			return nil, fmt.Errorf("loader: batch %d resampled to %d coordinates, not %d clouds of %d points", k, len(pts), b.Size, m)
		}
		b.Points, b.N = pts, m
	}
	if cfg.Transform != nil {
		cfg.Transform(b.Points, b.Size, b.N, rng)
	}
	return b, nil
}

// Next returns the next batch, io.EOF after the last one, or the first error
// a worker met (after which the iterator is finished).
func (it *Iter) Next() (*Batch, error) {
	if it.err != nil {
		return nil, it.err
	}
	if it.next >= it.nb {
		return nil, io.EOF
	}
	select {
	case <-it.done:
		it.err = errClosed
		return nil, it.err
	default:
	}
	for {
		if r, ok := it.pending[it.next]; ok {
			delete(it.pending, it.next)
			<-it.tokens
			if r.err != nil {
				it.err = r.err
				it.Close()
				return nil, r.err
			}
			it.next++
			return r.b, nil
		}
		select {
		case r := <-it.results:
			it.pending[r.k] = r
		case <-it.done:
			it.err = errClosed
			return nil, it.err
		}
	}
}

// Close stops the workers and waits for them; it is safe to call more than
// once and after the epoch ended.
func (it *Iter) Close() {
	it.once.Do(func() {
		close(it.done)
		it.wg.Wait()
	})
}
