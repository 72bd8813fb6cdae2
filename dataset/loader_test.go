package dataset

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func shapesForTest(t testing.TB, n, pts int) Dataset {
	cfg := DefaultShapesConfig()
	cfg.Train, cfg.NumPoints = n, pts
	ds, err := NewShapes(cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func collect(t *testing.T, l *Loader, epoch int) []*Batch {
	t.Helper()
	it := l.Epoch(epoch)
	defer it.Close()
	var out []*Batch
	for {
		b, err := it.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

func jitter(points []float32, b, n int, rng *rand.Rand) {
	for i := range points {
		points[i] += float32(rng.NormFloat64() * 0.01)
	}
}

func TestLoaderDeterministic(t *testing.T) {
	ds := shapesForTest(t, 50, 64)
	var ref []*Batch
	for _, workers := range []int{1, 3, 8} {
		l, err := NewLoader(ds, LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 5, Workers: workers, Prefetch: 2, Transform: jitter})
		if err != nil {
			t.Fatal(err)
		}
		got := collect(t, l, 2)
		if len(got) != 7 || got[6].Size != 2 || got[0].N != 64 || len(got[0].Points) != 8*64*3 {
			t.Fatalf("workers %d: %d batches", workers, len(got))
		}
		if ref == nil {
			ref = got
			continue
		}
		for k := range got {
			if !equal(got[k].Points, ref[k].Points) || fmt.Sprint(got[k].Labels) != fmt.Sprint(ref[k].Labels) {
				t.Fatalf("workers %d: batch %d differs", workers, k)
			}
		}
	}
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 5})
	if fmt.Sprint(l.Order(2)[:8]) != fmt.Sprint(ref[0].Indices) {
		t.Fatal("Order disagrees with the batches")
	}
	if fmt.Sprint(l.Order(2)) == fmt.Sprint(l.Order(3)) {
		t.Fatal("epochs are shuffled alike")
	}
	// Every sample appears exactly once per epoch.
	seen := map[int]int{}
	for _, b := range ref {
		for j, i := range b.Indices {
			seen[i]++
			s, _ := ds.Get(i)
			if s.Label != b.Labels[j] {
				t.Fatal("label does not match its sample")
			}
		}
	}
	if len(seen) != 50 {
		t.Fatalf("%d distinct samples", len(seen))
	}
}

func TestLoaderDropLastAndNoShuffle(t *testing.T) {
	ds := shapesForTest(t, 50, 16)
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 8, DropLast: true})
	got := collect(t, l, 0)
	if l.NumBatches() != 6 || len(got) != 6 || got[5].Indices[7] != 47 {
		t.Fatalf("%d batches", len(got))
	}
	if _, err := NewLoader(ds, LoaderConfig{}); err == nil {
		t.Fatal("batch size 0 accepted")
	}
}

// failing fails on one index.
type failing struct {
	Dataset
	bad int
}

func (f failing) Get(i int) (Sample, error) {
	if i == f.bad {
		return Sample{}, fmt.Errorf("read sample_%d.npy: boom", i)
	}
	return f.Dataset.Get(i)
}

func TestLoaderErrorsAndShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := failing{shapesForTest(t, 40, 16), 21}
	l, _ := NewLoader(ds, LoaderConfig{BatchSize: 4, Workers: 4})
	it := l.Epoch(0)
	n := 0
	var err error
	for {
		if _, err = it.Next(); err != nil {
			break
		}
		n++
	}
	if n != 5 || err == nil || err.Error() != "read sample_21.npy: boom" {
		t.Fatalf("got %d batches then %v", n, err)
	}
	if _, err2 := it.Next(); err2 == nil {
		t.Fatal("iterator continued after an error")
	}
	it.Close()
	// Stopping early, without draining.
	it = l.Epoch(1)
	it.Next()
	it.Close()
	it.Close()
	if _, err := it.Next(); err == nil {
		t.Fatal("Next after Close succeeded")
	}
	// Samples of different sizes cannot be batched.
	mixed, _ := NewInMemory([][]float32{seq(3), seq(4)}, []int{0, 0}, []string{"a"}, Options{})
	lm, _ := NewLoader(mixed, LoaderConfig{BatchSize: 2})
	itm := lm.Epoch(0)
	if _, err := itm.Next(); err == nil {
		t.Fatal("ragged batch accepted")
	}
	itm.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Fatalf("goroutine leak: %d before, %d after", before, g)
	}
}

// TestLoaderResample: Resample runs before Transform with the batch's generator, so
// Transform sees the new size and a seed gives the same batches; a Resample that
// returns a wrong length is an error naming the batch.
func TestLoaderResample(t *testing.T) {
	ds := shapesForTest(t, 16, 64)
	half := func(p []float32, b, n int, rng *rand.Rand) ([]float32, int, error) {
		out := make([]float32, 0, b*n/2*3)
		off := rng.IntN(n / 2)
		for i := range b {
			out = append(out, p[(i*n+off)*3:(i*n+off+n/2)*3]...)
		}
		return out, n / 2, nil
	}
	var sizes []int
	var mu sync.Mutex
	seenBy := func(p []float32, b, n int, rng *rand.Rand) {
		mu.Lock()
		sizes = append(sizes, n)
		mu.Unlock()
	}
	cfg := LoaderConfig{BatchSize: 8, Shuffle: true, Seed: 5, Workers: 2, Resample: half, Transform: seenBy}
	l, _ := NewLoader(ds, cfg)
	a, b := collect(t, l, 1), collect(t, l, 1)
	for k := range a {
		if a[k].N != 32 || len(a[k].Points) != 8*32*3 || !equal(a[k].Points, b[k].Points) {
			t.Fatalf("batch %d: %d points per cloud, or not the same twice", k, a[k].N)
		}
	}
	if fmt.Sprint(sizes) != "[32 32 32 32]" {
		t.Fatalf("Transform saw clouds of %v points, want 32 each time", sizes)
	}
	cfg.Resample = func(p []float32, b, n int, _ *rand.Rand) ([]float32, int, error) { return p, n + 1, nil }
	l, _ = NewLoader(ds, cfg)
	it := l.Epoch(0)
	defer it.Close()
	if _, err := it.Next(); err == nil || !strings.Contains(err.Error(), "batch 0 resampled") {
		t.Fatalf("a bad resample: %v", err)
	}
}
