package geom

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestKNNMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	shapes := []struct{ b, n, q, k int }{
		{1, 1, 1, 1}, {2, 5, 3, 5}, {3, 40, 17, 7}, {2, 300, 64, 32},
		{2, 2048, 128, 32}, {4, 1024, 64, 32}, {1, 100, 10, 100},
	}
	for _, sh := range shapes {
		for _, tricky := range []bool{false, true} {
			p := randCloud(rng, sh.b, sh.n)
			if tricky {
				p = trickyCloud(rng, sh.b, sh.n)
			}
			// Half the queries are cloud points (distance-0 hits, and exact
			// ties through duplicates), half are free.
			qs := randCloud(rng, sh.b, sh.q)
			for bi := range sh.b {
				for j := 0; j < sh.q; j += 2 {
					src := (bi*sh.n + rng.IntN(sh.n)) * 3
					copy(qs[(bi*sh.q+j)*3:], p[src:src+3])
				}
			}
			got, err := KNN(p, sh.b, sh.n, qs, sh.q, sh.k)
			if err != nil {
				t.Fatal(err)
			}
			for bi := range sh.b {
				c := p[bi*sh.n*3 : (bi+1)*sh.n*3]
				for j := range sh.q {
					r := bi*sh.q + j
					want := bruteKNN(c, sh.n, qs[3*r], qs[3*r+1], qs[3*r+2], sh.k)
					if g := got[r*sh.k : (r+1)*sh.k]; !slices.Equal(g, want) {
						t.Fatalf("%+v tricky=%v cloud %d query %d:\n got %v\nwant %v", sh, tricky, bi, j, g, want)
					}
				}
			}
		}
	}
}

func TestKNNSelfFirstAndTies(t *testing.T) {
	// Points 0..3 on a unit square around query (0.5,0.5,0): all four at the
	// same distance, so the order is by index; point 4 is the query itself.
	p := []float32{0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0.5, 0.5, 0, 9, 9, 9}
	got, err := KNN(p, 1, 6, []float32{0.5, 0.5, 0}, 1, 6)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{4, 0, 1, 2, 3, 5}; !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	// Exact duplicate points: the lower index comes first.
	p = []float32{3, 3, 3, 1, 1, 1, 3, 3, 3, 1, 1, 1}
	got, err = KNN(p, 1, 4, []float32{1, 1, 1}, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{1, 3, 0}; !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestGatherAndFlatIndex(t *testing.T) {
	p := []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11} // b=2, n=2
	g, err := Gather(p, 2, 2, []int32{1, 1, 0, 1, 0, 0}, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{3, 4, 5, 3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8, 6, 7, 8}
	if !slices.Equal(g, want) {
		t.Fatalf("Gather got %v", g)
	}
	fl, err := FlatIndex([]int32{1, 0, 1, 1}, 2, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fl, []int32{1, 0, 6, 6}) {
		t.Fatalf("FlatIndex got %v", fl)
	}
}

func TestGroupComposesFPSAndKNN(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, sh := range []struct{ b, n, g, m int }{{3, 1024, 64, 32}, {2, 2048, 128, 32}, {2, 50, 50, 50}, {1, 1, 1, 1}} {
		p := trickyCloud(rng, sh.b, sh.n)
		gr, err := Group(p, sh.b, sh.n, sh.g, sh.m)
		if err != nil {
			t.Fatal(err)
		}
		if gr.B != sh.b || gr.N != sh.n || gr.G != sh.g || gr.M != sh.m {
			t.Fatalf("sizes %+v", gr)
		}
		fps, _ := FPS(p, sh.b, sh.n, sh.g)
		cen, _ := Gather(p, sh.b, sh.n, fps, sh.g)
		knn, _ := KNN(p, sh.b, sh.n, cen, sh.g, sh.m)
		if !slices.Equal(gr.Center, cen) {
			t.Fatal("Center differs from Gather(FPS)")
		}
		for r := range sh.b * sh.g {
			bi := r / sh.g
			if gr.CenterIdx[r] != int32(bi*sh.n)+fps[r] {
				t.Fatalf("CenterIdx[%d] = %d", r, gr.CenterIdx[r])
			}
			for j := r * sh.m; j < (r+1)*sh.m; j++ {
				if gr.Idx[j] != int32(bi*sh.n)+knn[j] {
					t.Fatalf("Idx[%d] = %d, want flat %d", j, gr.Idx[j], int32(bi*sh.n)+knn[j])
				}
				f := int(gr.Idx[j])
				for a := range 3 {
					if want := p[3*f+a] - gr.Center[3*r+a]; gr.Neighborhood[3*j+a] != want {
						t.Fatalf("Neighborhood[%d][%d] = %v, want %v", j, a, gr.Neighborhood[3*j+a], want)
					}
				}
			}
			// The first neighbour is at distance 0 (the centre or a duplicate).
			for a := range 3 {
				if gr.Neighborhood[3*r*sh.m+a] != 0 {
					t.Fatalf("group %d first neighbour not at the centre", r)
				}
			}
		}
	}
}
