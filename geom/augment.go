package geom

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Reference augmentation constants.
const (
	// ScaleLow, ScaleHigh and TranslateRange are Point-MAE's
	// PointcloudScaleAndTranslate defaults (ScanObjectNN / ModelNet40
	// fine-tuning and pre-training).
	ScaleLow       = 2.0 / 3.0
	ScaleHigh      = 3.0 / 2.0
	TranslateRange = 0.2
	// MildScaleLow and MildScaleHigh are the U(0.9, 1.1) per-axis scale used
	// by the scale-only augmentation.
	MildScaleLow  = 0.9
	MildScaleHigh = 1.1
)

// Axis names a coordinate axis.
type Axis int

// Coordinate axes. Point-MAE's ScanObjectNN data is y-up; the ModelNet40
// .npy/.dat files are z-up.
const (
	AxisX Axis = iota
	AxisY
	AxisZ
)

func (a Axis) String() string {
	switch a {
	case AxisX:
		return "x"
	case AxisY:
		return "y"
	case AxisZ:
		return "z"
	}
	return fmt.Sprintf("Axis(%d)", int(a))
}

func checkRNG(what string, rng *rand.Rand) error {
	if rng == nil {
		return fmt.Errorf("%w: %s: nil rng", ErrArgument, what)
	}
	return nil
}

func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }

// ScaleTranslate is Point-MAE's PointcloudScaleAndTranslate, in place: for
// every cloud it draws a per-axis scale s ~ U(lo, hi)^3 and a per-axis shift
// t ~ U(-translate, translate)^3 and maps p -> p*s + t. The reference draws
// the three scales, then the three shifts, per cloud in batch order; so does
// this (from rng, not numpy's stream). translate = 0 gives a pure scale.
// Use ScaleLow, ScaleHigh, TranslateRange for the reference setting.
func ScaleTranslate(points []float32, b, n int, lo, hi, translate float64, rng *rand.Rand) error {
	if err := checkCloud("ScaleTranslate points", points, b, n); err != nil {
		return err
	}
	if !(lo > 0 && lo <= hi) || math.IsInf(hi, 0) {
		return fmt.Errorf("%w: ScaleTranslate: scale range [%g, %g], want 0 < lo <= hi < Inf", ErrArgument, lo, hi)
	}
	if !(translate >= 0) || math.IsInf(translate, 0) {
		return fmt.Errorf("%w: ScaleTranslate: translate = %g, want finite >= 0", ErrArgument, translate)
	}
	if err := checkRNG("ScaleTranslate", rng); err != nil {
		return err
	}
	for bi := range b {
		var s, t [3]float32
		for a := range 3 {
			s[a] = float32(uniform(rng, lo, hi))
		}
		for a := range 3 {
			t[a] = float32(uniform(rng, -translate, translate))
		}
		p := points[bi*n*3 : (bi+1)*n*3]
		for i := 0; i < len(p); i += 3 {
			for a := range 3 {
				p[i+a] = float32(p[i+a]*s[a]) + t[a]
			}
		}
	}
	return nil
}

// Scale is the scale-only augmentation, in place: a per-cloud, per-axis
// scale U(lo, hi)^3 (the reference PointcloudScale, applied with
// MildScaleLow, MildScaleHigh for U(0.9, 1.1)). No translation is drawn.
func Scale(points []float32, b, n int, lo, hi float64, rng *rand.Rand) error {
	if err := checkCloud("Scale points", points, b, n); err != nil {
		return err
	}
	if !(lo > 0 && lo <= hi) || math.IsInf(hi, 0) {
		return fmt.Errorf("%w: Scale: scale range [%g, %g], want 0 < lo <= hi < Inf", ErrArgument, lo, hi)
	}
	if err := checkRNG("Scale", rng); err != nil {
		return err
	}
	for bi := range b {
		var s [3]float32
		for a := range 3 {
			s[a] = float32(uniform(rng, lo, hi))
		}
		p := points[bi*n*3 : (bi+1)*n*3]
		for i := 0; i < len(p); i += 3 {
			for a := range 3 {
				p[i+a] *= s[a]
			}
		}
	}
	return nil
}

// planeAxes returns the two axes spanning the plane normal to up, in
// increasing order: (y,z) for x, (x,z) for y, (x,y) for z.
func planeAxes(up Axis) (int, int) {
	switch up {
	case AxisX:
		return 1, 2
	case AxisY:
		return 0, 2
	}
	return 0, 1
}

// RotateAbout rotates clouds in place about the up axis by the given angles
// (radians): one angle for the whole batch (len(angles) == 1) or one per
// cloud (len(angles) == b). With (u, v) the two other axes in increasing
// order, the map is u' = u cos θ - v sin θ, v' = u sin θ + v cos θ, which is
// the reference row-vector convention p @ R for both y-up (Point-MAE's
// PointcloudRotate, R = [[c,0,s],[0,1,0],[-s,0,c]]) and z-up (PointNet's
// rotate_point_cloud_z, R = [[c,s,0],[-s,c,0],[0,0,1]]). Norms and the up
// coordinate are preserved.
func RotateAbout(points []float32, b, n int, up Axis, angles []float64) error {
	if err := checkCloud("RotateAbout points", points, b, n); err != nil {
		return err
	}
	if up < AxisX || up > AxisZ {
		return fmt.Errorf("%w: RotateAbout: up axis %v", ErrArgument, up)
	}
	if len(angles) != 1 && len(angles) != b {
		return fmt.Errorf("%w: RotateAbout: %d angles, want 1 or b = %d", ErrShape, len(angles), b)
	}
	for i, a := range angles {
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return fmt.Errorf("%w: RotateAbout: angle %d is %g", ErrArgument, i, a)
		}
	}
	u, v := planeAxes(up)
	parallelRange(b, 1, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			th := angles[0]
			if len(angles) == b {
				th = angles[bi]
			}
			sn, cs := math.Sincos(th)
			c, s := float32(cs), float32(sn)
			p := points[bi*n*3 : (bi+1)*n*3]
			for i := 0; i < len(p); i += 3 {
				pu, pv := p[i+u], p[i+v]
				p[i+u] = float32(pu*c) - float32(pv*s)
				p[i+v] = float32(pu*s) + float32(pv*c)
			}
		}
	})
	return nil
}

// RotateUp draws rotation angles U(-π, π) and applies RotateAbout: one angle
// for the whole batch, or one per cloud when perSample is set (Point-MAE's
// PointcloudRotate draws one per cloud; U(0, 2π) there is the same rotation
// distribution). It returns the angles used.
func RotateUp(points []float32, b, n int, up Axis, perSample bool, rng *rand.Rand) ([]float64, error) {
	if err := checkCloud("RotateUp points", points, b, n); err != nil {
		return nil, err
	}
	if err := checkRNG("RotateUp", rng); err != nil {
		return nil, err
	}
	cnt := 1
	if perSample {
		cnt = b
	}
	angles := make([]float64, cnt)
	for i := range angles {
		angles[i] = uniform(rng, -math.Pi, math.Pi)
	}
	if err := RotateAbout(points, b, n, up, angles); err != nil {
		return nil, err
	}
	return angles, nil
}
