package geom

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestBadInputs(t *testing.T) {
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(1, 1)) }
	ok := randCloud(rng(), 2, 8) // b=2, n=8
	nan := append([]float32(nil), ok...)
	nan[(8+5)*3+1] = float32(math.NaN()) // batch 1, point 5, y
	inf := append([]float32(nil), ok...)
	inf[3*3] = float32(math.Inf(-1)) // batch 0, point 3
	tri := []float32{0, 0, 0, 1, 0, 0, 0, 1, 0}

	cases := []struct {
		name string
		want error
		msg  string
		call func() error
	}{
		{"FPS short", ErrShape, "", func() error { _, e := FPS(ok[:10], 2, 8, 4); return e }},
		{"FPS b=0", ErrShape, "", func() error { _, e := FPS(nil, 0, 8, 4); return e }},
		{"FPS n<0", ErrShape, "", func() error { _, e := FPS(ok, 2, -8, 4); return e }},
		{"FPS m>n", ErrArgument, "", func() error { _, e := FPS(ok, 2, 8, 9); return e }},
		{"FPS m=0", ErrArgument, "", func() error { _, e := FPS(ok, 2, 8, 0); return e }},
		{"FPS NaN", ErrNonFinite, "batch 1 point 5", func() error { _, e := FPS(nan, 2, 8, 4); return e }},
		{"FPS Inf", ErrNonFinite, "batch 0 point 3", func() error { _, e := FPS(inf, 2, 8, 4); return e }},
		{"FPS huge", ErrShape, "", func() error { _, e := FPS(ok, 1<<40, 1<<40, 4); return e }},
		{"KNN k>n", ErrArgument, "", func() error { _, e := KNN(ok, 2, 8, ok, 8, 9); return e }},
		{"KNN k=0", ErrArgument, "", func() error { _, e := KNN(ok, 2, 8, ok, 8, 0); return e }},
		{"KNN query len", ErrShape, "", func() error { _, e := KNN(ok, 2, 8, ok[:9], 2, 2); return e }},
		{"KNN NaN points", ErrNonFinite, "batch 1 point 5", func() error { _, e := KNN(nan, 2, 8, ok, 8, 2); return e }},
		{"KNN NaN queries", ErrNonFinite, "KNN queries: batch 1 point 5", func() error { _, e := KNN(ok, 2, 8, nan, 8, 2); return e }},
		{"Group groupSize>n", ErrArgument, "", func() error { _, e := Group(ok, 2, 8, 4, 9); return e }},
		{"Group numGroup>n", ErrArgument, "", func() error { _, e := Group(ok, 2, 8, 9, 4); return e }},
		{"Group NaN", ErrNonFinite, "batch 1 point 5", func() error { _, e := Group(nan, 2, 8, 4, 4); return e }},
		{"Gather idx range", ErrArgument, "row 1 entry 0 is 8", func() error { _, e := Gather(ok, 2, 8, []int32{0, 8}, 1); return e }},
		{"Gather idx negative", ErrArgument, "", func() error { _, e := Gather(ok, 2, 8, []int32{-1, 0}, 1); return e }},
		{"Gather idx len", ErrShape, "", func() error { _, e := Gather(ok, 2, 8, []int32{0, 0, 0}, 1); return e }},
		{"FlatIndex range", ErrArgument, "", func() error { _, e := FlatIndex([]int32{0, 5}, 2, 5, 1); return e }},
		{"Normalize NaN", ErrNonFinite, "batch 1 point 5", func() error { return NormalizeUnitSphere(nan, 2, 8) }},
		{"Normalize len", ErrShape, "", func() error { return NormalizeUnitSphere(ok, 3, 8) }},
		{"ScaleTranslate lo>hi", ErrArgument, "", func() error { return ScaleTranslate(ok, 2, 8, 2, 1, 0, rng()) }},
		{"ScaleTranslate lo<=0", ErrArgument, "", func() error { return ScaleTranslate(ok, 2, 8, 0, 1, 0, rng()) }},
		{"ScaleTranslate t<0", ErrArgument, "", func() error { return ScaleTranslate(ok, 2, 8, 1, 1, -1, rng()) }},
		{"ScaleTranslate nil rng", ErrArgument, "", func() error { return ScaleTranslate(ok, 2, 8, 1, 1, 0, nil) }},
		{"ScaleTranslate NaN", ErrNonFinite, "batch 1 point 5", func() error { return ScaleTranslate(nan, 2, 8, 1, 1, 0, rng()) }},
		{"Scale NaN range", ErrArgument, "", func() error { return Scale(ok, 2, 8, math.NaN(), 1, rng()) }},
		{"RotateAbout axis", ErrArgument, "", func() error { return RotateAbout(ok, 2, 8, Axis(3), []float64{1}) }},
		{"RotateAbout angles", ErrShape, "", func() error { return RotateAbout(ok, 2, 8, AxisY, []float64{1, 2, 3}) }},
		{"RotateAbout NaN angle", ErrArgument, "", func() error { return RotateAbout(ok, 2, 8, AxisY, []float64{math.NaN()}) }},
		{"RotateUp nil rng", ErrArgument, "", func() error { _, e := RotateUp(ok, 2, 8, AxisZ, true, nil); return e }},
		{"RotateUp NaN", ErrNonFinite, "batch 1 point 5", func() error { _, e := RotateUp(nan, 2, 8, AxisZ, true, rng()); return e }},
		{"SampleSurface no faces", ErrShape, "", func() error { _, e := SampleSurface(tri, nil, 10, rng()); return e }},
		{"SampleSurface face range", ErrArgument, "face 0 corner 2", func() error { _, e := SampleSurface(tri, []int32{0, 1, 3}, 10, rng()); return e }},
		{"SampleSurface zero area", ErrArgument, "total area", func() error { _, e := SampleSurface(tri, []int32{0, 1, 1}, 10, rng()); return e }},
		{"SampleSurface NaN", ErrNonFinite, "vertex 1", func() error {
			_, e := SampleSurface([]float32{0, 0, 0, float32(math.NaN()), 0, 0, 0, 1, 0}, []int32{0, 1, 2}, 10, rng())
			return e
		}},
		{"SampleSurface verts len", ErrShape, "", func() error { _, e := SampleSurface(tri[:8], []int32{0, 1, 2}, 10, rng()); return e }},
		{"SampleSurface n<0", ErrArgument, "", func() error { _, e := SampleSurface(tri, []int32{0, 1, 2}, -1, rng()); return e }},
		{"SampleSurface nil rng", ErrArgument, "", func() error { _, e := SampleSurface(tri, []int32{0, 1, 2}, 1, nil); return e }},
	}
	for _, c := range cases {
		err := c.call()
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			continue
		}
		if c.msg != "" && !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.msg)
		}
	}
}
