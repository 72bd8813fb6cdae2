package plots

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// maxCountClasses is the largest matrix whose cells carry their counts; beyond it the
// numbers no longer fit in a cell at a readable size.
const maxCountClasses = 15

// Confusion writes a confusion-matrix heat map: matrix[t][p] counts the samples of true
// class t predicted as p. Rows (true class) run top to bottom and columns (prediction)
// left to right, both labelled with the class names. Each cell's colour is its share of
// its row, so the diagonal reads as per-class recall whatever the class sizes; up to 15
// classes the raw counts are printed in the cells.
func Confusion(path string, classes []string, matrix [][]int, title string) error {
	n := len(classes)
	if n == 0 {
		return errors.New("plots: Confusion: no classes")
	}
	if len(matrix) != n {
		return fmt.Errorf("plots: Confusion: %d matrix rows for %d classes", len(matrix), n)
	}
	for i, row := range matrix {
		if len(row) != n {
			return fmt.Errorf("plots: Confusion: row %d (%s) has %d entries for %d classes", i, classes[i], len(row), n)
		}
		for j, v := range row {
			if v < 0 {
				return fmt.Errorf("plots: Confusion: negative count %d at [%s][%s]", v, classes[i], classes[j])
			}
		}
	}

	g := newConfusionGrid(matrix)
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "predicted class"
	p.Y.Label.Text = "true class (colour: share of the row)"
	hm := plotter.NewHeatMap(g, blues{})
	hm.Min, hm.Max = 0, 1
	// An empty row (a class with no samples) has no shares; show it as the lowest value.
	hm.NaN = blues{}.at(0)
	p.Add(hm)

	// Font and cell sizes shrink with the number of classes so 40 names stay legible.
	labelSize := vg.Points(10)
	cell := vg.Points(36)
	if n > maxCountClasses {
		labelSize, cell = vg.Points(7), vg.Points(16)
	}
	xt, yt := make(plot.ConstantTicks, n), make(plot.ConstantTicks, n)
	for i, name := range classes {
		xt[i] = plot.Tick{Value: float64(i), Label: name}
		yt[i] = plot.Tick{Value: g.y(i), Label: name}
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = xt, yt
	p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = labelSize, labelSize
	// Vertical column labels: long names side by side would overlap.
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = text.XRight, text.YCenter
	p.X.Padding, p.Y.Padding = 0, 0

	if n <= maxCountClasses {
		labels, err := countLabels(g, matrix)
		if err != nil {
			return fmt.Errorf("plots: Confusion %s: %w", path, err)
		}
		p.Add(labels)
	}

	longest := vg.Length(0)
	for _, name := range classes {
		longest = max(longest, p.X.Tick.Label.Width(name))
	}
	// The floor keeps the axis labels and the title of a tiny matrix from overflowing.
	side := max(vg.Length(n)*cell+longest+vg.Points(60), vg.Points(320))
	return SavePNG(path, side, side+vg.Points(20), func(dc draw.Canvas) { p.Draw(dc) })
}

// confusionGrid is the row-normalised matrix as a plotter.GridXYZ: column c is the
// predicted class c at x = c, and grid row r shows true class n-1-r at y = r, which puts
// class 0 at the top.
type confusionGrid struct {
	share [][]float64 // share[t][p]
}

func newConfusionGrid(m [][]int) confusionGrid {
	share := make([][]float64, len(m))
	for t, row := range m {
		sum := 0
		for _, v := range row {
			sum += v
		}
		share[t] = make([]float64, len(row))
		for p, v := range row {
			if sum == 0 {
				share[t][p] = math.NaN()
			} else {
				share[t][p] = float64(v) / float64(sum)
			}
		}
	}
	return confusionGrid{share: share}
}

// y is the plot coordinate of true class t.
func (g confusionGrid) y(t int) float64 { return float64(len(g.share) - 1 - t) }

func (g confusionGrid) Dims() (c, r int)   { return len(g.share), len(g.share) }
func (g confusionGrid) Z(c, r int) float64 { return g.share[len(g.share)-1-r][c] }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

// dark reports whether cell [t][p] is coloured dark enough to need white text.
func (g confusionGrid) dark(t, p int) bool { return g.share[t][p] > 0.55 }

// countLabels prints each count centred in its cell, white on dark cells.
func countLabels(g confusionGrid, m [][]int) (*plotter.Labels, error) {
	var xyl plotter.XYLabels
	var styles []text.Style
	for t, row := range m {
		for p, v := range row {
			xyl.XYs = append(xyl.XYs, plotter.XY{X: float64(p), Y: g.y(t)})
			xyl.Labels = append(xyl.Labels, strconv.Itoa(v))
			c := color.Color(color.Black)
			if g.dark(t, p) {
				c = color.White
			}
			sty := textStyle(vg.Points(9), c)
			sty.XAlign, sty.YAlign = text.XCenter, text.YCenter
			styles = append(styles, sty)
		}
	}
	l, err := plotter.NewLabels(xyl)
	if err != nil {
		return nil, err
	}
	l.TextStyle = styles
	return l, nil
}

// blues is a white-to-dark-blue palette, light enough at 0 for black text and dark
// enough at 1 for white text.
type blues struct{}

const paletteSize = 256

func (b blues) Colors() []color.Color {
	cs := make([]color.Color, paletteSize)
	for i := range cs {
		cs[i] = b.at(float64(i) / (paletteSize - 1))
	}
	return cs
}

func (blues) at(f float64) color.Color {
	lerp := func(a, b float64) uint8 { return uint8(a + (b-a)*f + 0.5) }
	return color.RGBA{R: lerp(247, 8), G: lerp(251, 48), B: lerp(255, 107), A: 255}
}
