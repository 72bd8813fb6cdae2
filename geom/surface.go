package geom

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// SampleSurface draws n points uniformly from the surface of a triangle
// mesh: verts is [V*3] xyz, faces is [F*3] vertex indices. A face is chosen
// with probability proportional to its area (inverse CDF over float64
// areas), then a point inside it by the square-root trick
// p = (1-√r1)·a + √r1(1-r2)·b + √r1·r2·c with r1, r2 ~ U(0,1), which is
// uniform over the triangle. The result is [n*3]; n = 0 gives an empty
// slice. Zero-area faces are allowed (never chosen) as long as the total
// area is positive.
//
// Errors: no faces, len(verts) or len(faces) not a multiple of 3, a face
// index outside [0, V), a NaN/Inf vertex, zero (or overflowing) total area,
// n < 0, nil rng.
func SampleSurface(verts []float32, faces []int32, n int, rng *rand.Rand) ([]float32, error) {
	if len(verts) == 0 || len(verts)%3 != 0 {
		return nil, fmt.Errorf("%w: SampleSurface: len(verts) = %d, want a positive multiple of 3", ErrShape, len(verts))
	}
	if len(faces) == 0 || len(faces)%3 != 0 {
		return nil, fmt.Errorf("%w: SampleSurface: len(faces) = %d, want a positive multiple of 3", ErrShape, len(faces))
	}
	if n < 0 || n > maxElems/3 {
		return nil, fmt.Errorf("%w: SampleSurface: n = %d", ErrArgument, n)
	}
	if rng == nil {
		return nil, fmt.Errorf("%w: SampleSurface: nil rng", ErrArgument)
	}
	nv := len(verts) / 3
	for i, v := range verts {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%w: SampleSurface: vertex %d coordinate %d is %v", ErrNonFinite, i/3, i%3, v)
		}
	}
	for i, f := range faces {
		if f < 0 || int(f) >= nv {
			return nil, fmt.Errorf("%w: SampleSurface: face %d corner %d has vertex index %d, want 0 <= i < %d", ErrArgument, i/3, i%3, f, nv)
		}
	}
	vert := func(i int32) [3]float64 {
		return [3]float64{float64(verts[3*i]), float64(verts[3*i+1]), float64(verts[3*i+2])}
	}
	nf := len(faces) / 3
	cdf := make([]float64, nf)
	var total float64
	for f := range nf {
		a, b, c := vert(faces[3*f]), vert(faces[3*f+1]), vert(faces[3*f+2])
		total += triArea(a, b, c)
		cdf[f] = total
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return nil, fmt.Errorf("%w: SampleSurface: total area %g, want finite > 0", ErrArgument, total)
	}
	out := make([]float32, n*3)
	for i := range n {
		u := rng.Float64() * total
		// First face whose cumulative area exceeds u; zero-area faces share
		// their predecessor's CDF value and so are never the first.
		f := sort.Search(nf, func(j int) bool { return cdf[j] > u })
		if f == nf { // u rounded up to total
			f = nf - 1
			for f > 0 && cdf[f-1] == cdf[f] {
				f--
			}
		}
		a, b, c := vert(faces[3*f]), vert(faces[3*f+1]), vert(faces[3*f+2])
		s := math.Sqrt(rng.Float64())
		r2 := rng.Float64()
		wa, wb, wc := 1-s, s*(1-r2), s*r2
		for ax := range 3 {
			out[3*i+ax] = float32(wa*a[ax] + wb*b[ax] + wc*c[ax])
		}
	}
	return out, nil
}

func triArea(a, b, c [3]float64) float64 {
	u := [3]float64{b[0] - a[0], b[1] - a[1], b[2] - a[2]}
	v := [3]float64{c[0] - a[0], c[1] - a[1], c[2] - a[2]}
	x := u[1]*v[2] - u[2]*v[1]
	y := u[2]*v[0] - u[0]*v[2]
	z := u[0]*v[1] - u[1]*v[0]
	return 0.5 * math.Sqrt(x*x+y*y+z*z)
}
