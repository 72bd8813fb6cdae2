package plots

import (
	"bytes"
	"fmt"
	"image/color"

	"github.com/pointpeft/pointpeft/internal/atomicfile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// dpi fixes the pixel size of every picture: a w×h vg.Length canvas becomes
// w/72·dpi × h/72·dpi pixels, rounded.
const dpi = 96

// SavePNG renders a w×h canvas with paint on white at the package's fixed DPI and writes
// it to path atomically.
func SavePNG(path string, w, h vg.Length, paint func(dc draw.Canvas)) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	paint(draw.New(img))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return fmt.Errorf("plots: encoding %s: %w", path, err)
	}
	return atomicfile.WriteBytes(path, buf.Bytes())
}

// textStyle is plain text in the default (bundled) font.
func textStyle(size vg.Length, c color.Color) text.Style {
	return text.Style{
		Color:   c,
		Font:    font.From(plot.DefaultFont, size),
		Handler: plot.DefaultTextHandler,
	}
}
