package pcio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/pointpeft/pointpeft/internal/atomicfile"
)

// plyTypes are PLY's scalar types, by both their names.
var plyTypes = map[string]scalarType{
	"char": {'i', 1}, "int8": {'i', 1},
	"uchar": {'u', 1}, "uint8": {'u', 1},
	"short": {'i', 2}, "int16": {'i', 2},
	"ushort": {'u', 2}, "uint16": {'u', 2},
	"int": {'i', 4}, "int32": {'i', 4},
	"uint": {'u', 4}, "uint32": {'u', 4},
	"float": {'f', 4}, "float32": {'f', 4},
	"double": {'f', 8}, "float64": {'f', 8},
}

type plyProp struct {
	name  string
	typ   scalarType
	list  bool
	count scalarType // type of the list length
}

type plyElement struct {
	name  string
	count int64
	props []plyProp
}

// minSize is the smallest number of bytes one element can take in a binary
// file (lists may be empty).
func (e *plyElement) minSize() int64 {
	var n int64
	for _, p := range e.props {
		if p.list {
			n += int64(p.count.size)
		} else {
			n += int64(p.typ.size)
		}
	}
	return n
}

// ReadPLY reads a PLY file (ascii, binary_little_endian or
// binary_big_endian). All scalar vertex properties are read: x, y, z become
// Points and the others Extra channels, by name. Faces given as
// vertex_indices or vertex_index lists are fan-triangulated into Faces.
func ReadPLY(path string) (Cloud, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Cloud{}, err
	}
	c, err := DecodePLY(b)
	if err != nil {
		return Cloud{}, fmt.Errorf("read %s: %w", path, err)
	}
	return c, nil
}

// DecodePLY decodes the bytes of a PLY file; see ReadPLY.
func DecodePLY(b []byte) (Cloud, error) {
	c, err := decodePLY(b)
	if err != nil {
		return Cloud{}, fmt.Errorf("ply: %w", err)
	}
	return c, nil
}

func decodePLY(b []byte) (Cloud, error) {
	format, elems, body, err := parsePLYHeader(b)
	if err != nil {
		return Cloud{}, err
	}
	var r plyReader
	switch format {
	case "ascii":
		r = &plyASCII{s: string(body)}
	case "binary_little_endian":
		r = &plyBinary{b: body, order: binary.LittleEndian}
	case "binary_big_endian":
		r = &plyBinary{b: body, order: binary.BigEndian}
	default:
		return Cloud{}, fmt.Errorf("%w format %q", ErrUnsupported, format)
	}
	var c Cloud
	nverts := -1
	for ei := range elems {
		e := &elems[ei]
		// Bound the element count by the bytes left before allocating.
		minSize := e.minSize()
		if format == "ascii" {
			minSize = 2 * int64(len(e.props))
		}
		if !countFits(e.count, minSize, int64(r.left())+1) {
			return Cloud{}, fmt.Errorf("element %s: count %d does not fit in the %d bytes left", e.name, e.count, r.left())
		}
		switch e.name {
		case "vertex":
			if nverts >= 0 {
				return Cloud{}, errors.New("two vertex elements")
			}
			nverts = int(e.count)
			if err := readPLYVertices(r, e, &c); err != nil {
				return Cloud{}, err
			}
		case "face":
			if err := readPLYFaces(r, e, &c); err != nil {
				return Cloud{}, err
			}
		default:
			if err := skipPLYElement(r, e); err != nil {
				return Cloud{}, err
			}
		}
	}
	if nverts < 0 {
		return Cloud{}, errors.New("no vertex element")
	}
	if rest := r.rest(); len(rest) > 0 {
		return Cloud{}, fmt.Errorf("%d bytes of data after the declared elements (the header declares %d vertices; the file holds more)", len(rest), nverts)
	}
	if err := checkPoints(c.Points); err != nil {
		return Cloud{}, err
	}
	if err := checkFaces(c.Faces, nverts); err != nil {
		return Cloud{}, err
	}
	return c, nil
}

func parsePLYHeader(b []byte) (format string, elems []plyElement, body []byte, err error) {
	rest := string(b)
	line, rest, ok := nextLine(rest)
	if !ok || line != "ply" {
		return "", nil, nil, errors.New("bad magic (not a PLY file)")
	}
	for {
		line, rest, ok = nextLine(rest)
		if !ok {
			return "", nil, nil, errors.New("header has no end_header")
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "format":
			if len(f) != 3 {
				return "", nil, nil, fmt.Errorf("bad format line %q", line)
			}
			format = f[1]
		case "comment", "obj_info":
		case "element":
			if len(f) != 3 {
				return "", nil, nil, fmt.Errorf("bad element line %q", line)
			}
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || n < 0 {
				return "", nil, nil, fmt.Errorf("bad element count in %q", line)
			}
			elems = append(elems, plyElement{name: f[1], count: n})
		case "property":
			if len(elems) == 0 {
				return "", nil, nil, fmt.Errorf("property before any element: %q", line)
			}
			p, err := parsePLYProp(f)
			if err != nil {
				return "", nil, nil, fmt.Errorf("%v in %q", err, line)
			}
			e := &elems[len(elems)-1]
			e.props = append(e.props, p)
		case "end_header":
			if format == "" {
				return "", nil, nil, errors.New("header has no format line")
			}
			return format, elems, b[len(b)-len(rest):], nil
		default:
			return "", nil, nil, fmt.Errorf("unknown header line %q", line)
		}
	}
}

func parsePLYProp(f []string) (plyProp, error) {
	if len(f) == 5 && f[1] == "list" {
		ct, ok1 := plyTypes[f[2]]
		it, ok2 := plyTypes[f[3]]
		if !ok1 || !ok2 || ct.kind == 'f' {
			return plyProp{}, errors.New("bad list types")
		}
		return plyProp{name: f[4], typ: it, list: true, count: ct}, nil
	}
	if len(f) != 3 {
		return plyProp{}, errors.New("bad property")
	}
	t, ok := plyTypes[f[1]]
	if !ok {
		return plyProp{}, fmt.Errorf("unknown type %q", f[1])
	}
	return plyProp{name: f[2], typ: t}, nil
}

// nextLine splits off one header line, accepting \n and \r\n endings.
func nextLine(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return "", "", false
	}
	return strings.TrimRight(s[:i], "\r"), s[i+1:], true
}

func readPLYVertices(r plyReader, e *plyElement, c *Cloud) error {
	xyz := [3]int{-1, -1, -1}
	var extra []int
	for i, p := range e.props {
		if p.list {
			continue
		}
		switch p.name {
		case "x":
			xyz[0] = i
		case "y":
			xyz[1] = i
		case "z":
			xyz[2] = i
		default:
			extra = append(extra, i)
			c.ExtraNames = append(c.ExtraNames, p.name)
		}
	}
	if xyz[0] < 0 || xyz[1] < 0 || xyz[2] < 0 {
		return errors.New("vertex element lacks x, y or z")
	}
	n := int(e.count)
	c.Points = make([]float32, n*3)
	c.Extra = make([]float32, n*len(extra))
	vals := make([]float64, len(e.props))
	for i := 0; i < n; i++ {
		for j, p := range e.props {
			if p.list {
				if err := r.skipList(p); err != nil {
					return fmt.Errorf("vertex %d: %w", i, err)
				}
				continue
			}
			v, err := r.scalar(p.typ)
			if err != nil {
				return fmt.Errorf("vertex %d: %w", i, err)
			}
			vals[j] = v
		}
		for k := 0; k < 3; k++ {
			c.Points[i*3+k] = float32(vals[xyz[k]])
		}
		for k, j := range extra {
			c.Extra[i*len(extra)+k] = float32(vals[j])
		}
	}
	return nil
}

func readPLYFaces(r plyReader, e *plyElement, c *Cloud) error {
	var poly []int32
	for i := int64(0); i < e.count; i++ {
		for _, p := range e.props {
			if !p.list || (p.name != "vertex_indices" && p.name != "vertex_index") {
				if err := r.skipProp(p); err != nil {
					return fmt.Errorf("face %d: %w", i, err)
				}
				continue
			}
			n, err := r.listLen(p)
			if err != nil {
				return fmt.Errorf("face %d: %w", i, err)
			}
			poly = poly[:0]
			for k := 0; k < n; k++ {
				v, err := r.scalar(p.typ)
				if err != nil {
					return fmt.Errorf("face %d: %w", i, err)
				}
				if v < 0 || v > math.MaxInt32 || v != math.Trunc(v) {
					return fmt.Errorf("face %d: bad vertex index %v", i, v)
				}
				poly = append(poly, int32(v))
			}
			c.Faces = fanTriangulate(c.Faces, poly)
		}
	}
	return nil
}

func skipPLYElement(r plyReader, e *plyElement) error {
	for i := int64(0); i < e.count; i++ {
		for _, p := range e.props {
			if err := r.skipProp(p); err != nil {
				return fmt.Errorf("element %s %d: %w", e.name, i, err)
			}
		}
	}
	return nil
}

// plyReader reads PLY body values in ascii or binary encoding.
type plyReader interface {
	scalar(t scalarType) (float64, error)
	listLen(p plyProp) (int, error)
	skipList(p plyProp) error
	skipProp(p plyProp) error
	left() int
	// rest is the data after the last element.
	rest() []byte
}

type plyASCII struct{ s string }

func (r *plyASCII) left() int { return len(r.s) }

// rest is what is left after the last element, trailing white space aside.
func (r *plyASCII) rest() []byte { return []byte(strings.TrimSpace(r.s)) }

func (r *plyASCII) token() (string, error) {
	s := strings.TrimLeft(r.s, " \t\r\n")
	if s == "" {
		return "", io.ErrUnexpectedEOF
	}
	i := strings.IndexAny(s, " \t\r\n")
	if i < 0 {
		i = len(s)
	}
	r.s = s[i:]
	return s[:i], nil
}

func (r *plyASCII) scalar(t scalarType) (float64, error) {
	tok, err := r.token()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", tok)
	}
	return v, nil
}

func (r *plyASCII) listLen(p plyProp) (int, error) {
	v, err := r.scalar(p.count)
	if err != nil {
		return 0, err
	}
	// Each item needs at least two characters, which bounds the loop.
	if v < 0 || v != math.Trunc(v) || v > float64(len(r.s)/2+1) {
		return 0, fmt.Errorf("bad list length %v", v)
	}
	return int(v), nil
}

func (r *plyASCII) skipList(p plyProp) error {
	n, err := r.listLen(p)
	if err != nil {
		return err
	}
	for k := 0; k < n; k++ {
		if _, err := r.token(); err != nil {
			return err
		}
	}
	return nil
}

func (r *plyASCII) skipProp(p plyProp) error {
	if p.list {
		return r.skipList(p)
	}
	_, err := r.token()
	return err
}

type plyBinary struct {
	b     []byte
	order binary.ByteOrder
}

func (r *plyBinary) left() int { return len(r.b) }

func (r *plyBinary) rest() []byte { return r.b }

func (r *plyBinary) scalar(t scalarType) (float64, error) {
	if len(r.b) < t.size {
		return 0, io.ErrUnexpectedEOF
	}
	v := t.decode(r.b, r.order)
	r.b = r.b[t.size:]
	return v, nil
}

func (r *plyBinary) listLen(p plyProp) (int, error) {
	v, err := r.scalar(p.count)
	if err != nil {
		return 0, err
	}
	if v < 0 || v*float64(p.typ.size) > float64(len(r.b)) {
		return 0, fmt.Errorf("bad list length %v", v)
	}
	return int(v), nil
}

func (r *plyBinary) skipList(p plyProp) error {
	n, err := r.listLen(p)
	if err != nil {
		return err
	}
	r.b = r.b[n*p.typ.size:]
	return nil
}

func (r *plyBinary) skipProp(p plyProp) error {
	if p.list {
		return r.skipList(p)
	}
	if len(r.b) < p.typ.size {
		return io.ErrUnexpectedEOF
	}
	r.b = r.b[p.typ.size:]
	return nil
}

// WritePLY writes c as a PLY file: binary_little_endian when binary is true,
// ascii otherwise. Points and extra channels are float properties; faces, if
// any, are written as a vertex_indices list.
func WritePLY(path string, c Cloud, binaryFormat bool) error {
	if err := c.check(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := encodePLY(bw, c, binaryFormat); err != nil {
			return err
		}
		return bw.Flush()
	})
}

func encodePLY(w *bufio.Writer, c Cloud, binaryFormat bool) error {
	format := "ascii"
	if binaryFormat {
		format = "binary_little_endian"
	}
	fmt.Fprintf(w, "ply\nformat %s 1.0\nelement vertex %d\n", format, c.Len())
	fmt.Fprint(w, "property float x\nproperty float y\nproperty float z\n")
	for _, n := range c.ExtraNames {
		fmt.Fprintf(w, "property float %s\n", n)
	}
	if len(c.Faces) > 0 {
		fmt.Fprintf(w, "element face %d\nproperty list uchar int vertex_indices\n", len(c.Faces)/3)
	}
	fmt.Fprint(w, "end_header\n")
	k := len(c.ExtraNames)
	var buf []byte
	for i := 0; i < c.Len(); i++ {
		buf = buf[:0]
		row := append(append([]float32{}, c.Points[i*3:i*3+3]...), c.Extra[i*k:(i+1)*k]...)
		for j, v := range row {
			if binaryFormat {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				continue
			}
			if j > 0 {
				buf = append(buf, ' ')
			}
			buf = strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
		}
		if !binaryFormat {
			buf = append(buf, '\n')
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	for i := 0; i < len(c.Faces); i += 3 {
		buf = buf[:0]
		if binaryFormat {
			buf = append(buf, 3)
			for _, v := range c.Faces[i : i+3] {
				buf = binary.LittleEndian.AppendUint32(buf, uint32(v))
			}
		} else {
			buf = fmt.Appendf(buf, "3 %d %d %d\n", c.Faces[i], c.Faces[i+1], c.Faces[i+2])
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
