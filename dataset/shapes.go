package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// ShapeClasses are the classes of the procedural shape set, in label order.
// Several are deliberately close (sphere/capsule/cylinder, cone/pyramid/lamp,
// table/chair, bowl/mug) so the set is learnable but not trivial.
var ShapeClasses = []string{
	"sphere", "box", "cylinder", "cone", "torus", "pyramid", "capsule",
	"table", "chair", "lamp", "mug", "helix", "bowl", "dumbbell",
}

// ShapesConfig configures the procedural shape set.
type ShapesConfig struct {
	Seed        uint64
	Train, Test int // number of samples in each split
	NumPoints   int
	// Occlusion is the fraction of samples cut by a random plane that
	// removes 10-35% of the surface.
	Occlusion float64
	// Noise is the standard deviation of the per-coordinate jitter, relative
	// to the shape's size before normalisation (about 2 units).
	Noise float64
}

// DefaultShapesConfig is the configuration of the project's demo data.
func DefaultShapesConfig() ShapesConfig {
	return ShapesConfig{Seed: 1, Train: 2800, Test: 700, NumPoints: 1024, Occlusion: 0.3, Noise: 0.01}
}

// Shapes is a procedurally generated dataset of parametric and composite
// shapes (see ShapeClasses). Each sample gets random proportions, a
// deformation (taper, bend, smooth warp), an anisotropic scale, a random
// rotation about the up axis (z) with a small tilt, point jitter and, for a
// fraction of samples, a planar cut; it is then normalised to the unit
// sphere. Sample i has label i mod len(ShapeClasses) and is generated from
// (Seed, split, i) alone, so it is identical on every call and machine.
type Shapes struct {
	cfg  ShapesConfig
	n    int
	salt uint64
}

// NewShapes returns one split ("train" or "test") of the shape set.
func NewShapes(cfg ShapesConfig, split string) (*Shapes, error) {
	s := &Shapes{cfg: cfg}
	switch split {
	case "train":
		s.n, s.salt = cfg.Train, 0x5eed_0001
	case "test":
		s.n, s.salt = cfg.Test, 0x5eed_0002
	default:
		return nil, fmt.Errorf("shapes: unknown split %q (want train or test)", split)
	}
	switch {
	case s.n < 0:
		return nil, fmt.Errorf("shapes: negative %s size %d", split, s.n)
	case cfg.NumPoints <= 0:
		return nil, fmt.Errorf("shapes: NumPoints must be positive, got %d", cfg.NumPoints)
	case !(cfg.Occlusion >= 0 && cfg.Occlusion <= 1):
		return nil, fmt.Errorf("shapes: Occlusion must be in [0,1], got %v", cfg.Occlusion)
	case !(cfg.Noise >= 0 && cfg.Noise < 1):
		return nil, fmt.Errorf("shapes: Noise must be in [0,1), got %v", cfg.Noise)
	}
	return s, nil
}

// Len returns the number of samples in the split.
func (s *Shapes) Len() int { return s.n }

// Classes returns ShapeClasses.
func (s *Shapes) Classes() []string { return ShapeClasses }

// Get generates sample i.
func (s *Shapes) Get(i int) (Sample, error) {
	if err := checkIndex(s, i); err != nil {
		return Sample{}, fmt.Errorf("shapes: %w", err)
	}
	rng := rand.New(rand.NewPCG(s.cfg.Seed^s.salt*0x9e3779b97f4a7c15, uint64(i)))
	label := i % len(ShapeClasses)
	return Sample{Points: s.generate(label, rng), Label: label}, nil
}

func (s *Shapes) generate(label int, rng *rand.Rand) []float32 {
	n := s.cfg.NumPoints
	cut := 0.0
	if rng.Float64() < s.cfg.Occlusion {
		cut = 0.10 + 0.25*rng.Float64()
	}
	m := n
	if cut > 0 {
		m = int(math.Ceil(float64(n)/(1-cut))) + 1
	}
	parts := shapeParts(label, rng)
	pts := sampleParts(parts, m, rng)
	deform(pts, rng)
	if cut > 0 {
		pts = planeCut(pts, cut, rng)
	}
	out := make([]float32, n*3)
	for i := 0; i < n; i++ {
		for k := 0; k < 3; k++ {
			out[i*3+k] = float32(pts[i][k] + rng.NormFloat64()*s.cfg.Noise)
		}
	}
	Normalize(out)
	return out
}

// part is a surface patch that can be sampled uniformly by area.
type part interface {
	area() float64
	sample(r *rand.Rand) vec3
}

func sampleParts(parts []part, m int, rng *rand.Rand) []vec3 {
	cum := make([]float64, len(parts))
	total := 0.0
	for i, p := range parts {
		total += p.area()
		cum[i] = total
	}
	pts := make([]vec3, m)
	for i := range pts {
		u := rng.Float64() * total
		k, _ := slices.BinarySearch(cum, u)
		pts[i] = parts[min(k, len(parts)-1)].sample(rng)
	}
	return pts
}

func uni(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// rect is the parallelogram o + a*u + b*v, a, b in [0,1].
type rect struct{ o, u, v vec3 }

func (p rect) area() float64 { return p.u.cross(p.v).norm() }
func (p rect) sample(r *rand.Rand) vec3 {
	return p.o.add(p.u.scale(r.Float64())).add(p.v.scale(r.Float64()))
}

type tri struct{ a, b, c vec3 }

func (p tri) area() float64 { return triArea(p.a, p.b, p.c) }
func (p tri) sample(r *rand.Rand) vec3 {
	r1, r2 := math.Sqrt(r.Float64()), r.Float64()
	return p.a.scale(1 - r1).add(p.b.scale(r1 * (1 - r2))).add(p.c.scale(r1 * r2))
}

// box returns the six faces of an axis-aligned box centred at c with
// half-extents h.
func box(c, h vec3) []part {
	var out []part
	for ax := 0; ax < 3; ax++ {
		u, v := (ax+1)%3, (ax+2)%3
		for _, s := range []float64{-1, 1} {
			var o, du, dv vec3
			o = c
			o[ax] += s * h[ax]
			o[u] -= h[u]
			o[v] -= h[v]
			du[u], dv[v] = 2*h[u], 2*h[v]
			out = append(out, rect{o, du, dv})
		}
	}
	return out
}

// frustum is the side of a truncated cone along z from z0 (radius r0) to
// z1 (radius r1); r1 = 0 gives a cone.
type frustum struct {
	c          vec3
	z0, z1     float64
	r0, r1     float64
	phi0, phi1 float64
}

func newFrustum(c vec3, z0, z1, r0, r1 float64) frustum {
	return frustum{c, z0, z1, r0, r1, 0, 2 * math.Pi}
}

func (p frustum) area() float64 {
	slant := math.Hypot(p.z1-p.z0, p.r1-p.r0)
	return (p.phi1 - p.phi0) / 2 * (p.r0 + p.r1) * slant
}

func (p frustum) sample(r *rand.Rand) vec3 {
	// Rejection on t keeps the density proportional to the local radius.
	rmax := math.Max(p.r0, p.r1)
	var t float64
	for {
		t = r.Float64()
		if r.Float64()*rmax <= p.r0+(p.r1-p.r0)*t {
			break
		}
	}
	rad := p.r0 + (p.r1-p.r0)*t
	phi := uni(r, p.phi0, p.phi1)
	return p.c.add(vec3{rad * math.Cos(phi), rad * math.Sin(phi), p.z0 + (p.z1-p.z0)*t})
}

// disc is a horizontal annulus at height z.
type disc struct {
	c      vec3
	rin, r float64
	z      float64
}

func (p disc) area() float64 { return math.Pi * (p.r*p.r - p.rin*p.rin) }
func (p disc) sample(r *rand.Rand) vec3 {
	rad := math.Sqrt(uni(r, p.rin*p.rin, p.r*p.r))
	phi := uni(r, 0, 2*math.Pi)
	return p.c.add(vec3{rad * math.Cos(phi), rad * math.Sin(phi), p.z})
}

// sphereBand is the part of a sphere between heights z0 and z1 (relative to
// its centre); by Archimedes' theorem it is uniform in z.
type sphereBand struct {
	c      vec3
	r      float64
	z0, z1 float64
}

func (p sphereBand) area() float64 { return 2 * math.Pi * p.r * (p.z1 - p.z0) }
func (p sphereBand) sample(r *rand.Rand) vec3 {
	z := uni(r, p.z0, p.z1)
	rad := math.Sqrt(math.Max(p.r*p.r-z*z, 0))
	phi := uni(r, 0, 2*math.Pi)
	return p.c.add(vec3{rad * math.Cos(phi), rad * math.Sin(phi), z})
}

// torus has centre c, ring axis a and in-plane axes e1, e2; phi spans the
// swept part of the ring.
type torus struct {
	c, a, e1, e2 vec3
	R, r         float64
	phi0, phi1   float64
}

func (p torus) area() float64 { return (p.phi1 - p.phi0) * 2 * math.Pi * p.R * p.r }
func (p torus) sample(r *rand.Rand) vec3 {
	// The area element grows with the distance from the axis: reject on it.
	var th float64
	for {
		th = uni(r, 0, 2*math.Pi)
		if r.Float64()*(p.R+p.r) <= p.R+p.r*math.Cos(th) {
			break
		}
	}
	phi := uni(r, p.phi0, p.phi1)
	ring := p.e1.scale(math.Cos(phi)).add(p.e2.scale(math.Sin(phi)))
	return p.c.add(ring.scale(p.R + p.r*math.Cos(th))).add(p.a.scale(p.r * math.Sin(th)))
}

// helix is a tube of radius r around a helix of radius R, height h and the
// given number of turns, centred on the z axis.
type helix struct{ R, h, turns, r float64 }

func (p helix) area() float64 {
	return math.Hypot(2*math.Pi*p.R*p.turns, p.h) * 2 * math.Pi * p.r
}

func (p helix) sample(r *rand.Rand) vec3 {
	s := r.Float64()
	w := 2 * math.Pi * p.turns
	th := w * s
	c := vec3{p.R * math.Cos(th), p.R * math.Sin(th), p.h * (s - 0.5)}
	tan := vec3{-p.R * w * math.Sin(th), p.R * w * math.Cos(th), p.h}
	tan = tan.scale(1 / tan.norm())
	nrm := vec3{-math.Cos(th), -math.Sin(th), 0}
	bin := tan.cross(nrm)
	a := uni(r, 0, 2*math.Pi)
	return c.add(nrm.scale(p.r * math.Cos(a))).add(bin.scale(p.r * math.Sin(a)))
}

// shapeParts builds the canonical (z-up) surface of a class with random
// proportions.
func shapeParts(label int, r *rand.Rand) []part {
	o := vec3{}
	switch ShapeClasses[label] {
	case "sphere":
		return []part{sphereBand{o, 1, -1, 1}}
	case "box":
		return box(o, vec3{uni(r, 0.5, 1), uni(r, 0.5, 1), uni(r, 0.5, 1)})
	case "cylinder":
		rad, h := uni(r, 0.4, 0.7), uni(r, 1.2, 2)
		return []part{newFrustum(o, -h/2, h/2, rad, rad), disc{o, 0, rad, -h / 2}, disc{o, 0, rad, h / 2}}
	case "cone":
		rad, h := uni(r, 0.5, 0.9), uni(r, 1.2, 2)
		return []part{newFrustum(o, -h/2, h/2, rad, 0), disc{o, 0, rad, -h / 2}}
	case "torus":
		return []part{torus{o, vec3{0, 0, 1}, vec3{1, 0, 0}, vec3{0, 1, 0}, 1, uni(r, 0.2, 0.4), 0, 2 * math.Pi}}
	case "pyramid":
		w, h := uni(r, 0.6, 1), uni(r, 1, 1.6)
		apex := vec3{0, 0, h / 2}
		c := []vec3{{-w, -w, -h / 2}, {w, -w, -h / 2}, {w, w, -h / 2}, {-w, w, -h / 2}}
		out := []part{rect{c[0], vec3{2 * w, 0, 0}, vec3{0, 2 * w, 0}}}
		for k := 0; k < 4; k++ {
			out = append(out, tri{c[k], c[(k+1)%4], apex})
		}
		return out
	case "capsule":
		rad, h := uni(r, 0.35, 0.55), uni(r, 0.8, 1.5)
		return []part{
			newFrustum(o, -h/2, h/2, rad, rad),
			sphereBand{vec3{0, 0, h / 2}, rad, 0, rad},
			sphereBand{vec3{0, 0, -h / 2}, rad, -rad, 0},
		}
	case "table":
		w, d, ht := uni(r, 0.8, 1.2), uni(r, 0.5, 0.9), uni(r, 0.7, 1.0)
		leg := uni(r, 0.03, 0.07)
		out := box(vec3{0, 0, ht}, vec3{w, d, 0.04})
		for _, sx := range []float64{-1, 1} {
			for _, sy := range []float64{-1, 1} {
				out = append(out, box(vec3{sx * (w - 0.1), sy * (d - 0.1), ht / 2}, vec3{leg, leg, ht / 2})...)
			}
		}
		return out
	case "chair":
		w, seat, back := uni(r, 0.4, 0.55), uni(r, 0.45, 0.6), uni(r, 0.5, 0.9)
		out := box(vec3{0, 0, seat}, vec3{w, w, 0.04})
		for _, sx := range []float64{-1, 1} {
			for _, sy := range []float64{-1, 1} {
				out = append(out, box(vec3{sx * (w - 0.05), sy * (w - 0.05), seat / 2}, vec3{0.035, 0.035, seat / 2})...)
			}
		}
		return append(out, box(vec3{0, w - 0.03, seat + back/2}, vec3{w, 0.03, back / 2})...)
	case "lamp":
		pole, shadeR := uni(r, 1.0, 1.5), uni(r, 0.4, 0.6)
		return []part{
			newFrustum(o, 0, 0.06, 0.4, 0.4), disc{o, 0, 0.4, 0.06},
			newFrustum(o, 0.06, pole, 0.03, 0.03),
			newFrustum(o, pole-0.2, pole+0.25, shadeR, shadeR*uni(r, 0.3, 0.6)),
		}
	case "mug":
		rad, h := uni(r, 0.4, 0.55), uni(r, 0.8, 1.2)
		hr := uni(r, 0.2, 0.3)
		return []part{
			newFrustum(o, 0, h, rad, rad), disc{o, 0, rad, 0},
			torus{vec3{rad, 0, h / 2}, vec3{0, 1, 0}, vec3{1, 0, 0}, vec3{0, 0, 1}, hr, 0.06, -math.Pi / 2, math.Pi / 2},
		}
	case "helix":
		return []part{helix{uni(r, 0.5, 0.7), uni(r, 1.5, 2.2), uni(r, 2, 4), uni(r, 0.06, 0.12)}}
	case "bowl":
		rad := uni(r, 0.7, 1)
		depth := rad * uni(r, 0.6, 0.95)
		return []part{sphereBand{vec3{0, 0, rad}, rad, -rad, -rad + depth}, disc{o, 0, rad * 0.4, 0}}
	}
	// dumbbell
	rb, bar := uni(r, 0.3, 0.45), uni(r, 0.6, 1.0)
	return []part{
		sphereBand{vec3{0, 0, bar}, rb, -rb, rb},
		sphereBand{vec3{0, 0, -bar}, rb, -rb, rb},
		newFrustum(o, -bar, bar, 0.08, 0.08),
	}
}

// deform applies the per-sample geometric variation in place: taper, bend,
// smooth warp, anisotropic scale and a pose (rotation about z plus a small
// tilt).
func deform(pts []vec3, r *rand.Rand) {
	taper, bend := uni(r, -0.25, 0.25), uni(r, -0.15, 0.15)
	amp := uni(r, 0, 0.04)
	var freq, phase vec3
	for k := range freq {
		freq[k], phase[k] = uni(r, 1, 3), uni(r, 0, 2*math.Pi)
	}
	scale := vec3{uni(r, 0.8, 1.25), uni(r, 0.8, 1.25), uni(r, 0.8, 1.25)}
	yaw, tx, ty := uni(r, 0, 2*math.Pi), uni(r, -0.15, 0.15), uni(r, -0.15, 0.15)
	rot := matMul(rotZ(yaw), matMul(rotX(tx), rotY(ty)))
	for i, p := range pts {
		f := 1 + taper*p[2]
		p[0], p[1] = p[0]*f, p[1]*f
		p[0] += bend * p[2] * p[2]
		q := p
		for k := 0; k < 3; k++ {
			p[k] += amp * math.Sin(freq[k]*q[(k+1)%3]+phase[k])
			p[k] *= scale[k]
		}
		pts[i] = matVec(rot, p)
	}
}

// planeCut removes the fraction cut of points lying farthest along a random
// direction, imitating occlusion by a plane.
func planeCut(pts []vec3, cut float64, r *rand.Rand) []vec3 {
	d := vec3{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
	d = d.scale(1 / math.Max(d.norm(), 1e-12))
	proj := make([]float64, len(pts))
	for i, p := range pts {
		proj[i] = p.dot(d)
	}
	sorted := slices.Clone(proj)
	slices.Sort(sorted)
	thr := sorted[int(float64(len(sorted)-1)*(1-cut))]
	kept := pts[:0]
	for i, p := range pts {
		if proj[i] <= thr {
			kept = append(kept, p)
		}
	}
	return kept
}

type mat3 [3][3]float64

func rotX(a float64) mat3 {
	c, s := math.Cos(a), math.Sin(a)
	return mat3{{1, 0, 0}, {0, c, -s}, {0, s, c}}
}

func rotY(a float64) mat3 {
	c, s := math.Cos(a), math.Sin(a)
	return mat3{{c, 0, s}, {0, 1, 0}, {-s, 0, c}}
}

func rotZ(a float64) mat3 {
	c, s := math.Cos(a), math.Sin(a)
	return mat3{{c, -s, 0}, {s, c, 0}, {0, 0, 1}}
}

func matMul(a, b mat3) mat3 {
	var m mat3
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				m[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return m
}

func matVec(m mat3, v vec3) vec3 {
	return vec3{vec3(m[0]).dot(v), vec3(m[1]).dot(v), vec3(m[2]).dot(v)}
}
