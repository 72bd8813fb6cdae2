package bench

import (
	"fmt"

	"github.com/pointpeft/pointpeft/plots"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// WriteScalingPNG plots step time and its FPS+kNN part against batch size (left) and
// point count (right), and writes the PNG atomically.
func WriteScalingPNG(path, title string, pts []ScalePoint) error {
	panels := make([][]*plot.Plot, 1)
	for _, sw := range []struct{ sweep, xlabel string }{{"batch", "batch size"}, {"points", "points per cloud"}} {
		var step, grp plotter.XYs
		fixed := ""
		for _, p := range pts {
			if p.Sweep != sw.sweep || p.Skipped != "" {
				continue
			}
			x := float64(p.Batch)
			fixed = fmt.Sprintf("%d points", p.Points)
			if sw.sweep == "points" {
				x = float64(p.Points)
				fixed = fmt.Sprintf("batch %d", p.Batch)
			}
			step = append(step, plotter.XY{X: x, Y: p.Result.StepSeconds})
			grp = append(grp, plotter.XY{X: x, Y: p.Result.GroupSeconds})
		}
		if len(step) == 0 {
			continue
		}
		pl := plot.New()
		pl.Title.Text = fmt.Sprintf("%s, %s", title, fixed)
		pl.X.Label.Text, pl.Y.Label.Text = sw.xlabel, "seconds per step"
		pl.Add(plotter.NewGrid())
		for i, s := range []struct {
			name string
			xys  plotter.XYs
		}{{"step", step}, {"FPS+kNN", grp}} {
			line, marks, err := plotter.NewLinePoints(s.xys)
			if err != nil {
				return fmt.Errorf("scaling plot %s: %w", s.name, err)
			}
			col := plotutil.Color(i)
			line.Color, line.Width = col, vg.Points(1.5)
			marks.Color, marks.Radius, marks.Shape = col, vg.Points(2.5), draw.CircleGlyph{}
			pl.Add(line, marks)
			pl.Legend.Add(s.name, line, marks)
		}
		pl.Legend.Top, pl.Legend.Left = true, true
		panels[0] = append(panels[0], pl)
	}
	if len(panels[0]) == 0 {
		return fmt.Errorf("scaling plot: no points")
	}
	w, h := vg.Points(float64(360*len(panels[0]))), vg.Points(280)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels[0]), PadX: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	return plots.SavePNG(path, w, h, func(dc draw.Canvas) {
		canvases := plot.Align(panels, tiles, dc)
		for i, pl := range panels[0] {
			pl.Draw(canvases[0][i])
		}
	})
}
