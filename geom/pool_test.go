package geom

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestPoolSample: on points at x = 1, 2, 3, 10 the FPS pool of 3 is x = 1, 10, 3
// (from the first point: the farthest, then the one farthest from both), so the two
// points drawn come from those and never x = 2; the second cloud, the first scaled by
// 2, keeps the same positions (one draw per batch); a seed gives the same draw.
func TestPoolSample(t *testing.T) {
	line := []float32{1, 0, 0, 2, 0, 0, 3, 0, 0, 10, 0, 0}
	batch := slices.Clone(line)
	for _, v := range line {
		batch = append(batch, 2*v)
	}
	seen := map[float32]bool{}
	for seed := range uint64(20) {
		got, err := PoolSample(batch, 2, 4, 3, 2, rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2*2*3 {
			t.Fatalf("%d coordinates, want 12", len(got))
		}
		a, b := got[0], got[3]
		if a == b || !slices.Contains([]float32{1, 3, 10}, a) || !slices.Contains([]float32{1, 3, 10}, b) {
			t.Fatalf("seed %d: drew x = %g and %g, want two of the pool 1, 3, 10", seed, a, b)
		}
		for i := range 6 {
			if got[6+i] != 2*got[i] {
				t.Fatalf("seed %d: second cloud %v is not the first %v scaled by 2", seed, got[6:], got[:6])
			}
		}
		seen[a], seen[b] = true, true
		again, _ := PoolSample(batch, 2, 4, 3, 2, rand.New(rand.NewPCG(seed, 1)))
		if !slices.Equal(got, again) {
			t.Fatalf("seed %d: %v then %v", seed, got, again)
		}
	}
	if len(seen) != 3 {
		t.Errorf("20 draws took x in %v, want all of 1, 3, 10", seen)
	}
	for _, c := range []struct {
		pool, k int
		want    string
	}{{5, 2, "pool of 5 points from clouds of 4"}, {3, 4, "4 points drawn from a pool of 3"}, {0, 1, "pool of 0"}} {
		_, err := PoolSample(line, 1, 4, c.pool, c.k, rand.New(rand.NewPCG(1, 1)))
		if !errors.Is(err, ErrArgument) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("pool %d, k %d: %v, want %q", c.pool, c.k, err, c.want)
		}
	}
}
