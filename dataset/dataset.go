package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// Sample is one labelled point cloud.
type Sample struct {
	// Points holds N*3 coordinates, xyz interleaved. It is a fresh slice the
	// caller may modify.
	Points []float32
	// Label indexes Classes().
	Label int
}

// Dataset is a random-access collection of labelled point clouds.
// Implementations are safe for concurrent Get calls.
type Dataset interface {
	Len() int
	Get(i int) (Sample, error)
	Classes() []string
}

// FewerPolicy says what to do with a sample that has fewer points than
// Options.NumPoints.
type FewerPolicy int

const (
	// FewerError makes such a sample an error naming its file.
	FewerError FewerPolicy = iota
	// FewerResample keeps every point and fills the rest by drawing points
	// of the sample uniformly with replacement (seeded by sample index).
	FewerResample
	// FewerKeep keeps the sample as it is, with fewer points than asked.
	FewerKeep
)

// MorePolicy says which points to keep from a sample that has more points
// than Options.NumPoints. Farthest point sampling is left to callers, which
// can ask for all points (NumPoints 0) and run it themselves.
type MorePolicy int

const (
	// MoreFirst keeps the first NumPoints points, as Point-BERT does with
	// files that are already in FPS order.
	MoreFirst MorePolicy = iota
	// MoreRandom keeps a uniform random subset without replacement, seeded
	// by (Options.Seed, sample index), in random order.
	MoreRandom
)

// Options controls how many points each sample has.
type Options struct {
	// NumPoints is the number of points per sample; 0 keeps what is stored
	// (and is an error for meshes, which must be sampled to a size).
	NumPoints int
	Fewer     FewerPolicy
	More      MorePolicy
	// Seed seeds resampling, random subsets and mesh surface sampling,
	// together with the sample index.
	Seed uint64
}

// sampleRNG gives the generator for per-sample random choices; the stream is
// the sample index so every sample is reproducible on its own.
func sampleRNG(seed uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(i)))
}

// fit returns a fresh copy of points resized to opts.NumPoints following the
// policies; src names the sample in errors.
func (o Options) fit(points []float32, i int, src string) ([]float32, error) {
	have, n := len(points)/3, o.NumPoints
	if n <= 0 || n == have {
		return append([]float32(nil), points...), nil
	}
	if have < n && o.Fewer == FewerKeep && have > 0 {
		return append([]float32(nil), points...), nil
	}
	out := make([]float32, n*3)
	if have < n {
		if o.Fewer != FewerResample || have == 0 {
			return nil, fmt.Errorf("%s: has %d points, need %d", src, have, n)
		}
		copy(out, points)
		rng := sampleRNG(o.Seed, i)
		for k := have; k < n; k++ {
			j := rng.IntN(have)
			copy(out[k*3:k*3+3], points[j*3:j*3+3])
		}
		return out, nil
	}
	if o.More == MoreRandom {
		rng := sampleRNG(o.Seed, i)
		idx := make([]int, have)
		for k := range idx {
			idx[k] = k
		}
		// Partial Fisher-Yates: the first n entries are a uniform subset.
		for k := 0; k < n; k++ {
			j := k + rng.IntN(have-k)
			idx[k], idx[j] = idx[j], idx[k]
			copy(out[k*3:k*3+3], points[idx[k]*3:idx[k]*3+3])
		}
		return out, nil
	}
	copy(out, points[:n*3])
	return out, nil
}

// Normalize centres p on its centroid and scales it so the farthest point is
// at distance 1 (Point-BERT's pc_normalize). It works in place.
func Normalize(p []float32) {
	n := len(p) / 3
	if n == 0 {
		return
	}
	var c [3]float64
	for i := 0; i < n; i++ {
		for k := 0; k < 3; k++ {
			c[k] += float64(p[i*3+k])
		}
	}
	var m float64
	for i := 0; i < n; i++ {
		var d float64
		for k := 0; k < 3; k++ {
			v := float64(p[i*3+k]) - c[k]/float64(n)
			d += v * v
		}
		m = math.Max(m, d)
	}
	m = math.Sqrt(m)
	if m == 0 {
		m = 1
	}
	for i := 0; i < n; i++ {
		for k := 0; k < 3; k++ {
			p[i*3+k] = float32((float64(p[i*3+k]) - c[k]/float64(n)) / m)
		}
	}
}

func checkIndex(ds Dataset, i int) error {
	if i < 0 || i >= ds.Len() {
		return fmt.Errorf("index %d out of range [0,%d)", i, ds.Len())
	}
	return nil
}

// InMemory is a dataset held in memory. Get applies its Options (and
// normalisation, for sources that ask for it) to a copy of the stored cloud.
type InMemory struct {
	clouds    [][]float32
	labels    []int
	classes   []string
	opts      Options
	normalize bool
	src       string
}

// NewInMemory wraps clouds (each N*3 floats) and labels (indices into
// classes) as a Dataset. The slices are kept, not copied.
func NewInMemory(clouds [][]float32, labels []int, classes []string, opts Options) (*InMemory, error) {
	return newInMemory("memory", clouds, labels, classes, opts, false)
}

func newInMemory(src string, clouds [][]float32, labels []int, classes []string, opts Options, normalize bool) (*InMemory, error) {
	if len(clouds) != len(labels) {
		return nil, fmt.Errorf("%s: %d clouds but %d labels", src, len(clouds), len(labels))
	}
	for i, l := range labels {
		if l < 0 || l >= len(classes) {
			return nil, fmt.Errorf("%s: sample %d has label %d, want [0,%d)", src, i, l, len(classes))
		}
		if len(clouds[i]) == 0 || len(clouds[i])%3 != 0 {
			return nil, fmt.Errorf("%s: sample %d has %d coordinates", src, i, len(clouds[i]))
		}
		for j, v := range clouds[i] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("%s: sample %d: point %d has non-finite coordinate %v", src, i, j/3, v)
			}
		}
	}
	return &InMemory{clouds: clouds, labels: labels, classes: classes, opts: opts, normalize: normalize, src: src}, nil
}

// Len returns the number of samples.
func (m *InMemory) Len() int { return len(m.clouds) }

// Classes returns the class names.
func (m *InMemory) Classes() []string { return m.classes }

// Get returns sample i.
func (m *InMemory) Get(i int) (Sample, error) {
	if err := checkIndex(m, i); err != nil {
		return Sample{}, fmt.Errorf("%s: %w", m.src, err)
	}
	p, err := m.opts.fit(m.clouds[i], i, fmt.Sprintf("%s sample %d", m.src, i))
	if err != nil {
		return Sample{}, err
	}
	if m.normalize {
		Normalize(p)
	}
	return Sample{Points: p, Label: m.labels[i]}, nil
}

// Preload reads every sample of ds with the given number of goroutines
// (0 means 4 per CPU, since reads are mostly I/O) and returns them as an
// InMemory dataset. The first error by sample index is returned.
func Preload(ds Dataset, workers int) (*InMemory, error) {
	if workers <= 0 {
		workers = 4 * runtime.NumCPU()
	}
	n := ds.Len()
	clouds := make([][]float32, n)
	labels := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				s, err := ds.Get(i)
				clouds[i], labels[i], errs[i] = s.Points, s.Label, err
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return newInMemory("preloaded", clouds, labels, ds.Classes(), Options{}, false)
}
