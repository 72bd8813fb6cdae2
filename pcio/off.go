package pcio

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ReadOFF reads an OFF mesh. It accepts the malformed first line of some
// ModelNet files, where the counts follow the keyword without a newline
// ("OFF490 518 0"), and ignores per-vertex or per-face colours.
func ReadOFF(path string) (Cloud, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Cloud{}, err
	}
	c, err := DecodeOFF(b)
	if err != nil {
		return Cloud{}, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

// DecodeOFF decodes the bytes of an OFF file; see ReadOFF.
func DecodeOFF(b []byte) (Cloud, error) {
	c, err := decodeOFF(string(b))
	if err != nil {
		return Cloud{}, fmt.Errorf("off: %w", err)
	}
	return c, nil
}

// offLines yields the non-empty, comment-free lines of an OFF file.
type offLines struct {
	s    string
	line int
}

func (l *offLines) next() ([]string, bool) {
	for len(l.s) > 0 {
		var line string
		if i := strings.IndexByte(l.s, '\n'); i >= 0 {
			line, l.s = l.s[:i], l.s[i+1:]
		} else {
			line, l.s = l.s, ""
		}
		l.line++
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if f := strings.Fields(line); len(f) > 0 {
			return f, true
		}
	}
	return nil, false
}

func decodeOFF(s string) (Cloud, error) {
	l := &offLines{s: s}
	f, ok := l.next()
	if !ok {
		return Cloud{}, errors.New("empty file")
	}
	// The keyword is OFF with an optional variant prefix (COFF, NOFF, ...).
	k := strings.Index(f[0], "OFF")
	if k < 0 || strings.Trim(f[0][:k], "CNST4") != "" {
		return Cloud{}, errors.New("bad magic (not an OFF file)")
	}
	// "OFF490 518 0": the counts start right after the keyword.
	if rest := f[0][k+3:]; rest != "" {
		f[0] = rest
	} else {
		f = f[1:]
	}
	if len(f) == 0 {
		if f, ok = l.next(); !ok {
			return Cloud{}, errors.New("missing vertex/face counts")
		}
	}
	if len(f) < 2 {
		return Cloud{}, fmt.Errorf("line %d: expected vertex and face counts", l.line)
	}
	nv, err1 := strconv.Atoi(f[0])
	nf, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || nv < 0 || nf < 0 {
		return Cloud{}, fmt.Errorf("line %d: bad counts %q", l.line, strings.Join(f, " "))
	}
	// A vertex line needs at least 6 bytes and a face line 2; this bounds the
	// allocations by the file size.
	if !countFits(int64(nv), 6, int64(len(l.s))+8) || !countFits(int64(nf), 2, int64(len(l.s))+8) ||
		6*int64(nv)+2*int64(nf) > int64(len(l.s))+8 {
		return Cloud{}, fmt.Errorf("header claims %d vertices and %d faces but only %d bytes follow", nv, nf, len(l.s))
	}
	c := Cloud{Points: make([]float32, 0, nv*3)}
	for i := 0; i < nv; i++ {
		f, ok := l.next()
		if !ok {
			return Cloud{}, fmt.Errorf("truncated: %d of %d vertices", i, nv)
		}
		if len(f) < 3 {
			return Cloud{}, fmt.Errorf("line %d: vertex needs x y z", l.line)
		}
		for _, t := range f[:3] {
			v, err := strconv.ParseFloat(t, 32)
			if err != nil {
				return Cloud{}, fmt.Errorf("line %d: bad number %q", l.line, t)
			}
			c.Points = append(c.Points, float32(v))
		}
	}
	var poly []int32
	for i := 0; i < nf; i++ {
		f, ok := l.next()
		if !ok {
			return Cloud{}, fmt.Errorf("truncated: %d of %d faces", i, nf)
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 0 || n > len(f)-1 {
			return Cloud{}, fmt.Errorf("line %d: bad face %q", l.line, strings.Join(f, " "))
		}
		poly = poly[:0]
		for _, t := range f[1 : n+1] {
			v, err := strconv.ParseInt(t, 10, 32)
			if err != nil {
				return Cloud{}, fmt.Errorf("line %d: bad vertex index %q", l.line, t)
			}
			poly = append(poly, int32(v))
		}
		c.Faces = fanTriangulate(c.Faces, poly)
	}
	if err := checkPoints(c.Points); err != nil {
		return Cloud{}, err
	}
	if err := checkFaces(c.Faces, nv); err != nil {
		return Cloud{}, err
	}
	return c, nil
}
