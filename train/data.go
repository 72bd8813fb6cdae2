package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/dataset"
	"github.com/pointpeft/pointpeft/geom"
)

// OpenRunData opens the training and test splits of spec's data as a run reads them,
// for a spec that passed Resolve and Validate. Without an FPS pool both are read at
// spec.Points per cloud. With one (Config.FPSPool) both are read at the pool's size,
// clouds that hold fewer points as they are: a pool larger than the training clouds
// is an error naming both sizes, or with FPSPoolCap is lowered to their size (a note
// says so); the test split is then reduced to the FPS of spec.Points, once. It returns
// spec with the pool it used.
func OpenRunData(spec Spec) (Spec, dataset.Dataset, dataset.Dataset, []string, error) {
	pool := spec.Train.FPSPool
	if pool == 0 {
		trainSet, testSet, err := dataset.OpenSplits(spec.Data, dataset.OpenOptions{NumPoints: spec.Points})
		return spec, trainSet, testSet, nil, err
	}
	open := dataset.OpenOptions{NumPoints: pool, KeepFewer: true}
	trainSet, err := dataset.Open(spec.Data, "train", open)
	if err != nil {
		return spec, nil, nil, nil, err
	}
	fewest, most, err := dataset.PointCounts(trainSet)
	if err != nil {
		return spec, nil, nil, nil, err
	}
	var notes []string
	if fewest < pool {
		switch {
		case !spec.Train.FPSPoolCap:
			return spec, nil, nil, nil, fmt.Errorf("fps_pool %d is larger than the training clouds of %s, which hold %d points: set fps_pool to at most %d, or fps_pool_cap to lower it",
				pool, spec.Data, fewest, fewest)
		case fewest < spec.Points:
			return spec, nil, nil, nil, fmt.Errorf("fps_pool %d: the training clouds of %s hold %d points, fewer than points %d", pool, spec.Data, fewest, spec.Points)
		}
		notes = append(notes, fmt.Sprintf("fps_pool %d lowered to %d, the points the training clouds of %s hold (fps_pool_cap, as the authors' runners do)",
			pool, fewest, spec.Data))
		spec.Train.FPSPool, open.NumPoints = fewest, fewest
		if most != fewest {
			// The loader needs one size: read them again, cut to the fewest.
			if trainSet, err = dataset.Open(spec.Data, "train", open); err != nil {
				return spec, nil, nil, nil, err
			}
		}
	}
	testSet, err := dataset.Open(spec.Data, "test", open)
	if err != nil {
		return spec, nil, nil, nil, err
	}
	reduced, err := fpsEval(testSet, spec.Points)
	if err != nil {
		return spec, nil, nil, nil, fmt.Errorf("test split: %w", err)
	}
	return spec, trainSet, reduced, notes, nil
}

// fpsEval is ds with every cloud reduced to the FPS of points, computed once: how
// evaluation reads clouds when training draws from an FPS pool.
func fpsEval(ds dataset.Dataset, points int) (*dataset.InMemory, error) {
	view, err := dataset.NewFPSView(ds, points)
	if err != nil {
		return nil, err
	}
	return dataset.Preload(view, 0)
}

// resample is the training batches' resampling from the FPS pool (Config.FPSPool), nil
// without one (Config.Validate refuses a negative pool).
func (r *Run) resample() (dataset.Resample, error) {
	pool, k := r.Cfg.FPSPool, r.Points
	if pool <= 0 {
		return nil, nil
	}
	if k < 1 || k > pool {
		return nil, fmt.Errorf("fps_pool %d: the run draws %d points from it (Run.Points), want 1 to %d", pool, k, pool)
	}
	return func(p []float32, b, n int, rng *rand.Rand) ([]float32, int, error) {
		out, err := geom.PoolSample(p, b, n, pool, k, rng)
		if err != nil {
			return nil, 0, fmt.Errorf("fps_pool %d: %w", pool, err)
		}
		return out, k, nil
	}, nil
}
