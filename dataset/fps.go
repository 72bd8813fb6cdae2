package dataset

import (
	"fmt"

	"github.com/pointpeft/pointpeft/geom"
)

// FPSView is a dataset whose clouds are another's reduced to N points by farthest
// point sampling (geom.FPS, from each cloud's first point): how the Point-MAE family's
// runners feed evaluation clouds when training resamples from an FPS pool. A cloud
// with fewer than N points is an error when read.
type FPSView struct {
	ds Dataset
	n  int
}

// NewFPSView reduces ds's clouds to n points each.
func NewFPSView(ds Dataset, n int) (*FPSView, error) {
	if n < 1 {
		return nil, fmt.Errorf("fps view: %d points per cloud, want at least 1", n)
	}
	return &FPSView{ds: ds, n: n}, nil
}

// Len returns the number of samples.
func (v *FPSView) Len() int { return v.ds.Len() }

// Classes returns the class names.
func (v *FPSView) Classes() []string { return v.ds.Classes() }

// Get returns sample i reduced to the view's points.
func (v *FPSView) Get(i int) (Sample, error) {
	s, err := v.ds.Get(i)
	if err != nil {
		return Sample{}, err
	}
	have := len(s.Points) / 3
	if have < v.n {
		return Sample{}, fmt.Errorf("fps view: sample %d has %d points, fewer than the %d to sample", i, have, v.n)
	}
	idx, err := geom.FPS(s.Points, 1, have, v.n)
	if err != nil {
		return Sample{}, fmt.Errorf("fps view: sample %d: %w", i, err)
	}
	if s.Points, err = geom.Gather(s.Points, 1, have, idx, v.n); err != nil {
		return Sample{}, fmt.Errorf("fps view: sample %d: %w", i, err)
	}
	return s, nil
}

// PointCounts reads every sample of ds and returns the fewest and the most points a
// cloud has.
func PointCounts(ds Dataset) (fewest, most int, err error) {
	for i := range ds.Len() {
		s, err := ds.Get(i)
		if err != nil {
			return 0, 0, err
		}
		n := len(s.Points) / 3
		if i == 0 || n < fewest {
			fewest = n
		}
		most = max(most, n)
	}
	return fewest, most, nil
}
