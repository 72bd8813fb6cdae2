package pcio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/pointpeft/pointpeft/internal/atomicfile"
)

// ReadTXT reads a text point cloud (.txt or .xyz): one point per line, values
// separated by commas and/or whitespace, at least x y z per line and the same
// number of columns on every line. Blank lines and lines starting with '#' or
// '//' are skipped. Columns after xyz become extra channels; with exactly six
// columns they are named nx, ny, nz (ModelNet's normal-resampled files),
// otherwise c3, c4, ...
func ReadTXT(path string) (Cloud, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Cloud{}, err
	}
	c, err := DecodeTXT(b)
	if err != nil {
		return Cloud{}, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

// DecodeTXT decodes the bytes of a text point cloud; see ReadTXT.
func DecodeTXT(b []byte) (Cloud, error) {
	s := string(b)
	var data []float32
	cols, lineNo := 0, 0
	for len(s) > 0 {
		lineNo++
		var line string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			line, s = s, ""
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "//") {
			continue
		}
		n := 0
		for len(line) > 0 {
			end := strings.IndexAny(line, ", \t;")
			var field string
			if end < 0 {
				field, line = line, ""
			} else {
				field, line = line[:end], line[end+1:]
			}
			if field == "" {
				continue
			}
			v, err := strconv.ParseFloat(field, 32)
			if err != nil {
				return Cloud{}, fmt.Errorf("txt: line %d: bad number %q", lineNo, field)
			}
			data = append(data, float32(v))
			n++
		}
		if n == 0 {
			continue
		}
		if cols == 0 {
			if n < 3 {
				return Cloud{}, fmt.Errorf("txt: line %d: %d columns, need at least x y z", lineNo, n)
			}
			cols = n
		} else if n != cols {
			return Cloud{}, fmt.Errorf("txt: line %d: %d columns, earlier lines have %d", lineNo, n, cols)
		}
	}
	if cols == 0 {
		return Cloud{}, errors.New("txt: no points")
	}
	c, err := splitColumns(data, len(data)/cols, cols)
	if err != nil {
		return Cloud{}, fmt.Errorf("txt: %w", err)
	}
	return c, nil
}

// WriteTXT writes c as comma-separated text, one point per line: x,y,z
// followed by the extra channels.
func WriteTXT(path string, c Cloud) error {
	if err := c.check(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		k := len(c.ExtraNames)
		var line []byte
		for i := 0; i < c.Len(); i++ {
			line = line[:0]
			for j := 0; j < 3; j++ {
				if j > 0 {
					line = append(line, ',')
				}
				line = strconv.AppendFloat(line, float64(c.Points[i*3+j]), 'g', -1, 32)
			}
			for j := 0; j < k; j++ {
				line = append(line, ',')
				line = strconv.AppendFloat(line, float64(c.Extra[i*k+j]), 'g', -1, 32)
			}
			line = append(line, '\n')
			if _, err := w.Write(line); err != nil {
				return err
			}
		}
		return nil
	})
}

// check validates the slice lengths of a cloud before it is written.
func (c Cloud) check() error {
	if len(c.Points)%3 != 0 {
		return fmt.Errorf("%d coordinates is not a multiple of 3", len(c.Points))
	}
	if len(c.Extra) != c.Len()*len(c.ExtraNames) {
		return fmt.Errorf("%d extra values for %d points and %d channels", len(c.Extra), c.Len(), len(c.ExtraNames))
	}
	if len(c.Faces)%3 != 0 {
		return fmt.Errorf("%d face indices is not a multiple of 3", len(c.Faces))
	}
	return checkFaces(c.Faces, c.Len())
}
