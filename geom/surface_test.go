package geom

import (
	"math"
	"math/rand/v2"
	"testing"
)

type vec [3]float64

func sub(a, b vec) vec     { return vec{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func dot(a, b vec) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func axpy(a vec, s float64, b vec) vec {
	return vec{a[0] + s*b[0], a[1] + s*b[1], a[2] + s*b[2]}
}

// closestOnTriangle is the closest point of triangle abc to p (region
// classification over the Voronoi regions of vertices, edges and face).
func closestOnTriangle(p, a, b, c vec) vec {
	ab, ac, ap := sub(b, a), sub(c, a), sub(p, a)
	d1, d2 := dot(ab, ap), dot(ac, ap)
	if d1 <= 0 && d2 <= 0 {
		return a
	}
	bp := sub(p, b)
	d3, d4 := dot(ab, bp), dot(ac, bp)
	if d3 >= 0 && d4 <= d3 {
		return b
	}
	vc := d1*d4 - d3*d2
	if vc <= 0 && d1 >= 0 && d3 <= 0 {
		return axpy(a, d1/(d1-d3), ab)
	}
	cp := sub(p, c)
	d5, d6 := dot(ab, cp), dot(ac, cp)
	if d6 >= 0 && d5 <= d6 {
		return c
	}
	vb := d5*d2 - d1*d6
	if vb <= 0 && d2 >= 0 && d6 <= 0 {
		return axpy(a, d2/(d2-d6), ac)
	}
	va := d3*d6 - d5*d4
	if va <= 0 && d4-d3 >= 0 && d5-d6 >= 0 {
		return axpy(b, (d4-d3)/((d4-d3)+(d5-d6)), sub(c, b))
	}
	den := 1 / (va + vb + vc)
	return axpy(axpy(a, vb*den, ab), vc*den, ac)
}

func TestSampleSurfaceOnMesh(t *testing.T) {
	// A tilted tetrahedron plus a zero-area sliver that must never be hit.
	verts := []float32{0.1, 0.2, 0.3, 1.3, -0.2, 0.1, 0.2, 1.1, -0.4, -0.3, 0.4, 1.2, 5, 5, 5}
	faces := []int32{0, 1, 2, 0, 1, 3, 0, 2, 3, 1, 2, 3, 4, 4, 0}
	pts, err := SampleSurface(verts, faces, 5000, rand.New(rand.NewPCG(51, 52)))
	if err != nil {
		t.Fatal(err)
	}
	v := func(i int32) vec { return vec{float64(verts[3*i]), float64(verts[3*i+1]), float64(verts[3*i+2])} }
	for i := range 5000 {
		p := vec{float64(pts[3*i]), float64(pts[3*i+1]), float64(pts[3*i+2])}
		best := math.Inf(1)
		for f := range 4 {
			q := closestOnTriangle(p, v(faces[3*f]), v(faces[3*f+1]), v(faces[3*f+2]))
			d := sub(p, q)
			best = min(best, math.Sqrt(dot(d, d)))
		}
		if best > 1e-6 {
			t.Fatalf("sample %d at %v is %g from the mesh", i, p, best)
		}
	}
	again, _ := SampleSurface(verts, faces, 5000, rand.New(rand.NewPCG(51, 52)))
	for i := range pts {
		if pts[i] != again[i] {
			t.Fatal("same seed, different samples")
		}
	}
}

func TestSampleSurfaceAreaAndUniformity(t *testing.T) {
	// Two triangles in z=0 with areas 1 and 3, far apart in x.
	verts := []float32{0, 0, 0, 2, 0, 0, 0, 1, 0, 10, 0, 0, 13, 0, 0, 10, 2, 0}
	faces := []int32{0, 1, 2, 3, 4, 5}
	const n = 40000
	pts, err := SampleSurface(verts, faces, n, rand.New(rand.NewPCG(53, 54)))
	if err != nil {
		t.Fatal(err)
	}
	small, inner := 0, 0
	for i := range n {
		x, y := pts[3*i], pts[3*i+1]
		if x < 5 {
			small++
			// Inside the first triangle the part x/2 + y < 1/2 is a similar
			// triangle scaled by 1/2, a quarter of the area.
			if float64(x)/2+float64(y) < 0.5 {
				inner++
			}
		}
	}
	frac := float64(small) / n
	// Binomial sd: sqrt(.25*.75/40000) = 0.0022; allow 4 sd.
	if math.Abs(frac-0.25) > 0.009 {
		t.Fatalf("area-1 triangle got %.4f of samples, want 0.25", frac)
	}
	// sd: sqrt(.25*.75/10000) = 0.0043.
	if f := float64(inner) / float64(small); math.Abs(f-0.25) > 0.018 {
		t.Fatalf("corner sub-triangle got %.4f, want 0.25 (non-uniform in-triangle sampling)", f)
	}
}
