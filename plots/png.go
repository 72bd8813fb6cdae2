package plots

import (
	"bytes"
	"fmt"
	"image/color"
	"os"
	"path/filepath"

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

// savePNG renders a w×h canvas with paint and writes it to path atomically.
func savePNG(path string, w, h vg.Length, paint func(dc draw.Canvas)) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	paint(draw.New(img))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return fmt.Errorf("plots: encoding %s: %w", path, err)
	}
	return writeAtomic(path, buf.Bytes())
}

// writeAtomic writes data to a temporary file next to path and renames it over path.
// The temporary file lives in the same directory because rename is only atomic within
// one file system.
func writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("plots: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("plots: writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("plots: writing %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; a picture is meant to be shared like any output.
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("plots: writing %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("plots: writing %s: %w", path, err)
	}
	return nil
}

// textStyle is plain text in the default (bundled) font.
func textStyle(size vg.Length, c color.Color) text.Style {
	return text.Style{
		Color:   c,
		Font:    font.From(plot.DefaultFont, size),
		Handler: plot.DefaultTextHandler,
	}
}
