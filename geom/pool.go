package geom

import (
	"fmt"
	"math/rand/v2"
)

// PoolSample is the training-time resampling of the Point-MAE family's fine-tuning
// runners (IDPT, DAPT, PointGST, PointLoRA: tools/runner_finetune*.py). Each of the b
// clouds of n points is reduced to pool points by FPS (from its first point, with
// FPS's selection rules), then k of the pool's positions are drawn at random without
// replacement, in random order, and every cloud keeps the points at those positions:
// one draw for the whole batch, as the runners' np.random.choice. It returns the new
// batch, [b*k*3].
//
// With pool == n, FPS only reorders a cloud (except that it never selects points
// within √1e-3 of the origin and repeats earlier ones in their place, as the CUDA
// kernel does), so the result is a random subset of k of its points, up to those
// repeats.
func PoolSample(points []float32, b, n, pool, k int, rng *rand.Rand) ([]float32, error) {
	if err := checkCloud("PoolSample points", points, b, n); err != nil {
		return nil, err
	}
	if pool < 1 || pool > n {
		return nil, fmt.Errorf("%w: PoolSample: pool of %d points from clouds of %d, want 1 <= pool <= %d", ErrArgument, pool, n, n)
	}
	if k < 1 || k > pool {
		return nil, fmt.Errorf("%w: PoolSample: %d points drawn from a pool of %d, want 1 <= k <= %d", ErrArgument, k, pool, pool)
	}
	if err := checkRNG("PoolSample", rng); err != nil {
		return nil, err
	}
	fps := fpsInto(points, b, n, pool)
	pick := rng.Perm(pool)[:k]
	idx := make([]int32, b*k)
	for bi := range b {
		for j, p := range pick {
			idx[bi*k+j] = fps[bi*pool+p]
		}
	}
	out := make([]float32, b*k*3)
	gatherInto(out, points, n, idx, k)
	return out, nil
}
