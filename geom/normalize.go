package geom

import (
	"fmt"
	"math"
)

// NormalizeUnitSphere rescales each of the b clouds in place into the unit
// ball, as the reference pc_normalize does: subtract the centroid, then
// divide by the largest distance from it, so the farthest point ends on the
// unit sphere. Sums and norms are accumulated in float64. A cloud whose
// points all coincide has no scale and is reported as an error (the
// reference would divide by zero); on error points are left unchanged.
func NormalizeUnitSphere(points []float32, b, n int) error {
	if err := checkCloud("NormalizeUnitSphere points", points, b, n); err != nil {
		return err
	}
	scale := make([]float64, b)
	cent := make([][3]float32, b)
	// Measure first and write afterwards so an error leaves the input intact.
	parallelRange(b, 1, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			p := points[bi*n*3 : (bi+1)*n*3]
			var s [3]float64
			for i := range n {
				s[0] += float64(p[3*i])
				s[1] += float64(p[3*i+1])
				s[2] += float64(p[3*i+2])
			}
			c := [3]float32{float32(s[0] / float64(n)), float32(s[1] / float64(n)), float32(s[2] / float64(n))}
			var m float64
			for i := range n {
				dx := float64(p[3*i] - c[0])
				dy := float64(p[3*i+1] - c[1])
				dz := float64(p[3*i+2] - c[2])
				m = max(m, dx*dx+dy*dy+dz*dz)
			}
			cent[bi], scale[bi] = c, math.Sqrt(m)
		}
	})
	for bi, m := range scale {
		if !(m > 0) || math.IsInf(m, 0) || float32(m) == 0 {
			return fmt.Errorf("%w: NormalizeUnitSphere: batch %d has radius %g (all points coincide?)", ErrArgument, bi, m)
		}
	}
	parallelRange(b, 1, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			p := points[bi*n*3 : (bi+1)*n*3]
			c, inv := cent[bi], 1/scale[bi]
			for i := range n {
				for a := range 3 {
					p[3*i+a] = float32(float64(p[3*i+a]-c[a]) * inv)
				}
			}
		}
	})
	return nil
}
