package geom

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

var fpsShapes = []struct{ b, n, m int }{
	{1, 1, 1}, {2, 2, 2}, {3, 5, 5}, {1, 7, 4}, {4, 64, 16}, {2, 100, 37},
	{3, 300, 64}, {2, 513, 100}, {2, 1024, 64}, {2, 2048, 128}, {1, 3000, 200},
}

func TestFPSMatchesKernelTranscription(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sh := range fpsShapes {
		for _, tricky := range []bool{false, true} {
			p := randCloud(rng, sh.b, sh.n)
			if tricky {
				p = trickyCloud(rng, sh.b, sh.n)
			}
			got, err := FPS(p, sh.b, sh.n, sh.m)
			if err != nil {
				t.Fatal(err)
			}
			for bi := range sh.b {
				want := cudaFPS(p[bi*sh.n*3:(bi+1)*sh.n*3], sh.n, sh.m)
				if g := got[bi*sh.m : (bi+1)*sh.m]; !slices.Equal(g, want) {
					t.Fatalf("b=%d n=%d m=%d tricky=%v cloud %d:\n got %v\nwant %v", sh.b, sh.n, sh.m, tricky, bi, g, want)
				}
			}
		}
	}
}

func TestFPSMatchesBruteForceWithoutTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sh := range fpsShapes {
		if sh.n > 2048 {
			continue
		}
		p := randCloud(rng, sh.b, sh.n)
		// A few points inside the skip ball: they must never be chosen.
		for i := 1; i < sh.b*sh.n; i += 7 {
			p[3*i], p[3*i+1], p[3*i+2] = 0.01, -0.01, 0.02
			p[3*i] += float32(i) * 1e-7 // keep them distinct
		}
		got, err := FPS(p, sh.b, sh.n, sh.m)
		if err != nil {
			t.Fatal(err)
		}
		for bi := range sh.b {
			c := p[bi*sh.n*3 : (bi+1)*sh.n*3]
			want := bruteFPS(c, sh.n, sh.m)
			if g := got[bi*sh.m : (bi+1)*sh.m]; !slices.Equal(g, want) {
				t.Fatalf("b=%d n=%d m=%d cloud %d:\n got %v\nwant %v", sh.b, sh.n, sh.m, bi, g, want)
			}
			for j, i := range got[bi*sh.m+1 : (bi+1)*sh.m] {
				if x := c[3*i]; x > 0.0099 && x < 0.0103 {
					t.Fatalf("cloud %d step %d picked skipped point %d", bi, j+1, i)
				}
			}
		}
	}
}

func TestFPSSkipRule(t *testing.T) {
	// All points inside the 1e-3 ball: the kernel returns 0 every step.
	p := make([]float32, 10*3)
	for i := range 10 {
		p[3*i] = float32(i) * 0.003
	}
	got, err := FPS(p, 1, 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int32{0, 0, 0, 0, 0}) {
		t.Fatalf("all-skipped cloud: got %v", got)
	}
	// Boundary: |p|^2 exactly representable just at and above 1e-3 in
	// float64 comparison; a point at (0.0316, 0, 0) has |p|^2 = 0.00099856.
	p = []float32{0, 0, 0, 0.0316, 0, 0, 0.0317, 0, 0, 0, 0.5, 0}
	got, err = FPS(p, 1, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	// 3 is farthest from 0, then 2 (0.0317^2 > 1e-3); 1 is never picked, and
	// once 2 and 3 are at distance 0 the argmax is a tie at 0 between them;
	// with block size 4 the keys are bitrev(2)=1, bitrev(3)=3, so 2 wins.
	if !slices.Equal(got, []int32{0, 3, 2, 2}) {
		t.Fatalf("boundary cloud: got %v", got)
	}
}

func TestFPSTieKeyIsBitReversedThreadOrder(t *testing.T) {
	// Eight identical eligible points plus a far-away anchor at index 0: the
	// eight tie at every step. With n = 9 the block has 8 threads, and the
	// reduction prefers threads in the order 0, 4, 2, 6, 1, 5, 3, 7
	// (bit-reversed ids); thread 0 owns points 0 and 8.
	p := make([]float32, 9*3)
	p[0] = -5
	for i := 1; i < 9; i++ {
		p[3*i] = 1
	}
	got, err := FPS(p, 1, 9, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := cudaFPS(p, 9, 3)
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, kernel %v", got, want)
	}
	// Point 0 is at distance 0 from itself, so thread 0's maximum is point 8.
	if got[1] != 8 {
		t.Fatalf("first tie went to %d, want 8 (thread 0)", got[1])
	}
}

func TestParallelDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	b, n := 9, 700
	p := trickyCloud(rng, b, n)
	run := func() ([]int32, []int32, *Groups) {
		f, err := FPS(p, b, n, 50)
		if err != nil {
			t.Fatal(err)
		}
		k, err := KNN(p, b, n, p, n, 9)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Group(p, b, n, 33, 17)
		if err != nil {
			t.Fatal(err)
		}
		return f, k, g
	}
	prev := runtime.GOMAXPROCS(1)
	f1, k1, g1 := run()
	runtime.GOMAXPROCS(5)
	f2, k2, g2 := run()
	runtime.GOMAXPROCS(prev)
	if !slices.Equal(f1, f2) || !slices.Equal(k1, k2) || !slices.Equal(g1.Idx, g2.Idx) || !slices.Equal(g1.Neighborhood, g2.Neighborhood) {
		t.Fatal("results depend on GOMAXPROCS")
	}
}
