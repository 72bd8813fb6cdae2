package dataset

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// SampleSurface draws n points uniformly on the surface of a triangle mesh:
// a triangle is chosen with probability proportional to its area, then a
// uniform point inside it. verts holds V*3 coordinates and faces F*3 vertex
// indices.
func SampleSurface(verts []float32, faces []int32, n int, rng *rand.Rand) ([]float32, error) {
	if n <= 0 {
		return nil, fmt.Errorf("sample surface: asked for %d points", n)
	}
	if len(faces) == 0 || len(faces)%3 != 0 {
		return nil, fmt.Errorf("sample surface: %d face indices", len(faces))
	}
	nv := len(verts) / 3
	for _, f := range faces {
		if f < 0 || int(f) >= nv {
			return nil, fmt.Errorf("sample surface: vertex index %d out of range [0,%d)", f, nv)
		}
	}
	cum := make([]float64, len(faces)/3)
	var total float64
	for t := range cum {
		a, b, c := vert(verts, faces[t*3]), vert(verts, faces[t*3+1]), vert(verts, faces[t*3+2])
		total += triArea(a, b, c)
		cum[t] = total
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return nil, errors.New("sample surface: mesh has no finite positive area")
	}
	out := make([]float32, n*3)
	for i := 0; i < n; i++ {
		t := sort.SearchFloat64s(cum, rng.Float64()*total)
		if t == len(cum) {
			t--
		}
		a, b, c := vert(verts, faces[t*3]), vert(verts, faces[t*3+1]), vert(verts, faces[t*3+2])
		// sqrt makes the barycentric draw uniform over the triangle's area.
		r1, r2 := math.Sqrt(rng.Float64()), rng.Float64()
		wa, wb, wc := 1-r1, r1*(1-r2), r1*r2
		for k := 0; k < 3; k++ {
			out[i*3+k] = float32(wa*a[k] + wb*b[k] + wc*c[k])
		}
	}
	return out, nil
}

type vec3 [3]float64

func vert(v []float32, i int32) vec3 {
	return vec3{float64(v[i*3]), float64(v[i*3+1]), float64(v[i*3+2])}
}

func (a vec3) sub(b vec3) vec3      { return vec3{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func (a vec3) add(b vec3) vec3      { return vec3{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }
func (a vec3) scale(s float64) vec3 { return vec3{a[0] * s, a[1] * s, a[2] * s} }
func (a vec3) dot(b vec3) float64   { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func (a vec3) norm() float64        { return math.Sqrt(a.dot(a)) }
func (a vec3) cross(b vec3) vec3 {
	return vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

func triArea(a, b, c vec3) float64 { return b.sub(a).cross(c.sub(a)).norm() / 2 }
