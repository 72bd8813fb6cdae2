package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// View angles of the cloud pictures. The clouds are y-up (the augmentation rotates
// about y), so elevation tilts the camera up from the x-z plane and azimuth turns it
// about y.
const (
	elevation = 30 * math.Pi / 180
	azimuth   = 45 * math.Pi / 180
)

// Tile geometry of Clouds.
const (
	cloudSide  = vg.Length(190) // the square the projected cloud fits in
	titleSpace = vg.Length(18)
	tilePad    = vg.Length(6)
)

// Clouds writes a grid of point-cloud pictures, cols per row, each under its title.
// clouds[i] holds points as x0,y0,z0,x1,y1,z1,…; every cloud is centred and scaled to
// fill its tile, projected orthographically from 30° elevation and 45° azimuth, and
// drawn far points first with nearer points darker and larger, so depth stays readable
// without a renderer. wrong may be nil; otherwise wrong[i] draws title i in red (for
// example a misclassified sample).
func Clouds(path string, clouds [][]float32, titles []string, wrong []bool, cols int) error {
	n := len(clouds)
	switch {
	case n == 0:
		return errors.New("plots: Clouds: no clouds")
	case cols <= 0:
		return fmt.Errorf("plots: Clouds: %d columns", cols)
	case len(titles) != n:
		return fmt.Errorf("plots: Clouds: %d titles for %d clouds", len(titles), n)
	case wrong != nil && len(wrong) != n:
		return fmt.Errorf("plots: Clouds: %d wrong flags for %d clouds", len(wrong), n)
	}
	views := make([][]projected, n)
	for i, c := range clouds {
		if len(c) == 0 || len(c)%3 != 0 {
			return fmt.Errorf("plots: Clouds: cloud %d has %d values, want a positive multiple of 3", i, len(c))
		}
		v, err := project(c)
		if err != nil {
			return fmt.Errorf("plots: Clouds: cloud %d: %w", i, err)
		}
		views[i] = v
	}
	cols = min(cols, n)
	rows := (n + cols - 1) / cols
	tileW, tileH := cloudSide+2*tilePad, cloudSide+titleSpace+2*tilePad
	return SavePNG(path, vg.Length(cols)*tileW, vg.Length(rows)*tileH, func(dc draw.Canvas) {
		for i, v := range views {
			r, c := i/cols, i%cols
			// vg's origin is bottom left; row 0 is the top row.
			x0 := dc.Min.X + vg.Length(c)*tileW + tilePad
			y0 := dc.Max.Y - vg.Length(r+1)*tileH + tilePad
			drawCloud(&dc, v, x0, y0)
			col := color.Color(color.Black)
			if wrong != nil && wrong[i] {
				col = color.RGBA{R: 200, A: 255}
			}
			sty := textStyle(vg.Points(10), col)
			sty.XAlign, sty.YAlign = text.XCenter, text.YTop
			dc.FillText(sty, vg.Point{X: x0 + cloudSide/2, Y: y0 + cloudSide + titleSpace}, titles[i])
		}
	})
}

// projected is one point on the picture plane: x, y in [-1, 1] and depth in [0, 1]
// (1 nearest to the camera).
type projected struct{ x, y, depth float64 }

// project centres the cloud on its bounding-box centre, rotates it into the camera
// frame, scales it into the unit square and sorts it far to near for painting.
func project(c []float32) ([]projected, error) {
	n := len(c) / 3
	lo := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for i, v := range c {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("point %d is not finite", i/3)
		}
		lo[i%3], hi[i%3] = min(lo[i%3], f), max(hi[i%3], f)
	}
	var centre [3]float64
	for k := range centre {
		centre[k] = (lo[k] + hi[k]) / 2
	}
	// Camera basis for a y-up scene: right = up × view, screen-up = view × right.
	se, ce := math.Sin(elevation), math.Cos(elevation)
	sa, ca := math.Sin(azimuth), math.Cos(azimuth)
	view := [3]float64{sa * ce, se, ca * ce}
	right := [3]float64{ca, 0, -sa}
	up := [3]float64{-se * sa, ce, -se * ca}
	dot := func(a [3]float64, p [3]float64) float64 { return a[0]*p[0] + a[1]*p[1] + a[2]*p[2] }

	out := make([]projected, n)
	var extent, dmin, dmax = 0.0, math.Inf(1), math.Inf(-1)
	for i := range out {
		p := [3]float64{float64(c[3*i]) - centre[0], float64(c[3*i+1]) - centre[1], float64(c[3*i+2]) - centre[2]}
		out[i] = projected{x: dot(right, p), y: dot(up, p), depth: dot(view, p)}
		extent = max(extent, math.Abs(out[i].x), math.Abs(out[i].y))
		dmin, dmax = min(dmin, out[i].depth), max(dmax, out[i].depth)
	}
	// A single point (or all points equal) has no extent; keep it at the centre.
	scale, dspan := 1.0, dmax-dmin
	if extent > 0 {
		scale = 1 / extent
	}
	for i := range out {
		out[i].x *= scale
		out[i].y *= scale
		if dspan > 0 {
			out[i].depth = (out[i].depth - dmin) / dspan
		} else {
			out[i].depth = 1
		}
	}
	slices.SortStableFunc(out, func(a, b projected) int {
		switch {
		case a.depth < b.depth:
			return -1
		case a.depth > b.depth:
			return 1
		}
		return 0
	})
	return out, nil
}

// drawCloud paints v into the cloudSide square whose bottom-left corner is (x0, y0).
func drawCloud(dc *draw.Canvas, v []projected, x0, y0 vg.Length) {
	// Thin frame so neighbouring tiles read as separate pictures.
	frame := color.Gray{Y: 225}
	dc.StrokeLines(draw.LineStyle{Color: frame, Width: vg.Points(0.5)}, []vg.Point{
		{X: x0, Y: y0}, {X: x0 + cloudSide, Y: y0}, {X: x0 + cloudSide, Y: y0 + cloudSide},
		{X: x0, Y: y0 + cloudSide}, {X: x0, Y: y0},
	})
	half := cloudSide / 2 * 0.92 // margin so edge points are not cut
	cx, cy := x0+cloudSide/2, y0+cloudSide/2
	// Dense clouds need smaller dots to keep the shape visible.
	radius := vg.Points(1.3)
	if len(v) > 4096 {
		radius = vg.Points(0.8)
	}
	for _, p := range v {
		// Far points light blue-grey, near points dark navy.
		shade := func(far, near float64) uint8 { return uint8(far + (near-far)*p.depth + 0.5) }
		sty := draw.GlyphStyle{
			Color:  color.RGBA{R: shade(185, 15), G: shade(200, 40), B: shade(220, 110), A: 255},
			Radius: radius * vg.Length(0.7+0.5*p.depth),
			Shape:  draw.CircleGlyph{},
		}
		dc.DrawGlyphNoClip(sty, vg.Point{X: cx + half*vg.Length(p.x), Y: cy + half*vg.Length(p.y)})
	}
}
