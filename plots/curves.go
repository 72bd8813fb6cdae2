package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Curves is the per-epoch history of a training run. Every non-nil series has one value
// per entry of Epochs; NaN or ±Inf marks a missing value (for example no validation at
// epoch 0, or a diverged loss) and is left out of the line.
type Curves struct {
	Title     string
	Epochs    []int
	TrainLoss []float64
	TrainAcc  []float64 // in percent
	ValAcc    []float64 // in percent
	LR        []float64
}

type series struct {
	name string
	vals []float64
}

// Series is one named curve over epochs (NaN or ±Inf marks a missing value).
type Series struct {
	Name   string
	Epochs []int
	Values []float64
}

// EpochCurves writes a PNG with one panel holding every series as its own line, such as
// the validation accuracy of every method of a study.
func EpochCurves(path, title, ylabel string, ss []Series) error {
	var in []series
	var epochs [][]int
	for _, s := range ss {
		if len(s.Values) != len(s.Epochs) {
			return fmt.Errorf("plots: EpochCurves: %s has %d values for %d epochs", s.Name, len(s.Values), len(s.Epochs))
		}
		in = append(in, series{s.Name, s.Values})
		epochs = append(epochs, s.Epochs)
	}
	p, err := curvePanel(nil, epochs, ylabel, in)
	if err != nil {
		return fmt.Errorf("plots: EpochCurves %s: %w", path, err)
	}
	if p == nil {
		return errors.New("plots: EpochCurves: no finite values in any series")
	}
	p.Title.Text = title
	return SavePNG(path, 9*vg.Inch, 4*vg.Inch, func(dc draw.Canvas) { p.Draw(dc) })
}

// TrainCurves writes a PNG with up to three stacked panels sharing the epoch axis: the
// training loss, the training and validation accuracy, and the learning rate. The
// learning rate has its own panel because its scale (1e-6…5e-4) has nothing in common
// with the others. A panel whose series are all nil or all missing is left out.
func TrainCurves(path string, c Curves) error {
	if len(c.Epochs) == 0 {
		return errors.New("plots: TrainCurves: no epochs")
	}
	for _, s := range []series{{"train loss", c.TrainLoss}, {"train accuracy", c.TrainAcc}, {"validation accuracy", c.ValAcc}, {"learning rate", c.LR}} {
		if s.vals != nil && len(s.vals) != len(c.Epochs) {
			return fmt.Errorf("plots: TrainCurves: %s has %d values for %d epochs", s.name, len(s.vals), len(c.Epochs))
		}
	}
	panels := []struct {
		ylabel string
		series []series
	}{
		{"loss", []series{{"train loss", c.TrainLoss}}},
		{"accuracy (%)", []series{{"train", c.TrainAcc}, {"validation", c.ValAcc}}},
		{"learning rate", []series{{"lr", c.LR}}},
	}
	var rows [][]*plot.Plot
	for _, pn := range panels {
		p, err := curvePanel(c.Epochs, nil, pn.ylabel, pn.series)
		if err != nil {
			return fmt.Errorf("plots: TrainCurves %s: %w", path, err)
		}
		if p != nil {
			rows = append(rows, []*plot.Plot{p})
		}
	}
	if len(rows) == 0 {
		return errors.New("plots: TrainCurves: no finite values in any series")
	}
	rows[0][0].Title.Text = c.Title
	// Only the bottom panel labels the shared epoch axis.
	for _, r := range rows[:len(rows)-1] {
		r[0].X.Label.Text = ""
	}
	w, h := 9*vg.Inch, vg.Length(len(rows))*2.6*vg.Inch+0.4*vg.Inch
	return SavePNG(path, w, h, func(dc draw.Canvas) {
		tiles := draw.Tiles{Rows: len(rows), Cols: 1, PadTop: 4, PadBottom: 4, PadLeft: 4, PadRight: 20, PadY: 10}
		canvases := plot.Align(rows, tiles, dc)
		for i, r := range rows {
			r[0].Draw(canvases[i][0])
		}
	})
}

// curvePanel makes one panel, or nil when none of its series has a finite value; the
// series share epochs, or each has its own in perSeries when that is not nil. The
// legend stays in gonum's default bottom-right corner, which rising accuracy curves
// leave empty.
func curvePanel(epochs []int, perSeries [][]int, ylabel string, ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	drawn := 0
	for i, s := range ss {
		ep := epochs
		if perSeries != nil {
			ep = perSeries[i]
		}
		var xys plotter.XYs
		for j, v := range s.vals {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				xys = append(xys, plotter.XY{X: float64(ep[j]), Y: v})
			}
		}
		if len(xys) == 0 {
			continue
		}
		col := plotutil.Color(i)
		if len(ss) == 1 {
			col = color.RGBA{R: 31, G: 87, B: 160, A: 255}
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		line.Color, line.Width = col, vg.Points(1.5)
		p.Add(line)
		// Markers only while they stay apart; they also make a single point visible.
		if len(xys) <= 40 {
			points.Color, points.Radius, points.Shape = col, vg.Points(2.2), draw.CircleGlyph{}
			p.Add(points)
		}
		// A lone series is named by the axis label; a legend would only hide data.
		if len(ss) > 1 {
			p.Legend.Add(s.name, line)
		}
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	return p, nil
}
