package geom

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNormalizeUnitSphere(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	b, n := 5, 500
	p := randCloud(rng, b, n)
	for i := range p { // shift and stretch each cloud differently
		p[i] = p[i]*float32(3+i/(n*3)) + 7
	}
	if err := NormalizeUnitSphere(p, b, n); err != nil {
		t.Fatal(err)
	}
	for bi := range b {
		var c [3]float64
		maxN := 0.0
		for i := range n {
			q := p[(bi*n+i)*3:]
			for a := range 3 {
				c[a] += float64(q[a]) / float64(n)
			}
			maxN = max(maxN, math.Sqrt(float64(q[0])*float64(q[0])+float64(q[1])*float64(q[1])+float64(q[2])*float64(q[2])))
		}
		for a := range 3 {
			if math.Abs(c[a]) > 1e-5 {
				t.Fatalf("cloud %d centroid %v", bi, c)
			}
		}
		if math.Abs(maxN-1) > 1e-6 {
			t.Fatalf("cloud %d max norm %v", bi, maxN)
		}
	}
	// A collapsed cloud is an error and the input is left untouched.
	q := []float32{1, 2, 3, 4, 5, 6, 2, 2, 2, 2, 2, 2}
	orig := slices.Clone(q)
	if err := NormalizeUnitSphere(q, 2, 2); err == nil {
		t.Fatal("want error for a cloud of coincident points")
	}
	if !slices.Equal(q, orig) {
		t.Fatal("input modified on error")
	}
}

// scaleShift recovers the per-axis affine map applied to a cloud from its
// first two points.
func scaleShift(before, after []float32, a int) (s, sh float64) {
	s = float64(after[3+a]-after[a]) / float64(before[3+a]-before[a])
	return s, float64(after[a]) - s*float64(before[a])
}

func TestScaleTranslateRangesAndSeed(t *testing.T) {
	b, n := 400, 8
	base := randCloud(rand.New(rand.NewPCG(23, 24)), b, n)
	for bi := range b { // well-separated anchors to read the map off
		copy(base[bi*n*3:], []float32{-1, -1, -1, 1, 1, 1})
	}
	p := slices.Clone(base)
	if err := ScaleTranslate(p, b, n, ScaleLow, ScaleHigh, TranslateRange, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	lo, hi, tlo, thi := 9.0, 0.0, 9.0, -9.0
	for bi := range b {
		c0, c1 := base[bi*n*3:], p[bi*n*3:]
		for a := range 3 {
			s, sh := scaleShift(c0, c1, a)
			lo, hi, tlo, thi = min(lo, s), max(hi, s), min(tlo, sh), max(thi, sh)
			for i := range n { // the same affine map for every point
				if d := float64(c1[3*i+a]) - (s*float64(c0[3*i+a]) + sh); math.Abs(d) > 1e-5 {
					t.Fatalf("cloud %d axis %d point %d off the affine map by %g", bi, a, i, d)
				}
			}
		}
	}
	const tol = 1e-4
	if lo < ScaleLow-tol || hi > ScaleHigh+tol || tlo < -TranslateRange-tol || thi > TranslateRange+tol {
		t.Fatalf("out of range: scale [%g, %g], shift [%g, %g]", lo, hi, tlo, thi)
	}
	// 1200 draws per range: the extremes come within 2% of the ends.
	if lo > ScaleLow+0.02 || hi < ScaleHigh-0.02 || tlo > -0.19 || thi < 0.19 {
		t.Fatalf("range not covered: scale [%g, %g], shift [%g, %g]", lo, hi, tlo, thi)
	}
	q := slices.Clone(base)
	_ = ScaleTranslate(q, b, n, ScaleLow, ScaleHigh, TranslateRange, rand.New(rand.NewPCG(1, 1)))
	if !slices.Equal(p, q) {
		t.Fatal("same seed, different output")
	}
	_ = ScaleTranslate(q, b, n, ScaleLow, ScaleHigh, TranslateRange, rand.New(rand.NewPCG(1, 2)))
	if slices.Equal(p, q) {
		t.Fatal("different seed, same output")
	}
}

func TestScaleOnly(t *testing.T) {
	b, n := 300, 4
	base := randCloud(rand.New(rand.NewPCG(25, 26)), b, n)
	p := slices.Clone(base)
	if err := Scale(p, b, n, MildScaleLow, MildScaleHigh, rand.New(rand.NewPCG(2, 2))); err != nil {
		t.Fatal(err)
	}
	for i := range p {
		bi, a := i/(n*3), i%3
		s := float64(p[bi*n*3+a]) / float64(base[bi*n*3+a])
		if s < MildScaleLow-1e-6 || s > MildScaleHigh+1e-6 {
			t.Fatalf("scale %g out of [0.9, 1.1]", s)
		}
		if math.Abs(float64(p[i])-s*float64(base[i])) > 1e-6 {
			t.Fatalf("coordinate %d: not a per-axis scale (no translation expected)", i)
		}
	}
}

func TestRotateUp(t *testing.T) {
	b, n := 6, 50
	base := randCloud(rand.New(rand.NewPCG(27, 28)), b, n)
	for _, up := range []Axis{AxisX, AxisY, AxisZ} {
		for _, per := range []bool{false, true} {
			p := slices.Clone(base)
			ang, err := RotateUp(p, b, n, up, per, rand.New(rand.NewPCG(3, uint64(up))))
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 1, true: b}[per]; len(ang) != want {
				t.Fatalf("%d angles, want %d", len(ang), want)
			}
			for _, a := range ang {
				if a < -math.Pi || a > math.Pi {
					t.Fatalf("angle %g outside [-π, π]", a)
				}
			}
			u, v := planeAxes(up)
			for i := range b * n {
				q0, q1 := base[3*i:3*i+3], p[3*i:3*i+3]
				if q0[up] != q1[up] {
					t.Fatalf("up coordinate changed")
				}
				n0 := math.Hypot(float64(q0[u]), float64(q0[v]))
				n1 := math.Hypot(float64(q1[u]), float64(q1[v]))
				if math.Abs(n0-n1) > 1e-6 {
					t.Fatalf("norm not preserved: %g vs %g", n0, n1)
				}
				th := ang[0]
				if per {
					th = ang[i/n]
				}
				got := math.Atan2(float64(q1[v]), float64(q1[u])) - math.Atan2(float64(q0[v]), float64(q0[u]))
				if d := math.Remainder(got-th, 2*math.Pi); math.Abs(d) > 1e-5 {
					t.Fatalf("rotated by %g, want %g", got, th)
				}
			}
		}
	}
	// Reference matrices at θ = π/2: y-up p@[[c,0,s],[0,1,0],[-s,0,c]] sends
	// (1,0,0) to (0,0,1); z-up p@[[c,s,0],[-s,c,0],[0,0,1]] sends it to (0,1,0).
	for _, tc := range []struct {
		up   Axis
		want []float32
	}{{AxisY, []float32{0, 0, 1}}, {AxisZ, []float32{0, 1, 0}}} {
		p := []float32{1, 0, 0}
		if err := RotateAbout(p, 1, 1, tc.up, []float64{math.Pi / 2}); err != nil {
			t.Fatal(err)
		}
		for a := range 3 {
			if math.Abs(float64(p[a]-tc.want[a])) > 1e-7 {
				t.Fatalf("up=%v: got %v want %v", tc.up, p, tc.want)
			}
		}
	}
	// One shared angle rotates every cloud alike.
	p := slices.Clone(base)
	_, _ = RotateUp(p, b, n, AxisY, false, rand.New(rand.NewPCG(4, 4)))
	q := slices.Clone(base)
	ang, _ := RotateUp(q[:n*3], 1, n, AxisY, false, rand.New(rand.NewPCG(4, 4)))
	_ = RotateAbout(q[n*3:], b-1, n, AxisY, ang)
	if !slices.Equal(p, q) {
		t.Fatal("batch angle not shared / not seeded")
	}
}
