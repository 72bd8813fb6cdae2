package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pointpeft/pointpeft/geom"
)

// SampleSurface draws n points uniformly on the surface of a triangle mesh (see
// geom.SampleSurface): a triangle is chosen with probability proportional to its area,
// then a uniform point inside it. verts holds V*3 coordinates and faces F*3 vertex
// indices.
func SampleSurface(verts []float32, faces []int32, n int, rng *rand.Rand) ([]float32, error) {
	if n <= 0 {
		return nil, fmt.Errorf("sample surface: asked for %d points", n)
	}
	return geom.SampleSurface(verts, faces, n, rng)
}

// vec3 is the float64 vector arithmetic of the procedural shapes.
type vec3 [3]float64

func (a vec3) sub(b vec3) vec3      { return vec3{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func (a vec3) add(b vec3) vec3      { return vec3{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }
func (a vec3) scale(s float64) vec3 { return vec3{a[0] * s, a[1] * s, a[2] * s} }
func (a vec3) dot(b vec3) float64   { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func (a vec3) norm() float64        { return math.Sqrt(a.dot(a)) }
func (a vec3) cross(b vec3) vec3 {
	return vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func triArea(a, b, c vec3) float64 { return b.sub(a).cross(c.sub(a)).norm() / 2 }
