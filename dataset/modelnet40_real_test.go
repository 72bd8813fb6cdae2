package dataset

import (
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"
)

// realModelNet40 is the shared 1024-point ModelNet40 .npy release, relative to
// this package's directory. It is never copied into the repository.
const realModelNet40 = "../../shared/data/ModelNet40"

func skipWithoutModelNet40(tb testing.TB) {
	if _, err := os.Stat(realModelNet40); err != nil {
		tb.Skipf("real ModelNet40 not found at %s (%v); skipping", realModelNet40, err)
	}
}

func TestRealModelNet40(t *testing.T) {
	skipWithoutModelNet40(t)
	want := map[string]int{"train": 9843, "test": 2468}
	total := time.Duration(0)
	for split, n := range want {
		ds, err := OpenModelNet40(realModelNet40, split, Options{NumPoints: 1024})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Len() != n || len(ds.Classes()) != 40 {
			t.Fatalf("%s: %d shapes, %d classes", split, ds.Len(), len(ds.Classes()))
		}
		for i, c := range ds.Classes() {
			if c != ModelNet40Classes[i] {
				t.Fatalf("class %d is %q, want %q", i, c, ModelNet40Classes[i])
			}
		}
		start := time.Now()
		mem, err := Preload(ds, 0)
		if err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		total += el
		t.Logf("%s: loaded %d files in %v", split, n, el)
		perClass := make([]int, 40)
		for i := 0; i < mem.Len(); i++ {
			s, _ := mem.Get(i)
			if len(s.Points) != 1024*3 {
				t.Fatalf("%s: %d points", ds.(*Folder).Path(i), len(s.Points)/3)
			}
			if r := maxRadius(s.Points); r > 1+1e-4 {
				t.Fatalf("%s: radius %v", ds.(*Folder).Path(i), r)
			}
			perClass[s.Label]++
		}
		for c, k := range perClass {
			if k == 0 {
				t.Fatalf("%s: class %s empty", split, ModelNet40Classes[c])
			}
		}
	}
	t.Logf("all 12,311 files loaded in %v", total)
}

var (
	benchMN40     *InMemory
	benchMN40Err  error
	benchMN40Once sync.Once
)

func benchLoader(b *testing.B, ds Dataset, workers int) {
	l, err := NewLoader(ds, LoaderConfig{BatchSize: 32, Shuffle: true, DropLast: true, Seed: 1, Workers: workers, Transform: scaleTranslate})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n, epoch := 0, 0
	it := l.Epoch(epoch)
	for n < b.N {
		if _, err := it.Next(); err == io.EOF {
			it.Close()
			epoch++
			it = l.Epoch(epoch)
			continue
		} else if err != nil {
			b.Fatal(err)
		}
		n++
	}
	it.Close()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
}

// scaleTranslate is Point-MAE's training augmentation: a per-sample
// anisotropic scale in [2/3, 3/2] and a translation in [-0.2, 0.2].
func scaleTranslate(points []float32, bs, n int, rng *rand.Rand) {
	for s := 0; s < bs; s++ {
		var sc, tr [3]float32
		for k := range sc {
			sc[k] = float32(2.0/3 + (3.0/2-2.0/3)*rng.Float64())
			tr[k] = float32(0.4*rng.Float64() - 0.2)
		}
		p := points[s*n*3 : (s+1)*n*3]
		for i := 0; i < len(p); i += 3 {
			for k := 0; k < 3; k++ {
				p[i+k] = p[i+k]*sc[k] + tr[k]
			}
		}
	}
}

// BenchmarkLoaderModelNet40 measures batches of 32x1024 from the real data
// held in memory (after one parallel load, not timed).
func BenchmarkLoaderModelNet40(b *testing.B) {
	skipWithoutModelNet40(b)
	benchMN40Once.Do(func() {
		ds, err := OpenFolder(realModelNet40, "train", Options{NumPoints: 1024})
		if err == nil {
			benchMN40, err = Preload(ds, 0)
		}
		benchMN40Err = err
	})
	if benchMN40Err != nil {
		b.Fatal(benchMN40Err)
	}
	benchLoader(b, benchMN40, 0)
}

// BenchmarkLoaderShapes measures batches of 32x1024 generated on the fly by
// the procedural shape set.
func BenchmarkLoaderShapes(b *testing.B) {
	cfg := DefaultShapesConfig()
	ds, err := NewShapes(cfg, "train")
	if err != nil {
		b.Fatal(err)
	}
	benchLoader(b, ds, 0)
}
